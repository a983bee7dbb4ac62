#!/usr/bin/env bats
# vfio-bind against the real kernel, inside the lab VM (tests/lab/lab run -- bats tests/lab/vfio-bind.bats).
# Lab devices: nvme 00:04.0 (driver nvme); behind the root port 00:05.0, e1000e 01:00.0 + edu
# 01:00.1 sharing one IOMMU group (like a GPU and its audio function); edu 00:06.0 alone. The tests run in order and each leaves the devices as it found them.

load ../helpers

NVME=0000:00:04.0 NIC=0000:01:00.0 EDU1=0000:01:00.1 EDU=0000:00:06.0 PORT=0000:00:05.0

setup_file() {
	lab_guard
	export VFIO_BIND_STATE_DIR=/run/vfio-bind
}

drv() { # current driver of a device, or -
	local l
	l=$(readlink "/sys/bus/pci/devices/$1/driver" 2>/dev/null) && echo "${l##*/}" || echo -
}
group() { basename "$(readlink "/sys/bus/pci/devices/$1/iommu_group")"; }
override() { cat "/sys/bus/pci/devices/$1/driver_override"; }
wait_for() { # up to 10 s for a command to succeed
	local i
	for i in $(seq 100); do "$@" && return 0; sleep 0.1; done
	return 1
}
nvme_blk() { ls /sys/bus/pci/devices/$NVME/nvme/nvme*/ 2>/dev/null | grep -q '^nvme[0-9]*n1$'; }
nic_if() { ls "/sys/bus/pci/devices/$NIC/net/" 2>/dev/null | head -1; }
nic_up() { [ -n "$(nic_if)" ]; } # for wait_for, which runs it anew each try
state_of() { awk -v b="$1" '$1 == b { print $2 }' /run/vfio-bind/state 2>/dev/null; }

@test "lab starts with original drivers and vfio-pci not loaded" {
	[ "$(drv $NVME)" = nvme ]
	[ "$(drv $NIC)" = e1000e ]
	[ "$(drv $EDU)" = - ]
	[ ! -e /sys/module/vfio_pci ]
	wait_for nvme_blk
}

@test "dry run prints the plan and changes nothing" {
	before=$(for d in $NVME $NIC $EDU1 $EDU; do echo "$d $(drv $d) $(override $d)"; done)
	run vfio-bind --noheadings --raw --dry-run $NVME
	assert_success
	assert_line --index 0 "modprobe $NVME - vfio-pci"
	assert_line --index 1 "record $NVME /run/vfio-bind/state nvme"
	assert_line --index 3 "write $NVME /sys/bus/pci/drivers/nvme/unbind $NVME"
	after=$(for d in $NVME $NIC $EDU1 $EDU; do echo "$d $(drv $d) $(override $d)"; done)
	[ "$before" = "$after" ]
	[ ! -e /sys/module/vfio_pci ]
	[ -z "$(state_of $NVME)" ]
}

@test "edu with no driver: loads vfio-pci, binds, node exists" {
	run vfio-bind --noheadings --raw $EDU
	assert_success
	g=$(group $EDU)
	assert_output "$EDU vfio-pci $g /dev/vfio/$g - -"
	[ -c /dev/vfio/$g ]
	[ -e /sys/module/vfio_pci ]
	[ "$(state_of $EDU)" = - ]
	[ "$(override $EDU)" = vfio-pci ]
}

@test "binding a device already on vfio-pci succeeds and changes nothing" {
	before=$(cat /run/vfio-bind/state)
	run vfio-bind --noheadings --raw $EDU
	assert_success
	g=$(group $EDU)
	assert_output "$EDU vfio-pci $g /dev/vfio/$g - -"
	[ "$(cat /run/vfio-bind/state)" = "$before" ]
}

@test "restore edu: no driver again, record gone" {
	g=$(group $EDU)
	run vfio-bind --noheadings --raw --restore $EDU
	assert_success
	assert_output "$EDU - $g - - -"
	[ "$(drv $EDU)" = - ]
	[ "$(override $EDU)" = "(null)" ]
	[ -z "$(state_of $EDU)" ]
}

@test "nvme: bound to vfio-pci, its block device goes away, --status and --json agree" {
	wait_for nvme_blk
	run vfio-bind --json $NVME
	assert_success
	g=$(group $NVME)
	[ "$(jq -r '.[0].driver' <<<"$output")" = vfio-pci ]
	[ "$(jq -r '.[0].original_driver' <<<"$output")" = nvme ]
	[ "$(jq -r '.[0].vfio_node' <<<"$output")" = /dev/vfio/$g ]
	[ "$(jq -r '.[0].vendor' <<<"$output")" = 0x1b36 ]
	[ "$(jq -r '.[0].class' <<<"$output")" = 0x010802 ]
	[ "$(drv $NVME)" = vfio-pci ]
	run ! nvme_blk
	run vfio-bind --noheadings --raw --status
	assert_success
	assert_line "$NVME vfio-pci $g /dev/vfio/$g nvme -"
}

@test "--restore puts nvme back on nvme and its block device reappears" {
	run vfio-bind --noheadings --raw --restore $NVME
	assert_success
	assert_output --regexp "^$NVME nvme [0-9]+ - - -$"
	[ "$(drv $NVME)" = nvme ]
	wait_for nvme_blk
	[ "$(override $NVME)" = "(null)" ]
	[ -z "$(state_of $NVME)" ]
}

@test "restore from a later invocation with --all" {
	vfio-bind $NVME $EDU >/dev/null
	[ "$(drv $NVME)" = vfio-pci ]
	run vfio-bind --noheadings --raw --restore --all
	assert_success
	[ "$(drv $NVME)" = nvme ]
	[ "$(drv $EDU)" = - ]
	run ! grep -s '^0000' /run/vfio-bind/state # no device recorded (a missing file records none)
	wait_for nvme_blk
}

@test "edu sharing a group with e1000e: refused, members named, nothing changed" {
	run vfio-bind --noheadings --raw $EDU1
	assert_failure 1
	assert_output --partial "IOMMU group $(group $EDU1) would not be viable: $NIC (e1000e)"
	[ "$(drv $NIC)" = e1000e ]
	[ "$(drv $EDU1)" = - ]
	[ -z "$(state_of $EDU1)" ]
}

@test "--group binds e1000e and its edu together; restore brings the NIC back" {
	run vfio-bind --noheadings --raw --group $EDU1
	assert_success
	g=$(group $NIC)
	assert_line "$NIC vfio-pci $g /dev/vfio/$g e1000e -"
	assert_line "$EDU1 vfio-pci $g /dev/vfio/$g - -"
	[ "${#lines[@]}" -eq 2 ]
	[ "$(drv $PORT)" = pcieport ]
	[ -z "$(nic_if)" ]
	run vfio-bind --noheadings --raw --restore --group $NIC
	assert_success
	[ "$(drv $NIC)" = e1000e ]
	[ "$(drv $EDU1)" = - ]
	wait_for nic_up
}

@test "a failure in the middle of a group bind rolls every device back" {
	# writes: NIC override, unbind, probe, then EDU1 override (4th) fails
	VFIO_BIND_FAULT=write:4 run vfio-bind --noheadings --raw --group $NIC
	assert_failure 1
	assert_output --partial "injected fault"
	assert_output --partial "returned to its original driver"
	[ "$(drv $NIC)" = e1000e ]
	[ "$(drv $EDU1)" = - ]
	[ "$(override $NIC)" = "(null)" ]
	[ "$(override $EDU1)" = "(null)" ]
	[ -z "$(state_of $NIC)" ]
	[ -z "$(state_of $EDU1)" ]
	wait_for nic_up
}

@test "a signal in the middle of a bind rolls back too" {
	VFIO_BIND_FAULT=signal:3 run vfio-bind --noheadings --raw --group $NIC
	assert_failure 1
	assert_output --partial "interrupted by"
	[ "$(drv $NIC)" = e1000e ]
	[ "$(drv $EDU1)" = - ]
	[ -z "$(state_of $NIC)" ]
}

@test "a real SIGTERM during a bind leaves no half-bound device" {
	# Many attempts at random moments: after each, the devices are either both bound or both not.
	for i in $(seq 6); do
		vfio-bind --group $NIC >/dev/null 2>&1 &
		pid=$!
		sleep "0.0$((RANDOM % 9))"
		kill -TERM $pid 2>/dev/null || true
		wait $pid || true
		a=$(drv $NIC) b=$(drv $EDU1)
		if [ "$a" = vfio-pci ]; then
			[ "$b" = vfio-pci ] || fail "attempt $i: half-bound: $NIC on $a, $EDU1 on $b"
			[ "$(state_of $NIC)" = e1000e ]
			vfio-bind --restore --group $NIC >/dev/null
		else
			[ "$a" = e1000e ] && [ "$b" = - ] ||
				fail "attempt $i: half-bound: $NIC on $a, $EDU1 on $b"
			[ -z "$(state_of $NIC)" ]
		fi
	done
	[ "$(drv $NIC)" = e1000e ]
}

@test "nvme mounted or held open: refused unless --force" {
	wait_for nvme_blk
	dev=/dev/$(ls /sys/bus/pci/devices/$NVME/nvme/nvme*/ | grep -m1 '^nvme[0-9]*n1$')
	modprobe ext4
	mkfs.ext4 -q -F "$dev"
	mkdir -p /tmp/mnt
	mount "$dev" /tmp/mnt
	run vfio-bind --noheadings --raw $NVME
	umount /tmp/mnt
	assert_failure 1
	assert_output --partial "${dev#/dev/} is mounted on /tmp/mnt"
	[ "$(drv $NVME)" = nvme ]
	sleep 30 < "$dev" &
	holder=$!
	wait_for grep -qx sleep /proc/$holder/comm # the shell has exec'd sleep
	run vfio-bind --noheadings --raw $NVME
	kill $holder
	assert_failure 1
	assert_output --regexp "process $holder \(sleep\) holds $dev open"
	[ "$(drv $NVME)" = nvme ]
}

@test "a NIC whose interface is up is refused unless --force" {
	ifc=$(nic_if)
	ip link set "$ifc" up
	run vfio-bind --noheadings --raw --group $NIC
	assert_failure 1
	assert_output --partial "network interface $ifc is up"
	[ "$(drv $NIC)" = e1000e ]
	run vfio-bind --noheadings --raw --group --force $NIC
	assert_success
	[ "$(drv $NIC)" = vfio-pci ]
	vfio-bind --restore --group $NIC
	[ "$(drv $NIC)" = e1000e ]
}

@test "--user gives the group node to an unprivileged user" {
	run vfio-bind --noheadings --raw --user nobody:nogroup $EDU
	assert_success
	g=$(group $EDU)
	[ "$(stat -c '%U:%G %a' /dev/vfio/$g)" = "nobody:nogroup 660" ]
	vfio-bind --restore $EDU
}

@test "two concurrent invocations on the same device keep the state file whole" {
	for i in 1 2 3 4; do
		vfio-bind $NVME >/dev/null &
		vfio-bind $NVME >/dev/null &
		wait
		[ "$(drv $NVME)" = vfio-pci ]
		[ "$(grep -c "^$NVME " /run/vfio-bind/state)" -eq 1 ]
		[ "$(state_of $NVME)" = nvme ]
		vfio-bind --restore $NVME >/dev/null &
		vfio-bind --restore $NVME >/dev/null &
		wait
		[ "$(drv $NVME)" = nvme ]
		[ -z "$(state_of $NVME)" ]
	done
	run ! grep -v -E '^(#|[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7] [^ ]+$)' /run/vfio-bind/state
}

@test "vendor:device selects every edu" {
	run vfio-bind --noheadings --raw --status 1234:11e8
	assert_success
	# the lab's edus, looked up by address: 00:06.0, 00:09.0 (64-bit DMA) and 01:00.1
	assert_line --regexp "^$EDU - [0-9]+ - - -$"
	assert_line --regexp "^$LAB_BDF_EDU64 - [0-9]+ - - -$"
	assert_line --regexp "^$EDU1 - [0-9]+ - - -$"
	[ "${#lines[@]}" -eq "$(lspci -n -d 1234:11e8 | wc -l)" ]
}

lspci_bars() { # bdf: its memory BARs as lspci -vv shows them, in --info's text form N:SIZE:64:pref
	lspci -vv -s "${1#0000:}" |
		sed -n 's/^\tRegion \([0-5]\): Memory at [0-9a-f]* (\(32\|64\)-bit, \(prefetchable\|non-prefetchable\)) \[size=\([0-9]*[KMG]*\)\]$/\1:\4:\2:\3/p' |
		sed 's/:non-prefetchable$/:npref/; s/:prefetchable$/:pref/' | paste -sd, -
}

# --info on the lab's GPU stand-ins (tests/lab/lab: VGA + HDA behind 00:07.0, ivshmem behind
# 00:08.0). The oracles: QEMU's VGA BIOS (vgabios-stdvga: a 0x55AA x86 image whose PCIR names
# 1234:1111) and the lab's own lspci.
@test "--info --json on the VGA: a valid x86 ROM for 1234:1111, its size as lspci reports, rom disabled again" {
	local vga=$LAB_BDF_VGA hda=$LAB_BDF_HDA lsrom
	# the kernel refuses to read a ROM not enabled through the rom attribute (EINVAL)
	run ! cat /sys/bus/pci/devices/$vga/rom
	run vfio-bind --info --json "$vga"
	assert_success
	echo "$output" | jq -e --arg v "$vga" --arg h "$hda" '.[0] |
		.bdf == $v and .class == "0x030000" and .vendor == "0x1234" and .device == "0x1111" and
		.rom.read == true and .rom.signature == true and .rom.valid == true and
		.rom.vendor == "0x1234" and .rom.device == "0x1111" and .rom.code_types[0] == "x86" and
		.group_members == [$v, $h] and .bus_reset_possible == true and
		.bus_reset_affects == [$h]'
	# lspci: "Expansion ROM at 000c0000 [disabled] [size=128K]"
	lsrom=$(lspci -vv -s "${vga#0000:}" | sed -n 's/.*Expansion ROM at .*\[size=\([0-9]*\)K\].*/\1/p')
	[ -n "$lsrom" ]
	echo "$output" | jq -e --argjson k "$lsrom" '.[0].rom.size == $k * 1024'
	lspci -vv -s "${vga#0000:}" | grep -q 'Expansion ROM at .*\[disabled\]'
	# and the rom attribute is disabled again
	run ! cat /sys/bus/pci/devices/$vga/rom
	assert_output --partial "Invalid argument"
}

@test "--info never enables the ROM of a device a host driver uses (e1000e's, on e1000e)" {
	[ "$(drv $NIC)" = e1000e ]
	run vfio-bind --info --json $NIC
	assert_success
	echo "$output" | jq -e '.[0].rom.size > 0 and .[0].rom.read == false and
		.[0].rom.error == "Device or resource busy"'
	lspci -vv -s "${NIC#0000:}" | grep -q 'Expansion ROM at .*\[disabled\]'
}

@test "--info --json on the ivshmem: BAR2 is 128 GiB, 64-bit, prefetchable, as lspci says" {
	local bar
	run vfio-bind --info --json "$LAB_BDF_IVSHMEM"
	assert_success
	bar=$(echo "$output" | jq -c '.[0].bars[] | select(.index == 2)')
	[ -n "$bar" ]
	echo "$bar" | jq -e '.size == 137438953472 and .is_64bit == true and .prefetchable == true and
		.type == "memory"'
	run lspci -vv -s "${LAB_BDF_IVSHMEM#0000:}"
	assert_line --regexp "^	Region 2: Memory at $(echo "$bar" | jq -r '.base | ltrimstr("0x")') \(64-bit, prefetchable\) \[size=128G\]$"
}

@test "--info (text): the BARs of the VGA, HDA, ivshmem and nvme are lspci's" {
	local d want
	for d in $LAB_BDF_VGA $LAB_BDF_HDA $LAB_BDF_IVSHMEM $LAB_BDF_NVME; do
		want=$(lspci_bars $d)
		[ -n "$want" ]
		run vfio-bind --noheadings --info $d
		assert_success
		assert_equal "$(echo "$output" | awk '{ print $13 }')" "$want"
	done
}

@test "--info (text) on the nvme: one line, FLR from the DevCap as lspci shows it" {
	run vfio-bind --noheadings --info "$LAB_BDF_NVME"
	assert_success
	assert_output --regexp "^$LAB_BDF_NVME 0x1b36 0x0010 0x010802 - nvme [0-9]+ $LAB_BDF_NVME "
	# FLR: QEMU's nvme advertises it in DevCap, as lspci shows
	lspci -vv -s "${LAB_BDF_NVME#0000:}" | grep -q 'FLReset+'
	echo "$output" | awk '{ exit !($10 == "yes") }'
}

# ---- hermetic runs (vfio-bind DEVICE... -- COMMAND), as the kernel's VFIO selftests need ----

@test "-- COMMAND: the command sees the BDF bound, the device goes back, the status is the command's" {
	run vfio-bind $EDU -- sh -c 'echo "$VFIO_SELFTESTS_BDF"; readlink "/sys/bus/pci/devices/$VFIO_SELFTESTS_BDF/driver"'
	assert_success
	assert_line --index 0 "$EDU"
	assert_line --index 1 --regexp "/vfio-pci$"
	[ "$(drv $EDU)" = - ]
	[ "$(override $EDU)" = "(null)" ]
	[ -z "$(state_of $EDU)" ]
	run vfio-bind $EDU -- sh -c 'exit 7'
	assert_failure 7
	[ "$(drv $EDU)" = - ]
	[ -z "$(state_of $EDU)" ]
}

@test "-- COMMAND on nvme with --append-bdfs: on vfio-pci during, on nvme after" {
	run vfio-bind --append-bdfs $NVME -- sh -c 'basename "$(readlink "/sys/bus/pci/devices/$1/driver")"' sh
	assert_success
	assert_output vfio-pci
	[ "$(drv $NVME)" = nvme ]
	[ -z "$(state_of $NVME)" ]
	wait_for nvme_blk
}

@test "SIGTERM mid-run goes to the command, then the device is restored (143)" {
	rm -f "$BATS_TEST_TMPDIR/ready"
	vfio-bind $NVME -- sh -c 'echo "$(basename "$(readlink /sys/bus/pci/devices/'$NVME'/driver)")" > '"$BATS_TEST_TMPDIR"'/ready; exec sleep 600' &
	pid=$!
	wait_for test -s "$BATS_TEST_TMPDIR/ready"
	[ "$(cat "$BATS_TEST_TMPDIR/ready")" = vfio-pci ]
	kill -TERM $pid
	rc=0
	wait $pid || rc=$?
	[ "$rc" -eq 143 ]
	[ "$(drv $NVME)" = nvme ]
	[ "$(override $NVME)" = "(null)" ]
	[ -z "$(state_of $NVME)" ]
	wait_for nvme_blk
}

@test "a hung unbind (hang:2) times out, names the holder, nvme stays on nvme" {
	wait_for nvme_blk
	dev=/dev/$(ls /sys/bus/pci/devices/$NVME/nvme/nvme*/ | grep -m1 '^nvme[0-9]*n1$')
	exec 7<"$dev"
	SECONDS=0
	VFIO_BIND_FAULT=hang:2 run vfio-bind --noheadings --raw --force --timeout 2 $NVME
	exec 7<&-
	assert_failure 1
	[ "$SECONDS" -le 15 ]
	# named by the timeout's message itself, not only by the pre-flight warnings of --force
	assert_line --regexp "drivers/nvme/unbind did not return within 2 s \(injected hang\);.* process $BASHPID \([^)]*\) holds $dev open"
	[ "$(drv $NVME)" = nvme ]
	[ "$(override $NVME)" = "(null)" ]
	[ -z "$(state_of $NVME)" ]
}

# ---- the display pair under fbcon (tests/lab/lab: VGA + HDA behind 00:07.0, one group) ----
# The oracles are the kernel's: which driver each function's driver link names, whether fb0's
# device is the VGA, and which vtconsole fbcon ("frame buffer device") holds bound.

fbcon_vt() { # the vtconsole fbcon holds bound (vtconN), or nothing
	local v
	for v in /sys/class/vtconsole/vtcon*; do
		grep -q 'frame buffer' "$v/name" 2>/dev/null && [ "$(cat "$v/bind")" = 1 ] &&
			echo "${v##*/}" && return 0
	done
	return 1
}
fb0_on_vga() {
	[ "$(readlink -f /sys/class/graphics/fb0/device)" = \
		"$(readlink -f /sys/bus/pci/devices/$LAB_BDF_VGA)" ]
}
fbcon_on_vga() { fb0_on_vga && fbcon_vt >/dev/null; }
drv_is() { [ "$(drv "$1")" = "$2" ]; }

# After the display pair's test, pass or fail: no state entry, the console released (a DRM
# driver's remove under fbcon can hang), both functions without a driver and without an
# override, and the two modules gone, so that no later reprobe hands them a driver: as the lab
# started.
display_pair_cleanup() {
	local d v l
	[ -z "$(state_of $LAB_BDF_VGA)$(state_of $LAB_BDF_HDA)" ] ||
		vfio-bind --restore --group $LAB_BDF_VGA || true
	if v=$(fbcon_vt); then echo 0 > /sys/class/vtconsole/$v/bind || true; fi
	for d in $LAB_BDF_VGA $LAB_BDF_HDA; do
		l=$(drv $d)
		[ "$l" = - ] || echo $d > /sys/bus/pci/drivers/$l/unbind || true
		[ "$(override $d)" = "(null)" ] || echo > /sys/bus/pci/devices/$d/driver_override || true
	done
	modprobe -r bochs snd_hda_intel || true
}

# udevadm ignores control requests in a chroot (as the lab's command runs) unless told not to.
udevctl() { SYSTEMD_IGNORE_CHROOT=1 udevadm "$@"; }

# Stop the lab's udevd, drop the claims, and put the nvme and the NIC back if the test stopped
# early.
persist_cleanup() {
	local d
	udevctl control --exit || true
	rm -f /run/udev/rules.d/05-vfio-bind.rules
	if [ ! -e /sys/bus/pci/devices/$NVME ] || [ ! -e /sys/bus/pci/devices/$NIC ]; then
		echo 1 >/sys/bus/pci/rescan
	fi
	for d in $NVME $NIC; do
		[ "$(drv $d)" != vfio-pci ] || vfio-bind --restore $d || true
	done
}

teardown() {
	if [[ $BATS_TEST_DESCRIPTION == "the display pair:"* ]]; then
		display_pair_cleanup
	elif [[ $BATS_TEST_DESCRIPTION == "--persist:"* ]]; then
		persist_cleanup
	fi
	if [[ $BATS_TEST_DESCRIPTION == "SR-IOV:"* ]]; then
		sriov_cleanup
	fi
}

# A hot remove and rescan through sysfs: the kernel adds the device anew (its nvme driver probes
# it at once), then udevd handles the "add" uevent with the rules.
replug() { # bdf
	echo 1 >"/sys/bus/pci/devices/$1/remove"
	[ ! -e "/sys/bus/pci/devices/$1" ] || return 1
	echo 1 >/sys/bus/pci/rescan
	udevctl settle --timeout=60
}

# Two paths to vfio-pci. On a hot add (remove, rescan) udev's driver_override races the host
# driver's probe (seen both ways here for the e1000e): when it loses, the rule's vfio-bind
# (unbind, then vfio-pci) moves the device. At boot udev replays "add" for devices that already
# have a driver (coldplug: udevadm trigger, as systemd-udev-trigger does): only that vfio-bind
# moves those, which the trigger below checks every run.
@test "--persist: under udevd, a replugged nvme and NIC come back on vfio-pci; after --unpersist, on their drivers" {
	# The lab's root is read-only; udevd also reads /run/udev/rules.d (udev(7)).
	export VFIO_BIND_RULES_DIR=/run/udev/rules.d
	local d g
	[ "$(drv $NVME)" = nvme ]
	[ "$(drv $NIC)" = e1000e ]
	/lib/systemd/systemd-udevd --daemon
	wait_for udevctl control --ping
	run vfio-bind --noheadings --raw --persist $NVME $NIC
	assert_success
	g=$(group $NVME)
	assert_line "$NVME vfio-pci $g /dev/vfio/$g nvme vfio-pci"
	g=$(group $NIC)
	assert_line "$NIC vfio-pci $g /dev/vfio/$g e1000e vfio-pci"
	grep -q "KERNEL==\"$NVME\"" /run/udev/rules.d/05-vfio-bind.rules
	grep -q "KERNEL==\"$NIC\"" /run/udev/rules.d/05-vfio-bind.rules
	udevctl control --reload

	for d in $NVME $NIC; do
		replug $d
		wait_for drv_is $d vfio-pci
		[ "$(override $d)" = vfio-pci ]
	done
	run ! nvme_blk
	run ! nic_up
	run vfio-bind --noheadings --raw --status $NVME $NIC
	g=$(group $NVME)
	assert_line "$NVME vfio-pci $g /dev/vfio/$g nvme vfio-pci"
	g=$(group $NIC)
	assert_line "$NIC vfio-pci $g /dev/vfio/$g e1000e vfio-pci"
	# coldplug: the NIC on its driver (the claim kept), then udev's replayed "add"
	run vfio-bind --restore $NIC
	assert_success
	wait_for drv_is $NIC e1000e
	udevctl trigger --action=add "/sys/bus/pci/devices/$NIC"
	udevctl settle --timeout=60
	wait_for drv_is $NIC vfio-pci

	run vfio-bind --noheadings --raw --unpersist $NVME $NIC
	assert_success
	assert_line --regexp "^$NVME nvme [0-9]+ - - -$"
	assert_line --regexp "^$NIC e1000e [0-9]+ - - -$"
	[ ! -e /run/udev/rules.d/05-vfio-bind.rules ]
	udevctl control --reload
	replug $NVME
	replug $NIC
	wait_for drv_is $NVME nvme
	wait_for drv_is $NIC e1000e
	[ "$(override $NVME)" = "(null)" ]
	[ "$(override $NIC)" = "(null)" ]
	wait_for nvme_blk
	[ -z "$(state_of $NVME)" ]
	[ -z "$(state_of $NIC)" ]
}

@test "the display pair: refused while fbcon uses the VGA, bound as one step once released, restored with fb0 back" {
	local vga=$LAB_BDF_VGA hda=$LAB_BDF_HDA vt g
	[ "$(drv $vga)" = - ]
	[ "$(drv $hda)" = - ]
	modprobe bochs
	wait_for fbcon_on_vga
	vt=$(fbcon_vt)
	# the DRM driver's name in sysfs, not the module's
	[ -d /sys/bus/pci/drivers/bochs-drm ]
	[ "$(drv $vga)" = bochs-drm ]
	modprobe snd_hda_intel
	# bound at once; the codec probe that follows may give up under TCG, the driver stays
	wait_for drv_is $hda snd_hda_intel

	run vfio-bind --noheadings --raw --group $vga
	assert_failure 1
	assert_output --partial "vfio-bind: $vga: is the console: fbcon ($vt) draws on its fb0"
	assert_output --partial "'echo 0 > /sys/class/vtconsole/$vt/bind'"
	assert_output --partial "initcall_blacklist=sysfb_init"
	assert_output --partial "video=efifb:off"
	[ "$(drv $vga)" = bochs-drm ]
	[ "$(drv $hda)" = snd_hda_intel ]
	[ "$(override $vga)" = "(null)" ]
	[ "$(override $hda)" = "(null)" ]
	[ -z "$(state_of $vga)" ]
	[ -z "$(state_of $hda)" ]
	fbcon_on_vga

	# released, the console is no refusal; the VGA stays the boot display (QEMU's only VGA,
	# boot_vga=1 in sysfs), which only --force passes
	echo 0 > /sys/class/vtconsole/$vt/bind
	run ! fbcon_vt
	[ "$(cat /sys/bus/pci/devices/$vga/boot_vga)" = 1 ]
	run vfio-bind --noheadings --raw --group $vga
	assert_failure 1
	assert_line "vfio-bind: $vga: is the boot VGA device (boot_vga=1): the host console runs on it"
	refute_output --partial "is the console"
	[ "$(drv $vga)" = bochs-drm ]
	[ "$(drv $hda)" = snd_hda_intel ]
	run vfio-bind --noheadings --raw --force --group $vga
	assert_success
	g=$(group $vga)
	assert_line "$vga vfio-pci $g /dev/vfio/$g bochs-drm -"
	assert_line "$hda vfio-pci $g /dev/vfio/$g snd_hda_intel -"
	[ "$(drv $vga)" = vfio-pci ]
	[ "$(drv $hda)" = vfio-pci ]
	[ "$(state_of $vga)" = bochs-drm ]
	[ "$(state_of $hda)" = snd_hda_intel ]
	[ ! -e /sys/class/graphics/fb0 ]

	run vfio-bind --noheadings --raw --restore --group $vga
	assert_success
	[ "$(drv $vga)" = bochs-drm ]
	wait_for drv_is $hda snd_hda_intel
	wait_for fb0_on_vga
	[ "$(override $vga)" = "(null)" ]
	[ "$(override $hda)" = "(null)" ]
	[ -z "$(state_of $vga)" ]
	[ -z "$(state_of $hda)" ]
	# and fbcon takes the console back on it (measured: vtcon1 bind=1 again)
	wait_for fbcon_on_vga
}

# SR-IOV on the lab's nvme PF (LAB_BDF_SRIOV: sriov_totalvfs 2). What the VFs are and where is
# the kernel's answer: the PF's virtfnN links, each VF's driver link and group, and lspci -k.
SRIOV_PF=/sys/bus/pci/devices/$LAB_BDF_SRIOV
vfs_of_pf() { # the PF's VFs now, by the kernel's virtfnN links
	local l
	for l in "$SRIOV_PF"/virtfn*; do
		if [ -e "$l" ]; then basename "$(readlink "$l")"; fi
	done
	return 0
}
sriov_cleanup() { # whatever a failed test left: VFs off vfio-pci and gone, autoprobe back on
	local vf
	for vf in $(vfs_of_pf); do
		if [ "$(drv $vf)" = vfio-pci ]; then echo "$vf" >/sys/bus/pci/drivers/vfio-pci/unbind; fi
		echo >"/sys/bus/pci/devices/$vf/driver_override"
	done
	echo 0 >"$SRIOV_PF/sriov_numvfs"
	echo 1 >"$SRIOV_PF/sriov_drivers_autoprobe"
	if [ -e /run/vfio-bind/state ]; then sed -i "/^0000:04:/d" /run/vfio-bind/state; fi
	return 0
}
sriov_pristine() { # as the lab starts: no VFs, autoprobe on, nothing recorded
	[ "$(cat "$SRIOV_PF/sriov_numvfs")" = 0 ] &&
		[ "$(cat "$SRIOV_PF/sriov_drivers_autoprobe")" = 1 ] &&
		[ -z "$(vfs_of_pf)" ] && [ -z "$(state_of "$LAB_BDF_SRIOV")" ] &&
		[ "$(drv "$LAB_BDF_SRIOV")" = nvme ]
}

@test "SR-IOV: --vfs 2 makes two VFs on vfio-pci, a group each; --restore removes them" {
	local pf=$LAB_BDF_SRIOV vfs vf g
	sriov_pristine
	[ "$(cat "$SRIOV_PF/sriov_totalvfs")" = 2 ]
	run vfio-bind --noheadings --raw --vfs 2 "$pf"
	assert_success
	[ "$(cat "$SRIOV_PF/sriov_numvfs")" = 2 ]
	[ "$(cat "$SRIOV_PF/sriov_drivers_autoprobe")" = 0 ]
	[ "$(drv "$pf")" = nvme ]
	vfs=$(vfs_of_pf)
	[ "$(echo $vfs)" = "0000:04:00.1 0000:04:00.2" ]
	for vf in $vfs; do
		[ "$(drv $vf)" = vfio-pci ]
		g=$(group $vf)
		[ -c /dev/vfio/$g ]
		[ "$g" != "$(group "$pf")" ]
		assert_line "$vf vfio-pci $g /dev/vfio/$g - -" # no original driver, no persistent claim
		[ "$(state_of $vf)" = - ]
	done
	[ "$(group 0000:04:00.1)" != "$(group 0000:04:00.2)" ]
	[ "$(grep "^$pf " /run/vfio-bind/state)" = "$pf nvme numvfs=0 autoprobe=1" ]
	for vf in $vfs; do
		run lspci -nk -s "$vf"
		assert_success
		assert_line --index 0 --regexp "^${vf#0000:} 0108: 1b36:0010"
		assert_line "	Kernel driver in use: vfio-pci"
	done
	run lspci -k -s "$pf"
	assert_line "	Kernel driver in use: nvme"

	run vfio-bind --noheadings --raw --restore "$pf"
	assert_success
	[ -z "$(vfs_of_pf)" ]
	[ ! -e /sys/bus/pci/devices/0000:04:00.1 ]
	[ -z "$(lspci -s 04:00.1)" ]
	[ "$(lspci -s 04:00 | wc -l)" = 1 ]
	sriov_pristine
	run ! grep -s '^0000:04:' /run/vfio-bind/state
}

@test "SR-IOV: --vfs 3 is above sriov_totalvfs: exit 2, nothing changed" {
	sriov_pristine
	run vfio-bind --noheadings --raw --vfs 3 "$LAB_BDF_SRIOV"
	assert_failure 2
	assert_output "vfio-bind: $LAB_BDF_SRIOV: --vfs 3 is more than its sriov_totalvfs (2)"
	sriov_pristine
}

@test "SR-IOV: a failure midway (the second VF's driver_override) removes the VFs again" {
	sriov_pristine
	# writes: autoprobe 0, numvfs 2, VF0 override, VF0 probe, VF1 override (5th) fails
	VFIO_BIND_FAULT=write:5 run vfio-bind --noheadings --raw --vfs 2 "$LAB_BDF_SRIOV"
	assert_failure 1
	assert_output --partial "0000:04:00.2/driver_override: Input/output error (injected fault)"
	assert_output --partial "returned to its original driver"
	sriov_pristine
	[ ! -e /sys/bus/pci/devices/0000:04:00.1 ]
}

@test "SR-IOV: from 1 VF to 2 through 0 (the kernel refuses 1 -> 2); --restore gives 1 back" {
	local vf
	sriov_pristine
	echo 0 >"$SRIOV_PF/sriov_drivers_autoprobe"
	echo 1 >"$SRIOV_PF/sriov_numvfs"
	# the kernel's rule, checked first: a nonzero count cannot change to another
	run bash -c "echo 2 > $SRIOV_PF/sriov_numvfs"
	assert_failure
	[ "$(cat "$SRIOV_PF/sriov_numvfs")" = 1 ]
	run vfio-bind --noheadings --raw --vfs 2 "$LAB_BDF_SRIOV"
	assert_success
	[ "$(cat "$SRIOV_PF/sriov_numvfs")" = 2 ]
	for vf in $(vfs_of_pf); do [ "$(drv $vf)" = vfio-pci ]; done
	[ "$(grep "^$LAB_BDF_SRIOV " /run/vfio-bind/state)" = "$LAB_BDF_SRIOV nvme numvfs=1 autoprobe=0" ]
	run vfio-bind --noheadings --raw --restore "$LAB_BDF_SRIOV"
	assert_success
	[ "$(cat "$SRIOV_PF/sriov_numvfs")" = 1 ]
	[ "$(cat "$SRIOV_PF/sriov_drivers_autoprobe")" = 0 ]
	[ "$(vfs_of_pf)" = 0000:04:00.1 ]
	[ "$(drv 0000:04:00.1)" = - ]
	[ -z "$(state_of "$LAB_BDF_SRIOV")" ]
	[ -z "$(state_of 0000:04:00.1)" ]
	sriov_cleanup
	sriov_pristine
}

@test "SR-IOV: --vfs 2 --user -- COMMAND: the command gets the VFs (their nodes its user's), then they go" {
	sriov_pristine
	run vfio-bind --vfs 2 --user nobody:nogroup --append-bdfs "$LAB_BDF_SRIOV" -- sh -c '
		echo "$VFIO_SELFTESTS_BDF"
		for vf in $VFIO_SELFTESTS_BDF; do
			g=$(basename "$(readlink "/sys/bus/pci/devices/$vf/iommu_group")")
			echo "$vf $(basename "$(readlink "/sys/bus/pci/devices/$vf/driver")") $(stat -c "%U:%G" /dev/vfio/$g)"
		done
		echo "args $*"' sh
	assert_success
	assert_line --index 0 "0000:04:00.1 0000:04:00.2"
	assert_line --index 1 "0000:04:00.1 vfio-pci nobody:nogroup"
	assert_line --index 2 "0000:04:00.2 vfio-pci nobody:nogroup"
	assert_line --index 3 "args 0000:04:00.1 0000:04:00.2"
	sriov_pristine
}
