/* boot_x86.c: boot parameters (zero page, PVH start_info, e820), page tables, GDT, entry regs. */
#include <errno.h>

#include "boot_priv.h"
#include "layout.h"

enum boot_format boot_detect(const uint8_t *kernel, size_t size)
{
	int pvh = 0;

	if (boot_elf_probe(kernel, size, &pvh) == 0)
		return pvh ? BOOT_FORMAT_ELF_PVH : BOOT_FORMAT_ELF;
	if (boot_bzimage_probe(kernel, size) == 0)
		return BOOT_FORMAT_BZIMAGE;
	return BOOT_FORMAT_UNKNOWN;
}

const char *boot_format_name(enum boot_format f)
{
	switch (f) {
	case BOOT_FORMAT_ELF:
		return "elf";
	case BOOT_FORMAT_ELF_PVH:
		return "elf-pvh";
	case BOOT_FORMAT_BZIMAGE:
		return "bzimage";
	default:
		return "unknown";
	}
}

struct memmap {
	unsigned n;
	struct {
		uint64_t addr, size;
		uint32_t type;
	} e[5];
};

/* The guest's physical memory map, the same for e820 and PVH. */
static void memmap_build(const struct vm_ram *ram, struct memmap *m)
{
	m->n = 0;
	m->e[m->n++] = (typeof(m->e[0])){ 0, BOOT_EBDA_GPA, E820_RAM };
	m->e[m->n++] = (typeof(m->e[0])){ BOOT_EBDA_GPA, BOOT_LOWMEM_END_GPA - BOOT_EBDA_GPA,
					  E820_RESERVED };
	m->e[m->n++] =
		(typeof(m->e[0])){ BOOT_HIMEM_GPA, vm_ram_low_end(ram) - BOOT_HIMEM_GPA, E820_RAM };
	/* Linux uses the MCFG's ECAM only where the firmware reserved it (mmconfig-shared.c). */
	m->e[m->n++] = (typeof(m->e[0])){ PCI_ECAM_GPA, PCI_ECAM_SIZE, E820_RESERVED };
	if (ram->nr_regions > 1)
		m->e[m->n++] = (typeof(m->e[0])){ ram->region[1].gpa, ram->region[1].size_bytes,
						  E820_RAM };
}

static int write_page_tables(const struct vm_ram *ram, struct err *e)
{
	uint8_t *pml4 = vm_ram_hva(ram, BOOT_PML4_GPA, 0x1000);
	uint8_t *pdpt = vm_ram_hva(ram, BOOT_PDPT_GPA, 0x1000);
	uint8_t *pd = vm_ram_hva(ram, BOOT_PD_GPA, 4 * 0x1000);

	if (!pml4 || !pdpt || !pd)
		return err_input(e, ENOMEM, "memory too small for the boot page tables");
	memset(pml4, 0, 0x1000);
	memset(pdpt, 0, 0x1000);
	boot_put64(pml4, BOOT_PDPT_GPA | 3); /* present, writable */
	/* Identity-map the low 4 GiB with 2 MiB pages: kernel, initrd and tables are all below. */
	for (unsigned i = 0; i < 4; i++)
		boot_put64(pdpt + 8 * i, (BOOT_PD_GPA + 0x1000ULL * i) | 3);
	for (unsigned i = 0; i < 4 * 512; i++)
		boot_put64(pd + 8 * i, ((uint64_t)i << 21) | 0x83); /* present, writable, 2M */
	return 0;
}

static int write_gdt(const struct vm_ram *ram, struct err *e)
{
	static const uint64_t gdt[] = {
		0,		       /* null */
		0x00cf9b000000ffffULL, /* 0x08: 32-bit code, flat */
		0x00af9b000000ffffULL, /* 0x10: 64-bit code */
		0x00cf93000000ffffULL, /* 0x18: data, flat */
	};
	uint8_t *p = vm_ram_hva(ram, BOOT_GDT_GPA, sizeof(gdt) + 8);

	_Static_assert(sizeof(gdt) == 8 * BOOT_GDT_ENTRIES, "the GDT's size is in layout.h");

	if (!p)
		return err_input(e, ENOMEM, "memory too small for the GDT");
	for (unsigned i = 0; i < sizeof(gdt) / sizeof(gdt[0]); i++)
		boot_put64(p + 8 * i, gdt[i]);
	boot_put64(p + sizeof(gdt), 0); /* the empty IDT right after (BOOT_IDT_GPA) */
	return 0;
}

/* Top of RAM below max, page-aligned, above the kernel: where the initrd goes. */
static int place_initrd(const struct vm_ram *ram, const struct boot_image *img,
			struct boot_info *info, uint64_t max, struct err *e)
{
	uint64_t top = vm_ram_low_end(ram), gpa;
	uint8_t *dst;

	if (!img->initrd)
		return 0;
	if (max && max + 1 < top)
		top = max + 1;
	if (img->initrd_size > top || ((top - img->initrd_size) & ~0xfffULL) < info->kernel_end)
		return err_input(e, ENOMEM,
				 "memory too small for the kernel and initrd (%zu bytes of initrd, "
				 "%llu MiB of RAM)",
				 img->initrd_size, (unsigned long long)(ram->size_bytes >> 20));
	gpa = (top - img->initrd_size) & ~0xfffULL;
	dst = vm_ram_hva(ram, gpa, img->initrd_size);
	if (!dst)
		return err_input(e, ENOMEM, "memory too small for the initrd");
	memcpy(dst, img->initrd, img->initrd_size);
	info->initrd_gpa = gpa;
	info->initrd_size = img->initrd_size;
	return 0;
}

static void write_zero_page_common(uint8_t *zp, const struct vm_ram *ram,
				   const struct boot_info *info)
{
	struct memmap m;

	boot_put64(zp + ZP_ACPI_RSDP_ADDR, info->acpi_rsdp);
	boot_put32(zp + ZP_CMD_LINE_PTR, (uint32_t)BOOT_CMDLINE_GPA);
	boot_put32(zp + ZP_EXT_CMD_LINE_PTR, 0);
	boot_put32(zp + ZP_RAMDISK_IMAGE, (uint32_t)info->initrd_gpa);
	boot_put32(zp + ZP_EXT_RAMDISK_IMAGE, (uint32_t)(info->initrd_gpa >> 32));
	boot_put32(zp + ZP_RAMDISK_SIZE, (uint32_t)info->initrd_size);
	boot_put32(zp + ZP_EXT_RAMDISK_SIZE, (uint32_t)(info->initrd_size >> 32));
	memmap_build(ram, &m);
	zp[ZP_E820_ENTRIES] = (uint8_t)m.n;
	for (unsigned i = 0; i < m.n; i++) {
		uint8_t *ent = zp + ZP_E820_TABLE + 20 * i;

		boot_put64(ent, m.e[i].addr);
		boot_put64(ent + 8, m.e[i].size);
		boot_put32(ent + 16, m.e[i].type);
	}
}

/* PVH: start_info, then its module list (the initrd), then the memory map. */
#define PVH_MODLIST_GPA (BOOT_PVH_INFO_GPA + 0x40)
#define PVH_MEMMAP_GPA	(BOOT_PVH_INFO_GPA + 0x80)

static int write_pvh_info(const struct vm_ram *ram, const struct boot_info *info, struct err *e)
{
	uint8_t *si = vm_ram_hva(ram, BOOT_PVH_INFO_GPA, 0x200);
	struct memmap m;

	if (!si)
		return err_input(e, ENOMEM, "memory too small for the PVH start info");
	memset(si, 0, 0x200);
	memmap_build(ram, &m);
	boot_put32(si, BOOT_PVH_MAGIC);
	boot_put32(si + 4, 1); /* version 1: with the memory map */
	boot_put32(si + 12, info->initrd_size ? 1 : 0);
	boot_put64(si + 16, info->initrd_size ? PVH_MODLIST_GPA : 0);
	boot_put64(si + 24, BOOT_CMDLINE_GPA);
	boot_put64(si + 32, info->acpi_rsdp);
	boot_put64(si + 40, PVH_MEMMAP_GPA);
	boot_put32(si + 48, m.n);
	if (info->initrd_size) {
		uint8_t *mod = si + (PVH_MODLIST_GPA - BOOT_PVH_INFO_GPA);

		boot_put64(mod, info->initrd_gpa);
		boot_put64(mod + 8, info->initrd_size);
	}
	for (unsigned i = 0; i < m.n; i++) {
		uint8_t *ent = si + (PVH_MEMMAP_GPA - BOOT_PVH_INFO_GPA) + 24 * i;

		boot_put64(ent, m.e[i].addr);
		boot_put64(ent + 8, m.e[i].size);
		boot_put32(ent + 16, m.e[i].type);
	}
	return 0;
}

int boot_load(const struct vm_ram *ram, const struct boot_image *img, struct boot_info *info,
	      struct err *e)
{
	enum boot_format fmt = boot_detect(img->kernel, img->kernel_size);
	const char *cmdline = img->cmdline ? img->cmdline : "";
	uint8_t *zp;
	uint64_t initrd_max = 0;
	int rc;

	memset(info, 0, sizeof(*info));
	info->acpi_rsdp = img->acpi_rsdp;
	if (fmt == BOOT_FORMAT_UNKNOWN)
		return err_input(e, ENOEXEC,
				 "kernel format not recognised (expected an x86 ELF or a bzImage)");
	if (vm_ram_low_end(ram) < BOOT_MIN_RAM)
		return err_input(e, ENOMEM, "memory too small: at least %llu MiB are needed",
				 BOOT_MIN_RAM >> 20);
	if (strlen(cmdline) >= BOOT_CMDLINE_MAX)
		return err_input(e, E2BIG, "command line: %zu bytes, at most %u", strlen(cmdline),
				 BOOT_CMDLINE_MAX - 1);
	zp = vm_ram_hva(ram, BOOT_ZERO_PAGE_GPA, ZP_SIZE);
	memset(zp, 0, ZP_SIZE);
	if (fmt == BOOT_FORMAT_BZIMAGE) {
		rc = boot_bzimage_load(ram, img, info, zp, &initrd_max, e);
	} else {
		rc = boot_elf_load(ram, img, info, e);
		/* A minimal setup header for vmlinux, as the 64-bit boot protocol expects. */
		boot_put16(zp + ZP_BOOT_FLAG, 0xaa55);
		boot_put32(zp + ZP_HEADER, BZ_HDRS_MAGIC);
		zp[ZP_TYPE_OF_LOADER] = 0xff;
		boot_put32(zp + ZP_KERNEL_ALIGNMENT, 0x1000000);
		initrd_max = 0xffffffff;
	}
	if (rc)
		return rc;
	rc = place_initrd(ram, img, info, initrd_max, e);
	if (rc)
		return rc;
	rc = vm_ram_write(ram, BOOT_CMDLINE_GPA, cmdline, strlen(cmdline) + 1, e);
	if (rc)
		return rc;
	rc = write_gdt(ram, e);
	if (rc)
		return rc;
	rc = write_page_tables(ram, e);
	if (rc)
		return rc;
	if (info->mode == BOOT_MODE_PVH32) {
		info->params_gpa = BOOT_PVH_INFO_GPA;
		return write_pvh_info(ram, info, e);
	}
	info->params_gpa = BOOT_ZERO_PAGE_GPA;
	write_zero_page_common(zp, ram, info);
	return 0;
}

static void flat_seg(struct kvm_segment *s, uint16_t sel, uint8_t type, int code64)
{
	memset(s, 0, sizeof(*s));
	s->selector = sel;
	s->base = 0;
	s->limit = 0xffffffff;
	s->type = type;
	s->present = 1;
	s->s = 1;
	s->g = 1;
	s->l = code64 ? 1 : 0;
	s->db = code64 ? 0 : 1;
}

static void common_sregs(struct kvm_sregs *sregs, int code64)
{
	flat_seg(&sregs->cs, code64 ? BOOT_SEL_CODE64 : BOOT_SEL_CODE32, 0xb, code64);
	flat_seg(&sregs->ds, BOOT_SEL_DATA, 0x3, 0);
	sregs->es = sregs->fs = sregs->gs = sregs->ss = sregs->ds;
	memset(&sregs->tr, 0, sizeof(sregs->tr));
	sregs->tr.type = 0xb; /* busy TSS; the selector stays 0, the hidden state is what counts */
	sregs->tr.present = 1;
	sregs->tr.limit = 0x67;
	memset(&sregs->ldt, 0, sizeof(sregs->ldt));
	sregs->ldt.type = 0x2;
	sregs->ldt.unusable = 1;
	sregs->gdt.base = BOOT_GDT_GPA;
	sregs->gdt.limit = 4 * 8 - 1;
	sregs->idt.base = BOOT_IDT_GPA;
	sregs->idt.limit = 7;
}

void boot_sregs_long_mode(struct kvm_sregs *sregs)
{
	common_sregs(sregs, 1);
	sregs->cr0 = 0x80050033; /* PG WP NE ET MP PE */
	sregs->cr3 = BOOT_PML4_GPA;
	sregs->cr4 = 0x20;   /* PAE */
	sregs->efer = 0x500; /* LMA LME */
}

void boot_vcpu_regs(const struct boot_info *info, struct kvm_regs *regs, struct kvm_sregs *sregs)
{
	memset(regs, 0, sizeof(*regs));
	regs->rflags = 2;
	regs->rip = info->entry;
	if (info->mode == BOOT_MODE_PVH32) {
		common_sregs(sregs, 0);
		sregs->cr0 = 0x11; /* PE ET, paging off */
		sregs->cr3 = 0;
		sregs->cr4 = 0;
		sregs->efer = 0;
		regs->rbx = info->params_gpa;
		return;
	}
	boot_sregs_long_mode(sregs);
	regs->rsi = info->params_gpa;
	regs->rsp = regs->rbp = BOOT_STACK_GPA;
}
