#!/usr/bin/env bats
# vfio-dmamap without hardware: usage errors, bad input and devices not on vfio-pci (this
# machine's own devices are only read, never changed). The IOMMU work is in tests/lab.

load ../helpers

host_dev_on_driver() {
	local d drv
	for d in /sys/bus/pci/devices/*; do
		drv=$(readlink "$d/driver" 2>/dev/null) || continue
		[ "${drv##*/}" != vfio-pci ] && { echo "${d##*/}"; return 0; }
	done
	return 1
}

host_dev_without_driver() {
	local d
	for d in /sys/bus/pci/devices/*; do
		[ -e "$d/driver" ] || { echo "${d##*/}"; return 0; }
	done
	return 1
}

@test "every command on a device bound to another driver: exit 1, names it, suggests vfio-bind" {
	d=$(host_dev_on_driver) || skip "no device with a driver"
	drv=$(basename "$(readlink /sys/bus/pci/devices/$d/driver)")
	for cmd in "info $d" "map $d --size 4K" "bench $d"; do
		run vfio-dmamap $cmd
		assert_failure 1
		assert_output "vfio-dmamap: $d is bound to $drv, not vfio-pci (bind it: vfio-bind $d; vfio-bind --restore $d gives it back)"
	done
}

@test "a device with no driver: exit 1, suggests vfio-bind" {
	d=$(host_dev_without_driver) || skip "every device has a driver"
	run vfio-dmamap info "$d"
	assert_failure 1
	assert_output --partial "is not bound to any driver"
	assert_output --partial "vfio-bind $d"
}

@test "short addresses resolve to the full one" {
	d=$(host_dev_on_driver) || skip "no device with a driver"
	run vfio-dmamap info "${d#0000:}"
	assert_failure 1
	assert_output --partial "$d is bound to"
}

@test "bad and nonexistent addresses: exit 2" {
	run vfio-dmamap info 00:1g.0
	assert_failure 2
	run vfio-dmamap info 10de:2330
	assert_failure 2
	assert_output --partial "give a PCI address"
	run vfio-dmamap info 0000:7f:1f.7
	assert_failure 2
	assert_output "vfio-dmamap: 0000:7f:1f.7: no such PCI device"
	run vfio-dmamap map 0000:7f:1f.7 --size 4K
	assert_failure 2
}

@test "map: sizes and addresses are checked before anything is opened" {
	run vfio-dmamap map 00:00.0
	assert_failure 2
	assert_output "vfio-dmamap: map: --size is needed"
	run vfio-dmamap map 00:00.0 --size 0
	assert_failure 2
	assert_output --partial "must not be zero"
	run vfio-dmamap map 00:00.0 --size 2Q
	assert_failure 2
	assert_output --partial "is not a size"
	run vfio-dmamap map 00:00.0 --size 16E
	assert_failure 2
	assert_output --partial "too large"
	run vfio-dmamap map 00:00.0 --size 4K --iova 0xzz
	assert_failure 2
	run vfio-dmamap map 00:00.0 --size 4K --iova 0x1000 --iova 0x2000
	assert_failure 2
	assert_output --partial "more --iova than --size"
	run vfio-dmamap map 00:00.0 --size 4K --size 4K --backing /tmp/f
	assert_failure 2
	assert_output --partial "a file backs one mapping only"
	run vfio-dmamap map 00:00.0 --size 4K --hold -- true
	assert_failure 2
}

@test "usage errors: exit 2 with a message" {
	run vfio-dmamap
	assert_failure 2
	assert_output --partial "a command is needed"
	run vfio-dmamap unmap 00:00.0
	assert_failure 2
	assert_output --partial "unknown command"
	run vfio-dmamap info
	assert_failure 2
	run vfio-dmamap info 00:00.0 extra
	assert_failure 2
	run vfio-dmamap info 00:00.0 --size 4K
	assert_failure 2
	run vfio-dmamap bench 00:00.0 --iova 0x1000
	assert_failure 2
	run vfio-dmamap bench 00:00.0 --iterations 0
	assert_failure 2
	run vfio-dmamap bench 00:00.0 --size 4K --size 8K
	assert_failure 2
	run vfio-dmamap map 00:00.0 --size 4K --iterations 3
	assert_failure 2
	run vfio-dmamap info 00:00.0 --backend nope
	assert_failure 2
	assert_output --partial "auto, container or iommufd"
	run vfio-dmamap info 00:00.0 --bogus
	assert_failure 2
}

@test "--prefault: THREADS from 1 to 64, for map and bench only (2)" {
	run vfio-dmamap map 00:00.0 --size 4K --prefault=0
	assert_failure 2
	assert_output "vfio-dmamap: --prefault: '0' is not a number from 1 to 64"
	run vfio-dmamap bench 00:00.0 --prefault=65
	assert_failure 2
	assert_output "vfio-dmamap: --prefault: '65' is not a number from 1 to 64"
	run vfio-dmamap map 00:00.0 --size 4K --prefault=two
	assert_failure 2
	run vfio-dmamap info 00:00.0 --prefault
	assert_failure 2
	assert_output "vfio-dmamap: info: --prefault is for map and bench"
	run vfio-dmamap --help
	assert_output --partial "--prefault[=THREADS]"
}

@test "--help lists the commands and options" {
	run vfio-dmamap --help
	assert_success
	assert_output --partial "info DEVICE"
	assert_output --partial "--verify"
	assert_output --partial "--backing"
}
