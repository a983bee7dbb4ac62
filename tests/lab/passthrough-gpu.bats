#!/usr/bin/env bats
# tests/lab/passthrough-gpu.bats: what a datacenter GPU needs of mvm-run --vfio, with the lab's
# stand-ins: the ivshmem's 128 GiB BAR (a GPU's BAR1) in the 64-bit window, written by the
# guest and read back by the lab through its own mapping of the device; peer-to-peer DMA, the
# 64-bit edu copying from one offset of that BAR to another through the lab's IOMMU, and the
# IOMMU's fault when P2P is off. Apart from passthrough.bats because each boot maps 128 GiB
# (about 100 s under TCG to map it in the IOMMU): together they would pass a suite's time limit.
# Runs inside the lab: tests/lab/lab run -- bats THIS.

load ../helpers

CMDLINE="console=ttyS0 reboot=k panic=-1 nokaslr i8042.noaux i8042.nomux i8042.nopnp i8042.dumbkbd quiet"
GIB=$((1 << 30))
MVM=${MVM:-$BATS_TEST_DIRNAME/../../build/mvm-run}

setup_file() {
	lab_guard
	local kdir=$LAB_KERNEL_DIR
	export KVER=${kdir##*/kernel-}
	export VMLINUZ=$kdir/boot/vmlinuz-$KVER INITRD=$BATS_FILE_TMPDIR/pt.img
	"$REPO/tests/guests/mkinitramfs-pt" "$kdir" "$KVER" "$INITRD"
	export VFIO_BIND_STATE_DIR=/run/vfio-bind
	vfio-bind "$LAB_BDF_IVSHMEM" "$LAB_BDF_EDU64" >/dev/null
}

teardown_file() {
	vfio-bind --restore "$LAB_BDF_IVSHMEM" "$LAB_BDF_EDU64" >/dev/null
}

# Boot the test guest with the two devices (twice the usual bound: 128 GiB to map) and extra options; output without carriage returns.
boot() { # extra-cmdline option...
	local extra=$1
	shift
	timeout $((GUEST_BOUND * 2)) "$MVM" --kernel "$VMLINUZ" --initrd "$INITRD" --mem 256M \
		--cmdline "$CMDLINE $extra" --console stdio -v \
		--vfio "$LAB_BDF_IVSHMEM" --vfio "$LAB_BDF_EDU64" "$@" </dev/null 2>&1 | tr -d '\r'
	return "${PIPESTATUS[0]}"
}

# The ivshmem's memory as the lab sees it: its BAR2 through sysfs (not through mvm-run).
bar_io() { # offset [8 bytes to write]: prints the 8 bytes at offset in hex (after writing)
	python3 - "/sys/bus/pci/devices/$LAB_BDF_IVSHMEM/resource2" "$@" <<-'PY'
	import mmap, os, sys
	off = int(sys.argv[2], 0)
	fd = os.open(sys.argv[1], os.O_RDWR | os.O_SYNC)
	m = mmap.mmap(fd, 4096, offset=off & ~4095)
	if len(sys.argv) > 3:
	    m[off & 4095:(off & 4095) + 8] = sys.argv[3].encode()
	print(m[off & 4095:(off & 4095) + 8].hex())
	PY
}

hex() { printf %s "$1" | od -An -tx1 | tr -d ' \n'; }

# The lab's kernel messages since mark (a line count of dmesg).
dmesg_since() { dmesg | tail -n "+$(($1 + 1))"; }

@test "the 128 GiB BAR in the 64-bit window: the guest's pattern at 127 GiB is in the device; P2P: the edu copies within it, and into a BAR the guest moved" {
	local high=$((127 * GIB)) src=0x1000 dst=0x2000000 mark
	[ "$(bar_io $high '........')" = "$(hex ........)" ]
	[ "$(bar_io $dst '--------')" = "$(hex --------)" ]
	mark=$(dmesg | wc -l)
	run boot "pt_iv=$high pt_p2p=$src,$dst pt_move=0xe0800000"
	echo "$output" | grep -E '^PT-|mvm-run' || true
	assert_success
	assert_line "PT-PCI 0000:01:00.0 0x1af4:0x1110 class=0x050000"
	# lspci in the guest: 64-bit, above 4 GiB, naturally aligned, the whole 128 GiB
	assert_line --regexp "^PT-LSPCIV 	Memory at [0-9a-f]+ \(64-bit, prefetchable\) \[size=128G\]"
	local addr
	addr=$(sed -n 's/^PT-LSPCIV 	Memory at \([0-9a-f]*\) (64-bit, prefetchable) \[size=128G\].*/\1/p' <<<"$output")
	echo "guest BAR2 at 0x$addr"
	[ $((0x$addr)) -ge $((4 * GIB)) ]
	[ $((0x$addr % (128 * GIB))) -eq 0 ]
	# the kernel kept every BAR where mvm-run put it
	refute_line --regexp '^PT-PCIMSG'
	assert_line "PT-IVSHMEM read=0x4C324D56 0x54524157"
	assert_line "PT-P2P src=0x50325031 dst=0x50325031 0x21414D44"
	# the edu's BAR0 moved by the guest, its P2P mapping with it: the DMA reached the liveness
	# register at the new address, which reads back the inverse (QEMU's docs/specs/edu.rst)
	assert_line "PT-MOVE bar0=0xe0800000 liveness=0x$(printf %X $((~0x50325031 & 0xffffffff)))"
	assert_line --partial "mvm-run: passthrough 64-bit window 0x$addr/0x2000000000"
	# the lab reads both through its own mapping of the device
	[ "$(bar_io $high)" = "$(hex VM2LWART)" ]
	[ "$(bar_io $dst)" = "$(hex 1P2PDMA!)" ]
	run dmesg_since "$mark"
	refute_output --partial "DMAR: [DMA"
}

@test "--vfio-p2p off: the IOMMU blocks the edu's DMA into the BAR (DMAR faults), nothing copied" {
	local src=0x3000 dst=0x4000000 mark addr
	[ "$(bar_io $dst '++++++++')" = "$(hex ++++++++)" ]
	mark=$(dmesg | wc -l)
	run boot "pt_p2p=$src,$dst" --vfio-p2p off
	echo "$output" | grep -E '^PT-|mvm-run' || true
	assert_success
	refute_line --regexp '^mvm-run: passthrough .* p2p$'
	# the guest cleared dst through the BAR itself (a memory slot), the DMA wrote nothing
	assert_line "PT-P2P src=0x50325031 dst=0x00000000 0x00000000"
	[ "$(bar_io $dst)" = 0000000000000000 ]
	addr=$(sed -n 's/^PT-LSPCIV 	Memory at \([0-9a-f]*\) (64-bit, prefetchable) \[size=128G\].*/\1/p' <<<"$output")
	run dmesg_since "$mark"
	echo "$output" | grep DMAR || true
	assert_line --regexp "DMAR: \[DMA Read NO_PASID\] Request device \[${LAB_BDF_EDU64#0000:}\] fault addr 0x0*$(printf %x $((0x$addr + src)))"
	assert_line --regexp "DMAR: \[DMA Write NO_PASID\] Request device \[${LAB_BDF_EDU64#0000:}\] fault addr 0x0*$(printf %x $((0x$addr + dst)))"
}
