#!/usr/bin/env bats
# vfio-msix without hardware: capability parsing on QEMU config-space dumps and on this machine's
# own devices (read only), agreement with lspci, usage errors and exit codes.

load ../helpers
load ../msix_lspci

LAB=$REPO/tests/fixtures/pci/qemu-lab.lspci
VAR=$REPO/tests/fixtures/pci/variants.lspci
H200=$REPO/tests/fixtures/pci/h200-firecracker.lspci

# A device of this machine bound to a driver other than vfio-pci (never modified by the tests).
host_dev_on_driver() {
	local d drv
	for d in /sys/bus/pci/devices/*; do
		drv=$(readlink "$d/driver" 2>/dev/null) || continue
		[ "${drv##*/}" != vfio-pci ] && { echo "${d##*/}"; return 0; }
	done
	return 1
}

@test "info on e1000e (dump): MSI and MSI-X lines" {
	run vfio-msix info --noheadings --pci-dump "$LAB" 01:00.0
	assert_success
	assert_output "msi 0xd0 no 1 1 no yes 0x0000000000000000 0x0000
msix 0xa0 no no 5 3 0x00000000 3 0x00002000"
}

@test "info names its fields: a header line for each capability's table (msi, msix)" {
	run vfio-msix info --pci-dump "$LAB" 01:00.0
	assert_success
	local msi='^CAP +OFFSET +ENABLED +VECTORS_ENABLED +VECTORS_MAX +MASKABLE +64BIT +ADDRESS +DATA$'
	local msix='^CAP +OFFSET +ENABLED +FUNCTION_MASK +TABLE_SIZE +TABLE_BAR +TABLE_OFFSET'
	assert_line --index 0 --regexp "$msi"
	assert_line --index 1 --regexp '^msi +0xd0 +no +1 +1 +no +yes +0x0000000000000000 +0x0000$'
	assert_line --index 2 --regexp "$msix +PBA_BAR +PBA_OFFSET\$"
	[ "${#lines[@]}" -eq 4 ]
	# a record without a column named prints the others it has
	run vfio-msix info --pci-dump "$LAB" --pairs --output cap,table_size 01:00.0
	assert_output $'CAP="msi"\nCAP="msix" TABLE_SIZE="5"'
}

@test "info on nvme (dump): 65 vectors, table and PBA in BAR0" {
	run vfio-msix info --noheadings -F "$LAB" 0000:00:04.0
	assert_success
	assert_output "msix 0x40 no no 65 0 0x00002000 0 0x00003000"
}

@test "info on edu (dump): MSI only" {
	run vfio-msix info --noheadings -F "$LAB" 00:06.0
	assert_success
	assert_output "msi 0x40 no 1 1 no yes 0x0000000000000000 0x0000"
}

@test "info on a real H200 (dump): what the machine's own lspci -vvv said" {
	run vfio-msix info --noheadings -F "$H200" 00:06.0
	assert_success
	# lspci -vvv on that machine: MSI Enable- Count=1/16 Maskable+ 64bit+, address and data 0;
	# MSI-X Enable+ Count=9 Masked-, vector table BAR=0 offset=00b90000, PBA BAR=0 offset=00ba0000
	[ "$output" = "$(lspci_msix_text <"$H200-vvv")" ]
	assert_output "msi 0x48 no 1 16 yes yes 0x0000000000000000 0x0000
msix 0xb0 yes no 9 0 0x00b90000 0 0x00ba0000"
}

@test "info agrees with lspci -vv field by field on every dumped device" {
	for f in "$LAB" "$VAR" "$H200"; do
		for d in $(grep -oE '^[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]' "$f"); do
			run vfio-msix info --noheadings -F "$f" "$d"
			assert_success
			[ "$output" = "$(lspci_msix -F "$f" -s "$d")" ] ||
				fail "$d: vfio-msix says '$output', lspci '$(lspci_msix -F "$f" -s "$d")'"
		done
	done
}

@test "info --json: every field, nulls for absent capabilities" {
	run vfio-msix info -F "$VAR" --json 00:11.0
	assert_success
	echo "$output" | jq -e '.device == "0000:00:11.0" and .msi.vectors_max == 32 and
		.msi.maskable and .msi."64bit" and .msi.mask == "0x7fffffff" and
		.msix.enabled and .msix.function_mask and .msix.table_size == 2048 and
		.msix.table_bar == 4 and .msix.table_offset == "0x00010000" and .msix.pba_bar == 5 and
		.vfio_irqs == null'
	run vfio-msix info -F "$VAR" --json 00:12.0
	assert_success
	echo "$output" | jq -e '.msi == null and .msix == null'
	run vfio-msix info --noheadings -F "$VAR" 00:12.0
	assert_success
	assert_output ""
}

@test "info on this machine's devices agrees with lspci (read only, any driver)" {
	[ "$(id -u)" = 0 ] || skip "capabilities beyond 64 bytes of config space need root"
	n=0
	for d in /sys/bus/pci/devices/*; do
		d=${d##*/}
		run vfio-msix info --noheadings "$d"
		assert_success
		[ "$output" = "$(lspci_msix -s "$d")" ] || fail "$d: '$output' vs '$(lspci_msix -s "$d")'"
		n=$((n + 1))
	done
	[ "$n" -gt 0 ]
}

@test "test on a device not bound to vfio-pci: exit 1, suggests vfio-bind" {
	d=$(host_dev_on_driver) || skip "no device with a driver"
	run vfio-msix test "$d"
	assert_failure 1
	assert_output --partial "not vfio-pci"
	assert_output --partial "vfio-bind $d"
}

@test "bad addresses and missing devices: exit 2" {
	run vfio-msix info zz:zz.z
	assert_failure 2
	assert_output --partial "vfio-msix: "
	run vfio-msix info 0000:7f:1f.7
	assert_failure 2
	assert_output "vfio-msix: 0000:7f:1f.7: no such PCI device"
	run vfio-msix info --noheadings -F "$LAB" 00:09.0
	assert_failure 2
	assert_output "vfio-msix: 0000:00:09.0: no such PCI device"
	run vfio-msix test 0000:7f:1f.7
	assert_failure 2
}

@test "usage errors: exit 2 with a message" {
	run vfio-msix
	assert_failure 2
	assert_output --partial "a command is needed"
	run vfio-msix frob 00:00.0
	assert_failure 2
	assert_output --partial "unknown command"
	run vfio-msix info
	assert_failure 2
	assert_output --partial "DEVICE"
	run vfio-msix info 00:00.0 extra
	assert_failure 2
	run vfio-msix info --count 3 00:00.0
	assert_failure 2
	run vfio-msix test --count 0 00:00.0
	assert_failure 2
	run vfio-msix test --source sideways 00:00.0
	assert_failure 2
	assert_output --partial "loopback or device"
	run vfio-msix test --backend nope 00:00.0
	assert_failure 2
	run vfio-msix test -F "$LAB" 00:04.0
	assert_failure 2
	run vfio-msix info --noheadings --pci-dump /nonexistent 00:04.0
	assert_failure 1
	assert_output --partial "/nonexistent"
}

@test "--pci-dump: a FIFO is refused at once, not waited on" {
	mkfifo "$BATS_TEST_TMPDIR/fifo"
	run timeout 10 vfio-msix info --pci-dump "$BATS_TEST_TMPDIR/fifo" 00:04.0
	assert_failure 1
	assert_output "vfio-msix: $BATS_TEST_TMPDIR/fifo: a FIFO, not a regular file"
}

@test "an empty DEVICE is named as the DEVICE argument" {
	run vfio-msix info --pci-dump "$LAB" ''
	assert_failure 2
	assert_output "vfio-msix: DEVICE '': not a PCI address (empty)"
}
