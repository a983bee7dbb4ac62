#!/usr/bin/env bats
# tests/lab/lab.bats: smoke tests of the lab VM itself. Run inside the lab:
#   tests/lab/lab run -- bats --tap tests/lab/lab.bats
# Device addresses: see the layout at the top of tests/lab/lab (exported as LAB_BDF_*).

# bats-support and bats-assert, without their loaders' per-test forks (see tests/helpers.bash)
load ../helpers

NVME=0000:00:04.0
ROOT_PORT=0000:00:05.0
E1000E=0000:01:00.0
EDU_PEER=0000:01:00.1
EDU=0000:00:06.0
VGA=0000:02:00.0
HDA=0000:02:00.1
IVSHMEM=0000:03:00.0
EDU64=0000:00:09.0
PCI=/sys/bus/pci/devices

setup_file() { lab_guard; }

setup() {
	[ "$(cat /proc/sys/kernel/hostname)" = lab ] || skip "not inside the lab VM (run: tests/lab/lab run -- bats --tap $BATS_TEST_FILENAME)"
}

driver_of() { # bdf: the bound driver's name, empty when none
	local d
	d=$(readlink "$PCI/$1/driver") || return 0
	basename "$d"
}

group_of() { # bdf: the IOMMU group number
	basename "$(readlink -f "$PCI/$1/iommu_group")"
}

group_members() { # bdf: the group's devices, sorted, space-separated
	ls "$PCI/$1/iommu_group/devices" | sort | tr '\n' ' ' | sed 's/ $//'
}

@test "the lab exports the device addresses the tests use" {
	assert_equal "$LAB_BDF_NVME" "$NVME"
	assert_equal "$LAB_BDF_ROOT_PORT" "$ROOT_PORT"
	assert_equal "$LAB_BDF_E1000E" "$E1000E"
	assert_equal "$LAB_BDF_EDU_PEER" "$EDU_PEER"
	assert_equal "$LAB_BDF_EDU" "$EDU"
	assert_equal "$LAB_BDF_VGA" "$VGA"
	assert_equal "$LAB_BDF_HDA" "$HDA"
	assert_equal "$LAB_BDF_IVSHMEM" "$IVSHMEM"
	assert_equal "$LAB_BDF_EDU64" "$EDU64"
	assert_equal "$LAB_BDF_GPU_PORT" 0000:00:07.0
	assert_equal "$LAB_BDF_BAR_PORT" 0000:00:08.0
	assert_equal "$LAB_BDF_SRIOV" 0000:04:00.0
	assert_equal "$LAB_BDF_SRIOV_PORT" 0000:00:0c.0
}

@test "SR-IOV PF: an nvme behind root port 00:0c.0 with 2 VFs possible, none made, alone in its group" {
	local pf=$LAB_BDF_SRIOV
	assert_equal "$(cat $PCI/$pf/vendor):$(cat $PCI/$pf/device)" "0x1b36:0x0010"
	assert [ -d "$PCI/$LAB_BDF_SRIOV_PORT/$pf" ]
	assert_equal "$(driver_of $pf)" nvme
	assert_equal "$(cat $PCI/$pf/sriov_totalvfs) $(cat $PCI/$pf/sriov_numvfs)" "2 0"
	assert_equal "$(cat $PCI/$pf/sriov_drivers_autoprobe)" 1
	assert_equal "$(group_members $pf)" "$pf"
	run lspci -vv -s ${pf#0000:}
	assert_success
	assert_line --regexp '^		Initial VFs: 2, Total VFs: 2, Number of VFs: 0,'
	assert_line --regexp '^		VF offset: 1, stride: 1, Device ID: 0010$'
}

@test "GPU stand-ins: the VGA and its HDA function share one group behind root port 00:07.0" {
	assert_equal "$(cat $PCI/$VGA/vendor):$(cat $PCI/$VGA/device):$(cat $PCI/$VGA/class)" \
		0x1234:0x1111:0x030000
	assert_equal "$(cat $PCI/$HDA/vendor):$(cat $PCI/$HDA/device):$(cat $PCI/$HDA/class)" \
		0x8086:0x2668:0x040300
	assert [ -d "$PCI/$LAB_BDF_GPU_PORT/$VGA" ]
	assert_equal "$(group_members $VGA)" "$VGA $HDA"
	assert_equal "$(driver_of $VGA)$(driver_of $HDA)" ""
}

@test "GPU stand-ins: ivshmem has a 128 GiB 64-bit prefetchable BAR2 above 4 GiB" {
	run lspci -vv -s ${IVSHMEM#0000:}
	assert_success
	assert_line --regexp '^	Region 2: Memory at [0-9a-f]{9,} \(64-bit, prefetchable\) \[size=128G\]$'
	assert_equal "$(group_members $IVSHMEM)" "$IVSHMEM"
}

@test "GPU stand-ins: the 64-bit edu at 00:09.0 is alone in its group" {
	assert_equal "$(cat $PCI/$EDU64/vendor):$(cat $PCI/$EDU64/device)" "0x1234:0x11e8"
	assert_equal "$(group_members $EDU64)" "$EDU64"
}

@test "kvm_amd is loaded with nested paging and /dev/kvm is a character device" {
	assert [ -d /sys/module/kvm_amd ]
	assert [ -c /dev/kvm ]
	run cat /sys/module/kvm_amd/parameters/npt
	assert_output --regexp '^(Y|1)$'
}

@test "KVM_GET_API_VERSION is 12 and KVM_CREATE_VM returns a VM fd" {
	run perl -e '
		open(my $k, "+<", "/dev/kvm") or die "open /dev/kvm: $!\n";
		my $v = ioctl($k, 0xAE00, 0);              # KVM_GET_API_VERSION
		defined $v or die "KVM_GET_API_VERSION: $!\n";
		my $fd = ioctl($k, 0xAE01, 0);             # KVM_CREATE_VM
		defined $fd or die "KVM_CREATE_VM: $!\n";
		printf "api=%d vmfd=%d\n", $v, $fd;
		open(my $vm, "+<&=", $fd) or die "fdopen: $!\n";
		my $cpu = ioctl($vm, 0xAE41, 0);            # KVM_CREATE_VCPU
		defined $cpu or die "KVM_CREATE_VCPU: $!\n";
		print "vcpu ok\n";'
	assert_success
	assert_line --regexp '^api=12 vmfd=[0-9]+$'
	assert_line 'vcpu ok'
}

@test "the IOMMU is on: DMAR unit and IOMMU groups exist" {
	assert [ -d /sys/class/iommu/dmar0 ]
	run ls /sys/kernel/iommu_groups
	assert_success
	refute_output ''
}

@test "nvme at 00:04.0 is bound to nvme and its 64 MiB namespace is nvme0n1" {
	assert_equal "$(cat $PCI/$NVME/vendor):$(cat $PCI/$NVME/device)" "0x1b36:0x0010"
	assert_equal "$(driver_of $NVME)" nvme
	assert [ -e /sys/block/nvme0n1 ]
	assert [ -b /dev/nvme0n1 ]
	assert_equal "$(cat /sys/block/nvme0n1/size)" 131072
	run readlink -f /sys/block/nvme0n1/device/device
	assert_output --partial "$NVME"
}

@test "e1000e at 01:00.0 is bound to e1000e and has a network interface" {
	assert_equal "$(cat $PCI/$E1000E/vendor):$(cat $PCI/$E1000E/device)" "0x8086:0x10d3"
	assert_equal "$(driver_of $E1000E)" e1000e
	run ls $PCI/$E1000E/net
	assert_success
	assert_output --regexp '^[a-z0-9]+$'
}

@test "e1000e has MSI-X (5 vectors) and is function 0 of a multifunction device" {
	run lspci -vv -s "$E1000E"
	assert_success
	assert_output --partial 'MSI-X: Enable+ Count=5'
	# header type bit 7: multifunction
	run setpci -s "$E1000E" HEADER_TYPE
	assert_success
	assert [ $((0x$output & 0x80)) -ne 0 ]
}

@test "both edu devices (01:00.1 and 00:06.0) are present and have no driver" {
	local d
	for d in $EDU_PEER $EDU; do
		assert_equal "$(cat $PCI/$d/vendor):$(cat $PCI/$d/device)" "0x1234:0x11e8"
		assert [ ! -e $PCI/$d/driver ]
	done
}

@test "00:05.0 is a PCIe root port (bridge) in a group of its own" {
	assert_equal "$(cat $PCI/$ROOT_PORT/class)" 0x060400
	assert_equal "$(group_members $ROOT_PORT)" "$ROOT_PORT"
	assert [ -d "$PCI/$ROOT_PORT/$E1000E" ]
	assert [ -d "$PCI/$ROOT_PORT/$EDU_PEER" ]
}

@test "e1000e and its edu peer share one IOMMU group with nothing else" {
	assert_equal "$(group_of $E1000E)" "$(group_of $EDU_PEER)"
	assert_equal "$(group_members $E1000E)" "$E1000E $EDU_PEER"
}

@test "nvme and the lone edu each have an IOMMU group of their own" {
	assert_equal "$(group_members $NVME)" "$NVME"
	assert_equal "$(group_members $EDU)" "$EDU"
	refute [ "$(group_of $NVME)" = "$(group_of $EDU)" ]
	refute [ "$(group_of $EDU)" = "$(group_of $E1000E)" ]
}

@test "vfio-pci is not loaded at start" {
	assert [ ! -e /sys/module/vfio_pci ]
	assert [ ! -e /sys/bus/pci/drivers/vfio-pci ]
	assert [ ! -e /dev/vfio/vfio ]
}

@test "modprobe resolves vfio-pci from the lab kernel's modules" {
	assert [ -e "/lib/modules/$(uname -r)/modules.dep.bin" ]
	run modprobe -n -v vfio-pci
	assert_success
	assert_output --partial 'vfio-pci.ko'
	assert_output --partial 'vfio_iommu_type1.ko'
}

@test "64 2 MiB hugepages are reserved and hugetlbfs is on /dev/hugepages" {
	assert_equal "$(cat /sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages)" 64
	run awk '$2 == "/dev/hugepages" { print $3 }' /proc/mounts
	assert_output hugetlbfs
}

@test "/tmp, /run, /var/tmp and /dev/shm are writable; the host root is read-only" {
	local d
	for d in /tmp /run /var/tmp /dev/shm; do
		run bash -c "echo x >'$d/lab-bats.$$' && cat '$d/lab-bats.$$' && rm '$d/lab-bats.$$'"
		assert_success
		assert_output x
	done
	run touch /etc/lab-bats-must-fail
	assert_failure
}

@test "the working directory is the host's, with the project visible" {
	assert [ -f "$BATS_TEST_DIRNAME/lab" ]
	assert [ -f "$BATS_TEST_DIRNAME/init" ]
	run awk '$2 == "/" { print $3 }' /proc/mounts
	assert_output 9p
}

@test "the console is quiet: only emergencies (oops, panic) reach it" {
	[ "${LAB_DEBUG:-0}" != 1 ] || skip "LAB_DEBUG=1 keeps the kernel's messages"
	run awk '{ print $1 }' /proc/sys/kernel/printk
	assert_output 1
}
