/* boot.h: x86_64 kernel loading: ELF (Linux 64-bit or PVH entry) and bzImage, boot tables, regs. */
#ifndef CORE_BOOT_H
#define CORE_BOOT_H

#include <linux/kvm.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "layout.h"
#include "vm_mem.h"

/* Where the boot structures go: layout.h. */

/* GDT selectors the boot code loads (Linux wants __BOOT_CS=0x10 and __BOOT_DS=0x18). */
#define BOOT_SEL_CODE32 0x08
#define BOOT_SEL_CODE64 0x10
#define BOOT_SEL_DATA	0x18
#define BOOT_SEL_TSS	0x20

/* PVH (Xen's HVM direct boot) start_info magic, passed in ebx. */
#define BOOT_PVH_MAGIC 0x336ec578u

enum boot_format {
	BOOT_FORMAT_UNKNOWN = 0,
	BOOT_FORMAT_ELF,     /* ELF without the PVH note: Linux 64-bit boot protocol */
	BOOT_FORMAT_ELF_PVH, /* ELF with XEN_ELFNOTE_PHYS32_ENTRY: 32-bit PVH entry */
	BOOT_FORMAT_BZIMAGE, /* Linux bzImage, 64-bit entry */
};

enum boot_mode {
	BOOT_MODE_LINUX64, /* long mode, paging on, rsi = zero page */
	BOOT_MODE_PVH32,   /* 32-bit protected mode, paging off, ebx = start_info */
};

struct boot_image {
	const uint8_t *kernel;
	size_t kernel_size;
	const uint8_t *initrd; /* NULL: none */
	size_t initrd_size;
	const char *cmdline; /* NULL: empty */
	gpa_t acpi_rsdp;     /* 0: no ACPI tables */
};

struct boot_info {
	enum boot_format format;
	enum boot_mode mode;
	gpa_t entry;
	gpa_t kernel_start, kernel_end; /* [start, end) as loaded */
	gpa_t initrd_gpa;
	uint64_t initrd_size;
	gpa_t params_gpa;  /* zero page (LINUX64) or start_info (PVH32) */
	uint16_t protocol; /* bzImage boot protocol version (0x020f), 0 otherwise */
	gpa_t acpi_rsdp;
};

/* The format of a kernel image, or BOOT_FORMAT_UNKNOWN. */
enum boot_format boot_detect(const uint8_t *kernel, size_t size);
const char *boot_format_name(enum boot_format f);

/*
 * Load kernel, initrd and command line into guest RAM and write the boot parameters (zero page
 * with e820, or PVH start_info with its memory map), page tables and GDT. Errors: -ENOEXEC
 * (kernel format not recognised or malformed), -ENOMEM (memory too small), -E2BIG (command line
 * too long), with a message.
 */
int boot_load(const struct vm_ram *ram, const struct boot_image *img, struct boot_info *info,
	      struct err *e);

/* Register state of the boot vCPU for info's entry mode (a pure function, no KVM needed). */
void boot_vcpu_regs(const struct boot_info *info, struct kvm_regs *regs, struct kvm_sregs *sregs);
/* Long mode with the boot page tables at rip (used by tests that run 64-bit code directly). */
void boot_sregs_long_mode(struct kvm_sregs *sregs);

/* The MP table (Intel MP spec 1.4) for nr_cpus CPUs, an IOAPIC and ISA IRQs 0-15, at the EBDA. */
int boot_mptable_write(const struct vm_ram *ram, unsigned nr_cpus, struct err *e);
#define BOOT_MAX_CPUS 64

/* A virtio-mmio device for the DSDT. */
struct boot_acpi_dev {
	gpa_t mmio_gpa;
	uint64_t mmio_size;
	uint32_t irq;
};
/* The PCI host bridge of bus 0 (configuration mechanism #1) and the windows its BARs use. */
struct boot_acpi_pci {
	gpa_t mmio32_gpa;
	uint64_t mmio32_size;
	gpa_t mmio64_gpa;
	uint64_t mmio64_size;
	uint16_t io_port;
	uint32_t io_size;
};
/* The FADT's sleep control register is BOOT_ACPI_SLEEP_PORT (layout.h): SLP_EN powers off. */
/*
 * ACPI tables (RSDP at 0xe0000, XSDT, hardware-reduced FADT, MADT with nr_cpus LAPICs and the
 * IOAPIC, DSDT with \_S5, one LNRO0005 device per virtio-mmio device and, when pci is not
 * NULL, the PCI host bridge PNP0A03 with its windows). *rsdp_gpa is what boot_image.acpi_rsdp
 * takes.
 */
int boot_acpi_write(const struct vm_ram *ram, unsigned nr_cpus, const struct boot_acpi_dev *devs,
		    unsigned nr_devs, const struct boot_acpi_pci *pci, gpa_t *rsdp_gpa,
		    struct err *e);
/*
 * Announce ECAM at ecam_gpa for buses 0-bus_end of segment 0 (an MCFG table, linked from the
 * XSDT), after boot_acpi_write wrote the tables at rsdp_gpa. -EINVAL, -E2BIG.
 */
int boot_acpi_add_mcfg(const struct vm_ram *ram, gpa_t rsdp_gpa, uint64_t ecam_gpa,
		       unsigned bus_end, struct err *e);

#endif
