#!/usr/bin/env bats
# tests/lab/passthrough.bats: the toolkit's whole flow, inside the lab VM: vfio-bind a device,
# mvm-run --vfio boots Debian's kernel (the lab's generic one; for nvme also the cloud one) with
# it on a PCI bus, the guest's own driver binds and
# uses it (nvme: a pattern written and read back; e1000e: a DHCP lease), its interrupts arrive;
# after mvm-run exits, vfio-bind --restore hands the device back to the lab's driver.

load ../helpers

NVME=0000:00:04.0 NIC=0000:01:00.0 EDU=0000:00:06.0
CMDLINE="console=ttyS0 reboot=k panic=-1 nokaslr i8042.noaux i8042.nomux i8042.nopnp i8042.dumbkbd quiet"

setup_file() {
	lab_guard
	local kdir
	kdir=$LAB_KERNEL_DIR # the lab's own kernel (tests/lab/lab)
	export KVER=${kdir##*/kernel-}
	export VMLINUZ=$kdir/boot/vmlinuz-$KVER INITRD=$BATS_FILE_TMPDIR/pt.img
	"$REPO/tests/guests/mkinitramfs-pt" "$kdir" "$KVER" "$INITRD"
	# Debian's cloud flavour (tests/lab/lab): nvme built in, no MP table parser.
	kdir=${LAB_CLOUD_KERNEL_DIR:-}
	export CLOUD_KVER=${kdir##*/kernel-} CLOUD_INITRD=$BATS_FILE_TMPDIR/pt-cloud.img
	export CLOUD_VMLINUZ=$kdir/boot/vmlinuz-$CLOUD_KVER
	[ -z "$kdir" ] || "$REPO/tests/guests/mkinitramfs-pt" "$kdir" "$CLOUD_KVER" "$CLOUD_INITRD"
	export VFIO_BIND_STATE_DIR=/run/vfio-bind
}

drv() { local l; l=$(readlink "/sys/bus/pci/devices/$1/driver") && echo "${l##*/}" || echo -; }
nvme_dev() { ls "/sys/bus/pci/devices/$NVME/nvme/"nvme*/ 2>/dev/null | grep -m1 '^nvme[0-9]*n1$'; }
wait_for() { local i; for i in $(seq 100); do "$@" && return 0; sleep 0.1; done; return 1; }

# Boot the test guest with the given extra options; output without carriage returns.
boot() {
	timeout "$GUEST_BOUND" mvm-run --kernel "$VMLINUZ" --initrd "$INITRD" --mem 256M --cmdline "$CMDLINE" \
		--console stdio "$@" </dev/null | tr -d '\r'
	return "${PIPESTATUS[0]}"
}

# total of a "PT-... irqs-before=A irqs-after=B" line: B > A
irqs_rose() {
	local line
	line=$(grep "^$1 irqs-before=" <<<"$output") || return 1
	local a=${line#*irqs-before=} b=${line#*irqs-after=}
	a=${a%% *}
	echo "interrupts: $a -> $b"
	[ "$b" -gt "$a" ]
}

@test "nvme: bound with vfio-bind, passed through, the guest's nvme driver writes and reads it" {
	wait_for nvme_dev
	printf 'LAB-WROTE-THIS!!' | dd of="/dev/$(nvme_dev)" bs=16 conv=fsync 2>/dev/null
	run vfio-bind $NVME
	assert_success
	run boot --vfio $NVME --cpus 2
	echo "$output" | grep -E '^PT-|mvm-run' || true
	assert_success
	assert_line "PT-PCI 0000:01:00.0 0x1b36:0x0010 class=0x010802"
	assert_line --regexp "^PT-DRIVER 0000:01:00.0 nvme msix=[1-9]"
	# PCIe as q35 gives it: the nvme behind a root port at 00:01.0, its 4 KiB of config space
	# reachable through the MCFG's ECAM, which the kernel found reserved
	assert_line "PT-PCI 0000:00:01.0 0x1b36:0x000c class=0x060400"
	assert_line --regexp "^PT-TREE .*01\.0-\[01\]----00\.0 .*QEMU NVM Express Controller$"
	assert_line "PT-CFGSIZE 0000:01:00.0 4096"
	assert_line --regexp "^PT-MMCFG .*MMCONFIG .*\[mem 0xc0000000-0xc0ffffff\].* reserved"
	# lspci inside the guest shows the device with its driver
	assert_line --regexp "^PT-LSPCI 01:00.0 Non-Volatile memory controller \[0108\]: .*\[1b36:0010\]"
	assert_line --regexp "^PT-LSPCI 	Kernel driver in use: nvme"
	assert_line "PT-NVME read=LAB-WROTE-THIS!!"
	assert_line "PT-NVME write=ok"
	assert_line "PT-NVME readback=PATTERN-FROM-L2-GUEST"
	irqs_rose PT-NVME
	assert_line PT-DONE
	# mvm-run left it on vfio-pci, for vfio-bind --restore
	[ "$(drv $NVME)" = vfio-pci ]
}

@test "nvme: Debian's cloud kernel boots with it too (no pci=noacpi, ACPI routing), writes and reads it" {
	[ -r "$CLOUD_VMLINUZ" ] || skip "no cloud kernel in the lab cache (LAB_CLOUD_KERNEL_DIR)"
	[ "$(drv $NVME)" = vfio-pci ] # still bound from the test before
	# without quiet: the kernel's PCI messages are checked too
	VMLINUZ=$CLOUD_VMLINUZ INITRD=$CLOUD_INITRD CMDLINE=${CMDLINE/ quiet/} run boot --vfio $NVME --cpus 2
	echo "$output" | grep -E '^PT-|mvm-run|overflow|Kernel panic|PCI Root Bridge' || true
	assert_success
	# the kernel took bus 0 from the DSDT's host bridge, its command line as given
	assert_output --partial "ACPI: PCI Root Bridge [PCI0] (domain 0000 [bus 00])"
	refute_output --partial "pci=noacpi"
	refute_output --partial "overflow: 0000"
	assert_line "PT-PCI 0000:01:00.0 0x1b36:0x0010 class=0x010802"
	assert_line --regexp "^PT-DRIVER 0000:01:00.0 nvme msix=[1-9]"
	assert_line "PT-NVME read=LAB-WROTE-THIS!!"
	assert_line "PT-NVME write=ok"
	assert_line "PT-NVME readback=PATTERN-FROM-L2-GUEST"
	irqs_rose PT-NVME
	assert_line PT-DONE
}

@test "nvme over INTx (pci=nomsi): its line on an IOAPIC pin the _PRT names, level-triggered, interrupts arrive, I/O works" {
	[ "$(drv $NVME)" = vfio-pci ] # still bound from the tests before
	CMDLINE="$CMDLINE pci=nomsi" run boot --vfio $NVME
	echo "$output" | grep -E '^PT-|mvm-run' || true
	assert_success
	assert_line "PT-DRIVER 0000:01:00.0 nvme msix=0"
	# behind the root port at slot 1, INTA (device 0: no swizzle): IOAPIC pin
	# 21 + (1 + 1 - 1) % 3 = 22 (layout.h); fasteoi: level-triggered
	assert_line --regexp "^PT-INTX IO-APIC +22-fasteoi +nvme0q0"
	assert_line "PT-NVME write=ok"
	assert_line "PT-NVME readback=PATTERN-FROM-L2-GUEST"
	irqs_rose PT-NVME
	assert_line PT-DONE
}

@test "nvme: --restore returns it to the lab's driver, and the guest's pattern is on the disk" {
	run vfio-bind --restore $NVME
	assert_success
	[ "$(drv $NVME)" = nvme ]
	wait_for nvme_dev
	[ "$(dd if="/dev/$(nvme_dev)" bs=4096 skip=2 count=1 iflag=direct 2>/dev/null | head -c 21)" = PATTERN-FROM-L2-GUEST ]
}

@test "e1000e: passed through with its group, the guest's e1000e driver gets a DHCP lease" {
	run vfio-bind --group $NIC
	assert_success
	run boot --vfio $NIC --cpus 2
	echo "$output" | grep -E '^PT-|mvm-run' || true
	assert_success
	assert_line "PT-PCI 0000:01:00.0 0x8086:0x10d3 class=0x020000"
	assert_line --regexp "^PT-DRIVER 0000:01:00.0 e1000e msix=[1-9]"
	assert_line "PT-IRQMODE 0000:01:00.0 msix"
	# its expansion ROM, from VFIO's ROM region: QEMU's efi-e1000e.rom names 8086:10d3
	assert_line --regexp "^PT-ROM 0000:01:00.0 sig=55aa pcir=8086:10d3 bytes=[0-9]+$"
	assert_line --regexp "^PT-LSPCI 01:00.0 Ethernet controller \[0200\]: .*\[8086:10d3\]"
	assert_line --regexp "^PT-LSPCI 	Kernel driver in use: e1000e"
	assert_line --regexp "^PT-NET dhcp=ok lease of 10\.0\.2\.[0-9]+"
	irqs_rose PT-NET
	run vfio-bind --restore --group $NIC
	assert_success
	[ "$(drv $NIC)" = e1000e ]
}

@test "e1000e over INTx (pci=nomsi): DHCP lease, interrupts on its IOAPIC pin" {
	run vfio-bind --group $NIC
	assert_success
	CMDLINE="$CMDLINE pci=nomsi" run boot --vfio $NIC
	echo "$output" | grep -E '^PT-|mvm-run' || true
	assert_success
	assert_line "PT-DRIVER 0000:01:00.0 e1000e msix=0"
	assert_line --regexp "^PT-INTX IO-APIC +22-fasteoi +eth0"
	assert_line --regexp "^PT-NET dhcp=ok lease of 10\.0\.2\.[0-9]+"
	irqs_rose PT-NET
	run vfio-bind --restore --group $NIC
	assert_success
}

@test "both functions of one IOMMU group (e1000e and its edu, like a GPU and its audio) together" {
	vfio-bind --group $NIC >/dev/null
	# ROMs: the e1000e's hidden (rom=off), the edu (which has none) given QEMU's VGA BIOS
	run boot --vfio $NIC,rom=off --vfio 0000:01:00.1,rom=/usr/share/seabios/vgabios-stdvga.bin -v
	echo "$output" | grep -E '^PT-|mvm-run' || true
	assert_success
	assert_line "PT-PCI 0000:01:00.0 0x8086:0x10d3 class=0x020000"
	assert_line "PT-PCI 0000:02:00.0 0x1234:0x11e8 class=0x00ff00"
	refute_line --regexp "^PT-ROM 0000:01:00.0"
	assert_line --regexp "^PT-ROM 0000:02:00.0 sig=55aa pcir=1234:1111 bytes=[0-9]+$"
	assert_line --regexp "^PT-NET dhcp=ok lease of 10\.0\.2\.[0-9]+"
	assert_line --regexp "^PT-EDU 0000:02:00.0 msi-delivered=[1-9]"
	vfio-bind --restore --group $NIC >/dev/null
	[ "$(drv $NIC)" = e1000e ]
}

@test "a device not on vfio-pci is refused with a hint, exit 1, nothing changed" {
	[ "$(drv $NVME)" = nvme ]
	run boot --vfio $NVME
	assert_failure 1
	assert_output --partial "vfio-bind"
	[ "$(drv $NVME)" = nvme ]
}

@test "bad --vfio addresses are usage errors (2)" {
	run boot --vfio zz:00.0
	assert_failure 2
	assert_output --partial "mvm-run: --vfio: 'zz:00.0': not a PCI address"
	run boot --vfio 0000:00:1e.0
	assert_failure 2
	assert_output --partial "no such"
}

@test "two devices at once: nvme (MSI-X) and the edu (plain MSI, raised by the device), each on its own slot" {
	vfio-bind $NVME $EDU >/dev/null
	run boot --vfio $NVME --vfio $EDU -v
	echo "$output" | grep -E '^PT-|mvm-run' || true
	assert_success
	assert_line "PT-PCI 0000:01:00.0 0x1b36:0x0010 class=0x010802"
	assert_line "PT-PCI 0000:02:00.0 0x1234:0x11e8 class=0x00ff00"
	assert_line "PT-NVME readback=PATTERN-FROM-L2-GUEST"
	# the edu's plain MSI (it has no MSI-X), programmed by hand in the guest, arrives
	assert_line --regexp "^PT-EDU 0000:02:00.0 msi-delivered=[1-9]"
	assert_line --regexp "^PT-EDU-DMESG .*[0-9]\.223 No irq handler for vector"
	vfio-bind --restore $NVME $EDU >/dev/null
	[ "$(drv $NVME)" = nvme ]
}

@test "--config: a vfio entry and 2M huge pages boot the same flow; -v tells the set-up time" {
	vfio-bind $NVME >/dev/null
	cat >"$BATS_TEST_TMPDIR/vm.json" <<-JSON
	{
	  "boot-source": { "kernel_image_path": "$VMLINUZ", "initrd_path": "$INITRD",
	                   "boot_args": "$CMDLINE" },
	  "machine-config": { "vcpu_count": 1, "mem_size_mib": 128, "huge_pages": "2M" },
	  "vfio": [ { "id": "disk", "bdf": "$NVME" } ]
	}
	JSON
	run timeout "$GUEST_BOUND" mvm-run -v --config "$BATS_TEST_TMPDIR/vm.json" </dev/null
	echo "$output" | grep -E '^PT-|mvm-run' || true
	assert_success
	assert_output --regexp "passthrough of 1 device set up in [0-9.]+ ms \(2M-backed guest memory\)"
	# before the DMA map, guest RAM was faulted in by a thread per CPU (the lab's, at most 16)
	n=$(getconf _NPROCESSORS_ONLN)
	[ "$n" -le 16 ] || n=16
	assert_output --regexp "guest memory faulted in by $n threads? in [0-9.]+ ms"
	assert_output --partial "PT-NVME readback=PATTERN-FROM-L2-GUEST"
	vfio-bind --restore $NVME >/dev/null
	[ "$(drv $NVME)" = nvme ]
}

# ---- the display pair (tests/lab/lab: VGA 1234:1111 + intel-hda behind 00:07.0, one group) ----

# Where the device's BAR0 holds the bytes pattern: "found at OFFSET", or "not found". Read
# through its sysfs resource0, memory decode on.
bar0_find() {
	setpci -s "${1#0000:}" COMMAND=0002:0002
	python3 - "$1" "$2" <<-'PY'
	import mmap, os, sys
	dev, pattern = sys.argv[1], sys.argv[2].encode()
	path = f"/sys/bus/pci/devices/{dev}/resource0"
	fd = os.open(path, os.O_RDWR | os.O_SYNC)
	m = mmap.mmap(fd, os.path.getsize(path), mmap.MAP_SHARED, mmap.PROT_READ)
	at = m.find(pattern)
	print(f"found at {at:#x}" if at >= 0 else "not found")
	PY
}

teardown() {
	if [[ $BATS_TEST_DESCRIPTION == "the display pair together"* ]]; then
		vfio-bind --restore --group $LAB_BDF_VGA >/dev/null 2>&1 || true
	fi
}

@test "the display pair together: bochs-drm and snd_hda_intel bind in the guest, its pattern is in the VGA's BAR afterwards, its ROM is the VGA BIOS" {
	local vga=$LAB_BDF_VGA hda=$LAB_BDF_HDA
	[ "$(drv $vga)" = - ]
	[ "$(drv $hda)" = - ]
	# the boot VGA (boot_vga=1) needs --force, as vfio-bind.bats shows
	run vfio-bind --group --force $vga
	assert_success
	run boot --vfio $vga --vfio $hda --mem 512M
	echo "$output" | grep -E '^PT-|mvm-run' || true
	assert_success
	assert_line "PT-PCI 0000:01:00.0 0x1234:0x1111 class=0x030000"
	assert_line --regexp "^PT-PCI 0000:02:00.0 0x8086:0x[0-9a-f]{4} class=0x0403[0-9a-f]{2}$"
	assert_line --regexp "^PT-DRIVER 0000:01:00.0 bochs-drm "
	assert_line --regexp "^PT-DRIVER 0000:02:00.0 snd_hda_intel "
	# each behind its root port
	assert_line --regexp "^PT-TREE .*01\.0-\[01\]----00\.0 "
	assert_line --regexp "^PT-TREE .*02\.0-\[02\]----00\.0 "
	# the VGA's own ROM through VFIO: QEMU's VGA BIOS, for 1234:1111
	assert_line --regexp "^PT-ROM 0000:01:00.0 sig=55aa pcir=1234:1111 bytes=[0-9]+$"
	# conventional PCI functions: 256 bytes of config space, as on the lab's bus
	assert_line "PT-CFGSIZE 0000:01:00.0 $(stat -c %s /sys/bus/pci/devices/$vga/config)"
	assert_line "PT-FB 0000:01:00.0 fb0=bochs-drmdrmfb readback=MVM-GUEST-FB-OK!"
	assert_line PT-DONE
	# what the guest drew is in the device's framebuffer (its VRAM, BAR0)
	run bar0_find $vga "MVM-GUEST-FB-OK!MVM-GUEST-FB-OK!"
	assert_output --regexp "^found at 0x[0-9a-f]+$"
	run vfio-bind --restore --group $vga
	assert_success
	[ "$(drv $vga)" = - ]
	[ "$(drv $hda)" = - ]
}
