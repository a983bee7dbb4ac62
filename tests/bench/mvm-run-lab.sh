#!/usr/bin/env bash
# tests/bench/mvm-run-lab.sh: in the lab VM, boot-to-init time of Debian's kernel with our busybox
# initramfs: mvm-run beside qemu-system-x86_64 -M microvm (same kernel, initrd, command line,
# 2 vCPUs, 512 MiB). Boot-to-init: process start to init's first console line.
set -u
cd "$(dirname "$0")/../.."
if [ -z "${MVM_BENCH_INSIDE:-}" ]; then
	MVM_BENCH_INSIDE=1 exec tests/lab/lab run -- "$0"
fi
kdir=$LAB_KERNEL_DIR # the lab's own kernel (tests/lab/lab)
kver=${kdir##*/kernel-}
vmlinuz=$kdir/boot/vmlinuz-$kver
[ -r "$vmlinuz" ] && [ -w /dev/kvm ] || { echo "mvm-run-lab: no lab kernel or /dev/kvm: nothing compared" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
tests/guests/mkinitramfs "$kdir" "$kver" "$tmp/initrd" || exit 1
cmdline="console=ttyS0 reboot=k panic=-1 pci=off i8042.noaux i8042.nomux i8042.nopnp i8042.dumbkbd quiet"

# Milliseconds from the start of "$@" to the line with MVM-INIT on its stdout.
boot_to_init() {
	local t0 t1 line pid
	t0=$(date +%s%N)
	exec 3< <(exec "$@" </dev/null 2>/dev/null)
	pid=$!
	# At most 150 s to init: a monitor that never gets there is reported, not waited for.
	while IFS= read -r -t 150 line <&3; do
		case $line in *MVM-INIT*) t1=$(date +%s%N); break ;; esac
		[ $(($(date +%s%N) - t0)) -lt 150000000000 ] || break
	done
	kill "$pid" 2>/dev/null
	exec 3<&-
	wait "$pid" 2>/dev/null
	[ -n "${t1:-}" ] || { echo -1; return; }
	echo $(((t1 - t0) / 1000000))
}

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

runs=${MVM_BENCH_RUNS:-3}
m=$(for _ in $(seq "$runs"); do boot_to_init timeout 160 build/mvm-run --kernel "$vmlinuz" --initrd "$tmp/initrd" \
	--cpus 2 --mem 512M --cmdline "$cmdline"; done | median)
q=$(for _ in $(seq "$runs"); do boot_to_init timeout 160 qemu-system-x86_64 -M microvm,accel=kvm -cpu host -smp 2 \
	-m 512M -nodefaults -no-user-config -display none -serial stdio -no-reboot \
	-kernel "$vmlinuz" -initrd "$tmp/initrd" -append "$cmdline"; done | median)
echo "lab boot-to-init (Debian $kver bzImage, L2 on nested KVM), median of $runs:"
echo "  mvm-run      $m ms"
echo "  qemu microvm $q ms  (-1: did not reach init within 150 s)"
[ "$m" -gt 0 ] && [ "$q" -gt 0 ] && awk -v m="$m" -v q="$q" 'BEGIN {printf "  ratio qemu/mvm-run %.2fx\n", q / m}'
exit 0
