#!/usr/bin/env bats
# The demo flow (tests/lab/demo, what `make demo` shows) with the tools of the Debian package
# (build/deb, made by `make deb` or tests/cli/deb.bats), unpacked with dpkg-deb into the lab:
# vfio-bind binds the nvme, vfio-dmamap and vfio-msix check it, mvm-run boots a guest that
# writes to it through passthrough, vfio-bind --restore gives it back with the guest's data.
# The install itself (dpkg -i, dependencies, dpkg -r) is tests/cli/deb.bats: the lab's root is
# read-only.

load ../helpers

setup_file() {
	lab_guard
	export VFIO_BIND_STATE_DIR=/run/vfio-bind
}

@test "the demo flow from the packaged tools: bind, check, boot with the disk passed, restore" {
	local deb=$REPO/build/deb/vfio-toolkit_0.1.0_amd64.deb root=$BATS_TEST_TMPDIR/root t table
	[ -f "$deb" ] || fail "no $deb: make deb (tests/cli/deb.bats does) before the lab suites"
	dpkg-deb -x "$deb" "$root"
	for t in vfio-bind vfio-dmamap vfio-msix mvm-run; do
		[ -x "$root/usr/bin/$t" ]
		# the tools the demo runs are the package's, not the build tree's
		[ "$(PATH=$root/usr/bin:$PATH command -v "$t")" = "$root/usr/bin/$t" ]
	done
	run env DEMO_BIN="$root/usr/bin" LAB_DEMO_INSIDE=1 timeout "$((GUEST_BOUND + 120))" \
		"$REPO/tests/lab/demo"
	echo "$output" | tail -40
	assert_success
	# the demo's vfio-bind --status (up to the blank line before its next note): the header line,
	# then the bound disk's line in this version's six columns, aligned
	table=$(sed -n '/\$ vfio-bind --status/,/^$/p' <<<"$output")
	[ "$(sed -n 2p <<<"$table" | tr -s ' ')" = "BDF DRIVER IOMMU_GROUP VFIO_NODE ORIGINAL_DRIVER PERSIST" ] ||
		fail "no header line in: $table"
	grep -Eq '^0000:00:04\.0 +vfio-pci +[0-9]+ +/dev/vfio/[0-9]+ +nvme +-$' <<<"$table" ||
		fail "no line for the bound disk in: $table"
	assert_output --partial "PT-NVME read=LAB-WROTE-THIS!!"
	assert_output --partial "mvm-run exited with status 0"
	# back on nvme, the guest's pattern on the disk
	assert_output --partial "PATTERN-FROM-L2-GUEST"
	[ "$(basename "$(readlink /sys/bus/pci/devices/0000:00:04.0/driver)")" = nvme ]
}
