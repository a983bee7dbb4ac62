/* boot_elf.c: ELF kernels (vmlinux, PVH guests): load PT_LOAD segments, find the PVH entry note. */
#include <elf.h>
#include <errno.h>

#include "boot_priv.h"
#include "layout.h"

#define XEN_ELFNOTE_PHYS32_ENTRY 18

/* One program header, whatever the ELF class. */
struct phdr {
	uint32_t type;
	uint64_t offset, paddr, filesz, memsz;
};

struct elf {
	const uint8_t *k;
	size_t size;
	int is64;
	uint64_t entry;
	uint64_t phoff;
	unsigned phnum, phentsize;
};

static int elf_parse(const uint8_t *k, size_t size, struct elf *f)
{
	uint16_t machine, type;

	if (size < sizeof(Elf32_Ehdr) || memcmp(k, ELFMAG, SELFMAG) != 0)
		return -ENOEXEC;
	if (k[EI_DATA] != ELFDATA2LSB)
		return -ENOEXEC;
	f->k = k;
	f->size = size;
	f->is64 = k[EI_CLASS] == ELFCLASS64;
	if (!f->is64 && k[EI_CLASS] != ELFCLASS32)
		return -ENOEXEC;
	if (f->is64 && size < sizeof(Elf64_Ehdr))
		return -ENOEXEC;
	type = boot_get16(k + 16);
	machine = boot_get16(k + 18);
	if (type != ET_EXEC || (machine != EM_X86_64 && machine != EM_386))
		return -ENOEXEC;
	if (f->is64) {
		f->entry = boot_get64(k + offsetof(Elf64_Ehdr, e_entry));
		f->phoff = boot_get64(k + offsetof(Elf64_Ehdr, e_phoff));
		f->phentsize = boot_get16(k + offsetof(Elf64_Ehdr, e_phentsize));
		f->phnum = boot_get16(k + offsetof(Elf64_Ehdr, e_phnum));
		if (f->phentsize < sizeof(Elf64_Phdr))
			return -ENOEXEC;
	} else {
		f->entry = boot_get32(k + offsetof(Elf32_Ehdr, e_entry));
		f->phoff = boot_get32(k + offsetof(Elf32_Ehdr, e_phoff));
		f->phentsize = boot_get16(k + offsetof(Elf32_Ehdr, e_phentsize));
		f->phnum = boot_get16(k + offsetof(Elf32_Ehdr, e_phnum));
		if (f->phentsize < sizeof(Elf32_Phdr))
			return -ENOEXEC;
	}
	if (f->phnum == 0 || f->phoff > size || (uint64_t)f->phnum * f->phentsize > size - f->phoff)
		return -ENOEXEC;
	return 0;
}

static void elf_phdr(const struct elf *f, unsigned i, struct phdr *p)
{
	const uint8_t *h = f->k + f->phoff + (uint64_t)i * f->phentsize;

	if (f->is64) {
		p->type = boot_get32(h + offsetof(Elf64_Phdr, p_type));
		p->offset = boot_get64(h + offsetof(Elf64_Phdr, p_offset));
		p->paddr = boot_get64(h + offsetof(Elf64_Phdr, p_paddr));
		p->filesz = boot_get64(h + offsetof(Elf64_Phdr, p_filesz));
		p->memsz = boot_get64(h + offsetof(Elf64_Phdr, p_memsz));
	} else {
		p->type = boot_get32(h + offsetof(Elf32_Phdr, p_type));
		p->offset = boot_get32(h + offsetof(Elf32_Phdr, p_offset));
		p->paddr = boot_get32(h + offsetof(Elf32_Phdr, p_paddr));
		p->filesz = boot_get32(h + offsetof(Elf32_Phdr, p_filesz));
		p->memsz = boot_get32(h + offsetof(Elf32_Phdr, p_memsz));
	}
}

/* The PVH entry point from a Xen PHYS32_ENTRY note; 0 found, -ENOENT none, -ENOEXEC malformed. */
static int elf_find_pvh(const struct elf *f, uint64_t *entry)
{
	for (unsigned i = 0; i < f->phnum; i++) {
		struct phdr p;
		uint64_t off, end;

		elf_phdr(f, i, &p);
		if (p.type != PT_NOTE)
			continue;
		if (p.offset > f->size || p.filesz > f->size - p.offset)
			return -ENOEXEC;
		off = p.offset;
		end = p.offset + p.filesz;
		while (end - off >= 12) {
			uint32_t namesz = boot_get32(f->k + off),
				 descsz = boot_get32(f->k + off + 4);
			uint32_t type = boot_get32(f->k + off + 8);
			uint64_t name = off + 12, desc = name + (((uint64_t)namesz + 3) & ~3ULL);
			uint64_t next = desc + (((uint64_t)descsz + 3) & ~3ULL);

			if (next > end)
				return -ENOEXEC;
			if (type == XEN_ELFNOTE_PHYS32_ENTRY && namesz == 4 &&
			    memcmp(f->k + name, "Xen", 4) == 0) {
				if (descsz == 4)
					*entry = boot_get32(f->k + desc);
				else if (descsz == 8)
					*entry = boot_get64(f->k + desc);
				else
					return -ENOEXEC;
				return 0;
			}
			off = next;
		}
	}
	return -ENOENT;
}

int boot_elf_probe(const uint8_t *k, size_t size, int *has_pvh)
{
	struct elf f;
	uint64_t entry;
	int rc = elf_parse(k, size, &f);

	if (rc)
		return rc;
	rc = elf_find_pvh(&f, &entry);
	if (rc == -ENOEXEC)
		return rc;
	*has_pvh = rc == 0;
	return 0;
}

int boot_elf_load(const struct vm_ram *ram, const struct boot_image *img, struct boot_info *info,
		  struct err *e)
{
	struct elf f;
	uint64_t pvh_entry, lo = UINT64_MAX, hi = 0;
	unsigned loaded = 0;
	int rc = elf_parse(img->kernel, img->kernel_size, &f);

	if (rc)
		return err_input(e, ENOEXEC, "kernel: malformed ELF header");
	rc = elf_find_pvh(&f, &pvh_entry);
	if (rc == -ENOEXEC)
		return err_input(e, ENOEXEC, "kernel: malformed ELF note");
	for (unsigned i = 0; i < f.phnum; i++) {
		struct phdr p;
		uint8_t *dst;

		elf_phdr(&f, i, &p);
		if (p.type != PT_LOAD || p.memsz == 0)
			continue;
		if (p.filesz > p.memsz || p.offset > img->kernel_size ||
		    p.filesz > img->kernel_size - p.offset)
			return err_input(e, ENOEXEC, "kernel: ELF segment %u lies outside the file",
					 i);
		if (p.paddr < BOOT_HIMEM_GPA)
			return err_input(e, ENOEXEC,
					 "kernel: ELF segment %u at 0x%llx is below 1 MiB, "
					 "where the boot tables live",
					 i, (unsigned long long)p.paddr);
		dst = vm_ram_hva(ram, p.paddr, p.memsz);
		if (!dst || p.paddr + p.memsz > vm_ram_low_end(ram))
			return err_input(
				e, ENOMEM,
				"memory too small for the kernel: its segment [0x%llx, 0x%llx) "
				"is beyond the end of RAM (0x%llx)",
				(unsigned long long)p.paddr,
				(unsigned long long)(p.paddr + p.memsz),
				(unsigned long long)vm_ram_low_end(ram));
		memcpy(dst, img->kernel + p.offset, p.filesz);
		memset(dst + p.filesz, 0, p.memsz - p.filesz);
		if (p.paddr < lo)
			lo = p.paddr;
		if (p.paddr + p.memsz > hi)
			hi = p.paddr + p.memsz;
		loaded++;
	}
	if (!loaded)
		return err_input(e, ENOEXEC, "kernel: ELF file has no loadable segment");
	info->kernel_start = lo;
	info->kernel_end = hi;
	if (rc == 0) {
		info->format = BOOT_FORMAT_ELF_PVH;
		info->mode = BOOT_MODE_PVH32;
		info->entry = pvh_entry;
	} else {
		if (!f.is64)
			return err_input(
				e, ENOEXEC,
				"kernel: 32-bit ELF without a PVH entry note is not bootable");
		info->format = BOOT_FORMAT_ELF;
		info->mode = BOOT_MODE_LINUX64;
		/* vmlinux's entry is physical (phys_startup_64); virtual ones are refused. */
		info->entry = f.entry;
	}
	if (info->entry < lo || info->entry >= hi)
		return err_input(e, ENOEXEC, "kernel: entry point 0x%llx is outside its segments",
				 (unsigned long long)info->entry);
	return 0;
}
