#!/usr/bin/env bats
# vfio-bind on the command line: usage, bad input, planning against sysfs snapshot trees, and runs
# on them that change only plain files (hermetic runs of an already-bound device, fault injection).

load ../helpers

setup() {
	SNAP=$(snapshot gpu-audio)
	export VFIO_BIND_STATE_DIR=$BATS_TEST_TMPDIR/state
	export VFIO_BIND_RULES_DIR=$BATS_TEST_TMPDIR/rules
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

@test "an unknown option is a usage error (2), in one line" {
	run vfio-bind --frobnicate
	assert_failure 2
	assert_output "vfio-bind: --frobnicate: unknown option (see 'vfio-bind --help')"
}

@test "an empty DEVICE says which argument is wrong" {
	run vfio-bind --sysfs-root "$SNAP" --dry-run ''
	assert_failure 2
	assert_output "vfio-bind: DEVICE '': not a PCI address or vendor:device ID (expected e.g. 0000:03:00.0, 03:00.0 or 10de:2330)"
}

@test "no device is a usage error (2)" {
	run vfio-bind
	assert_failure 2
	assert_output --partial "vfio-bind: no device given"
}

@test "malformed address zz:00.0 is rejected with exit 2" {
	run vfio-bind --noheadings --raw --sysfs-root "$SNAP" --dry-run zz:00.0
	assert_failure 2
	assert_output "vfio-bind: DEVICE 'zz:00.0': not a PCI address (expected [DOMAIN:]BUS:DEVICE.FUNCTION, e.g. 0000:03:00.0 or 03:00.0)"
}

@test "out-of-range address 0000:00:99.9 names the bad field" {
	run vfio-bind --noheadings --raw --sysfs-root "$SNAP" --dry-run 0000:00:99.9
	assert_failure 2
	assert_output --partial "'0000:00:99.9': device 0x99 is out of range (00-1f)"
}

@test "a nonexistent device is exit 2" {
	run vfio-bind --noheadings --raw --sysfs-root "$SNAP" --dry-run 0000:0a:00.0
	assert_failure 2
	assert_output "vfio-bind: 0000:0a:00.0: no such PCI device"
	run vfio-bind --noheadings --raw --sysfs-root "$SNAP" --dry-run 1234:5678
	assert_failure 2
	assert_output "vfio-bind: 1234:5678: no such PCI device"
}

@test "an ambiguous short address asks for the domain" {
	run vfio-bind --noheadings --raw --sysfs-root "$SNAP" --dry-run 03:00.0
	assert_failure 2
	assert_output --partial "ambiguous: both 0000:03:00.0 and 0001:03:00.0 match"
}

@test "bad option values are usage errors" {
	run vfio-bind --noheadings --raw --sysfs-root "$SNAP" --dry-run --timeout abc 0000:02:00.0
	assert_failure 2
	assert_output --partial "--timeout: 'abc' is not a number"
	run vfio-bind --noheadings --raw --sysfs-root "$SNAP" --dry-run --timeout 0 0000:02:00.0
	assert_failure 2
	run vfio-bind --noheadings --raw --sysfs-root "$SNAP" --dry-run --user no-such-user-xyz 0000:02:00.0
	assert_failure 2
	assert_output --partial "--user: no-such-user-xyz: no such user"
	run vfio-bind --all
	assert_failure 2
	run vfio-bind --noheadings --raw --restore --status 0000:02:00.0
	assert_failure 2
}

@test "--sysfs-root refuses to change a snapshot" {
	run vfio-bind --sysfs-root "$SNAP" 0000:02:00.0
	assert_failure 2
	assert_output --partial "--sysfs-root: only with --dry-run, --status or --info"
}

@test "non-root cannot bind: clear message, exit 1" {
	command -v setpriv >/dev/null || skip "setpriv missing"
	run setpriv --reuid=65534 --regid=65534 --clear-groups "$REPO/build/vfio-bind" 0000:02:00.0
	assert_failure 1
	assert_output --partial "needs root"
}

@test "dry run: nvme plan writes override, unbind, probe in order" {
	before=$(tree_digest "$SNAP")
	run vfio-bind --noheadings --raw --sysfs-root "$SNAP" --dry-run 0000:02:00.0
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
	run vfio-bind --noheadings --raw --sysfs-root "$SNAP" --dry-run 0000:02:00.0
	assert_success
	assert_line --index 0 "modprobe 0000:02:00.0 - vfio-pci"
}

@test "GPU without its audio function: group not viable, members named" {
	run vfio-bind --noheadings --raw --sysfs-root "$SNAP" --dry-run --force 0000:01:00.0
	assert_failure 1
	assert_output --partial "IOMMU group 1 would not be viable: 0000:01:00.1 (snd_hda_intel)"
	assert_output --partial "--group"
}

@test "--group binds the GPU and its audio function, not the root port" {
	run vfio-bind --noheadings --raw --sysfs-root "$SNAP" --dry-run --group --force 01:00.0
	assert_success
	assert_output --partial "drivers/nvidia/unbind 0000:01:00.0"
	assert_output --partial "drivers/snd_hda_intel/unbind 0000:01:00.1"
	refute_output --partial "0000:00:01.0"
}

@test "boot VGA and firmware framebuffer refuse without --force" {
	run vfio-bind --noheadings --raw --sysfs-root "$SNAP" --dry-run --group 01:00.0
	assert_failure 1
	assert_output --partial "0000:01:00.0: is the boot VGA device (boot_vga=1)"
	assert_output --partial "holds the firmware framebuffer 'efifb'"
	assert_output --partial "refusing to bind (2 pre-flight problems); --force binds anyway"
}

@test "a network interface that is up refuses without --force" {
	run vfio-bind --noheadings --raw --sysfs-root "$SNAP" --dry-run 0001:03:00.0
	assert_failure 1
	assert_output --partial "network interface enp1s0 is up"
	run vfio-bind --noheadings --raw --sysfs-root "$SNAP" --dry-run --force 0001:03:00.0
	assert_success
}

@test "a second GPU with no driver binds without unbinding anything" {
	run vfio-bind --noheadings --raw --sysfs-root "$SNAP" --dry-run 10de:1c82 10de:0fb9
	assert_success
	refute_output --partial "unbind"
	assert_output --partial "record 0000:03:00.0 $VFIO_BIND_STATE_DIR/state -"
}

@test "a bridge is refused" {
	run vfio-bind --noheadings --raw --sysfs-root "$SNAP" --dry-run 0000:00:01.0
	assert_failure 1
	assert_output --partial "is a PCI bridge"
}

@test "a device with no IOMMU group is refused" {
	SNAP2=$(snapshot no-group)
	run vfio-bind --noheadings --raw --sysfs-root "$SNAP2" --dry-run 0000:00:03.0
	assert_failure 1
	assert_output --partial "0000:00:03.0: has no IOMMU group"
}

@test "no IOMMU at all names the kernel parameter" {
	SNAP2=$(snapshot no-iommu)
	run vfio-bind --noheadings --raw --sysfs-root "$SNAP2" --dry-run 0000:00:02.0
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

@test "--status prints BDF DRIVER GROUP NODE ORIGINAL PERSIST" {
	run vfio-bind --noheadings --raw --sysfs-root "$SNAP" --status 0000:02:00.0 0000:03:00.1
	assert_success
	assert_line --index 0 "0000:02:00.0 nvme 2 - - -"
	assert_line --index 1 "0000:03:00.1 - 4 - - -"
}

@test "--status --json has the documented keys" {
	run vfio-bind --sysfs-root "$SNAP" --status --json 0000:01:00.0
	assert_success
	[ "$(jq -c '.[0] | keys_unsorted' <<<"$output")" = '["bdf","vendor","device","class","driver","iommu_group","vfio_node","original_driver","persist"]' ]
	[ "$(jq -r '.[0].vendor' <<<"$output")" = 0x10de ]
	[ "$(jq -r '.[0].class' <<<"$output")" = 0x030000 ]
	[ "$(jq -r '.[0].iommu_group' <<<"$output")" = 1 ]
}

@test "--status shows devices on vfio-pci with their node and recorded original" {
	SNAP2=$(snapshot bound)
	mkdir -p "$VFIO_BIND_STATE_DIR"
	echo "0000:00:04.0 nvme" > "$VFIO_BIND_STATE_DIR/state"
	run vfio-bind --noheadings --raw --sysfs-root "$SNAP2" --status
	assert_success
	assert_output "0000:00:04.0 vfio-pci 4 /dev/vfio/4 nvme -"
}

@test "restore dry run: unbind from vfio-pci, clear override, bind the recorded driver" {
	SNAP2=$(snapshot bound)
	mkdir -p "$VFIO_BIND_STATE_DIR"
	echo "0000:00:04.0 nvme" > "$VFIO_BIND_STATE_DIR/state"
	run vfio-bind --noheadings --raw --sysfs-root "$SNAP2" --dry-run --restore --all
	assert_success
	assert_line --index 0 "write 0000:00:04.0 $SNAP2/sys/bus/pci/drivers/vfio-pci/unbind 0000:00:04.0"
	# the value is the two characters \n; --raw writes a backslash as \x5c (libsmartcols)
	assert_line --index 1 "write 0000:00:04.0 $SNAP2/sys/bus/pci/devices/0000:00:04.0/driver_override \\x5cn"
	assert_line --index 2 "write 0000:00:04.0 $SNAP2/sys/bus/pci/drivers/nvme/bind 0000:00:04.0"
	assert_line --index 3 "wait 0000:00:04.0 - nvme"
	assert_line --index 4 "forget 0000:00:04.0 $VFIO_BIND_STATE_DIR/state 0000:00:04.0"
}

@test "restore of an unrecorded device lets the kernel choose (drivers_probe)" {
	SNAP2=$(snapshot bound)
	run vfio-bind --noheadings --raw --sysfs-root "$SNAP2" --dry-run --restore 0000:00:04.0
	assert_success
	assert_output --partial "drivers_probe 0000:00:04.0"
	refute_output --partial "forget"
}

@test "binding a device already on vfio-pci plans nothing" {
	SNAP2=$(snapshot bound)
	run vfio-bind --noheadings --raw --sysfs-root "$SNAP2" --dry-run 0000:00:04.0
	assert_success
	assert_output ""
}

@test "a corrupt state file is reported, not overwritten" {
	mkdir -p "$VFIO_BIND_STATE_DIR"
	echo "garbage" > "$VFIO_BIND_STATE_DIR/state"
	run vfio-bind --noheadings --raw --sysfs-root "$SNAP" --dry-run 0000:02:00.0
	assert_failure 1
	assert_output --partial "state line 1: expected 'BDF DRIVER [numvfs=N] [autoprobe=0|1]'"
	[ "$(cat "$VFIO_BIND_STATE_DIR/state")" = garbage ]
}

@test "a state file's control bytes reach the message escaped, never raw" {
	mkdir -p "$VFIO_BIND_STATE_DIR"
	printf '\033]0;owned\007\033[2J x\n' >"$VFIO_BIND_STATE_DIR/state"
	run vfio-bind --sysfs-root "$SNAP" --dry-run 0000:02:00.0
	assert_failure 1
	assert_output --partial "state line 1: expected 'BDF DRIVER [numvfs=N] [autoprobe=0|1]', got '\\x1b]0;owned\\x07\\x1b[2J x'"
	# no ESC (0x1b) nor BEL (0x07) byte anywhere in what was printed
	[ "$(printf '%s' "$output" | tr -d -c '\033\007' | wc -c)" -eq 0 ]
}

@test "a FIFO as the state file is refused, not waited on" {
	mkdir -p "$VFIO_BIND_STATE_DIR"
	mkfifo "$VFIO_BIND_STATE_DIR/state"
	run timeout 10 vfio-bind --sysfs-root "$SNAP" --dry-run 0000:02:00.0
	assert_failure 1
	assert_output --partial "$VFIO_BIND_STATE_DIR/state: a FIFO, not a regular file"
	# a FIFO as the lock file: a read-only look opens it without waiting for a writer
	rm "$VFIO_BIND_STATE_DIR/state"
	mkfifo "$VFIO_BIND_STATE_DIR/lock"
	run timeout 10 vfio-bind --sysfs-root "$SNAP" --status
	assert_success
}

@test "VFIO_BIND_FAULT must be well formed" {
	VFIO_BIND_FAULT=bogus run vfio-bind --noheadings --raw --sysfs-root "$SNAP" --dry-run 0000:02:00.0
	assert_failure 2
	assert_output --partial "VFIO_BIND_FAULT: 'bogus' is not write:N, signal:N or hang:N"
	VFIO_BIND_FAULT=hang:0 run vfio-bind --noheadings --raw --sysfs-root "$SNAP" --dry-run 0000:02:00.0
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
	run vfio-bind --noheadings --raw --sysfs-root "$SNAP" --dry-run --guest-mem lots 02:00.0
	assert_failure 2
	assert_output --partial "vfio-bind: --guest-mem: 'lots' is not"
	run vfio-bind --noheadings --raw --sysfs-root "$SNAP" --dry-run --guest-mem 0 02:00.0
	assert_failure 2
	assert_output --partial "vfio-bind: --guest-mem: '0' is not a size above 0"
}

# ---- variant drivers (tests/fixtures/console.spec: aliases in the file2alias format) ----

@test "the vfio driver comes from a vfio_pci: alias matching the device's IDs" {
	SNAP=$(snapshot console)
	run vfio-bind --noheadings --raw --sysfs-root "$SNAP" --dry-run 0000:00:04.0
	assert_success
	assert_line --index 0 "modprobe 0000:00:04.0 - mlx5_vfio_pci"
	assert_output --partial "0000:00:04.0/driver_override mlx5_vfio_pci"
	assert_output --partial "wait 0000:00:04.0 - mlx5_vfio_pci"
	refute_output --partial " vfio-pci"
}

@test "the most specific alias wins (subsystem IDs and class)" {
	SNAP=$(snapshot console)
	run vfio-bind --noheadings --raw --sysfs-root "$SNAP" --dry-run 0000:00:03.0
	assert_success
	assert_output --partial "0000:00:03.0/driver_override gpu_vfio_special"
	# without the subsystem match, the device-wide alias
	echo 0x1043 > "$SNAP/sys/bus/pci/devices/0000:00:03.0/subsystem_vendor"
	run vfio-bind --noheadings --raw --sysfs-root "$SNAP" --dry-run 0000:00:03.0
	assert_success
	assert_output --partial "0000:00:03.0/driver_override nvgrace_gpu_vfio_pci"
}

@test "only the generic alias, or no modules.alias: vfio-pci" {
	SNAP=$(snapshot console)
	run vfio-bind --noheadings --raw --sysfs-root "$SNAP" --dry-run 0000:00:05.0
	assert_success
	assert_output --partial "0000:00:05.0/driver_override vfio-pci"
	refute_output --partial "modprobe"
	rm -r "$SNAP/lib"
	run vfio-bind --noheadings --raw --sysfs-root "$SNAP" --dry-run 0000:00:04.0
	assert_success
	assert_output --partial "0000:00:04.0/driver_override vfio-pci"
}

@test "a loaded variant module is not loaded again, and its driver name is used" {
	SNAP=$(snapshot console)
	mkdir -p "$SNAP/sys/module/mlx5_vfio_pci/drivers/pci:mlx5-vfio-pci"
	run vfio-bind --noheadings --raw --sysfs-root "$SNAP" --dry-run 0000:00:04.0
	assert_success
	refute_output --partial "modprobe"
	assert_output --partial "0000:00:04.0/driver_override mlx5-vfio-pci"
}

@test "--driver overrides the alias" {
	SNAP=$(snapshot console)
	run vfio-bind --noheadings --raw --sysfs-root "$SNAP" --dry-run --driver vfio-pci 0000:00:04.0
	assert_success
	assert_output --partial "0000:00:04.0/driver_override vfio-pci"
	refute_output --partial "mlx5_vfio_pci"
	run vfio-bind --noheadings --raw --sysfs-root "$SNAP" --dry-run --driver my_vfio 0000:00:05.0
	assert_success
	assert_line --index 0 "modprobe 0000:00:05.0 - my_vfio"
}

@test "--driver must be a driver name, and only when binding" {
	run vfio-bind --noheadings --raw --sysfs-root "$SNAP" --dry-run --driver "" 02:00.0
	assert_failure 2
	assert_output --partial "vfio-bind: --driver: '' is not a driver name"
	run vfio-bind --noheadings --raw --sysfs-root "$SNAP" --dry-run --driver ../x 02:00.0
	assert_failure 2
	assert_output --partial "vfio-bind: --driver: '../x' is not a driver name"
	run vfio-bind --noheadings --raw --sysfs-root "$SNAP" --dry-run --restore --driver vfio-pci 02:00.0
	assert_failure 2
	assert_output --partial "vfio-bind: --driver: only when binding"
}

# ---- the console ----

@test "a display device under fbcon is refused, the fixes named; --force overrides" {
	SNAP=$(snapshot console)
	before=$(tree_digest "$SNAP")
	run vfio-bind --noheadings --raw --sysfs-root "$SNAP" --dry-run 0000:00:02.0
	assert_failure 1
	assert_output --partial "vfio-bind: 0000:00:02.0: is the console: fbcon (vtcon1) draws on its fb0 (bochs-drmfb)"
	assert_output --partial "'echo 0 > /sys/class/vtconsole/vtcon1/bind'"
	assert_output --partial "initcall_blacklist=sysfb_init"
	assert_output --partial "video=efifb:off"
	run vfio-bind --noheadings --raw --sysfs-root "$SNAP" --dry-run --force 0000:00:02.0
	assert_success
	assert_output --partial "warning: 0000:00:02.0: is the console"
	[ "$(tree_digest "$SNAP")" = "$before" ]
}

@test "a released console (vtcon bind=0) or an fb elsewhere is no refusal" {
	SNAP=$(snapshot console)
	echo 0 > "$SNAP/sys/class/vtconsole/vtcon1/bind"
	run vfio-bind --noheadings --raw --sysfs-root "$SNAP" --dry-run 0000:00:02.0
	assert_success
	refute_output --partial "console"
	echo 1 > "$SNAP/sys/class/vtconsole/vtcon1/bind"
	run vfio-bind --noheadings --raw --sysfs-root "$SNAP" --dry-run 0000:00:05.0
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
	run vfio-bind --noheadings --raw --sysfs-root "$SNAP" --dry-run 0000:00:01.0 -- touch "$BATS_TEST_TMPDIR/ran"
	assert_failure 4
	assert_output --partial "vfio-bind: warning: 0000:00:01.0: is a PCI bridge; vfio-pci binds endpoints only; skipped"
	assert_output --partial "vfio-bind: no device given can be bound to VFIO; skipping"
	[ ! -e "$BATS_TEST_TMPDIR/ran" ]
	SNAP=$(snapshot no-iommu)
	run vfio-bind --noheadings --raw --sysfs-root "$SNAP" --dry-run 0000:00:02.0 -- touch "$BATS_TEST_TMPDIR/ran"
	assert_failure 4
	assert_output --partial "no IOMMU groups"
	[ ! -e "$BATS_TEST_TMPDIR/ran" ]
}

@test "a PF's VFs are zeroed before a hermetic bind, not before a plain one" {
	SNAP=$(snapshot console)
	run vfio-bind --noheadings --sysfs-root "$SNAP" --dry-run 0000:00:04.0 -- true
	unalign
	assert_success
	assert_line --index 1 "record 0000:00:04.0 $VFIO_BIND_STATE_DIR/state mlx5_core numvfs=4"
	assert_line --index 2 "sriov 0000:00:04.0 $SNAP/sys/bus/pci/devices/0000:00:04.0/sriov_numvfs 0"
	assert_line --index 3 --partial "0000:00:04.0/driver_override mlx5_vfio_pci"
	run vfio-bind --noheadings --sysfs-root "$SNAP" --dry-run 0000:00:04.0
	unalign
	assert_success
	refute_output --partial "sriov"
}

@test "hermetic runs: bad usage is exit 2" {
	run vfio-bind --noheadings --raw --sysfs-root "$SNAP" --dry-run 02:00.0 --
	assert_failure 2
	assert_output --partial "vfio-bind: --: no command after it"
	run vfio-bind --noheadings --raw --sysfs-root "$SNAP" --dry-run --restore 02:00.0 -- true
	assert_failure 2
	assert_output --partial "vfio-bind: --: a command runs only after a bind"
	run vfio-bind --noheadings --raw --sysfs-root "$SNAP" --dry-run --append-bdfs 02:00.0
	assert_failure 2
	assert_output --partial "vfio-bind: --append-bdfs: only with -- COMMAND"
	run vfio-bind -- true
	assert_failure 2
	assert_output --partial "vfio-bind: no device given"
}

# ---- --info ----------------------------------------------------------------------------

@test "--info takes devices only with --json and --sysfs-root (2 otherwise)" {
	run vfio-bind --noheadings --sysfs-root "$SNAP" --info --group 01:00.0
	assert_failure 2
	assert_output --partial "vfio-bind: --info: takes devices and --json, --sysfs-root only"
	run vfio-bind --noheadings --sysfs-root "$SNAP" --info
	assert_failure 2
	assert_output --partial "vfio-bind: no device given"
	run vfio-bind --noheadings --raw --sysfs-root "$SNAP" --info --status 01:00.0
	assert_failure 2
}

@test "--info on the H200-like snapshot: BARs, class and FLR as the real machine's lspci shows them" {
	local snap want got fixture=$REPO/tests/fixtures/pci/h200-firecracker.lspci-vvv
	snap=$(snapshot h200)
	run vfio-bind --noheadings --sysfs-root "$snap" --info 00:06.0
	assert_success
	# lspci: "Region 2: Memory at 100000000000 (64-bit, prefetchable) [size=256G]" -> 2:256G:64:pref
	want=$(sed -n 's/^\tRegion \([0-5]\): Memory at [0-9a-f]* (\(32\|64\)-bit, \(prefetchable\|non-prefetchable\)) \[size=\([0-9]*[KMG]\)\]$/\1:\4:\2:\3/p' "$fixture" |
		sed 's/:non-prefetchable$/:npref/; s/:prefetchable$/:pref/' | paste -sd, -)
	[ "$want" = "0:16M:64:pref,2:256G:64:pref,4:32M:64:pref" ] # the oracle parsed as expected
	got=$(echo "$output" | awk '{ print $13 }')
	assert_equal "$got" "$want"
	# "3D controller [0302]", prog-if 00; "FLReset+" in DevCap; no Resizable BAR capability, no ROM
	grep -q '^00:06.0 3D controller \[0302\]: .*\[10de:2335\]' "$fixture"
	grep -q 'RBE+ FLReset+' "$fixture"
	run ! grep -q -e 'Resizable BAR' -e 'Expansion ROM' "$fixture"
	run vfio-bind --sysfs-root "$snap" --info --json 00:06.0
	assert_success
	echo "$output" | jq -e '.[0] | .class == "0x030200" and .vendor == "0x10de" and
		.device == "0x2335" and .flr == true and .resizable_bars == [] and .rom.size == 0 and
		.bars[1].size == 256 * 1024 * 1024 * 1024 and .bars[1].base == "0x100000000000" and
		.reset_method == "flr bus" and .vfio_driver == "vfio-pci"'
}

@test "--info reports what the pre-flight refuses for: the boot VGA and the firmware framebuffer" {
	run vfio-bind --sysfs-root "$SNAP" --info --json 01:00.0
	assert_success
	echo "$output" | jq -e '.[0] | .boot_vga == 1 and .driver == "nvidia" and
		.group_members == ["0000:00:01.0", "0000:01:00.0", "0000:01:00.1"] and
		(.holders | length) == 2 and
		(.holders[1] | test("BAR1 .* firmware framebuffer .efifb."))'
}

# A config space with one Resizable BAR capability (PCIe 6.0 7.8.6) at 0x100: BAR0 supports
# 256 MiB, 512 MiB and 1 GiB (capability bit n means 2^(n+16) bytes: bit 4 is 1 MiB, so bits
# 12..14) and is set to 256 MiB (control bits 13:8 = 8), one resizable BAR (control bits 7:5).
rebar_dump() { # file
	perl -e '
		my @c = (0) x 4096;
		@c[0..3] = (0x34, 0x12, 0x78, 0x56);                  # vendor 1234, device 5678
		sub put32 { my ($o, $v) = @_; $c[$o + $_] = ($v >> (8 * $_)) & 0xff for 0..3 }
		put32(0x10, 0x0000000c);                              # BAR0: 64-bit prefetchable
		put32(0x100, 0x00010015);                             # ReBAR, version 1, last
		put32(0x104, (1 << 12) | (1 << 13) | (1 << 14));      # 256M, 512M, 1G
		put32(0x108, (8 << 8) | (1 << 5) | 0);                # current 256M, 1 BAR, BAR0
		print "00:00.0 dummy\n";
		for (my $o = 0; $o < 4096; $o += 16) {
			printf "%03x: %s\n", $o, join(" ", map { sprintf "%02x", $_ } @c[$o .. $o + 15]);
		}' >"$1"
}

# An expansion ROM per the PCI Firmware spec 3.3 (5.1): 0x55AA, the PCIR offset at 0x18; PCIR
# vendor +4, device +6, image length in 512-byte units +0x10, code type +0x14, last-image +0x15.
rom_image() { # file vendor device: an x86 image, then an EFI image (the last)
	perl -e '
		my ($v, $d) = map { hex } @ARGV;
		sub image { my ($type, $last) = @_;
			my $i = "\x55\xaa" . "\0" x 510;
			substr($i, 0x18, 2) = pack("v", 0x40);
			# signature, vendor, device, device list, length, revision, class code,
			# image length (units of 512 bytes), code revision, code type, indicator
			substr($i, 0x40, 0x16) = pack("a4 v v v v C a3 v v C C", "PCIR", $v, $d, 0,
				0x18, 3, "\0\0\0", 1, 0, $type, $last ? 0x80 : 0);
			return $i }
		print image(0, 0), image(3, 1);' "$2" "$3" >"$1"
}

@test "--info decodes a Resizable BAR capability and an expansion ROM (x86 + EFI images)" {
	local d=$BATS_TEST_TMPDIR/fx snap=$BATS_TEST_TMPDIR/fx/snap
	mkdir -p "$d"
	rebar_dump "$d/cfg.lspci"
	rom_image "$d/good.rom" 1234 5678
	rom_image "$d/other.rom" 1234 9999
	printf 'NOT A ROM' >"$d/bad.rom"
	cat >"$d/s.spec" <<-SPEC
	dev 0000:05:00.0 1234 5678 030000 - 5 bar0=0x4000000000:0x10000000:pref64 bar6=0xfe000000:0x20000 config=cfg.lspci rom=good.rom attr=sriov_totalvfs:7 attr=sriov_numvfs:2
	dev 0000:06:00.0 1234 5678 030000 - 6 bar6=0xfd000000:0x10000 rom=other.rom
	dev 0000:07:00.0 1234 5678 030000 - 7 bar6=0xfc000000:0x10000 rom=bad.rom
	SPEC
	"$REPO/tests/fixtures/mksysfs" "$d/s.spec" "$snap"
	run vfio-bind --sysfs-root "$snap" --info --json 05:00.0 06:00.0 07:00.0
	assert_success
	echo "$output" | jq -e '.[0] | .resizable_bars == [{ "bar": 0, "current": 268435456,
		"sizes": [268435456, 536870912, 1073741824] }] and
		.rom == { "size": 131072, "read": true, "error": null, "signature": true,
			  "vendor": "0x1234", "device": "0x5678", "code_types": ["x86", "efi"],
			  "valid": true } and
		.sriov_totalvfs == 7 and .sriov_numvfs == 2'
	echo "$output" | jq -e '.[1].rom | .signature == true and .device == "0x9999" and .valid == false'
	echo "$output" | jq -e '.[2].rom | .read == true and .signature == false and .valid == false'
	run vfio-bind --noheadings --sysfs-root "$snap" --info 05:00.0
	assert_success
	assert_output --partial " 0:256M/512M/1G 128K:valid:1234:5678:x86+efi 7 2 vfio-pci "
}

# SR-IOV (tests/fixtures/sriov.spec): the VF addresses expected below are the spec's, not the
# code's: VF i at the PF's routing ID + First VF Offset + i * VF Stride (PCIe SR-IOV 9.3.3.10-11).
@test "--vfs: the plan records the PF's settings, turns autoprobe off, sets numvfs, binds each VF" {
	SNAP=$(snapshot sriov)
	local dev=$SNAP/sys/bus/pci/devices st=$VFIO_BIND_STATE_DIR/state
	run vfio-bind --noheadings --sysfs-root "$SNAP" --dry-run --vfs 2 03:00.0
	unalign
	assert_success
	assert_output - <<-PLAN
	modprobe 0000:03:00.2 - mlx5_vfio_pci
	record 0000:03:00.0 $st mlx5_core numvfs=0 autoprobe=1
	sriov 0000:03:00.0 $dev/0000:03:00.0/sriov_drivers_autoprobe 0
	sriov 0000:03:00.0 $dev/0000:03:00.0/sriov_numvfs 2
	record 0000:03:00.2 $st -
	write 0000:03:00.2 $dev/0000:03:00.2/driver_override mlx5_vfio_pci
	write 0000:03:00.2 $SNAP/sys/bus/pci/drivers_probe 0000:03:00.2
	wait 0000:03:00.2 - mlx5_vfio_pci
	record 0000:03:00.3 $st -
	write 0000:03:00.3 $dev/0000:03:00.3/driver_override mlx5_vfio_pci
	write 0000:03:00.3 $SNAP/sys/bus/pci/drivers_probe 0000:03:00.3
	wait 0000:03:00.3 - mlx5_vfio_pci
	PLAN
	run vfio-bind --sysfs-root "$SNAP" --dry-run --json --vfs 1 --driver vfio-pci 03:00.0
	assert_success
	echo "$output" | jq -e '(map(select(.action == "sriov")) | map(.value)) == ["0", "1"] and
		(map(select(.action == "write" and (.path | endswith("driver_override"))))
		 | map(.bdf)) == ["0000:03:00.2"]'
}

@test "--vfs with other VFs there goes through 0 (the kernel refuses to change a nonzero count)" {
	SNAP=$(snapshot sriov)
	local f=$SNAP/sys/bus/pci/devices/0000:04:00.0/sriov_numvfs
	run vfio-bind --noheadings --sysfs-root "$SNAP" --dry-run --vfs 2 04:00.0
	unalign
	assert_success
	assert_line --index 0 --partial "record 0000:04:00.0 $VFIO_BIND_STATE_DIR/state nvme numvfs=1 autoprobe=0"
	assert_line --index 1 "sriov 0000:04:00.0 $f 0"
	assert_line --index 2 "sriov 0000:04:00.0 $f 2"
	# 04:00.1 is on vfio-pci now, but it is made anew: bound again.
	assert_line --index 4 --partial "0000:04:00.1/driver_override vfio-pci"
	refute_output --partial "sriov_drivers_autoprobe" # already 0
}

@test "--vfs above sriov_totalvfs, on a device that is no PF, or misused: exit 2, nothing planned" {
	SNAP=$(snapshot sriov)
	run vfio-bind --noheadings --raw --sysfs-root "$SNAP" --dry-run --vfs 9 03:00.0
	assert_failure 2
	assert_output "vfio-bind: 0000:03:00.0: --vfs 9 is more than its sriov_totalvfs (8)"
	run vfio-bind --noheadings --raw --sysfs-root "$SNAP" --dry-run --vfs 1 00:06.0
	assert_failure 2
	assert_output "vfio-bind: 0000:00:06.0: is not an SR-IOV physical function (no sriov_totalvfs)"
	run vfio-bind --noheadings --raw --sysfs-root "$SNAP" --dry-run --vfs 1 03:00.0 04:00.0
	assert_failure 2
	assert_output --partial "vfio-bind: --vfs: takes one device, the physical function (2 given)"
	run vfio-bind --noheadings --raw --sysfs-root "$SNAP" --dry-run --vfs 0 03:00.0
	assert_failure 2
	assert_output --partial "vfio-bind: --vfs: '0' is not between 1 and 65535"
	run vfio-bind --noheadings --raw --sysfs-root "$SNAP" --dry-run --vfs two 03:00.0
	assert_failure 2
	run vfio-bind --noheadings --raw --sysfs-root "$SNAP" --dry-run --restore --vfs 1 03:00.0
	assert_failure 2
	assert_output --partial "vfio-bind: --vfs: only when binding one PF"
	run vfio-bind --noheadings --raw --sysfs-root "$SNAP" --dry-run --group --vfs 1 03:00.0
	assert_failure 2
}

@test "--restore of a PF returns its recorded VFs first, then autoprobe, then numvfs" {
	SNAP=$(snapshot sriov)
	local dev=$SNAP/sys/bus/pci/devices st=$VFIO_BIND_STATE_DIR/state
	mkdir -p "$VFIO_BIND_STATE_DIR"
	printf '0000:04:00.0 nvme numvfs=0 autoprobe=1\n0000:04:00.1 -\n' >"$st"
	run vfio-bind --noheadings --sysfs-root "$SNAP" --dry-run --restore 04:00.0
	unalign
	assert_success
	assert_output - <<-PLAN
	write 0000:04:00.1 $SNAP/sys/bus/pci/drivers/vfio-pci/unbind 0000:04:00.1
	write 0000:04:00.1 $dev/0000:04:00.1/driver_override \\n
	forget 0000:04:00.1 $st 0000:04:00.1
	sriov 0000:04:00.0 $dev/0000:04:00.0/sriov_drivers_autoprobe 1
	sriov 0000:04:00.0 $dev/0000:04:00.0/sriov_numvfs 0
	forget 0000:04:00.0 $st 0000:04:00.0
	PLAN
	# --all lists the PF before its VF; the order of the plan is the same.
	run vfio-bind --noheadings --raw --sysfs-root "$SNAP" --dry-run --restore --all
	assert_success
	assert_line --index 0 --partial "write 0000:04:00.1 "
	assert_line --index 4 "sriov 0000:04:00.0 $dev/0000:04:00.0/sriov_numvfs 0"
}

# ---- persistent claims: a udev rule per device (VFIO_BIND_RULES_DIR) ----
# The rule as udev(7) reads it: match the add of this PCI device by its kernel name, set its
# driver_override, run this vfio-bind to unbind a driver that took it first.

rule_for() { # bdf driver exe
	printf 'ACTION=="add", SUBSYSTEM=="pci", KERNEL=="%s", ATTR{driver_override}="%s", RUN+="%s --timeout 30 --driver %s %s"\n' \
		"$1" "$2" "$3" "$2" "$1"
}

@test "--persist writes the device's udev rule, --status shows it, --unpersist removes it" {
	SNAP=$(snapshot bound)
	exe=$(readlink -f "$(command -v vfio-bind)")
	VFIO_BIND_FAULT=write:99 run vfio-bind --noheadings --raw --sysfs-root "$SNAP" --persist 00:04.0
	assert_success
	assert_output "0000:00:04.0 vfio-pci 4 /dev/vfio/4 vfio-pci vfio-pci"
	run grep -v '^#' "$VFIO_BIND_RULES_DIR/05-vfio-bind.rules"
	assert_output "$(rule_for 0000:00:04.0 vfio-pci "$exe")"
	run vfio-bind --sysfs-root "$SNAP" --status --json 0000:00:04.0
	[ "$(jq -r '.[0].persist' <<<"$output")" = vfio-pci ]
	VFIO_BIND_FAULT=write:99 run vfio-bind --sysfs-root "$SNAP" --unpersist 00:04.0
	assert_success
	[ ! -e "$VFIO_BIND_RULES_DIR/05-vfio-bind.rules" ]
}

@test "--status lists a persisted device that is on its host driver now" {
	mkdir -p "$VFIO_BIND_RULES_DIR"
	rule_for 0000:02:00.0 vfio-pci /usr/bin/vfio-bind >"$VFIO_BIND_RULES_DIR/05-vfio-bind.rules"
	run vfio-bind --noheadings --raw --sysfs-root "$SNAP" --status
	assert_success
	assert_output "0000:02:00.0 nvme 2 - - vfio-pci"
}

@test "a bind that fails under --persist is rolled back and claims nothing" {
	VFIO_BIND_FAULT=write:2 run vfio-bind --sysfs-root "$SNAP" --persist 0000:02:00.0
	assert_failure 1
	assert_output --partial "every device changed was returned to its original driver"
	[ ! -e "$VFIO_BIND_RULES_DIR/05-vfio-bind.rules" ]
}

@test "a rules file vfio-bind did not write is an error, left as it is" {
	mkdir -p "$VFIO_BIND_RULES_DIR"
	echo 'SUBSYSTEM=="pci", ATTR{x}="y"' >"$VFIO_BIND_RULES_DIR/05-vfio-bind.rules"
	run vfio-bind --sysfs-root "$SNAP" --status
	assert_failure 1
	assert_output --partial "05-vfio-bind.rules: line 1: not a rule vfio-bind wrote"
	[ "$(cat "$VFIO_BIND_RULES_DIR/05-vfio-bind.rules")" = 'SUBSYSTEM=="pci", ATTR{x}="y"' ]
}

@test "--persist and --unpersist exclude the other modes and a command" {
	run vfio-bind --persist --unpersist 0000:02:00.0
	assert_failure 2
	assert_output --partial "exclude each other"
	run vfio-bind --persist --restore 0000:02:00.0
	assert_failure 2
	run vfio-bind --persist 0000:02:00.0 -- true
	assert_failure 2
	assert_output --partial "vfio-bind: --persist: not with -- COMMAND"
	run vfio-bind --unpersist --driver vfio-pci 0000:02:00.0
	assert_failure 2
	assert_output --partial "vfio-bind: --driver: only when binding"
}

# ---- output formats (cmd/common/out.c: libsmartcols tables, json-c) --------------------------

# odd_driver SNAP BDF: rebind BDF in the snapshot to a driver whose name holds bytes that are not
# UTF-8 (0xff 0xfe) and a control character (ESC), as a hostile or broken sysfs could show.
odd_driver() {
	local odd=$'nv\xff\xfe\x1bme'
	mkdir "$1/sys/bus/pci/drivers/$odd" || return 1
	ln -sfn "../../../bus/pci/drivers/$odd" "$(readlink -f "$1/sys/bus/pci/devices/$2")/driver"
}

@test "--json stays valid JSON (RFC 8259: UTF-8, control characters escaped) on odd sysfs bytes" {
	odd_driver "$SNAP" 0000:02:00.0
	# the bytes that are not UTF-8 become the text \xNN; ESC is escaped by JSON itself
	want='nv\xff\xfe'$'\x1b''me'
	for mode in --status --info; do
		run vfio-bind --sysfs-root "$SNAP" $mode --json 0000:02:00.0
		assert_success
		# jq 1.6 reads invalid UTF-8 silently (as U+FFFD): iconv is the UTF-8 oracle
		printf '%s' "$output" | iconv -f UTF-8 -t UTF-8 >/dev/null ||
			fail "$mode --json: not UTF-8: $output"
		jq -e --arg want "$want" '.[0].driver == $want' <<<"$output" ||
			fail "$mode --json: '$output'"
	done
	# the tables never pass the control character on to the terminal
	for fmt in "" --raw --pairs; do
		run vfio-bind --sysfs-root "$SNAP" --status $fmt 0000:02:00.0
		assert_success
		[[ $output != *$'\x1b'* ]] || fail "--status $fmt printed ESC: $output"
		assert_output --partial 'nv\xff\xfe\x1bme'
	done
}

@test "--status: a header names the columns; --noheadings, --output, --raw, --pairs" {
	run vfio-bind --sysfs-root "$SNAP" --status 0000:02:00.0 0000:03:00.1
	assert_success
	assert_line --index 0 --regexp '^BDF +DRIVER +IOMMU_GROUP +VFIO_NODE +ORIGINAL_DRIVER +PERSIST$'
	# aligned: every column starts where its header does
	[ "${lines[1]:13:4}" = "nvme" ] && [ "${lines[2]:13:1}" = "-" ] || fail "$output"
	[ "${#lines[@]}" -eq 3 ]
	run vfio-bind --sysfs-root "$SNAP" --status --noheadings --output iommu_group,BDF 0000:02:00.0
	assert_success
	assert_output "2 0000:02:00.0" # no header: nothing to align to but the data
	run vfio-bind --sysfs-root "$SNAP" --status --raw --output DRIVER,bdf 0000:03:00.1
	assert_output $'DRIVER BDF\n- 0000:03:00.1'
	run vfio-bind --sysfs-root "$SNAP" --status --pairs --output bdf,iommu_group 0000:02:00.0
	assert_output 'BDF="0000:02:00.0" IOMMU_GROUP="2"'
	# --output selects in --json too; the list stays a list
	run vfio-bind --sysfs-root "$SNAP" --status --json --output bdf 0000:02:00.0
	assert_output '[{"bdf":"0000:02:00.0"}]'
}

@test "output options: one format only, and a column the records lack is an error (2)" {
	run vfio-bind --sysfs-root "$SNAP" --status --json --raw 0000:02:00.0
	assert_failure 2
	assert_output "vfio-bind: --json, --raw, --pairs: choose one"
	run vfio-bind --sysfs-root "$SNAP" --status --output bdf,nosuch 0000:02:00.0
	assert_failure 2
	assert_line "vfio-bind: --output: no column 'nosuch' (the header line names them)"
	run vfio-bind --sysfs-root "$SNAP" --status --output= 0000:02:00.0
	assert_failure 2
	assert_output "vfio-bind: --output: no column named"
}
