/* fuzz_boot.c: libFuzzer target: the ELF, PVH and bzImage loaders with initrd and command line. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "boot.h"
#include "layout.h"

/*
 * Input: an 8-byte header, then the command line, the initrd and the kernel image (the rest).
 * Header: u8 RAM size choice (2, 16 or 64 MiB), u8 flags (1 initrd, 2 command line, 4 ACPI
 * RSDP), u16 command line length (filled up when the input is shorter), u32 initrd length (cut
 * to what the input holds).
 * Guest RAM is mapped once per size and reused: loaders only write, the checks are what count.
 */
#define HDR 8

static struct vm_ram rams[3];

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	static const uint64_t sizes[3] = { 2ull << 20, 16ull << 20, 64ull << 20 };
	struct boot_image img = { 0 };
	struct boot_info bi;
	struct err e = { 0 };
	struct vm_ram *ram;
	size_t cl, il, off = HDR;
	char *cmdline = NULL;
	uint8_t *kernel, *initrd = NULL;
	unsigned pick;

	if (len < HDR)
		return 0;
	pick = data[0] % 3;
	ram = &rams[pick];
	if (!ram->base && vm_ram_alloc(ram, sizes[pick], &e))
		abort();
	cl = (size_t)(data[2] | data[3] << 8);
	il = rd32(data + 4);
	if (data[1] & 2) {
		/* cl bytes whatever the input holds: its next bytes, then 'x's (NULs as spaces), so
		 * that the header alone sets the length. Exact heap copies: ASan sees past their
		 * ends. */
		size_t n = cl < len - off ? cl : len - off;

		cmdline = malloc(cl + 1);
		memset(cmdline, 'x', cl);
		for (size_t k = 0; k < n; k++)
			cmdline[k] = data[off + k] ? (char)data[off + k] : ' ';
		cmdline[cl] = '\0';
		img.cmdline = cmdline;
		off += n;
	}
	if (il > len - off)
		il = len - off;
	if (data[1] & 1) {
		initrd = malloc(il ? il : 1);
		memcpy(initrd, data + off, il);
		img.initrd = initrd;
		img.initrd_size = il;
		off += il;
	}
	kernel = malloc(len - off ? len - off : 1);
	memcpy(kernel, data + off, len - off);
	img.kernel = kernel;
	img.kernel_size = len - off;
	img.acpi_rsdp = data[1] & 4 ? 0xe0000 : 0;
	if (boot_load(ram, &img, &bi, &e) == 0) {
		struct kvm_regs regs;
		struct kvm_sregs sregs;

		/* a command line the kernel cannot take whole is refused, never cut */
		if (img.cmdline && strlen(img.cmdline) >= BOOT_CMDLINE_MAX)
			abort();
		/* what was loaded lies inside guest RAM */
		if (bi.kernel_end < bi.kernel_start || !vm_ram_hva(ram, bi.params_gpa, 1))
			abort();
		if (bi.initrd_size && !vm_ram_hva(ram, bi.initrd_gpa, bi.initrd_size))
			abort();
		boot_vcpu_regs(&bi, &regs, &sregs);
	}
	free(kernel);
	free(initrd);
	free(cmdline);
	return 0;
}
