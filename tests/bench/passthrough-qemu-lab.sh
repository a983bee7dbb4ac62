#!/usr/bin/env bash
# passthrough-qemu-lab.sh: the lab's nvme passed through to the same guest (the lab's Debian
# kernel, tests/guests/mkinitramfs-pt, 256 MiB, 1 vCPU) by mvm-run --vfio beside QEMU's q35 with
# vfio-pci, in one lab boot: process start to the first serial byte and to the guest's nvme
# driver bound (init's "PT-DRIVER <bdf> nvme" line, printed once /dev/nvme0n1 is there).
#
# Same work on both sides: the same bzImage, initramfs and command line (serial console, quiet,
# reboot through the keyboard controller), the nvme behind a PCIe root port at 00:01.0 as
# mvm-run places it, the host's CPUID (-cpu host), no other devices (-nodefaults; q35's own
# LPC, SATA and SMBus functions stay, without drivers in the initramfs). QEMU's firmware is the
# part mvm-run does not have: it loads the kernel through fw_cfg and its option ROM and enters
# it in real mode; mvm-run enters the 64-bit kernel directly. QEMU boots with qboot (-bios
# qboot.rom, the minimal firmware made for fast -kernel boots), the firmware delay that can be
# avoided avoided. Its default SeaBIOS costs more: 0.7 s to the first byte and 0.5 s to nvme
# bound over qboot in one lab run, 1.3 s and 1.4 s in another (2026-11-30, round 1 of each);
# LAB_BENCH_SEABIOS=1 adds it as a third side, and the ratio is then taken against the faster
# QEMU. (All three lab runs with SeaBIOS locked the lab's kernel up, the two that showed where
# in the second round's SeaBIOS boot: its CPU idle in HLT, no heartbeat, nothing on the console;
# the run with qboot alone did not.)
# What mvm-run gives its guest to make the boot cheaper QEMU gives its own already, so nothing is
# added on QEMU's side for it: the TSC deadline timer in CPUID (QEMU sets it with the in-kernel
# irqchip; without it Linux calibrates its LAPIC timer) and guest RAM on a 2 MiB boundary (so
# that KVM maps it with 2M pages under the lab's THP).
# The sides run interleaved, round after round; each figure is the median of ROUNDS (default 3).
set -u
cd "$(dirname "$0")/../.." || exit 1
if [ -z "${LAB_BENCH_INSIDE:-}" ]; then
	LAB_BENCH_INSIDE=1 exec tests/lab/lab run --timeout 2400 -- "$0"
fi
export PATH="$PWD/build:$PATH"
NVME=0000:00:04.0 ROUNDS=${ROUNDS:-3} MEM=256M CPUS=1 BOUND_S=240
CMDLINE="console=ttyS0 reboot=k panic=-1 nokaslr i8042.noaux i8042.nomux i8042.nopnp i8042.dumbkbd quiet"
QBOOT=/usr/share/qemu/qboot.rom
kdir=${LAB_KERNEL_DIR:-}
kver=${kdir##*/kernel-}
vmlinuz=$kdir/boot/vmlinuz-$kver
die() { echo "passthrough-qemu-lab: $*: nothing compared" >&2; exit 1; }
[ -r "$vmlinuz" ] || die "no lab kernel (LAB_KERNEL_DIR)"
[ -w /dev/kvm ] || die "no /dev/kvm in the lab"
command -v qemu-system-x86_64 >/dev/null || die "no qemu-system-x86_64 in the lab (make deps)"
tmp=$(mktemp -d)
trap 'vfio-bind --restore $NVME >/dev/null 2>&1; rm -rf "$tmp"' EXIT
tests/guests/mkinitramfs-pt "$kdir" "$kver" "$tmp/pt.img" || die "mkinitramfs-pt failed"
vfio-bind $NVME >/dev/null || die "vfio-bind $NVME failed"
ulimit -l unlimited

side_cmd() { # side: the command line of one side
	case $1 in
	mvm-run)
		echo mvm-run --kernel "$vmlinuz" --initrd "$tmp/pt.img" --mem $MEM --cpus $CPUS \
			--cmdline "'$CMDLINE'" --console stdio --vfio $NVME
		;;
	qemu-*)
		echo qemu-system-x86_64 -accel kvm -M q35 -cpu host -smp $CPUS -m $MEM -nodefaults \
			-no-user-config -display none -serial stdio -no-reboot \
			"$([ "$1" = qemu-qboot ] && echo "-bios $QBOOT")" \
			-device pcie-root-port,id=rp1,chassis=1 -device vfio-pci,host=$NVME,bus=rp1 \
			-kernel "$vmlinuz" -initrd "$tmp/pt.img" -append "'$CMDLINE'"
		;;
	esac
}

usec() { local t=${1/[.,]/}; echo $((10#$t)); } # EPOCHREALTIME in microseconds

# One boot of SIDE: "FIRST_MS BOUND_MS" on stdout ("- -" for what was not seen within BOUND_S);
# the console in LOG, the side's stderr in LOG.err. The guest runs to its end (init reboots:
# mvm-run and QEMU with -no-reboot exit), as in tests/lab/passthrough.bats, rather than being
# stopped at the marker in the middle of its nvme I/O.
boot_times() { # side log
	local t0 t1='' t2='' c line pid
	t0=$EPOCHREALTIME
	exec 3< <(eval "exec timeout $BOUND_S $(side_cmd "$1")" </dev/null 2>"$2.err")
	pid=$!
	: >"$2"
	if IFS= read -r -N 1 -t "$BOUND_S" c <&3; then
		t1=$EPOCHREALTIME
		printf '%s' "$c" >>"$2"
		while IFS= read -r -t "$BOUND_S" line <&3; do
			printf '%s\n' "$line" >>"$2"
			case $line in "PT-DRIVER "*" nvme "*) [ -n "$t2" ] || t2=$EPOCHREALTIME ;; esac
		done
	fi
	exec 3<&-
	wait "$pid" 2>/dev/null
	t0=$(usec "$t0")
	printf '%s %s\n' "${t1:+$((($(usec "$t1") - t0) / 1000))}" "${t2:+$((($(usec "$t2") - t0) / 1000))}" |
		sed 's/^ /- /; s/ $/ -/'
}

median() { sort -n | awk '{ v[NR] = $1 } END { if (!NR) print "-"; else print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

sides="mvm-run qemu-qboot"
[ "${LAB_BENCH_SEABIOS:-}" = 1 ] && sides+=" qemu-seabios"
for r in $(seq "$ROUNDS"); do
	for s in $sides; do
		boot_times "$s" "$tmp/$s.$r" | tee -a "$tmp/$s.times" | sed "s/^/# round $r $s: /" >&2
	done
done
# A side is compared only when every round of it saw both events.
result() { # side column: the median, or "failed"
	if grep -q -- - "$tmp/$1.times"; then echo failed; else cut -d' ' -f"$2" "$tmp/$1.times" | median; fi
}
printf 'passthrough boot of nvme %s in the lab (Debian %s bzImage, %s, %s vCPU, L2 on nested\n' \
	"$NVME" "$kver" "$MEM" "$CPUS"
printf 'KVM; median of %d, ms from process start):\n' "$ROUNDS"
printf '  %-28s %12s %12s\n' side "first byte" "nvme bound"
for s in $sides; do
	printf '  %-28s %12s %12s\n' "$s" "$(result "$s" 1)" "$(result "$s" 2)"
done
# What each side printed first (the first serial byte's line) and why a failed side failed.
for s in $sides; do
	printf '  first serial line of %s: %s\n' "$s" "$(head -n1 "$tmp/$s.1" | tr -d '\r' | cut -c1-70)"
	if [ "$(result "$s" 2)" = failed ]; then
		echo "  $s: rounds (first, bound): $(tr '\n' ',' <"$tmp/$s.times")" \
			"stderr: $(tr -d '\r' <"$tmp/$s.$ROUNDS.err" | tail -n3 | tr '\n' ' ')"
	fi
done

# The ratio against the faster QEMU (by nvme bound); SeaBIOS's cost beside qboot.
m1=$(result mvm-run 1) m2=$(result mvm-run 2) best='' q1='' q2=''
for s in $sides; do
	[ "$s" = mvm-run ] && continue
	b=$(result "$s" 2)
	[ "$b" = failed ] && continue
	if [ -z "$best" ] || awk -v a="$b" -v b="$q2" 'BEGIN { exit !(a < b) }'; then
		best=$s q1=$(result "$s" 1) q2=$b
	fi
done
[ "$m2" != failed ] || die "mvm-run did not reach the nvme marker in every round"
[ -n "$best" ] || die "QEMU did not reach the nvme marker in every round"
awk -v m1="$m1" -v m2="$m2" -v q1="$q1" -v q2="$q2" -v q="$best" 'BEGIN {
	printf "  mvm-run/QEMU (%s): first byte %.2f, nvme bound %.2f (goal <= 0.5)\n", q, m1 / q1, m2 / q2 }'
if [ -e "$tmp/qemu-seabios.times" ] && [ "$(result qemu-seabios 2)" != failed ] &&
	[ "$(result qemu-qboot 2)" != failed ]; then
	awk -v s1="$(result qemu-seabios 1)" -v b1="$(result qemu-qboot 1)" \
		-v s2="$(result qemu-seabios 2)" -v b2="$(result qemu-qboot 2)" 'BEGIN {
		printf "  SeaBIOS - qboot: %+d ms to the first byte, %+d ms to nvme bound\n", s1 - b1, s2 - b2 }'
fi
exit 0
