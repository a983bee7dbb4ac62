/* layout.h: the microVM's guest address map, I/O ports and interrupt lines, in one place. */
#ifndef CORE_LAYOUT_H
#define CORE_LAYOUT_H

/*
 * Every window below is checked at compile time (end of file): inside its region, aligned, and
 * clear of its neighbours. Addresses follow Firecracker's x86_64 layout (REFERENCES.md).
 */

/* ---- boot structures in low RAM (below 1 MiB) -------------------------------------------- */
#define BOOT_GDT_GPA	    0x500ULL
#define BOOT_GDT_ENTRIES    4 /* null, 32-bit code, 64-bit code, data */
#define BOOT_IDT_GPA	    0x520ULL
#define BOOT_PVH_INFO_GPA   0x6000ULL /* hvm_start_info, its module list and memory map */
#define BOOT_PVH_INFO_SIZE  0x200ULL
#define BOOT_ZERO_PAGE_GPA  0x7000ULL /* Linux boot_params */
#define BOOT_STACK_GPA	    0x8ff0ULL
#define BOOT_PML4_GPA	    0x9000ULL
#define BOOT_PDPT_GPA	    0xa000ULL
#define BOOT_PD_GPA	    0xb000ULL /* four page directories: 4 GiB identity-mapped */
#define BOOT_PD_COUNT	    4
#define BOOT_CMDLINE_GPA    0x20000ULL
#define BOOT_CMDLINE_MAX    4096u      /* bytes, with the terminating NUL */
#define BOOT_EBDA_GPA	    0x9fc00ULL /* end of low RAM in the e820 map; the MP table lives here */
#define BOOT_LOWMEM_END_GPA 0xa0000ULL
#define BOOT_ACPI_GPA	    0xe0000ULL /* RSDP and the tables it points to (BIOS area) */
#define BOOT_ACPI_MAX	    0x10000u
#define BOOT_HIMEM_GPA	    0x100000ULL /* kernels load at 1 MiB */
/* The smallest guest this layout supports (page tables, tables, a 1 MiB kernel area). */
#define BOOT_MIN_RAM (2ULL << 20)

/* ---- the 32-bit MMIO hole: the top 1 GiB below 4 GiB holds no RAM ------------------------ */
#define VM_MMIO_HOLE_GPA 0xc0000000ULL
#define VM_4G_GPA	 0x100000000ULL
/* PCIe ECAM (MMCONFIG): 1 MiB of configuration space per bus, for buses 0 to PCI_ECAM_BUSES - 1;
 * announced in the ACPI MCFG and reserved in e820 (Linux ignores an unreserved one). */
#define PCI_ECAM_GPA   0xc0000000ULL
#define PCI_ECAM_BUSES 16
#define PCI_ECAM_SIZE  ((unsigned long long)PCI_ECAM_BUSES << 20)
/* virtio-mmio devices: VMDEV_MAX slots of 4 KiB, IOAPIC pins from VMDEV_FIRST_IRQ. */
#define VMDEV_MAX	16
#define VMDEV_MMIO_BASE 0xd0000000ULL
#define VMDEV_MMIO_SIZE 0x1000ULL
#define VMDEV_FIRST_IRQ 5
/* Passthrough BARs: a 32-bit window up to the IOAPIC; 64-bit ones above RAM, in a window sized
 * from the devices' BARs (mmio_window.h); the fixed one below is vpci_alloc's default. */
#define VFIO_PT_MMIO32_BASE  0xe0000000ULL
#define VFIO_PT_MMIO32_SIZE  0x1ec00000ULL
#define VFIO_PT_MMIO64_ALIGN (64ULL << 30) /* from a 64 GiB boundary: large BARs align */
#define VFIO_PT_MMIO64_SIZE  (1ULL << 38)
/* The interrupt controllers, as the ACPI MADT and the MP table announce them. */
#define IOAPIC_GPA  0xfec00000ULL
#define IOAPIC_SIZE 0x1000ULL
#define LAPIC_GPA   0xfee00000ULL
#define LAPIC_SIZE  0x1000ULL
/* Where KVM keeps its real-mode TSS (3 pages) and identity page table on Intel. */
#define KVM_IDENTITY_MAP_GPA 0xfffbc000ULL
#define KVM_TSS_GPA	     0xfffbd000ULL
#define KVM_TSS_SIZE	     0x3000ULL

/* ---- I/O ports ----------------------------------------------------------------------------- */
#define I8042_DATA_PORT	     0x60
#define I8042_COMMAND_PORT   0x64
#define I8042_IO_BASE	     0x60 /* both ports: the ops take the port as offset from 0x60 */
#define I8042_IO_LEN	     5
#define SERIAL_COM1_PORT     0x3f8
#define SERIAL_PORTS	     8
#define BOOT_ACPI_SLEEP_PORT 0x600 /* FADT sleep control; status at +1 */
#define VM_SLEEP_PORTS	     2
#define PCI_HOST_CONF_ADDR   0xcf8 /* configuration mechanism #1 */
#define PCI_HOST_CONF_DATA   0xcfc
#define PCI_HOST_CONF_PORTS  8
#define VFIO_PT_IO_BASE	     0xc000 /* passthrough I/O BARs */
#define VFIO_PT_IO_SIZE	     0x4000

/* ---- interrupt lines (GSIs) ------------------------------------------------------------------ */
#define IOAPIC_PINS	 24 /* GSIs 0-23 are the IOAPIC's pins (ISA IRQs 0-15 among them) */
#define SERIAL_COM1_IRQ	 4
#define I8042_KBD_IRQ	 1    /* the keyboard's: Ctrl-Alt-Del */
#define PIC_PINS	 16   /* the two 8259s, routed beside IOAPIC pins 0-15 */
#define VM_MAX_ROUTES	 1024 /* KVM's routing table (kvm.c): irqchip pins, then MSI vectors */
#define VM_MSI_FIRST_GSI IOAPIC_PINS
/*
 * PCI INTx of passed devices: level-triggered IOAPIC pins after the virtio ones, shared as the
 * DSDT's _PRT says: pin INTA-INTD (1-4) of slot s raises PCI_INTX_FIRST_GSI +
 * (s + pin - 1) % PCI_INTX_GSIS (the usual swizzle, so neighbours spread over the pins).
 */
#define PCI_INTX_FIRST_GSI	21
#define PCI_INTX_GSIS		3
#define pci_intx_gsi(slot, pin) (PCI_INTX_FIRST_GSI + ((slot) + (pin)-1) % PCI_INTX_GSIS)
/* One route per MSI GSI: those left once the irqchip's pins have theirs. */
#define VM_MSI_GSI_END (VM_MSI_FIRST_GSI + VM_MAX_ROUTES - IOAPIC_PINS - PIC_PINS)

/* ---- checks ---------------------------------------------------------------------------------- */
#define LAYOUT_BEFORE(end_a, start_b, why) _Static_assert((end_a) <= (start_b), why)
#define LAYOUT_ALIGNED(x, a, why)	   _Static_assert((x) % (a) == 0, why)

/* Boot structures: in order, apart, below the kernel at 1 MiB. */
LAYOUT_BEFORE(BOOT_GDT_GPA + BOOT_GDT_ENTRIES * 8, BOOT_IDT_GPA, "GDT runs into the IDT");
LAYOUT_BEFORE(BOOT_IDT_GPA + 8, BOOT_PVH_INFO_GPA, "IDT runs into the PVH start info");
LAYOUT_BEFORE(BOOT_PVH_INFO_GPA + BOOT_PVH_INFO_SIZE, BOOT_ZERO_PAGE_GPA,
	      "PVH start info runs into the zero page");
LAYOUT_BEFORE(BOOT_ZERO_PAGE_GPA + 0x1000, BOOT_STACK_GPA, "zero page runs into the stack");
LAYOUT_BEFORE(BOOT_STACK_GPA, BOOT_PML4_GPA, "boot stack overlaps the page tables");
LAYOUT_BEFORE(BOOT_PML4_GPA + 0x1000, BOOT_PDPT_GPA, "PML4 runs into the PDPT");
LAYOUT_BEFORE(BOOT_PDPT_GPA + 0x1000, BOOT_PD_GPA, "PDPT runs into the page directories");
LAYOUT_BEFORE(BOOT_PD_GPA + BOOT_PD_COUNT * 0x1000, BOOT_CMDLINE_GPA,
	      "page directories run into the command line");
LAYOUT_BEFORE(BOOT_CMDLINE_GPA + BOOT_CMDLINE_MAX, BOOT_EBDA_GPA,
	      "command line runs into the EBDA");
LAYOUT_BEFORE(BOOT_EBDA_GPA, BOOT_LOWMEM_END_GPA, "EBDA beyond low memory");
LAYOUT_BEFORE(BOOT_LOWMEM_END_GPA, BOOT_ACPI_GPA, "ACPI tables inside low RAM");
LAYOUT_BEFORE(BOOT_ACPI_GPA + BOOT_ACPI_MAX, BOOT_HIMEM_GPA, "ACPI tables run into the kernel");
LAYOUT_BEFORE(BOOT_HIMEM_GPA, BOOT_MIN_RAM, "the smallest guest has no room for a kernel");
LAYOUT_ALIGNED(BOOT_ZERO_PAGE_GPA, 0x1000, "zero page not page aligned");
LAYOUT_ALIGNED(BOOT_PML4_GPA, 0x1000, "PML4 not page aligned");
LAYOUT_ALIGNED(BOOT_PDPT_GPA, 0x1000, "PDPT not page aligned");
LAYOUT_ALIGNED(BOOT_PD_GPA, 0x1000, "page directories not page aligned");
LAYOUT_ALIGNED(BOOT_STACK_GPA, 16, "boot stack not 16-byte aligned");
LAYOUT_ALIGNED(BOOT_ACPI_GPA, 16, "RSDP not on a 16-byte boundary (ACPI 5.2.5.1)");
LAYOUT_ALIGNED(BOOT_EBDA_GPA, 16, "MP floating pointer not on a 16-byte boundary");

/* The MMIO hole: RAM, virtio slots, the 32-bit BAR window, IOAPIC, LAPIC, KVM's pages, 4 GiB. */
LAYOUT_ALIGNED(VM_MMIO_HOLE_GPA, 1ULL << 30, "the MMIO hole is not 1 GiB aligned");
LAYOUT_BEFORE(VM_MMIO_HOLE_GPA, PCI_ECAM_GPA, "ECAM inside RAM");
LAYOUT_BEFORE(PCI_ECAM_GPA + PCI_ECAM_SIZE, VMDEV_MMIO_BASE, "ECAM runs into the virtio slots");
LAYOUT_ALIGNED(PCI_ECAM_GPA, PCI_ECAM_SIZE, "ECAM not aligned to its size");
LAYOUT_BEFORE(PCI_ECAM_BUSES, 257, "ECAM beyond bus 255");
LAYOUT_BEFORE(VMDEV_MMIO_BASE + VMDEV_MAX * VMDEV_MMIO_SIZE, VFIO_PT_MMIO32_BASE,
	      "virtio-mmio slots run into the passthrough window");
LAYOUT_BEFORE(VFIO_PT_MMIO32_BASE + VFIO_PT_MMIO32_SIZE, IOAPIC_GPA,
	      "passthrough window runs into the IOAPIC");
LAYOUT_BEFORE(IOAPIC_GPA + IOAPIC_SIZE, LAPIC_GPA, "IOAPIC runs into the LAPIC");
LAYOUT_BEFORE(LAPIC_GPA + LAPIC_SIZE, KVM_IDENTITY_MAP_GPA, "LAPIC runs into KVM's pages");
LAYOUT_BEFORE(KVM_IDENTITY_MAP_GPA + 0x1000, KVM_TSS_GPA, "KVM's identity map runs into its TSS");
LAYOUT_BEFORE(KVM_TSS_GPA + KVM_TSS_SIZE, VM_4G_GPA, "KVM's TSS crosses 4 GiB");
LAYOUT_ALIGNED(VMDEV_MMIO_BASE, VMDEV_MMIO_SIZE, "virtio-mmio slots not aligned");
LAYOUT_ALIGNED(VFIO_PT_MMIO32_BASE, 1ULL << 28, "passthrough window not 256 MiB aligned");
LAYOUT_ALIGNED(VFIO_PT_MMIO64_SIZE, VFIO_PT_MMIO64_ALIGN, "64-bit window not whole");

/* Ports: ascending and apart. */
LAYOUT_BEFORE(I8042_IO_BASE + I8042_IO_LEN, SERIAL_COM1_PORT, "i8042 runs into COM1");
LAYOUT_BEFORE(SERIAL_COM1_PORT + SERIAL_PORTS, BOOT_ACPI_SLEEP_PORT, "COM1 runs into ACPI sleep");
LAYOUT_BEFORE(BOOT_ACPI_SLEEP_PORT + VM_SLEEP_PORTS, PCI_HOST_CONF_ADDR,
	      "ACPI sleep registers run into PCI configuration");
LAYOUT_BEFORE(PCI_HOST_CONF_ADDR + PCI_HOST_CONF_PORTS, VFIO_PT_IO_BASE,
	      "PCI configuration runs into the passthrough I/O window");
LAYOUT_BEFORE(VFIO_PT_IO_BASE + VFIO_PT_IO_SIZE, 0x10000, "passthrough I/O beyond 64 KiB");
LAYOUT_BEFORE(I8042_COMMAND_PORT, I8042_IO_BASE + I8042_IO_LEN - 1, "i8042 command port");
LAYOUT_ALIGNED(SERIAL_COM1_PORT, SERIAL_PORTS, "COM1 not aligned");
LAYOUT_ALIGNED(PCI_HOST_CONF_ADDR, 4, "PCI CONFIG_ADDRESS not dword aligned");
LAYOUT_ALIGNED(VFIO_PT_IO_BASE, VFIO_PT_IO_SIZE, "passthrough I/O window not aligned");

/* Interrupt lines: COM1 below the virtio pins, all on the IOAPIC, MSI routes after it. */
LAYOUT_BEFORE(SERIAL_COM1_IRQ + 1, VMDEV_FIRST_IRQ, "COM1's IRQ among the virtio pins");
LAYOUT_BEFORE(VMDEV_FIRST_IRQ + VMDEV_MAX, IOAPIC_PINS, "virtio pins beyond the IOAPIC");
LAYOUT_BEFORE(IOAPIC_PINS, VM_MSI_FIRST_GSI, "MSI routes on IOAPIC pins");
LAYOUT_BEFORE(VMDEV_FIRST_IRQ + VMDEV_MAX, PCI_INTX_FIRST_GSI, "INTx pins among the virtio ones");
LAYOUT_BEFORE(PCI_INTX_FIRST_GSI + PCI_INTX_GSIS, IOAPIC_PINS, "INTx pins beyond the IOAPIC");

#endif
