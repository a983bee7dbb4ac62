/* test_vfio_pt_rom.c: the expansion ROM of a passed-through device: --vfio's rom= option, ROM
 * files, the image check (PCI Firmware 3.2, 5.1), and the ROM BAR as the guest programs it
 * (PCI Local Bus 3.0, 6.2.5.2). */
#include <fcntl.h>
#include <unistd.h>

#include "check.h"
#include "vfio_pt.h"
#include "vpci.h"

TEST(rom_option)
{
	struct vfio_pt_opts o;
	char bdf[32];
	struct err e = { 0 };

	CHECK_EQ_I(vfio_pt_opts_parse("0000:01:00.0", bdf, sizeof(bdf), &o, &e), 0);
	CHECK_STR(bdf, "0000:01:00.0");
	CHECK_EQ_I(o.rom, VFIO_PT_ROM_DEVICE);
	CHECK_EQ_I(vfio_pt_opts_parse("01:00.0,rom=off", bdf, sizeof(bdf), &o, &e), 0);
	CHECK_STR(bdf, "01:00.0");
	CHECK_EQ_I(o.rom, VFIO_PT_ROM_OFF);
	CHECK_EQ_I(vfio_pt_opts_parse("01:00.0,rom=/srv/vga,1.rom", bdf, sizeof(bdf), &o, &e),
		   -EINVAL); /* the comma starts another option, which is unknown */
	CHECK_EQ_I(vfio_pt_opts_parse("01:00.0,rom=/srv/vga.rom", bdf, sizeof(bdf), &o, &e), 0);
	CHECK_EQ_I(o.rom, VFIO_PT_ROM_FILE);
	CHECK_STR(o.rom_file, "/srv/vga.rom");
	CHECK_EQ_I(vfio_pt_opts_parse("01:00.0,rom=", bdf, sizeof(bdf), &o, &e), -EINVAL);
	CHECK_EQ_I(vfio_pt_opts_parse("01:00.0,romfile=x", bdf, sizeof(bdf), &o, &e), -EINVAL);
	CHECK(strstr(e.msg, "romfile=x") != NULL);
	CHECK_EQ_I(vfio_pt_opts_parse(",rom=off", bdf, sizeof(bdf), &o, &e), -EINVAL);
}

/* A 2.5 KiB image for 1234:1111 with its PCI Data Structure at 0x1c, as QEMU's VGA BIOS has. */
static size_t make_rom(uint8_t *rom, size_t len)
{
	memset(rom, 0, len);
	rom[0] = 0x55, rom[1] = 0xaa, rom[2] = (uint8_t)(len / 512);
	rom[0x18] = 0x1c;
	memcpy(rom + 0x1c, "PCIR", 4);
	rom[0x20] = 0x34, rom[0x21] = 0x12, rom[0x22] = 0x11, rom[0x23] = 0x11;
	return len;
}

TEST(rom_file_and_check)
{
	char path[] = "/tmp/test_rom_XXXXXX";
	uint8_t img[2560], *buf = NULL;
	size_t len = 0;
	uint16_t ven = 0, dev = 0;
	struct err e = { 0 };
	int fd = mkstemp(path);

	REQUIRE(fd >= 0);
	REQUIRE(write(fd, img, make_rom(img, sizeof(img))) == (ssize_t)sizeof(img));
	CHECK_EQ_I(vfio_pt_rom_load(path, &buf, &len, &e), 0);
	CHECK_EQ_U(len, sizeof(img));
	REQUIRE(buf != NULL);
	CHECK_EQ_I(vfio_pt_rom_check(buf, len, &ven, &dev), 0);
	CHECK_EQ_U(ven, 0x1234);
	CHECK_EQ_U(dev, 0x1111);
	buf[1] = 0xab; /* no 0x55AA signature */
	CHECK_EQ_I(vfio_pt_rom_check(buf, len, &ven, &dev), -ENOEXEC);
	buf[1] = 0xaa, buf[0x1c] = 'X'; /* no PCIR where 0x18 points */
	CHECK_EQ_I(vfio_pt_rom_check(buf, len, &ven, &dev), -ENOEXEC);
	buf[0x1c] = 'P', buf[0x18] = 0xfc, buf[0x19] = 0x09; /* PCIR pointer past the end */
	CHECK_EQ_I(vfio_pt_rom_check(buf, len, &ven, &dev), -ENOEXEC);
	free(buf);
	REQUIRE(ftruncate(fd, 0) == 0);
	CHECK_EQ_I(vfio_pt_rom_load(path, &buf, &len, &e), -EINVAL);
	close(fd);
	unlink(path);
	CHECK_EQ_I(vfio_pt_rom_load(path, &buf, &len, &e), -ENOENT);
	CHECK(strstr(e.msg, path) != NULL);
}

/* The ROM BAR register as the guest drives it: sizing, placing, enabling; never the host's. */
TEST(rom_bar_register)
{
	static uint8_t cfg[256];
	static struct vpci_cfg c;
	struct vpci_bar bars[6] = { { 0 } };
	unsigned pass;
	uint64_t gpa;

	cfg[0x30] = 0x01, cfg[0x32] = 0x0c, cfg[0x33] = 0xfe; /* the host's: 0xfe0c0000, on */
	/* No ROM (rom=off, or none): reads 0, writes change nothing and reach nothing. */
	REQUIRE(vpci_cfg_init(&c, cfg, 256, bars, NULL, NULL, NULL) == 0);
	CHECK_EQ_U(vpci_cfg_read(&c, 0x30, 4, 0xfe0c0001), 0);
	vpci_cfg_write(&c, 0x30, 4, 0xfffff800, &pass);
	CHECK_EQ_U(pass, 0);
	CHECK_EQ_U(vpci_cfg_read(&c, 0x30, 4, 0xfe0c0001), 0);
	CHECK(!vpci_cfg_rom_at(&c, &gpa));
	/* A 64 KiB ROM at 0xe0100000: reads there, disabled. */
	REQUIRE(vpci_cfg_set_rom(&c, 0x10000, 0xe0100000, NULL) == 0);
	CHECK_EQ_U(vpci_cfg_read(&c, 0x30, 4, 0xfe0c0001), 0xe0100000);
	CHECK(!vpci_cfg_rom_at(&c, &gpa));
	/* Sizing: all ones in the address bits read back the size. */
	vpci_cfg_write(&c, 0x30, 4, 0xfffff800, &pass);
	CHECK_EQ_U(pass, 0);
	CHECK_EQ_U(vpci_cfg_read(&c, 0x30, 4, 0), 0xffff0000);
	/* Placed and enabled by the guest: decoded there. */
	vpci_cfg_write(&c, 0x30, 4, 0xe0230001, &pass);
	CHECK_EQ_U(vpci_cfg_read(&c, 0x30, 4, 0), 0xe0230001);
	CHECK(vpci_cfg_rom_at(&c, &gpa));
	CHECK_EQ_U(gpa, 0xe0230000);
	/* Byte writes: the enable bit alone. */
	vpci_cfg_write(&c, 0x30, 1, 0x00, &pass);
	CHECK_EQ_U(pass, 0);
	CHECK(!vpci_cfg_rom_at(&c, &gpa));
	/* Invalid ROM BARs are refused. */
	CHECK_EQ_I(vpci_cfg_set_rom(&c, 0x3000, 0xe0000000, NULL), -EINVAL);
	CHECK_EQ_I(vpci_cfg_set_rom(&c, 0x1000, 0xe0000800, NULL), -EINVAL);
	CHECK_EQ_I(vpci_cfg_set_rom(&c, 0x1000, 0xfffff000ull + 0x1000, NULL), -EINVAL);
}

int main(void)
{
	RUN(rom_option);
	RUN(rom_file_and_check);
	RUN(rom_bar_register);
	return CHECK_MAIN_END();
}
