/* test_pciinfo.c: config space and expansion ROM parsing for vfio-bind --info, at every length. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "pciinfo.h"

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* A two-image ROM (PCI Firmware 3.3, 5.1): x86 then EFI, 512 bytes each. */
static void make_rom(uint8_t rom[1024], uint16_t vendor, uint16_t device)
{
	memset(rom, 0, 1024);
	for (int img = 0; img < 2; img++) {
		uint8_t *p = rom + 512 * img, *pcir = p + 0x40;

		p[0] = 0x55, p[1] = 0xaa, p[0x18] = 0x40;
		memcpy(pcir, "PCIR", 4);
		pcir[4] = (uint8_t)vendor, pcir[5] = (uint8_t)(vendor >> 8);
		pcir[6] = (uint8_t)device, pcir[7] = (uint8_t)(device >> 8);
		pcir[0x10] = 1; /* one 512-byte unit */
		pcir[0x14] = img ? 3 : 0;
		pcir[0x15] = img ? 0x80 : 0;
	}
}

TEST(rom_images_and_ids)
{
	uint8_t rom[1024];
	struct pciinfo_rom r = { 0 };

	make_rom(rom, 0x1234, 0x1111);
	pciinfo_parse_rom(rom, sizeof(rom), 0x1234, 0x1111, &r);
	CHECK(r.signature && r.pcir && r.valid);
	CHECK_EQ_U(r.nimages, 2);
	CHECK_EQ_U(r.code_types[0], 0);
	CHECK_EQ_U(r.code_types[1], 3);
	pciinfo_parse_rom(rom, sizeof(rom), 0x1234, 0x2222, &r);
	CHECK(r.signature && r.pcir && !r.valid);
	rom[1] = 0xab;
	pciinfo_parse_rom(rom, sizeof(rom), 0x1234, 0x1111, &r);
	CHECK(!r.signature && !r.valid);
	CHECK_EQ_U(r.nimages, 0);
}

/* Every truncation, from a buffer of exactly that size: ASan sees any read past the end. */
TEST(rom_truncated_never_overreads)
{
	uint8_t rom[1024];

	make_rom(rom, 0x1234, 0x1111);
	for (size_t len = 0; len <= sizeof(rom); len++) {
		uint8_t *b = malloc(len ? len : 1);
		struct pciinfo_rom r = { 0 };

		memcpy(b, rom, len);
		pciinfo_parse_rom(b, len, 0x1234, 0x1111, &r);
		if (r.nimages != (len >= 512 + 0x58 ? 2u : len >= 0x58 ? 1u : 0u))
			CHECK_FAIL_AT("len %zu: %zu images", len, r.nimages);
		free(b);
	}
}

/* A Resizable BAR capability as the last dword of config space, cut at every length. */
TEST(rebar_at_the_end_never_overreads)
{
	uint8_t cfg[4096] = { 0 };

	put32(cfg + 0x100, 0x15u | 1u << 16 | 0xff0u << 20); /* ReBAR, next at 0xff0 */
	put32(cfg + 0x104, 1u << 12);			     /* 256 MiB */
	put32(cfg + 0x108, 8u << 8 | 1u << 5);		     /* one BAR, at 256 MiB */
	put32(cfg + 0xff0, 0x15u | 1u << 16 | 0xff0u << 20); /* and again, pointing at itself */
	put32(cfg + 0xff4, 1u << 13);
	put32(cfg + 0xff8, 1u << 5);
	for (size_t len = 0xfe0; len <= sizeof(cfg); len++) {
		uint8_t *b = malloc(len);
		struct pciinfo p = { 0 };

		memcpy(b, cfg, len);
		pciinfo_parse_config(b, len, &p);
		CHECK(p.rebar_known);
		if (p.nrebar != (len >= 0xffc ? 2u : 1u) ||
		    p.rebar[0].sizes_log2_mask != 1ull << 28 || p.rebar[0].current_log2 != 28)
			CHECK_FAIL_AT("len %zu: %zu entries", len, p.nrebar);
		free(b);
	}
	{
		struct pciinfo p = { 0 };

		pciinfo_parse_config(cfg, 64, &p); /* what a non-root reader gets */
		CHECK(!p.rebar_known);
		CHECK_EQ_I(p.flr, -1);
	}
}

int main(void)
{
	RUN(rom_images_and_ids);
	RUN(rom_truncated_never_overreads);
	RUN(rebar_at_the_end_never_overreads);
	return CHECK_MAIN_END();
}
