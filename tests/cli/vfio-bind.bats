#!/usr/bin/env bats
# vfio-bind on the command line: usage, bad input, planning against sysfs snapshot trees, and runs
# on them that change only plain files (hermetic runs of an already-bound device, fault injection).

load ../helpers

setup() {
	SNAP=$(snapshot gpu-audio)
	export VFIO_BIND_STATE_DIR=$BATS_TEST_TMPDIR/state
}

@test "--help lists the options and exits 0" {
	run vfio-bind --help
	assert_success
	assert_output --partial "Usage: vfio-bind [OPTION...] DEVICE..."
	assert_output --partial "--restore"
	assert_output --partial "--dry-run"
	assert_output --partial "--json"
}

@test "--version prints the name and version" {
	run vfio-bind --version
	assert_success
	assert_output --regexp '^vfio-bind [0-9]+\.[0-9]+\.[0-9]+$'
}

@test "an unknown option is a usage error (2)" {
	run vfio-bind --frobnicate
	assert_failure 2
	assert_output --partial "vfio-bind: --frobnicate: unknown option"
}

@test "no device is a usage error (2)" {
	run vfio-bind
	assert_failure 2
	assert_output --partial "vfio-bind: no device given"
}

@test "malformed address zz:00.0 is rejected with exit 2" {
	run vfio-bind --sysfs-root "$SNAP" --dry-run zz:00.0
	assert_failure 2
	assert_output "vfio-bind: zz:00.0: not a PCI address (expected [DOMAIN:]BUS:DEVICE.FUNCTION, e.g. 0000:03:00.0 or 03:00.0)"
}

@test "out-of-range address 0000:00:99.9 names the bad field" {
	run vfio-bind --sysfs-root "$SNAP" --dry-run 0000:00:99.9
	assert_failure 2
	assert_output --partial "0000:00:99.9: device 0x99 is out of range (00-1f)"
}

@test "a nonexistent device is exit 2" {
	run vfio-bind --sysfs-root "$SNAP" --dry-run 0000:0a:00.0
	assert_failure 2
	assert_output "vfio-bind: 0000:0a:00.0: no such PCI device"
	run vfio-bind --sysfs-root "$SNAP" --dry-run 1234:5678
	assert_failure 2
	assert_output "vfio-bind: 1234:5678: no such PCI device"
}

@test "an ambiguous short address asks for the domain" {
	run vfio-bind --sysfs-root "$SNAP" --dry-run 03:00.0
	assert_failure 2
	assert_output --partial "ambiguous: both 0000:03:00.0 and 0001:03:00.0 match"
}

@test "bad option values are usage errors" {
	run vfio-bind --sysfs-root "$SNAP" --dry-run --timeout abc 0000:02:00.0
	assert_failure 2
	assert_output --partial "--timeout: 'abc' is not a number"
	run vfio-bind --sysfs-root "$SNAP" --dry-run --timeout 0 0000:02:00.0
	assert_failure 2
	run vfio-bind --sysfs-root "$SNAP" --dry-run --user no-such-user-xyz 0000:02:00.0
	assert_failure 2
	assert_output --partial "--user: no-such-user-xyz: no such user"
	run vfio-bind --all
	assert_failure 2
	run vfio-bind --restore --status 0000:02:00.0
	assert_failure 2
}

@test "--sysfs-root refuses to change a snapshot" {
	run vfio-bind --sysfs-root "$SNAP" 0000:02:00.0
	assert_failure 2
	assert_output --partial "--sysfs-root: only with --dry-run or --status"
}

@test "non-root cannot bind: clear message, exit 1" {
	command -v setpriv >/dev/null || skip "setpriv missing"
	run setpriv --reuid=65534 --regid=65534 --clear-groups "$REPO/build/vfio-bind" 0000:02:00.0
	assert_failure 1
	assert_output --partial "needs root"
}

@test "dry run: nvme plan writes override, unbind, probe in order" {
	before=$(tree_digest "$SNAP")
	run vfio-bind --sysfs-root "$SNAP" --dry-run 0000:02:00.0
	assert_success
	assert_line --index 0 "record 0000:02:00.0 $VFIO_BIND_STATE_DIR/state nvme"
	assert_line --index 1 "write 0000:02:00.0 $SNAP/sys/bus/pci/devices/0000:02:00.0/driver_override vfio-pci"
	assert_line --index 2 "write 0000:02:00.0 $SNAP/sys/bus/pci/drivers/nvme/unbind 0000:02:00.0"
	assert_line --index 3 "write 0000:02:00.0 $SNAP/sys/bus/pci/drivers_probe 0000:02:00.0"
	assert_line --index 4 "wait 0000:02:00.0 - vfio-pci"
	[ "${#lines[@]}" -eq 5 ]
	# changes nothing: not the tree, not the state
	[ "$(tree_digest "$SNAP")" = "$before" ]
	[ ! -e "$VFIO_BIND_STATE_DIR" ]
}

@test "dry run loads vfio-pci first when the module is absent" {
	rm -rf "$SNAP/sys/module/vfio_pci"
	run vfio-bind --sysfs-root "$SNAP" --dry-run 0000:02:00.0
	assert_success
	assert_line --index 0 "modprobe 0000:02:00.0 - vfio-pci"
}

@test "GPU without its audio function: group not viable, members named" {
	run vfio-bind --sysfs-root "$SNAP" --dry-run --force 0000:01:00.0
	assert_failure 1
	assert_output --partial "IOMMU group 1 would not be viable: 0000:01:00.1 (snd_hda_intel)"
	assert_output --partial "--group"
}

@test "--group binds the GPU and its audio function, not the root port" {
	run vfio-bind --sysfs-root "$SNAP" --dry-run --group --force 01:00.0
	assert_success
	assert_output --partial "drivers/nvidia/unbind 0000:01:00.0"
	assert_output --partial "drivers/snd_hda_intel/unbind 0000:01:00.1"
	refute_output --partial "0000:00:01.0"
}

@test "boot VGA and firmware framebuffer refuse without --force" {
	run vfio-bind --sysfs-root "$SNAP" --dry-run --group 01:00.0
	assert_failure 1
	assert_output --partial "0000:01:00.0: is the boot VGA device (boot_vga=1)"
	assert_output --partial "holds the firmware framebuffer 'efifb'"
	assert_output --partial "refusing to bind (2 pre-flight problems); --force binds anyway"
}

@test "a network interface that is up refuses without --force" {
	run vfio-bind --sysfs-root "$SNAP" --dry-run 0001:03:00.0
	assert_failure 1
	assert_output --partial "network interface enp1s0 is up"
	run vfio-bind --sysfs-root "$SNAP" --dry-run --force 0001:03:00.0
	assert_success
}

@test "a second GPU with no driver binds without unbinding anything" {
	run vfio-bind --sysfs-root "$SNAP" --dry-run 10de:1c82 10de:0fb9
	assert_success
	refute_output --partial "unbind"
	assert_output --partial "record 0000:03:00.0 $VFIO_BIND_STATE_DIR/state -"
}

@test "a bridge is refused" {
	run vfio-bind --sysfs-root "$SNAP" --dry-run 0000:00:01.0
	assert_failure 1
	assert_output --partial "is a PCI bridge"
}

@test "a device with no IOMMU group is refused" {
	SNAP2=$(snapshot no-group)
	run vfio-bind --sysfs-root "$SNAP2" --dry-run 0000:00:03.0
	assert_failure 1
	assert_output --partial "0000:00:03.0: has no IOMMU group"
}

@test "no IOMMU at all names the kernel parameter" {
	SNAP2=$(snapshot no-iommu)
	run vfio-bind --sysfs-root "$SNAP2" --dry-run 0000:00:02.0
	assert_failure 1
	assert_output --partial "intel_iommu=on"
	assert_output --partial "amd_iommu=on"
}

@test "--json plan is an array of steps" {
	run vfio-bind --sysfs-root "$SNAP" --dry-run --json 0000:02:00.0
	assert_success
	[ "$(jq -r '.[1].action' <<<"$output")" = write ]
	[ "$(jq -r '.[1].value' <<<"$output")" = vfio-pci ]
	[ "$(jq 'length' <<<"$output")" -eq 5 ]
}

@test "--status prints BDF DRIVER GROUP NODE ORIGINAL" {
	run vfio-bind --sysfs-root "$SNAP" --status 0000:02:00.0 0000:03:00.1
	assert_success
	assert_line --index 0 "0000:02:00.0 nvme 2 - -"
	assert_line --index 1 "0000:03:00.1 - 4 - -"
}

@test "--status --json has the documented keys" {
	run vfio-bind --sysfs-root "$SNAP" --status --json 0000:01:00.0
	assert_success
	[ "$(jq -c '.[0] | keys_unsorted' <<<"$output")" = '["bdf","vendor","device","class","driver","iommu_group","vfio_node","original_driver"]' ]
	[ "$(jq -r '.[0].vendor' <<<"$output")" = 0x10de ]
	[ "$(jq -r '.[0].class' <<<"$output")" = 0x030000 ]
	[ "$(jq -r '.[0].iommu_group' <<<"$output")" = 1 ]
}

@test "--status shows devices on vfio-pci with their node and recorded original" {
	SNAP2=$(snapshot bound)
	mkdir -p "$VFIO_BIND_STATE_DIR"
	echo "0000:00:04.0 nvme" > "$VFIO_BIND_STATE_DIR/state"
	run vfio-bind --sysfs-root "$SNAP2" --status
	assert_success
	assert_output "0000:00:04.0 vfio-pci 4 /dev/vfio/4 nvme"
}

@test "restore dry run: unbind from vfio-pci, clear override, bind the recorded driver" {
	SNAP2=$(snapshot bound)
	mkdir -p "$VFIO_BIND_STATE_DIR"
	echo "0000:00:04.0 nvme" > "$VFIO_BIND_STATE_DIR/state"
	run vfio-bind --sysfs-root "$SNAP2" --dry-run --restore --all
	assert_success
	assert_line --index 0 "write 0000:00:04.0 $SNAP2/sys/bus/pci/drivers/vfio-pci/unbind 0000:00:04.0"
	assert_line --index 1 "write 0000:00:04.0 $SNAP2/sys/bus/pci/devices/0000:00:04.0/driver_override \\n"
	assert_line --index 2 "write 0000:00:04.0 $SNAP2/sys/bus/pci/drivers/nvme/bind 0000:00:04.0"
	assert_line --index 3 "wait 0000:00:04.0 - nvme"
	assert_line --index 4 "forget 0000:00:04.0 $VFIO_BIND_STATE_DIR/state 0000:00:04.0"
}

@test "restore of an unrecorded device lets the kernel choose (drivers_probe)" {
	SNAP2=$(snapshot bound)
	run vfio-bind --sysfs-root "$SNAP2" --dry-run --restore 0000:00:04.0
	assert_success
	assert_output --partial "drivers_probe 0000:00:04.0"
	refute_output --partial "forget"
}

@test "binding a device already on vfio-pci plans nothing" {
	SNAP2=$(snapshot bound)
	run vfio-bind --sysfs-root "$SNAP2" --dry-run 0000:00:04.0
	assert_success
	assert_output ""
}

@test "a corrupt state file is reported, not overwritten" {
	mkdir -p "$VFIO_BIND_STATE_DIR"
	echo "garbage" > "$VFIO_BIND_STATE_DIR/state"
	run vfio-bind --sysfs-root "$SNAP" --dry-run 0000:02:00.0
	assert_failure 1
	assert_output --partial "state line 1: expected 'BDF DRIVER'"
	[ "$(cat "$VFIO_BIND_STATE_DIR/state")" = garbage ]
}

@test "VFIO_BIND_FAULT must be well formed" {
	VFIO_BIND_FAULT=bogus run vfio-bind --sysfs-root "$SNAP" --dry-run 0000:02:00.0
	assert_failure 2
	assert_output --partial "VFIO_BIND_FAULT: 'bogus' is not write:N, signal:N or hang:N"
	VFIO_BIND_FAULT=hang:0 run vfio-bind --sysfs-root "$SNAP" --dry-run 0000:02:00.0
	assert_failure 2
	assert_output --partial "vfio-bind: VFIO_BIND_FAULT: 'hang:0' is not"
}

@test "RLIMIT_MEMLOCK is compared with --guest-mem, never with a BAR" {
	# A 16G BAR and a 64K limit: BAR mappings are not pinned, so no warning.
	run bash -c "ulimit -l 64; vfio-bind --sysfs-root '$SNAP' --dry-run --group --force 01:00.0"
	assert_success
	refute_output --partial "RLIMIT_MEMLOCK"
	run bash -c "ulimit -l 64; vfio-bind --sysfs-root '$SNAP' --dry-run --guest-mem 16G 02:00.0"
	assert_success
	assert_output --partial "vfio-bind: warning: RLIMIT_MEMLOCK: 64K for this user (this shell) is below the guest memory of 16G that a VMM pins"
	run bash -c "ulimit -l 64; vfio-bind --sysfs-root '$SNAP' --dry-run --guest-mem 64K 02:00.0"
	assert_success
	refute_output --partial "RLIMIT_MEMLOCK"
	run bash -c "ulimit -l 64; vfio-bind --sysfs-root '$SNAP' --dry-run --guest-mem 65K 02:00.0"
	assert_output --partial "RLIMIT_MEMLOCK: 64K for this user (this shell) is below the guest memory of 65K"
}

@test "--verbose prints the memlock limit" {
	run bash -c "ulimit -l 2048; vfio-bind -v --sysfs-root '$SNAP' --dry-run 02:00.0"
	assert_success
	assert_output --partial "vfio-bind: RLIMIT_MEMLOCK for this user (this shell): 2M"
	run bash -c "ulimit -l 2048; vfio-bind --sysfs-root '$SNAP' --dry-run 02:00.0"
	refute_output --partial "RLIMIT_MEMLOCK"
}

@test "--guest-mem must be a size above 0" {
	run vfio-bind --sysfs-root "$SNAP" --dry-run --guest-mem lots 02:00.0
	assert_failure 2
	assert_output --partial "vfio-bind: --guest-mem: 'lots' is not"
	run vfio-bind --sysfs-root "$SNAP" --dry-run --guest-mem 0 02:00.0
	assert_failure 2
	assert_output --partial "vfio-bind: --guest-mem: '0' is not a size above 0"
}

# ---- variant drivers (tests/fixtures/console.spec: aliases in the file2alias format) ----

@test "the vfio driver comes from a vfio_pci: alias matching the device's IDs" {
	SNAP=$(snapshot console)
	run vfio-bind --sysfs-root "$SNAP" --dry-run 0000:00:04.0
	assert_success
	assert_line --index 0 "modprobe 0000:00:04.0 - mlx5_vfio_pci"
	assert_output --partial "0000:00:04.0/driver_override mlx5_vfio_pci"
	assert_output --partial "wait 0000:00:04.0 - mlx5_vfio_pci"
	refute_output --partial " vfio-pci"
}

@test "the most specific alias wins (subsystem IDs and class)" {
	SNAP=$(snapshot console)
	run vfio-bind --sysfs-root "$SNAP" --dry-run 0000:00:03.0
	assert_success
	assert_output --partial "0000:00:03.0/driver_override gpu_vfio_special"
	# without the subsystem match, the device-wide alias
	echo 0x1043 > "$SNAP/sys/bus/pci/devices/0000:00:03.0/subsystem_vendor"
	run vfio-bind --sysfs-root "$SNAP" --dry-run 0000:00:03.0
	assert_success
	assert_output --partial "0000:00:03.0/driver_override nvgrace_gpu_vfio_pci"
}

@test "only the generic alias, or no modules.alias: vfio-pci" {
	SNAP=$(snapshot console)
	run vfio-bind --sysfs-root "$SNAP" --dry-run 0000:00:05.0
	assert_success
	assert_output --partial "0000:00:05.0/driver_override vfio-pci"
	refute_output --partial "modprobe"
	rm -r "$SNAP/lib"
	run vfio-bind --sysfs-root "$SNAP" --dry-run 0000:00:04.0
	assert_success
	assert_output --partial "0000:00:04.0/driver_override vfio-pci"
}

@test "a loaded variant module is not loaded again, and its driver name is used" {
	SNAP=$(snapshot console)
	mkdir -p "$SNAP/sys/module/mlx5_vfio_pci/drivers/pci:mlx5-vfio-pci"
	run vfio-bind --sysfs-root "$SNAP" --dry-run 0000:00:04.0
	assert_success
	refute_output --partial "modprobe"
	assert_output --partial "0000:00:04.0/driver_override mlx5-vfio-pci"
}

@test "--driver overrides the alias" {
	SNAP=$(snapshot console)
	run vfio-bind --sysfs-root "$SNAP" --dry-run --driver vfio-pci 0000:00:04.0
	assert_success
	assert_output --partial "0000:00:04.0/driver_override vfio-pci"
	refute_output --partial "mlx5_vfio_pci"
	run vfio-bind --sysfs-root "$SNAP" --dry-run --driver my_vfio 0000:00:05.0
	assert_success
	assert_line --index 0 "modprobe 0000:00:05.0 - my_vfio"
}

@test "--driver must be a driver name, and only when binding" {
	run vfio-bind --sysfs-root "$SNAP" --dry-run --driver "" 02:00.0
	assert_failure 2
	assert_output --partial "vfio-bind: --driver: '' is not a driver name"
	run vfio-bind --sysfs-root "$SNAP" --dry-run --driver ../x 02:00.0
	assert_failure 2
	assert_output --partial "vfio-bind: --driver: '../x' is not a driver name"
	run vfio-bind --sysfs-root "$SNAP" --dry-run --restore --driver vfio-pci 02:00.0
	assert_failure 2
	assert_output --partial "vfio-bind: --driver: only when binding"
}

# ---- the console ----

@test "a display device under fbcon is refused, the fixes named; --force overrides" {
	SNAP=$(snapshot console)
	before=$(tree_digest "$SNAP")
	run vfio-bind --sysfs-root "$SNAP" --dry-run 0000:00:02.0
	assert_failure 1
	assert_output --partial "vfio-bind: 0000:00:02.0: is the console: fbcon (vtcon1) draws on its fb0 (bochs-drmfb)"
	assert_output --partial "'echo 0 > /sys/class/vtconsole/vtcon1/bind'"
	assert_output --partial "initcall_blacklist=sysfb_init"
	assert_output --partial "video=efifb:off"
	run vfio-bind --sysfs-root "$SNAP" --dry-run --force 0000:00:02.0
	assert_success
	assert_output --partial "warning: 0000:00:02.0: is the console"
	[ "$(tree_digest "$SNAP")" = "$before" ]
}

@test "a released console (vtcon bind=0) or an fb elsewhere is no refusal" {
	SNAP=$(snapshot console)
	echo 0 > "$SNAP/sys/class/vtconsole/vtcon1/bind"
	run vfio-bind --sysfs-root "$SNAP" --dry-run 0000:00:02.0
	assert_success
	refute_output --partial "console"
	echo 1 > "$SNAP/sys/class/vtconsole/vtcon1/bind"
	run vfio-bind --sysfs-root "$SNAP" --dry-run 0000:00:05.0
	assert_success
	refute_output --partial "console"
}

# ---- an unbind that hangs (VFIO_BIND_FAULT=hang:N on the snapshot's plain files) ----

@test "a hung unbind times out, names the holders and restores (exit 1)" {
	mkdir -p "$SNAP/proc/4242"
	echo qemu-system-x86 > "$SNAP/proc/4242/comm"
	echo "7f0000-7f4000 rw-s 0 00:05 12 /sys/devices/pci0000:00/0000:02:00.0/resource0" > "$SNAP/proc/4242/maps"
	SECONDS=0
	VFIO_BIND_FAULT=hang:2 run vfio-bind --sysfs-root "$SNAP" --force --timeout 1 0000:02:00.0
	assert_failure 1
	[ "$SECONDS" -le 5 ]
	assert_output --partial "vfio-bind: 0000:02:00.0: write '0000:02:00.0' to $SNAP/sys/bus/pci/drivers/nvme/unbind did not return within 1 s (injected hang); process 4242 (qemu-system-x86) has a BAR of the device mapped"
	assert_output --partial "every device changed was returned to its original driver"
	# restored: the override cleared (write 1 undone), nothing recorded
	[ -z "$(cat "$SNAP/sys/bus/pci/devices/0000:02:00.0/driver_override")" ]
	run ! grep -q 0000:02:00.0 "$VFIO_BIND_STATE_DIR/state"
	[ "$(basename "$(readlink "$SNAP/sys/bus/pci/devices/0000:02:00.0/driver")")" = nvme ]
}

@test "a hang without holders says so" {
	VFIO_BIND_FAULT=hang:2 run vfio-bind --sysfs-root "$SNAP" --timeout 1 0000:02:00.0
	assert_failure 1
	assert_output --partial "(injected hang); no process holds its nodes or BARs"
}

# ---- hermetic runs: bind, run a command, restore ----
# bound.spec's device is already on vfio-pci, so the run changes nothing in the snapshot; a
# fault that never fires (write:99) lets --sysfs-root through.

@test "-- COMMAND gets VFIO_SELFTESTS_BDF, and its exit status is vfio-bind's" {
	SNAP=$(snapshot bound)
	VFIO_BIND_FAULT=write:99 run vfio-bind --sysfs-root "$SNAP" 0000:00:04.0 -- sh -c 'echo "bdf=[$VFIO_SELFTESTS_BDF] args=[$*]"; exit 7' sh
	assert_failure 7
	assert_output "bdf=[0000:00:04.0] args=[]"
}

@test "--append-bdfs appends the addresses as the last arguments" {
	SNAP=$(snapshot bound)
	VFIO_BIND_FAULT=write:99 run vfio-bind --sysfs-root "$SNAP" --append-bdfs 00:04.0 -- sh -c 'echo "$#:$*"' sh a b
	assert_success
	assert_output "3:a b 0000:00:04.0"
}

@test "a command killed by signal N gives 128+N" {
	SNAP=$(snapshot bound)
	VFIO_BIND_FAULT=write:99 run vfio-bind --sysfs-root "$SNAP" 0000:00:04.0 -- sh -c 'kill -KILL $$'
	assert_failure 137
}

@test "SIGTERM to vfio-bind goes to the command, then vfio-bind exits with its status" {
	SNAP=$(snapshot bound)
	VFIO_BIND_FAULT=write:99 vfio-bind --sysfs-root "$SNAP" 0000:00:04.0 -- sh -c \
		'trap "echo TERM > '"$BATS_TEST_TMPDIR"'/got; exit 3" TERM; echo $$ > '"$BATS_TEST_TMPDIR"'/ready; for i in $(seq 100); do sleep 0.1; done; exit 9' &
	pid=$!
	for _ in $(seq 50); do [ -s "$BATS_TEST_TMPDIR/ready" ] && break; sleep 0.1; done
	[ -s "$BATS_TEST_TMPDIR/ready" ]
	kill -TERM "$pid"
	rc=0
	wait "$pid" || rc=$?
	[ "$rc" -eq 3 ]
	[ "$(cat "$BATS_TEST_TMPDIR/got")" = TERM ]
}

@test "no eligible device: exit 4 (the selftests' skip) and the command does not run" {
	run vfio-bind --sysfs-root "$SNAP" --dry-run 0000:00:01.0 -- touch "$BATS_TEST_TMPDIR/ran"
	assert_failure 4
	assert_output --partial "vfio-bind: warning: 0000:00:01.0: is a PCI bridge; vfio-pci binds endpoints only; skipped"
	assert_output --partial "vfio-bind: no device given can be bound to VFIO; skipping"
	[ ! -e "$BATS_TEST_TMPDIR/ran" ]
	SNAP=$(snapshot no-iommu)
	run vfio-bind --sysfs-root "$SNAP" --dry-run 0000:00:02.0 -- touch "$BATS_TEST_TMPDIR/ran"
	assert_failure 4
	assert_output --partial "no IOMMU groups"
	[ ! -e "$BATS_TEST_TMPDIR/ran" ]
}

@test "a PF's VFs are zeroed before a hermetic bind, not before a plain one" {
	SNAP=$(snapshot console)
	run vfio-bind --sysfs-root "$SNAP" --dry-run 0000:00:04.0 -- true
	assert_success
	assert_line --index 2 "sriov 0000:00:04.0 $SNAP/sys/bus/pci/devices/0000:00:04.0/sriov_numvfs 0"
	assert_line --index 3 --partial "0000:00:04.0/driver_override mlx5_vfio_pci"
	run vfio-bind --sysfs-root "$SNAP" --dry-run 0000:00:04.0
	assert_success
	refute_output --partial "sriov"
}

@test "hermetic runs: bad usage is exit 2" {
	run vfio-bind --sysfs-root "$SNAP" --dry-run 02:00.0 --
	assert_failure 2
	assert_output --partial "vfio-bind: --: no command after it"
	run vfio-bind --sysfs-root "$SNAP" --dry-run --restore 02:00.0 -- true
	assert_failure 2
	assert_output --partial "vfio-bind: --: a command runs only after a bind"
	run vfio-bind --sysfs-root "$SNAP" --dry-run --append-bdfs 02:00.0
	assert_failure 2
	assert_output --partial "vfio-bind: --append-bdfs: only with -- COMMAND"
	run vfio-bind -- true
	assert_failure 2
	assert_output --partial "vfio-bind: no device given"
}
