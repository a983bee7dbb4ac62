#!/usr/bin/env bats
# tests/lab/mvm-run.bats: mvm-run inside the lab VM (real nested /dev/kvm) boots Debian's
# kernel with a busybox initramfs of ours to userspace; init reports what it sees (CPUs, a
# virtio-blk disk it writes and reads back, a read-only one, virtio-rng, a ping through a tap
# device to the lab VM) and reboots. Runs inside the lab: tests/lab/lab run -- bats THIS.

load ../helpers
load ../cli/mvm_api

MVM=${MVM:-$BATS_TEST_DIRNAME/../../build/mvm-run}
CMDLINE="console=ttyS0 reboot=k panic=-1 pci=off i8042.noaux i8042.nomux i8042.nopnp i8042.dumbkbd quiet"

setup_file() {
	lab_guard
	local kdir
	kdir=$LAB_KERNEL_DIR # the lab's own kernel (tests/lab/lab)
	export KDIR=$kdir KVER=${kdir##*/kernel-}
	export VMLINUZ=$KDIR/boot/vmlinuz-$KVER VMLINUX=$KDIR/boot/vmlinux
	export INITRD=$BATS_FILE_TMPDIR/initrd
	[ -n "$kdir" ] && [ -r "$VMLINUZ" ] || return 0
	"$BATS_TEST_DIRNAME/../guests/mkinitramfs" "$KDIR" "$KVER" "$INITRD"
	# The lab VM's end of the guest's network: a tap with an address the guest pings.
	if [ -w /dev/kvm ] && modprobe tun 2>/dev/null; then
		ip tuntap add dev mvmtap0 mode tap 2>/dev/null || true
		ip addr add 10.77.0.1/24 dev mvmtap0 2>/dev/null || true
		ip link set mvmtap0 up 2>/dev/null || true
	fi
}

# A host program or a VM a test left behind would keep bats waiting for ever.
teardown() {
	[ -z "${host:-}" ] || kill "$host" 2>/dev/null || true
	[ -z "${PID:-}" ] || mvm_api_teardown
}

teardown_file() {
	ip link del mvmtap0 2>/dev/null || true
}

setup() {
	[ -r "$VMLINUZ" ] || skip "no lab kernel in the cache (tests/lab/lab build)"
	[ -w /dev/kvm ] || skip "no /dev/kvm (run inside the lab)"
	T=$BATS_TEST_TMPDIR
}

# mvm-run with the console's carriage returns removed, so that lines compare exactly.
mvm() {
	timeout "$GUEST_BOUND" "$MVM" "$@" </dev/null | tr -d '\r'
	return "${PIPESTATUS[0]}"
}

@test "bzImage, 2 CPUs, disks, rng, tap: init sees it all, pings the lab VM, reboots: exit 0" {
	printf 'MVM-DISK-MARKER!' >"$T/disk.img"
	truncate -s 8M "$T/disk.img"
	truncate -s 1M "$T/ro.img"
	run mvm --kernel "$VMLINUZ" --initrd "$INITRD" --cpus 2 --mem 512M --cmdline "$CMDLINE" \
		--disk "$T/disk.img" --disk "$T/ro.img,ro" --rng --net mvmtap0
	echo "$output" | grep -E 'MVM-|mvm-run' || true
	assert_success
	assert_line --regexp '^MVM-INIT cpus=2 '
	# the TSC deadline timer offered in CPUID, Linux takes it over calibrating a one-shot LAPIC
	assert_line "MVM-CLOCKEVENT lapic-deadline"
	assert_line "MVM-DISK vda read=MVM-DISK-MARKER!"
	assert_line "MVM-DISK vda write=ok"
	assert_line "MVM-DISK vda readback=GUEST-WROTE-THIS"
	assert_line "MVM-DISK vda size=16384"
	assert_line "MVM-DISK vdb ro=1"
	assert_line "MVM-DISK vdb write=refused"
	assert_line --regexp '^MVM-RNG current=virtio_rng'
	assert_line "MVM-RNG bytes=64"
	assert_line "MVM-NET ping=ok"
	assert_line "MVM-DONE"
	# the guest's write reached the image file
	[ "$(dd if="$T/disk.img" bs=4096 skip=1 count=1 2>/dev/null | head -c 16)" = GUEST-WROTE-THIS ]
}

@test "--config: a Firecracker config file boots the PVH vmlinux with its drive" {
	[ -r "$VMLINUX" ] || skip "no uncompressed vmlinux in the lab cache"
	printf 'MVM-DISK-MARKER!' >"$T/root.img"
	truncate -s 4M "$T/root.img"
	cat >"$T/vm.json" <<-JSON
	{
	  "boot-source": {
	    "kernel_image_path": "$VMLINUX",
	    "initrd_path": "$INITRD",
	    "boot_args": "$CMDLINE"
	  },
	  "drives": [
	    { "drive_id": "rootfs", "path_on_host": "$T/root.img", "is_root_device": true,
	      "is_read_only": false }
	  ],
	  "machine-config": { "vcpu_count": 2, "mem_size_mib": 256, "smt": false },
	  "entropy": {}
	}
	JSON
	run mvm --config "$T/vm.json"
	echo "$output" | grep -E 'MVM-|mvm-run' || true
	assert_success
	assert_line --regexp '^MVM-INIT cpus=2 '
	# the TSC deadline timer offered in CPUID, Linux takes it over calibrating a one-shot LAPIC
	assert_line "MVM-CLOCKEVENT lapic-deadline"
	assert_line "MVM-DISK vda read=MVM-DISK-MARKER!"
	assert_line "MVM-DISK vda readback=GUEST-WROTE-THIS"
	assert_line --regexp '^MVM-RNG current=virtio_rng'
	assert_line "MVM-DONE"
}

# Start mvm-run in the background, console to $T/console, stderr to $T/err; wait until the
# guest's init prints MVM-WAITING.
start_waiting_guest() { # extra cmdline, mvm-run options...
	local extra=$1 i
	shift
	# the keyboard's IRQ comes from PnP (mvm-run's default command line has no i8042.nopnp)
	"$MVM" -v --kernel "$VMLINUZ" --initrd "$INITRD" --mem 256M \
		--cmdline "${CMDLINE/ i8042.nopnp/} $extra" \
		--console "$T/console" "$@" </dev/null 2>"$T/err" 3>&- &
	pid=$!
	for i in $(seq "$((GUEST_BOUND * 5))"); do
		grep -q MVM-WAITING "$T/console" 2>/dev/null && return 0
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.2
	done
	cat "$T/console" "$T/err"
	kill -KILL "$pid" 2>/dev/null
	return 1
}

@test "SIGTERM presses Ctrl-Alt-Del: the guest's kernel restarts, mvm-run exits 0" {
	start_waiting_guest mvm.wait --stop-timeout 120
	grep -q "MVM-WAITING cad=1" "$T/console"
	kill -TERM "$pid"
	rc=0
	wait "$pid" || rc=$?
	cat "$T/err"
	[ "$rc" -eq 0 ]
	grep -q "SIGTERM: Ctrl-Alt-Del pressed in the guest; it has 120 s to shut down" "$T/err"
	grep -q "guest reset (i8042)" "$T/err"
	# the guest's kernel saw the keys: its restart message, not a stop from outside
	grep -q "reboot: Restarting system" "$T/console"
	run ! grep -q "did not shut down" "$T/err"
}

# Guest RAM on a 2 MiB boundary: with the lab's THP ("always") KVM maps the booted guest's RAM
# with 2M pages, by its own count in debugfs (its directory is PID-FD). Off the boundary KVM
# allows no large page in the memslot, and every 4K page is a nested page fault.
@test "KVM maps a booted guest's RAM with 2M pages" {
	local n
	start_waiting_guest mvm.wait
	# read before the guest is stopped, whatever the read gives (the check comes after)
	mountpoint -q /sys/kernel/debug || mount -t debugfs debugfs /sys/kernel/debug || true
	n=$(cat /sys/kernel/debug/kvm/"$pid"-*/pages_2m 2>&1) || true
	kill -KILL "$pid"
	wait "$pid" || true
	echo "pages_2m: $n"
	[ "$n" -gt 0 ]
}

@test "a guest that ignores Ctrl-Alt-Del is stopped after --stop-timeout" {
	start_waiting_guest mvm.wait=deaf --stop-timeout 3
	grep -q "MVM-WAITING cad=0" "$T/console"
	kill -TERM "$pid"
	rc=0
	wait "$pid" || rc=$?
	cat "$T/err"
	[ "$rc" -eq 0 ]
	grep -q "the guest did not shut down within 3 s of Ctrl-Alt-Del" "$T/err"
	run ! grep -q "Restarting system" "$T/console"
}

# ---- the API socket with Linux -----------------------------------------------------------

ticks() {
	grep -c '^MVM-TICK' "$T/console" || true
}

# wait_for CMD...: until CMD succeeds, within GUEST_BOUND.
wait_for() {
	for _ in $(seq "$((GUEST_BOUND * 5))"); do
		"$@" && return 0
		kill -0 "$PID" 2>/dev/null || break
		sleep 0.2
	done
	echo "not within $GUEST_BOUND s: $*" >&2
	cat "$T/console" "$T/stderr" >&2
	return 1
}

ticked_past() {
	[ "$(ticks)" -gt "$1" ]
}

# curl_204 CURL-ARGS...: one of the guide's requests; it must answer 204 No Content.
curl_204() {
	local code
	code=$(curl -s -w '%{http_code}' "$@") || return 1
	[ "$code" = 204 ] || {
		echo "curl $*: HTTP $code" >&2
		return 1
	}
}

# The drive with io_engine Async (io_uring): Linux's driver with its requests in flight, under
# the default seccomp filter, paused, resumed and stopped.
@test "--api-sock: Firecracker's getting-started steps boot Linux with its disk; pause, resume, Ctrl-Alt-Del" {
	command -v curl >/dev/null || skip "no curl"
	API_SOCKET=$T/api.sock PID= MVM_API_BOUND=$GUEST_BOUND
	KERNEL=$VMLINUZ
	# the keyboard's IRQ comes from PnP (no i8042.nopnp), for Ctrl-Alt-Del
	KERNEL_BOOT_ARGS="${CMDLINE/ i8042.nopnp/} mvm.wait=tick"
	ROOTFS=$T/rootfs.img
	printf 'MVM-DISK-MARKER!' >"$ROOTFS"
	truncate -s 8M "$ROOTFS"
	start_mvm -v
	# The guide's commands (its logger and network steps left out), with an initrd in
	# boot-source: this guest's init lives in an initramfs, not on the root file system.
	curl_204 -X PUT --unix-socket "${API_SOCKET}" \
		--data "{
            \"kernel_image_path\": \"${KERNEL}\",
            \"initrd_path\": \"${INITRD}\",
            \"boot_args\": \"${KERNEL_BOOT_ARGS}\"
        }" \
		"http://localhost/boot-source"
	curl_204 -X PUT --unix-socket "${API_SOCKET}" \
		--data "{
            \"drive_id\": \"rootfs\",
            \"path_on_host\": \"${ROOTFS}\",
            \"is_root_device\": true,
            \"is_read_only\": false,
            \"io_engine\": \"Async\"
        }" \
		"http://localhost/drives/rootfs"
	curl_204 --unix-socket "${API_SOCKET}" \
		-X PUT 'http://localhost/machine-config' \
		-H 'Accept: application/json' \
		-H 'Content-Type: application/json' \
		-d '{
            "vcpu_count": 2,
            "mem_size_mib": 256
        }'
	curl_204 -X PUT --unix-socket "${API_SOCKET}" \
		--data "{
            \"action_type\": \"InstanceStart\"
        }" \
		"http://localhost/actions"
	wait_for ticked_past 0
	# The guest's own view: its CPUs, and the disk with the marker written on the host.
	run tr -d '\r' <"$T/console"
	assert_line --regexp '^MVM-INIT cpus=2 '
	# the TSC deadline timer offered in CPUID, Linux takes it over calibrating a one-shot LAPIC
	assert_line "MVM-CLOCKEVENT lapic-deadline"
	assert_line "MVM-DISK vda read=MVM-DISK-MARKER!"
	assert_line "MVM-DISK vda size=16384"
	assert_line "MVM-DISK vda readback=GUEST-WROTE-THIS"
	[ "$(dd if="$ROOTFS" bs=4096 skip=1 count=1 2>/dev/null | head -c 16)" = GUEST-WROTE-THIS ]
	# Paused, the guest prints nothing (a tick in flight has 0.5 s to land); resumed, it goes on.
	api PATCH /vm '{"state": "Paused"}'
	assert_equal "$status_code" 204
	sleep 0.5
	n1=$(ticks)
	sleep 2
	assert_equal "$(ticks)" "$n1"
	api PATCH /vm '{"state": "Resumed"}'
	assert_equal "$status_code" 204
	wait_for ticked_past "$n1"
	# Ctrl-Alt-Del: the guest's kernel restarts (reboot=k: through the i8042), mvm-run exits 0.
	api PUT /actions '{"action_type": "SendCtrlAltDel"}'
	assert_equal "$status_code" 204
	wait_exit
	cat "$T/stderr"
	assert_equal "$exit_code" 0
	grep -q "reboot: Restarting system" "$T/console"
	grep -q "guest reset (i8042)" "$T/stderr"
}

# Debian's cloud kernel has no MP table parser (CONFIG_X86_MPPARSE off): told pci=noacpi it
# ignores the MADT's IOAPIC and, the FADT being hardware-reduced, believes in no 8259 and no
# PIT either. It then has no timer interrupt and stops after starting init, but KVM's 8259,
# left as KVM creates it (vector base 0, nothing masked), used to deliver COM1's IRQ 4 at
# vector 4 (#OF) during serial probing: an oops and "Attempted to kill init".
@test "cloud kernel with pci=noacpi, no device: serial probing passes, no interrupt at an exception vector" {
	local kdir=${LAB_CLOUD_KERNEL_DIR:-} out cmd=${CMDLINE/ quiet/}
	[ -n "$kdir" ] || skip "no cloud kernel in the lab cache (LAB_CLOUD_KERNEL_DIR)"
	"$BATS_TEST_DIRNAME/../guests/mkinitramfs" "$kdir" "${kdir##*/kernel-}" "$T/initrd"
	# it never powers off (no timer): bounded, the console kept in a file
	timeout 120 "$MVM" --kernel "$kdir/boot/vmlinuz-${kdir##*/kernel-}" --initrd "$T/initrd" \
		--mem 256M --cmdline "${cmd/pci=off/pci=noacpi}" --console "$T/console" </dev/null || true
	out=$(tr -d '\r' <"$T/console")
	grep -E 'PIC|8250|ttyS0 at|overflow|kill init|Run /init' <<<"$out" || true
	grep -q 'ttyS0 at I/O 0x3f8' <<<"$out"
	grep -q 'Run /init as init process' <<<"$out"
	run grep -E 'overflow: 0000|Attempted to kill init' <<<"$out"
	assert_failure
}

# ---- vsock with Linux ---------------------------------------------------------------------

@test "vsock: the Linux guest and the host exchange data both ways" {
	"$BATS_TEST_DIRNAME/../cli/vsockhost" "$T/v.sock" >"$T/host.out" 2>&1 &
	host=$!
	run mvm --kernel "$VMLINUZ" --initrd "$INITRD" --mem 256M --cmdline "$CMDLINE mvm.vsock" \
		--vsock "3,$T/v.sock"
	sleep 1
	kill "$host" 2>/dev/null || true
	echo "$output" | grep -E 'MVM-|mvm-run' || true
	cat "$T/host.out"
	assert_success
	assert_line "MVM-VSOCK listening 1234"
	assert_line "MVM-VSOCK got ping"
	assert_line "MVM-VSOCK reply HELLO"
	run cat "$T/host.out"
	assert_line --regexp '^connect answer OK [0-9]+$'
	assert_line "guest answered pong"
	assert_line "guest wrote hello"
}
