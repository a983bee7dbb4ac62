/* boot_bzimage.c: Linux bzImage (boot protocol >= 2.06, 64-bit entry): setup header and kernel. */
#include <errno.h>

#include "boot_priv.h"

int boot_bzimage_probe(const uint8_t *k, size_t size)
{
	if (size < 0x1000 || boot_get16(k + ZP_BOOT_FLAG) != 0xaa55 ||
	    boot_get32(k + ZP_HEADER) != BZ_HDRS_MAGIC)
		return -ENOEXEC;
	return 0;
}

int boot_bzimage_load(const struct vm_ram *ram, const struct boot_image *img,
		      struct boot_info *info, uint8_t *zp, uint64_t *initrd_max, struct err *e)
{
	const uint8_t *k = img->kernel;
	uint16_t version;
	size_t setup_bytes, hdr_end;
	uint64_t payload, init_size, pref, need;
	unsigned setup_sects;
	uint8_t *dst;

	if (boot_bzimage_probe(k, img->kernel_size))
		return err_input(e, ENOEXEC, "kernel: not a bzImage");
	version = boot_get16(k + ZP_VERSION);
	if (version < BZ_MIN_PROTOCOL)
		return err_input(e, ENOEXEC,
				 "kernel: bzImage boot protocol %u.%02u is too old (need 2.06)",
				 version >> 8, version & 0xff);
	if (version < 0x020c || !(k[ZP_XLOADFLAGS] & BZ_XLF_KERNEL_64))
		return err_input(e, ENOEXEC, "kernel: bzImage has no 64-bit entry point");
	if (!(k[ZP_LOADFLAGS] & BZ_LOADED_HIGH))
		return err_input(e, ENOEXEC, "kernel: bzImage is not a high-loaded (bz) kernel");
	setup_sects = k[ZP_SETUP_SECTS] ? k[ZP_SETUP_SECTS] : 4;
	setup_bytes = ((size_t)setup_sects + 1) * 512;
	if (setup_bytes + 0x200 >= img->kernel_size)
		return err_input(e, ENOEXEC, "kernel: bzImage is truncated (no 64-bit entry)");
	payload = img->kernel_size - setup_bytes;
	init_size = boot_get32(k + ZP_INIT_SIZE);
	pref = boot_get64(k + ZP_PREF_ADDRESS);
	/* The kernel decompresses itself to its preferred address and needs init_size there. */
	need = BOOT_HIMEM_GPA + payload;
	if (pref + init_size > need)
		need = pref + init_size;
	if (need > vm_ram_low_end(ram))
		return err_input(e, ENOMEM,
				 "memory too small for the kernel: it needs %llu MiB below 3 GiB, "
				 "the guest has %llu MiB",
				 (unsigned long long)((need + (1 << 20) - 1) >> 20),
				 (unsigned long long)(vm_ram_low_end(ram) >> 20));
	dst = vm_ram_hva(ram, BOOT_HIMEM_GPA, payload);
	if (!dst)
		return err_input(e, ENOMEM, "memory too small for the kernel");
	memcpy(dst, k + setup_bytes, payload);

	/* The setup header runs from 0x1f1 to 0x202 + the jump's displacement byte. */
	hdr_end = ZP_HEADER + k[ZP_JUMP + 1];
	if (hdr_end > img->kernel_size || hdr_end > ZP_SIZE)
		return err_input(e, ENOEXEC, "kernel: bzImage setup header is truncated");
	memcpy(zp + ZP_SETUP_SECTS, k + ZP_SETUP_SECTS, hdr_end - ZP_SETUP_SECTS);
	boot_put16(zp + ZP_VID_MODE, 0xffff); /* "normal" */
	zp[ZP_TYPE_OF_LOADER] = 0xff;	      /* undefined boot loader */
	*initrd_max = version >= 0x0203 ? boot_get32(k + ZP_INITRD_ADDR_MAX) : 0x37ffffff;
	if (version >= 0x0206) {
		uint32_t cmax = boot_get32(k + ZP_CMDLINE_SIZE);

		if (img->cmdline && strlen(img->cmdline) > cmax)
			return err_input(e, E2BIG,
					 "command line: %zu bytes, the kernel takes at most %u",
					 strlen(img->cmdline), cmax);
	}
	info->format = BOOT_FORMAT_BZIMAGE;
	info->mode = BOOT_MODE_LINUX64;
	info->protocol = version;
	info->kernel_start = BOOT_HIMEM_GPA;
	info->kernel_end = BOOT_HIMEM_GPA + payload;
	info->entry = BOOT_HIMEM_GPA + 0x200; /* startup_64 */
	return 0;
}
