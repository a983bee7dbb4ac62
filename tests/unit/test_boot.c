/* test_boot.c: kernel loaders (ELF, PVH, bzImage), boot tables, entry registers, MP table. */
#include <errno.h>

#include "boot.h"
#include "check.h"
#include "mvm_testlib.h"

static const uint8_t code[] = { 0xee, 0xeb, 0xfd }; /* out %al,(%dx); jmp back */

static uint32_t rd32(const struct vm_ram *ram, gpa_t gpa)
{
	uint32_t v;

	memcpy(&v, vm_ram_hva(ram, gpa, 4), 4);
	return v;
}

static uint64_t rd64(const struct vm_ram *ram, gpa_t gpa)
{
	uint64_t v;

	memcpy(&v, vm_ram_hva(ram, gpa, 8), 8);
	return v;
}

TEST(ram_split_around_hole)
{
	struct vm_ram ram;
	struct err e = { 0 };

	REQUIRE(vm_ram_alloc(&ram, 4ULL << 30, &e) == 0);
	CHECK_EQ_U(ram.nr_regions, 2);
	CHECK_EQ_U(vm_ram_low_end(&ram), 0xc0000000ULL);
	CHECK_EQ_U(ram.region[1].gpa, 0x100000000ULL);
	CHECK_EQ_U(ram.region[1].size_bytes, 1ULL << 30);
	CHECK(vm_ram_hva(&ram, 0xbffff000, 0x1000) != NULL);
	CHECK(vm_ram_hva(&ram, 0xbffff000, 0x1001) == NULL); /* crosses into the hole */
	CHECK(vm_ram_hva(&ram, 0xd0000000, 1) == NULL);
	CHECK(vm_ram_hva(&ram, 0x13fffffffULL, 1) != NULL);
	CHECK(vm_ram_hva(&ram, 0x140000000ULL, 1) == NULL);
	CHECK(vm_ram_hva(&ram, UINT64_MAX, 2) == NULL);
	vm_ram_free(&ram);
	CHECK(vm_ram_alloc(&ram, 4097, &e) == -EINVAL);
}

/*
 * Random ranges near the edges of RAM: a host pointer exactly when the whole range is RAM by
 * the layout (below the hole, or from 4 GiB on), at the offset the one mapping gives it.
 */
TEST(ram_translation_follows_layout)
{
	struct prop_rng r = { prop_seed("ram_translation_follows_layout") };
	const uint64_t size = (3ULL << 30) + (256ULL << 20), low = VM_MMIO_HOLE_GPA;
	const uint64_t high_end = VM_4G_GPA + size - low;
	const uint64_t edges[] = { 0, low, VM_4G_GPA, high_end };
	struct vm_ram ram;
	struct err e = { 0 };

	REQUIRE(vm_ram_alloc(&ram, size, &e) == 0);
	for (unsigned i = 0; i < prop_cases(20000); i++) {
		uint64_t edge = edges[prop_next(&r) % 4], len = prop_next(&r) % 0x3000;
		gpa_t gpa = edge + prop_next(&r) % 0x4000 - 0x2000;
		uint64_t to = edges[prop_next(&r) % 4] + prop_next(&r) % 3 - 1;

		if (prop_next(&r) & 1 && to >= gpa) /* half of them end at an edge, or next to it */
			len = to - gpa;
		bool in_low = gpa < low && len <= low - gpa;
		bool in_high = gpa >= VM_4G_GPA && gpa < high_end && len <= high_end - gpa;
		uint8_t *want = in_low	  ? ram.base + gpa
				: in_high ? ram.base + low + (gpa - VM_4G_GPA)
					  : NULL;
		uint8_t *got = vm_ram_hva(&ram, gpa, len);

		if (got != want) {
			CHECK_FAIL_AT("[0x%" PRIx64 ", +0x%" PRIx64 "): %p, want %p", gpa, len,
				      (void *)got, (void *)want);
			break;
		}
		if (got !=
		    guestmem_ptr(&ram.mem, gpa, len)) { /* one view for loaders and devices */
			CHECK_FAIL_AT("guestmem disagrees at 0x%" PRIx64, gpa);
			break;
		}
	}
	vm_ram_free(&ram);
}

TEST(elf_pvh_loads_and_fills_start_info)
{
	struct vm_ram ram;
	struct err e = { 0 };
	struct boot_info bi;
	struct kvm_regs regs;
	struct kvm_sregs sregs = { 0 };
	size_t n;
	uint8_t *k = mvm_test_elf(0, 0x100000, code, sizeof(code), 0x3000, 0x100000, 0x100000, &n);
	uint8_t initrd[5000];
	struct boot_image img = { k, n, initrd, sizeof(initrd), "console=ttyS0 x=1", 0 };

	memset(initrd, 0xab, sizeof(initrd));
	REQUIRE(vm_ram_alloc(&ram, 64 << 20, &e) == 0);
	CHECK_EQ_I(boot_detect(k, n), BOOT_FORMAT_ELF_PVH);
	REQUIRE(boot_load(&ram, &img, &bi, &e) == 0);
	CHECK_EQ_I(bi.mode, BOOT_MODE_PVH32);
	CHECK_EQ_U(bi.entry, 0x100000);
	CHECK_EQ_U(bi.kernel_end, 0x103000);
	CHECK(memcmp(vm_ram_hva(&ram, 0x100000, 3), code, 3) == 0);
	CHECK_EQ_U(*(uint8_t *)vm_ram_hva(&ram, 0x102fff, 1), 0); /* bss zeroed */
	CHECK_EQ_U(rd32(&ram, BOOT_PVH_INFO_GPA), BOOT_PVH_MAGIC);
	CHECK_EQ_U(rd32(&ram, BOOT_PVH_INFO_GPA + 4), 1);
	CHECK_EQ_U(rd32(&ram, BOOT_PVH_INFO_GPA + 12), 1); /* one module: the initrd */
	CHECK_STR((const char *)vm_ram_hva(&ram, rd64(&ram, BOOT_PVH_INFO_GPA + 24), 1),
		  "console=ttyS0 x=1");
	{
		gpa_t mod = rd64(&ram, BOOT_PVH_INFO_GPA + 16);

		CHECK_EQ_U(rd64(&ram, mod + 8), sizeof(initrd));
		CHECK_EQ_U(rd64(&ram, mod) & 0xfff, 0);
		CHECK(rd64(&ram, mod) + sizeof(initrd) <= 64 << 20);
		CHECK(memcmp(vm_ram_hva(&ram, rd64(&ram, mod), sizeof(initrd)), initrd,
			     sizeof(initrd)) == 0);
	}
	{
		gpa_t mm = rd64(&ram, BOOT_PVH_INFO_GPA + 40);
		uint32_t entries = rd32(&ram, BOOT_PVH_INFO_GPA + 48);
		uint64_t ram_bytes = 0;

		CHECK_EQ_U(entries, 4); /* RAM, EBDA, RAM from 1 MiB, ECAM (reserved) */
		for (uint32_t i = 0; i < entries; i++)
			if (rd32(&ram, mm + 24 * i + 16) == 1)
				ram_bytes += rd64(&ram, mm + 24 * i + 8);
		CHECK_EQ_U(ram_bytes, (64 << 20) - 0x100000 + 0x9fc00);
	}
	boot_vcpu_regs(&bi, &regs, &sregs);
	CHECK_EQ_U(regs.rip, 0x100000);
	CHECK_EQ_U(regs.rbx, BOOT_PVH_INFO_GPA);
	CHECK_EQ_U(sregs.cr0 & 0x80000001, 1); /* PE, no paging */
	CHECK_EQ_U(sregs.cs.db, 1);
	CHECK_EQ_U(sregs.cs.l, 0);
	CHECK_EQ_U(sregs.efer, 0);
	free(k);
	vm_ram_free(&ram);
}

TEST(elf64_linux_boot_protocol)
{
	struct vm_ram ram;
	struct err e = { 0 };
	struct boot_info bi;
	struct kvm_regs regs;
	struct kvm_sregs sregs = { 0 };
	size_t n;
	uint8_t *k = mvm_test_elf(1, 0x1000000, code, sizeof(code), 0x1000, 0x1000000, 0, &n);
	struct boot_image img = { k, n, NULL, 0, "root=/dev/vda", 0 };

	REQUIRE(vm_ram_alloc(&ram, 128 << 20, &e) == 0);
	CHECK_EQ_I(boot_detect(k, n), BOOT_FORMAT_ELF);
	REQUIRE(boot_load(&ram, &img, &bi, &e) == 0);
	CHECK_EQ_I(bi.mode, BOOT_MODE_LINUX64);
	CHECK_EQ_U(bi.params_gpa, BOOT_ZERO_PAGE_GPA);
	/* zero page: HdrS, loader type, cmdline pointer, e820 */
	CHECK_EQ_U(rd32(&ram, BOOT_ZERO_PAGE_GPA + 0x202), 0x53726448);
	CHECK_EQ_U(*(uint8_t *)vm_ram_hva(&ram, BOOT_ZERO_PAGE_GPA + 0x210, 1), 0xff);
	CHECK_EQ_U(rd32(&ram, BOOT_ZERO_PAGE_GPA + 0x228), BOOT_CMDLINE_GPA);
	CHECK_STR((const char *)vm_ram_hva(&ram, BOOT_CMDLINE_GPA, 1), "root=/dev/vda");
	CHECK_EQ_U(*(uint8_t *)vm_ram_hva(&ram, BOOT_ZERO_PAGE_GPA + 0x1e8, 1), 4); /* + ECAM */
	CHECK_EQ_U(rd64(&ram, BOOT_ZERO_PAGE_GPA + 0x2d0 + 20 * 2), 0x100000);
	CHECK_EQ_U(rd64(&ram, BOOT_ZERO_PAGE_GPA + 0x2d0 + 20 * 2 + 8), (128 << 20) - 0x100000);
	/* page tables: PML4 → PDPT → 4 PDs of 2 MiB pages, identity */
	CHECK_EQ_U(rd64(&ram, BOOT_PML4_GPA), BOOT_PDPT_GPA | 3);
	CHECK_EQ_U(rd64(&ram, BOOT_PDPT_GPA + 8 * 3), (BOOT_PD_GPA + 0x3000) | 3);
	CHECK_EQ_U(rd64(&ram, BOOT_PD_GPA + 8 * 5), (5ULL << 21) | 0x83);
	CHECK_EQ_U(rd64(&ram, BOOT_PD_GPA + 8 * 2047), (2047ULL << 21) | 0x83);
	/* GDT: __BOOT_CS 0x10 is 64-bit code, __BOOT_DS 0x18 data */
	CHECK_EQ_U(rd64(&ram, BOOT_GDT_GPA + 0x10), 0x00af9b000000ffffULL);
	CHECK_EQ_U(rd64(&ram, BOOT_GDT_GPA + 0x18), 0x00cf93000000ffffULL);
	boot_vcpu_regs(&bi, &regs, &sregs);
	CHECK_EQ_U(regs.rsi, BOOT_ZERO_PAGE_GPA);
	CHECK_EQ_U(regs.rip, 0x1000000);
	CHECK_EQ_U(sregs.cs.selector, 0x10);
	CHECK_EQ_U(sregs.cs.l, 1);
	CHECK_EQ_U(sregs.efer & 0x500, 0x500);
	CHECK_EQ_U(sregs.cr3, BOOT_PML4_GPA);
	CHECK(sregs.cr0 & 0x80000000);
	free(k);
	vm_ram_free(&ram);
}

/* A synthetic bzImage: setup sectors with the header, then a payload. */
static uint8_t *fake_bzimage(size_t payload, uint16_t version, uint8_t xlf, uint32_t init_size,
			     size_t *size)
{
	size_t setup = 5 * 512;
	uint8_t *b = calloc(1, setup + payload);

	*size = setup + payload;
	b[0x1f1] = 4;
	b[0x1fe] = 0x55;
	b[0x1ff] = 0xaa;
	b[0x200] = 0xeb;
	b[0x201] = 0x6a; /* header runs to 0x26c */
	memcpy(b + 0x202, "HdrS", 4);
	memcpy(b + 0x206, &version, 2);
	b[0x211] = 1; /* LOADED_HIGH */
	uint32_t initrd_max = 0x7fffffff, cmax = 2048;
	uint64_t pref = 0x1000000;

	memcpy(b + 0x22c, &initrd_max, 4);
	memcpy(b + 0x238, &cmax, 4);
	b[0x236] = xlf;
	memcpy(b + 0x258, &pref, 8);
	memcpy(b + 0x260, &init_size, 4);
	for (size_t i = 0; i < payload; i++)
		b[setup + i] = (uint8_t)i;
	return b;
}

TEST(bzimage_loads_setup_header_and_payload)
{
	struct vm_ram ram;
	struct err e = { 0 };
	struct boot_info bi;
	size_t n;
	uint8_t *k = fake_bzimage(0x4000, 0x020f, 1, 0x800000, &n);
	uint8_t initrd[100] = { 1, 2, 3 };
	struct boot_image img = { k, n, initrd, sizeof(initrd), "quiet", 0 };

	REQUIRE(vm_ram_alloc(&ram, 64 << 20, &e) == 0);
	CHECK_EQ_I(boot_detect(k, n), BOOT_FORMAT_BZIMAGE);
	REQUIRE(boot_load(&ram, &img, &bi, &e) == 0);
	CHECK_EQ_U(bi.entry, 0x100200);
	CHECK_EQ_U(bi.protocol, 0x020f);
	CHECK(memcmp(vm_ram_hva(&ram, 0x100000, 0x4000), k + 5 * 512, 0x4000) == 0);
	CHECK_EQ_U(*(uint8_t *)vm_ram_hva(&ram, BOOT_ZERO_PAGE_GPA + 0x210, 1), 0xff);
	CHECK_EQ_U(rd32(&ram, BOOT_ZERO_PAGE_GPA + 0x202), 0x53726448);
	CHECK_EQ_U(rd32(&ram, BOOT_ZERO_PAGE_GPA + 0x260), 0x800000); /* header copied */
	CHECK_EQ_U(rd32(&ram, BOOT_ZERO_PAGE_GPA + 0x21c), sizeof(initrd));
	CHECK_EQ_U(rd32(&ram, BOOT_ZERO_PAGE_GPA + 0x218), bi.initrd_gpa);
	CHECK_EQ_U(bi.initrd_gpa & 0xfff, 0);
	CHECK_EQ_U(*(uint8_t *)vm_ram_hva(&ram, bi.initrd_gpa + 2, 1), 3);
	vm_ram_free(&ram);

	/* memory too small for pref_address + init_size */
	REQUIRE(vm_ram_alloc(&ram, 16 << 20, &e) == 0);
	CHECK_EQ_I(boot_load(&ram, &img, &bi, &e), -ENOMEM);
	CHECK(strstr(e.msg, "memory too small for the kernel") != NULL);
	vm_ram_free(&ram);
	free(k);

	REQUIRE(vm_ram_alloc(&ram, 64 << 20, &e) == 0);
	k = fake_bzimage(0x4000, 0x0205, 1, 0x1000, &n);
	img.kernel = k;
	img.kernel_size = n;
	CHECK_EQ_I(boot_load(&ram, &img, &bi, &e), -ENOEXEC);
	CHECK(strstr(e.msg, "too old") != NULL);
	free(k);
	k = fake_bzimage(0x4000, 0x020f, 0, 0x1000, &n);
	img.kernel = k;
	CHECK_EQ_I(boot_load(&ram, &img, &bi, &e), -ENOEXEC);
	CHECK(strstr(e.msg, "64-bit") != NULL);
	free(k);
	vm_ram_free(&ram);
}

TEST(loader_rejects_bad_input)
{
	struct vm_ram ram;
	struct err e = { 0 };
	struct boot_info bi;
	size_t n;
	uint8_t junk[4096] = "not a kernel";
	struct boot_image img = { junk, sizeof(junk), NULL, 0, NULL, 0 };
	uint8_t *k;
	char longline[BOOT_CMDLINE_MAX + 1];

	REQUIRE(vm_ram_alloc(&ram, 8 << 20, &e) == 0);
	CHECK_EQ_I(boot_load(&ram, &img, &bi, &e), -ENOEXEC);
	CHECK(strstr(e.msg, "kernel format not recognised") != NULL);

	/* a segment beyond the end of RAM */
	k = mvm_test_elf(0, 0x100000, code, sizeof(code), 16 << 20, 0x100000, 0x100000, &n);
	img = (struct boot_image){ k, n, NULL, 0, NULL, 0 };
	CHECK_EQ_I(boot_load(&ram, &img, &bi, &e), -ENOMEM);
	CHECK(strstr(e.msg, "memory too small for the kernel") != NULL);
	free(k);
	/* a segment over the boot tables */
	k = mvm_test_elf(0, 0x8000, code, sizeof(code), 0x100, 0x8000, 0x8000, &n);
	img = (struct boot_image){ k, n, NULL, 0, NULL, 0 };
	CHECK_EQ_I(boot_load(&ram, &img, &bi, &e), -ENOEXEC);
	free(k);
	/* entry outside the segments */
	k = mvm_test_elf(1, 0x100000, code, sizeof(code), 0x100, 0xffffffff81000000ULL, 0, &n);
	img = (struct boot_image){ k, n, NULL, 0, NULL, 0 };
	CHECK_EQ_I(boot_load(&ram, &img, &bi, &e), -ENOEXEC);
	free(k);
	/* command line too long */
	k = mvm_test_elf(0, 0x100000, code, sizeof(code), 0x100, 0x100000, 0x100000, &n);
	memset(longline, 'a', sizeof(longline) - 1);
	longline[sizeof(longline) - 1] = 0;
	img = (struct boot_image){ k, n, NULL, 0, longline, 0 };
	CHECK_EQ_I(boot_load(&ram, &img, &bi, &e), -E2BIG);
	/* an initrd larger than RAM */
	img = (struct boot_image){ k, n, junk, 9 << 20, NULL, 0 };
	CHECK_EQ_I(boot_load(&ram, &img, &bi, &e), -ENOMEM);
	free(k);
	vm_ram_free(&ram);
}

/* Property: any corruption of a valid image is loaded or refused, never read out of bounds. */
TEST(prop_corrupted_images_never_crash)
{
	struct prop_rng r = { prop_seed("prop_corrupted_images_never_crash") };
	struct vm_ram ram;
	struct err e = { 0 };
	struct boot_info bi;
	size_t n1, n2, n3;
	uint8_t *imgs[3] = {
		mvm_test_elf(0, 0x100000, code, sizeof(code), 0x100, 0x100000, 0x100000, &n1),
		mvm_test_elf(1, 0x200000, code, sizeof(code), 0x100, 0x200000, 0, &n2),
		fake_bzimage(0x800, 0x020f, 1, 0x1000, &n3),
	};
	size_t sizes[3] = { n1, n2, n3 };
	uint64_t cases = prop_cases(3000);

	REQUIRE(vm_ram_alloc(&ram, 32 << 20, &e) == 0);
	for (uint64_t c = 0; c < cases; c++) {
		unsigned which = (unsigned)prop_below(&r, 3);
		size_t len = sizes[which];
		uint8_t *b = malloc(len);

		memcpy(b, imgs[which], len);
		for (unsigned f = 0, nf = 1 + (unsigned)prop_below(&r, 8); f < nf; f++) {
			size_t at = (size_t)prop_below(&r, which == 2 ? 0x300 : 0x80);

			b[at] = (uint8_t)prop_next(&r);
		}
		if (prop_below(&r, 4) == 0)
			len = (size_t)prop_below(&r, len + 1);
		{
			uint8_t *copy = malloc(len ? len : 1); /* exact size: ASan sees overreads */

			memcpy(copy, b, len);
			struct boot_image img = { copy, len, NULL, 0, "x", 0 };
			int rc = boot_load(&ram, &img, &bi, &e);

			if (rc == 0)
				CHECK(bi.entry >= bi.kernel_start && bi.entry < bi.kernel_end);
			else
				CHECK(rc == -ENOEXEC || rc == -ENOMEM || rc == -E2BIG);
			free(copy);
		}
		free(b);
	}
	for (int i = 0; i < 3; i++)
		free(imgs[i]);
	vm_ram_free(&ram);
}

static uint8_t sum(const uint8_t *p, size_t n)
{
	uint8_t s = 0;

	while (n--)
		s = (uint8_t)(s + *p++);
	return s;
}

TEST(mptable_checksums_and_cpus)
{
	struct vm_ram ram;
	struct err e = { 0 };

	REQUIRE(vm_ram_alloc(&ram, 8 << 20, &e) == 0);
	for (unsigned cpus = 1; cpus <= 32; cpus++) {
		REQUIRE(boot_mptable_write(&ram, cpus, &e) == 0);
		const uint8_t *fp = vm_ram_hva(&ram, BOOT_EBDA_GPA, 16);
		const uint8_t *cfg;
		uint16_t len, entries;
		unsigned nproc = 0;

		CHECK(memcmp(fp, "_MP_", 4) == 0);
		CHECK_EQ_U(sum(fp, 16), 0);
		cfg = vm_ram_hva(&ram, rd32(&ram, BOOT_EBDA_GPA + 4), 44);
		REQUIRE(cfg != NULL);
		CHECK(memcmp(cfg, "PCMP", 4) == 0);
		memcpy(&len, cfg + 4, 2);
		memcpy(&entries, cfg + 34, 2);
		CHECK_EQ_U(sum(cfg, len), 0);
		CHECK(BOOT_EBDA_GPA + 16 + len <= BOOT_LOWMEM_END_GPA);
		for (const uint8_t *p = cfg + 44; p < cfg + len; p += p[0] == 0 ? 20 : 8)
			if (p[0] == 0)
				nproc++;
		CHECK_EQ_U(nproc, cpus);
		CHECK_EQ_U(entries, cpus + 2 + 24 + 2);
	}
	CHECK_EQ_I(boot_mptable_write(&ram, 0, &e), -EINVAL);
	CHECK_EQ_I(boot_mptable_write(&ram, 65, &e), -EINVAL);
	vm_ram_free(&ram);
}

TEST(acpi_tables_checksum_and_describe_devices)
{
	struct vm_ram ram;
	struct err e = { 0 };
	struct boot_acpi_dev devs[3] = { { 0xd0000000, 0x1000, 5 },
					 { 0xd0001000, 0x1000, 6 },
					 { 0xd0002000, 0x1000, 7 } };
	gpa_t rsdp = 0, xsdt, t;
	const uint8_t *p;

	REQUIRE(vm_ram_alloc(&ram, 8 << 20, &e) == 0);
	REQUIRE(boot_acpi_write(&ram, 4, devs, 3, NULL, &rsdp, &e) == 0);
	p = vm_ram_hva(&ram, rsdp, 36);
	CHECK(memcmp(p, "RSD PTR ", 8) == 0);
	CHECK_EQ_U(sum(p, 20), 0);
	CHECK_EQ_U(sum(p, 36), 0);
	xsdt = rd64(&ram, rsdp + 24);
	p = vm_ram_hva(&ram, xsdt, 36);
	CHECK(memcmp(p, "XSDT", 4) == 0);
	CHECK_EQ_U(sum(p, rd32(&ram, xsdt + 4)), 0);
	for (unsigned i = 0; i < 2; i++) {
		t = rd64(&ram, xsdt + 36 + 8 * i);
		p = vm_ram_hva(&ram, t, rd32(&ram, t + 4));
		REQUIRE(p != NULL);
		CHECK_EQ_U(sum(p, rd32(&ram, t + 4)), 0);
		if (memcmp(p, "FACP", 4) == 0) {
			gpa_t dsdt = rd64(&ram, t + 140);
			const uint8_t *d = vm_ram_hva(&ram, dsdt, rd32(&ram, dsdt + 4));
			uint32_t len = rd32(&ram, dsdt + 4);
			unsigned found = 0;

			CHECK(rd32(&ram, t + 112) & (1u << 20)); /* hardware-reduced */
			CHECK(memcmp(d, "DSDT", 4) == 0);
			CHECK_EQ_U(sum(d, len), 0);
			for (uint32_t k = 0; k + 8 < len; k++)
				if (memcmp(d + k, "LNRO0005", 8) == 0)
					found++;
			CHECK_EQ_U(found, 3);
			CHECK(memmem(d, len, "COM1", 4) != NULL);
			/* the keyboard: EisaId("PNP0303"), ports 0x60 and 0x64, IRQNoFlags {1} */
			CHECK(memmem(d, len, "PS2K", 4) != NULL);
			CHECK(memmem(d, len, "\x0c\x41\xd0\x03\x03", 5) != NULL);
			CHECK(memmem(d, len,
				     "\x47\x01\x60\x00\x60\x00\x01\x01\x47\x01\x64\x00\x64\x00"
				     "\x01\x01\x22\x02\x00\x79\x00",
				     21) != NULL);
			CHECK(memmem(d, len, "_S5_", 4) != NULL);
		} else {
			CHECK(memcmp(p, "APIC", 4) == 0);
			CHECK_EQ_U(rd32(&ram, t + 4),
				   44 + 4 * 8 + 12 + 6); /* 4 LAPICs, IOAPIC, NMI */
		}
	}
	vm_ram_free(&ram);
}

/*
 * MCFG as PCI Firmware 3.2 (4.1.2) lays it out, found the way Linux finds it (XSDT), and the
 * ECAM it names reserved in the e820 map (Linux's mmconfig-shared.c ignores it otherwise).
 */
TEST(acpi_mcfg_announces_reserved_ecam)
{
	struct vm_ram ram;
	struct err e = { 0 };
	struct boot_info bi;
	gpa_t rsdp = 0, xsdt, mcfg = 0;
	uint32_t xlen;
	unsigned reserved = 0;
	size_t n;
	uint8_t *k = mvm_test_elf(1, 0x1000000, code, sizeof(code), 0x1000, 0x1000000, 0, &n);
	struct boot_image img = { k, n, NULL, 0, "", 0 };

	REQUIRE(vm_ram_alloc(&ram, 64 << 20, &e) == 0);
	REQUIRE(boot_acpi_write(&ram, 2, NULL, 0, NULL, &rsdp, &e) == 0);
	REQUIRE(boot_acpi_add_mcfg(&ram, rsdp, PCI_ECAM_GPA, PCI_ECAM_BUSES - 1, &e) == 0);
	xsdt = rd64(&ram, rsdp + 24);
	xlen = rd32(&ram, xsdt + 4);
	CHECK_EQ_U(sum(vm_ram_hva(&ram, xsdt, xlen), xlen), 0);
	for (uint32_t off = 36; off + 8 <= xlen; off += 8) {
		gpa_t t = rd64(&ram, xsdt + off);

		if (memcmp(vm_ram_hva(&ram, t, 4), "MCFG", 4) == 0)
			mcfg = t;
	}
	REQUIRE(mcfg != 0);
	CHECK_EQ_U(rd32(&ram, mcfg + 4), 44 + 16); /* header, reserved, one allocation */
	CHECK_EQ_U(sum(vm_ram_hva(&ram, mcfg, 60), 60), 0);
	CHECK_EQ_U(rd64(&ram, mcfg + 44), 0xc0000000);
	CHECK_EQ_U(rd32(&ram, mcfg + 52) & 0xffff, 0);			    /* segment 0 */
	CHECK_EQ_U(rd32(&ram, mcfg + 52) >> 16, (PCI_ECAM_BUSES - 1) << 8); /* buses 0-15 */
	/* The tables written before are still whole. */
	CHECK_EQ_U(rd32(&ram, xsdt + 4), 36 + 3 * 8);
	/* A second MCFG has no room: refused, not written over the FADT. */
	CHECK_EQ_I(boot_acpi_add_mcfg(&ram, rsdp, PCI_ECAM_GPA, 15, &e), -E2BIG);
	CHECK_EQ_U(rd32(&ram, xsdt + 4), 36 + 3 * 8);

	REQUIRE(boot_load(&ram, &img, &bi, &e) == 0);
	for (unsigned i = 0; i < *(uint8_t *)vm_ram_hva(&ram, BOOT_ZERO_PAGE_GPA + 0x1e8, 1); i++) {
		gpa_t ent = BOOT_ZERO_PAGE_GPA + 0x2d0 + 20 * i;
		uint64_t a = rd64(&ram, ent), len = rd64(&ram, ent + 8);

		if (rd32(&ram, ent + 16) == 2 && a <= 0xc0000000 && a + len >= 0xc1000000)
			reserved++;
		CHECK(rd32(&ram, ent + 16) != 1 || a + len <= 0xc0000000 || a >= 0xc1000000);
	}
	CHECK_EQ_U(reserved, 1);
	free(k);
	vm_ram_free(&ram);
}

static uint64_t le(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;

	while (n--)
		v = v << 8 | p[n];
	return v;
}

/* The DSDT the FADT points to, and its length. */
static const uint8_t *dsdt_of(const struct vm_ram *ram, gpa_t rsdp, uint32_t *len)
{
	gpa_t xsdt = rd64(ram, rsdp + 24);

	for (unsigned i = 0; i < 2; i++) {
		gpa_t t = rd64(ram, xsdt + 36 + 8 * i), dsdt;

		if (memcmp(vm_ram_hva(ram, t, 4), "FACP", 4) == 0) {
			dsdt = rd64(ram, t + 140);
			*len = rd32(ram, dsdt + 4);
			return vm_ram_hva(ram, dsdt, *len);
		}
	}
	return NULL;
}

/* One address space descriptor as ACPI 6.4 §6.4.3.5 lays it out, whatever its width. */
struct aspace {
	unsigned type, width;
	uint64_t min, max, len;
};

/*
 * Walk the resource template of the _CRS after "PCI0" (ACPI 6.4 §6.4: small items tag bits
 * 6:3 type, 2:0 length; large items 0x80|type and a 16-bit length) up to the end tag;
 * collect the address space descriptors. Returns how many, or -1 if the walk does not end
 * on the end tag at the buffer's end.
 */
static int pci0_windows(const uint8_t *d, uint32_t len, struct aspace *w, unsigned max_w)
{
	const uint8_t *dev = memmem(d, len, "PCI0", 4), *crs, *p, *end;
	unsigned n = 0;

	if (!dev || !(crs = memmem(dev, len - (uint32_t)(dev - d), "_CRS", 4)))
		return -1;
	/* _CRS BufferOp PkgLength (its lead byte's bits 7:6 count the bytes after it)
	 * BytePrefix */
	if (crs[4] != 0x11)
		return -1;
	p = crs + 6 + (crs[5] >> 6);
	if (p[0] != 0x0a)
		return -1;
	end = p + 2 + p[1];
	p += 2;
	while (p < end) {
		unsigned tag = p[0], ilen, width;

		if (!(tag & 0x80)) {
			if ((tag >> 3 & 0xf) == 0xf) /* end tag */
				return p + 2 == end ? (int)n : -1;
			p += 1 + (tag & 7);
			continue;
		}
		ilen = (unsigned)le(p + 1, 2);
		width = tag == 0x88 ? 2 : tag == 0x87 ? 4 : tag == 0x8a ? 8 : 0;
		if (width && n < max_w) {
			const uint8_t *f = p + 6 + width; /* after type, flags and granularity */

			w[n++] = (struct aspace){ p[3], width, le(f, width), le(f + width, width),
						  le(f + 3 * width, width) };
		}
		p += 3 + ilen;
	}
	return -1;
}

TEST(acpi_pci_host_bridge_and_its_windows)
{
	struct vm_ram ram;
	struct err e = { 0 };
	const struct boot_acpi_pci pci = { 0xe0000000,	    0x1ec00000, 0x1000000000ULL,
					   0x4000000000ULL, 0xc000,	0x4000 };
	static const uint8_t pnp0a03[4] = { 0x41, 0xd0, 0x0a, 0x03 }; /* EisaId("PNP0A03") */
	struct aspace w[8];
	gpa_t rsdp = 0;
	const uint8_t *d;
	uint32_t len;
	int n;

	REQUIRE(vm_ram_alloc(&ram, 8 << 20, &e) == 0);
	REQUIRE(boot_acpi_write(&ram, 2, NULL, 0, NULL, &rsdp, &e) == 0);
	REQUIRE((d = dsdt_of(&ram, rsdp, &len)) != NULL);
	CHECK(memmem(d, len, "PCI0", 4) == NULL); /* no bus, no bridge */

	REQUIRE(boot_acpi_write(&ram, 2, NULL, 0, &pci, &rsdp, &e) == 0);
	REQUIRE((d = dsdt_of(&ram, rsdp, &len)) != NULL);
	CHECK_EQ_U(sum(d, len), 0);
	CHECK(memmem(d, len, pnp0a03, 4) != NULL);
	n = pci0_windows(d, len, w, 8);
	REQUIRE(n == 4);
	for (int i = 0; i < n; i++)
		CHECK_EQ_U(w[i].max, w[i].min + w[i].len - 1);
	CHECK(w[0].type == 2 && w[0].min == 0 && w[0].len == 1); /* bus 0 */
	CHECK(w[1].type == 1 && w[1].min == 0xc000 && w[1].max == 0xffff);
	CHECK(w[2].type == 0 && w[2].width == 4 && w[2].min == 0xe0000000 &&
	      w[2].max == 0xfebfffff);
	CHECK(w[3].type == 0 && w[3].width == 8 && w[3].min == 0x1000000000ULL &&
	      w[3].max == 0x4fffffffffULL);
	vm_ram_free(&ram);
}

/* An AML integer (ZeroOp, OneOp, Byte/Word/DWordPrefix) at *p; advances p. -1: not one. */
static int64_t aml_int_at(const uint8_t **p)
{
	const uint8_t *q = *p;
	static const unsigned width[] = { [0x0a] = 1, [0x0b] = 2, [0x0c] = 4 };

	if (q[0] <= 1) {
		*p = q + 1;
		return q[0];
	}
	if (q[0] < 0x0a || q[0] > 0x0c)
		return -1;
	*p = q + 1 + width[q[0]];
	return (int64_t)le(q + 1, width[q[0]]);
}

/* Where a package's contents start, after PackageOp and its PkgLength; *end: where it ends.
 */
static const uint8_t *pkg_at(const uint8_t *p, const uint8_t **end)
{
	unsigned follow = p[1] >> 6;
	uint32_t len = follow ? p[1] & 0xf : p[1] & 0x3f;

	if (p[0] != 0x12)
		return NULL;
	for (unsigned i = 0; i < follow; i++)
		len |= (uint32_t)p[2 + i] << (4 + 8 * i);
	*end = p + 1 + len;
	return p + 2 + follow;
}

/*
 * The host bridge's _PRT (ACPI 6.4 §6.2.13): one entry per slot 1-31 and pin INTA-INTD,
 * function 0xFFFF, no link device (GSI mode), every GSI an IOAPIC pin apart from the ISA
 * and virtio-mmio ones, and a pin's neighbouring slots on different lines (so that they
 * seldom share).
 */
TEST(acpi_pci_prt_routes_every_slot_to_free_ioapic_pins)
{
	struct vm_ram ram;
	struct err e = { 0 };
	const struct boot_acpi_pci pci = { 0xe0000000, 0x1000, 0x1000000000ULL,
					   0x1000,     0xc000, 0x100 };
	uint8_t seen[32][4] = { { 0 } }, gsi_of[32][4] = { { 0 } };
	const uint8_t *d, *prt, *p, *end, *eend;
	gpa_t rsdp = 0;
	uint32_t len;

	REQUIRE(vm_ram_alloc(&ram, 8 << 20, &e) == 0);
	REQUIRE(boot_acpi_write(&ram, 2, NULL, 0, &pci, &rsdp, &e) == 0);
	REQUIRE((d = dsdt_of(&ram, rsdp, &len)) != NULL);
	REQUIRE((prt = memmem(d, len, "_PRT", 4)) != NULL);
	REQUIRE((p = pkg_at(prt + 4, &end)) != NULL);
	CHECK_EQ_U(*p++, 31 * 4); /* NumElements */
	while (p < end) {
		int64_t addr, pin, src, gsi;

		REQUIRE((p = pkg_at(p, &eend)) != NULL);
		REQUIRE(*p++ == 4);
		addr = aml_int_at(&p);
		pin = aml_int_at(&p);
		src = aml_int_at(&p);
		gsi = aml_int_at(&p);
		REQUIRE(p == eend);
		REQUIRE(addr >= 0 && pin >= 0 && pin < 4);
		CHECK_EQ_U(addr & 0xffff, 0xffff);
		CHECK_EQ_U(src, 0);
		CHECK(gsi >= VMDEV_FIRST_IRQ + VMDEV_MAX && gsi < IOAPIC_PINS);
		REQUIRE((addr >> 16) >= 1 && (addr >> 16) < 32);
		seen[addr >> 16][pin]++;
		gsi_of[addr >> 16][pin] = (uint8_t)gsi;
	}
	CHECK(p == end);
	for (unsigned slot = 1; slot < 32; slot++)
		for (unsigned pin = 0; pin < 4; pin++) {
			CHECK_EQ_U(seen[slot][pin], 1);
			if (slot > 1)
				CHECK(gsi_of[slot][pin] != gsi_of[slot - 1][pin]);
		}
	vm_ram_free(&ram);
}

int main(void)
{
	RUN(ram_split_around_hole);
	RUN(ram_translation_follows_layout);
	RUN(elf_pvh_loads_and_fills_start_info);
	RUN(elf64_linux_boot_protocol);
	RUN(bzimage_loads_setup_header_and_payload);
	RUN(loader_rejects_bad_input);
	RUN(prop_corrupted_images_never_crash);
	RUN(mptable_checksums_and_cpus);
	RUN(acpi_tables_checksum_and_describe_devices);
	RUN(acpi_mcfg_announces_reserved_ecam);
	RUN(acpi_pci_host_bridge_and_its_windows);
	RUN(acpi_pci_prt_routes_every_slot_to_free_ioapic_pins);
	return CHECK_MAIN_END();
}
