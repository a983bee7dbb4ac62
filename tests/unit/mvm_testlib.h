/* mvm_testlib.h: helpers the KVM and mvm unit tests share: /dev/kvm, tiny ELF images in memory. */
#ifndef TESTS_MVM_TESTLIB_H
#define TESTS_MVM_TESTLIB_H

#include <elf.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define KVM_DEV "/dev/kvm"

/* Whether KVM_DEV can be opened: the tests that need it skip (and say why) when not. */
static inline bool kvm_usable(void)
{
	int fd = open(KVM_DEV, O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return false;
	close(fd);
	return true;
}

/*
 * An ELF64 (or ELF32) executable with one PT_LOAD segment of code at paddr and, when pvh_entry
 * is not 0, a PT_NOTE with Xen's PHYS32_ENTRY. *size gets the image size; free() the result.
 */
static inline uint8_t *mvm_test_elf(int is64, uint64_t paddr, const void *code, size_t code_len,
				    uint64_t memsz, uint64_t entry, uint32_t pvh_entry,
				    size_t *size)
{
	const size_t note_len = 12 + 4 + 4, code_off = 0x200, note_off = 0x100;
	uint8_t *b = calloc(1, code_off + code_len);

	*size = code_off + code_len;
	memcpy(b + code_off, code, code_len);
	memcpy(b, ELFMAG, SELFMAG);
	b[EI_DATA] = ELFDATA2LSB;
	b[EI_VERSION] = EV_CURRENT;
	if (is64) {
		Elf64_Ehdr h = { 0 };
		Elf64_Phdr p[2] = { { 0 } };

		memcpy(h.e_ident, b, EI_NIDENT);
		h.e_ident[EI_CLASS] = ELFCLASS64;
		h.e_type = ET_EXEC;
		h.e_machine = EM_X86_64;
		h.e_entry = entry;
		h.e_phoff = sizeof(h);
		h.e_phentsize = sizeof(Elf64_Phdr);
		h.e_phnum = pvh_entry ? 2 : 1;
		p[0] = (Elf64_Phdr){ .p_type = PT_LOAD,
				     .p_offset = code_off,
				     .p_paddr = paddr,
				     .p_vaddr = paddr,
				     .p_filesz = code_len,
				     .p_memsz = memsz };
		p[1] = (Elf64_Phdr){ .p_type = PT_NOTE,
				     .p_offset = note_off,
				     .p_filesz = note_len };
		memcpy(b, &h, sizeof(h));
		memcpy(b + sizeof(h), p, sizeof(p));
	} else {
		Elf32_Ehdr h = { 0 };
		Elf32_Phdr p[2] = { { 0 } };

		memcpy(h.e_ident, b, EI_NIDENT);
		h.e_ident[EI_CLASS] = ELFCLASS32;
		h.e_type = ET_EXEC;
		h.e_machine = EM_386;
		h.e_entry = (uint32_t)entry;
		h.e_phoff = sizeof(h);
		h.e_phentsize = sizeof(Elf32_Phdr);
		h.e_phnum = pvh_entry ? 2 : 1;
		p[0] = (Elf32_Phdr){ .p_type = PT_LOAD,
				     .p_offset = code_off,
				     .p_paddr = (uint32_t)paddr,
				     .p_vaddr = (uint32_t)paddr,
				     .p_filesz = (uint32_t)code_len,
				     .p_memsz = (uint32_t)memsz };
		p[1] = (Elf32_Phdr){ .p_type = PT_NOTE,
				     .p_offset = note_off,
				     .p_filesz = note_len };
		memcpy(b, &h, sizeof(h));
		memcpy(b + sizeof(h), p, sizeof(p));
	}
	if (pvh_entry) {
		uint32_t n[3] = { 4, 4, 18 };

		memcpy(b + note_off, n, 12);
		memcpy(b + note_off + 12, "Xen", 4);
		memcpy(b + note_off + 16, &pvh_entry, 4);
	}
	return b;
}

#endif
