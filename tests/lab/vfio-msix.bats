#!/usr/bin/env bats
# vfio-msix against real devices, inside the lab VM (one boot): capability parsing agrees with
# lspci before and after binding; loopback and device-raised interrupts all arrive.

load ../helpers
load ../msix_lspci

NVME=0000:00:04.0 NIC=0000:01:00.0 EDU1=0000:01:00.1 EDU=0000:00:06.0
N='[0-9]+\.[0-9]+' # a latency or ratio as printed

setup_file() {
	lab_guard
	export VFIO_BIND_STATE_DIR=/run/vfio-bind
}

teardown_file() {
	vfio-bind --restore --all >&3 || true
}

# Every line of vfio-msix test's $output: the eventfd floor is positive and RATIO is MEDIAN_US
# over FLOOR_US (both printed to 0.1 us, the ratio to 0.01). With "above": every median is above
# its floor (a device-raised interrupt makes its way through QEMU's device model and the IOMMU
# before it ends in the same eventfd signal and wake-up the floor times).
check_floor() {
	awk -v above="${1:-}" '{
		m = $4; f = $6; r = $7; d = m / f - r
		if (!(f > 0)) { print "line " NR ": floor " f " us is not positive"; bad = 1 }
		else if ((d < 0 ? -d : d) > 0.01 + 0.1 * (1 + m / f) / f) {
			print "line " NR ": ratio " r " is not " m "/" f; bad = 1 }
		else if (above && !(m > f)) { print "line " NR ": median " m " us not above floor " f; bad = 1 }
	} END { exit bad }' <<<"$output" || fail "vfio-msix test: $output"
}

@test "info agrees with lspci -vv on e1000e and nvme under their own drivers (MSI-X enabled)" {
	for d in $NIC $NVME $EDU $EDU1; do
		run vfio-msix --noheadings --raw info $d
		assert_success
		[ "$output" = "$(lspci_msix -s $d)" ] || fail "$d: '$output' vs lspci '$(lspci_msix -s $d)'"
	done
	run vfio-msix --noheadings --raw info $NIC
	assert_line --regexp '^msix 0xa0 yes no 5 3 0x00000000 3 0x00002000$'
	run vfio-msix --noheadings --raw info $NVME
	assert_line --regexp '^msix 0x40 yes no 65 0 0x00002000 0 0x00003000$'
	refute_output --partial "irq " # no VFIO view: not on vfio-pci
}

@test "after binding: the same capabilities plus VFIO's IRQ info" {
	vfio-bind --group $NIC >&3
	vfio-bind $EDU $NVME >&3
	for d in $NIC $NVME $EDU; do
		run vfio-msix --noheadings --raw info $d
		assert_success
		[ "$(echo "$output" | grep -v '^irq ')" = "$(lspci_msix -s $d)" ] ||
			fail "$d: '$output' vs lspci '$(lspci_msix -s $d)'"
	done
	run vfio-msix --noheadings --raw info $NIC
	assert_line "irq msix 5 eventfd,noresize"
	assert_line "irq msi 1 eventfd,noresize"
	run vfio-msix --noheadings --raw info $NVME
	assert_line "irq msix 65 eventfd,noresize"
	run vfio-msix info --json $EDU
	echo "$output" | jq -e '.msix == null and .msi."64bit" and
		(.vfio_irqs[] | select(.index == "msi") | .count) == 1'
}

@test "loopback: every interrupt on all 5 e1000e vectors is delivered" {
	run vfio-msix --noheadings --raw test $NIC --count 50
	assert_success
	[ "${#lines[@]}" -eq 5 ]
	for v in 0 1 2 3 4; do
		assert_line --index $v --regexp "^$v 50 50 $N $N $N $N$"
	done
	check_floor
	echo "$output" | sed 's/^/# loopback e1000e: /' >&3
	# MSI-X is off again afterwards.
	run vfio-msix --noheadings --raw info $NIC
	assert_line --regexp '^msix 0xa0 no '
}

@test "device-raised MSI-X from e1000e (Interrupt Cause Set), all 5 vectors" {
	run vfio-msix --noheadings --raw test $NIC --source device --count 20
	assert_success
	for v in 0 1 2 3 4; do
		assert_line --index $v --regexp "^$v 20 20 $N $N $N $N$"
	done
	check_floor above
	echo "$output" | sed 's/^/# device e1000e MSI-X: /' >&3
}

@test "device-raised MSI from edu (interrupt-raise register), both edus" {
	run vfio-msix --noheadings --raw test $EDU --source device --count 20
	assert_success
	assert_output --regexp "^0 20 20 $N $N $N $N$"
	check_floor above
	echo "$output" | sed 's/^/# device edu MSI: /' >&3
	run vfio-msix --noheadings --raw test $EDU1 --source device --count 5
	assert_success
	assert_output --regexp '^0 5 5 '
	run vfio-msix --noheadings --raw test $EDU --count 20 # loopback MSI
	assert_success
	assert_output --regexp "^0 20 20 $N $N $N $N$"
	check_floor
	echo "$output" | sed 's/^/# loopback edu MSI: /' >&3
}

@test "nvme: loopback on all 65 vectors; vector lists; JSON" {
	run vfio-msix --noheadings --raw test $NVME --count 2
	assert_success
	[ "${#lines[@]}" -eq 65 ]
	refute_output --regexp ' 2 [01] '
	run vfio-msix --noheadings --raw test $NVME --vectors 0,2-3,64 --count 3
	assert_success
	[ "$(echo "$output" | cut -d' ' -f1 | tr '\n' ' ')" = "0 2 3 64 " ]
	run vfio-msix test --json $NVME --vectors 4 --count 3
	assert_success
	echo "$output" | jq -e 'length == 4 and all(.[]; .fired == 3 and .delivered == 3 and
		.irq == "msix" and .source == "loopback" and .floor_us > 0 and .ratio > 0 and
		(.median_us / .floor_us - .ratio | fabs) <= 0.01 + 0.1 * (1 + .median_us / .floor_us) / .floor_us)'
}

@test "errors: no test driver, vectors out of range, device on another driver" {
	run vfio-msix --noheadings --raw test $NVME --source device
	assert_failure 1
	assert_output --partial "no test driver"
	run vfio-msix --noheadings --raw test $NIC --vectors 6
	assert_failure 2
	run vfio-msix --noheadings --raw test $NIC --vectors 0,7
	assert_failure 2
	vfio-bind --restore $NVME >&3
	run vfio-msix --noheadings --raw test $NVME
	assert_failure 1
	assert_output --partial "bound to nvme, not vfio-pci (bind it: vfio-bind $NVME"
}
