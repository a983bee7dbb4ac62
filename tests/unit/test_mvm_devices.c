/* test_mvm_devices.c: 8250 UART, i8042, ACPI sleep port, I/O bus, and the VM configuration. */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <unistd.h>

#include "check.h"
#include "i8042.h"
#include "serial.h"
#include "vm_bus.h"
#include "vm_sleep.h"
#include "vmconfig.h"

static int irq_level = -1, irq_changes;

static void irq(void *opaque, unsigned gsi, int level)
{
	(void)opaque;
	(void)gsi;
	irq_level = level;
	irq_changes++;
}

static uint8_t in(struct serial *s, unsigned reg)
{
	uint8_t v;

	serial_io_ops.read(s, reg, &v, 1);
	return v;
}

static void out(struct serial *s, unsigned reg, uint8_t v)
{
	serial_io_ops.write(s, reg, &v, 1);
}

TEST(serial_output_input_interrupts)
{
	struct serial s;
	int p[2];
	char buf[8] = { 0 };

	REQUIRE(pipe(p) == 0);
	serial_init(&s, p[1], 4, irq, NULL);
	CHECK_EQ_U(in(&s, 5) & 0x60, 0x60); /* THR empty, transmitter empty */
	out(&s, 0, 'h');
	out(&s, 0, 'i');
	CHECK_EQ_I(read(p[0], buf, sizeof(buf)), 2);
	CHECK_STR(buf, "hi");
	CHECK_EQ_U(s.tx_bytes, 2);
	/* the divisor latch hides THR */
	out(&s, 3, 0x80);
	out(&s, 0, 0x01);
	CHECK_EQ_U(in(&s, 0), 0x01);
	out(&s, 3, 0x03);
	/* input raises RDI when enabled */
	CHECK_EQ_U(in(&s, 2) & 0x0f, 0x01);
	out(&s, 1, 0x01);
	CHECK_EQ_U(serial_rx_push(&s, (const uint8_t *)"ab", 2), 2);
	CHECK_EQ_I(irq_level, 1);
	CHECK_EQ_U(in(&s, 2) & 0x0f, 0x04);
	CHECK_EQ_U(in(&s, 5) & 1, 1);
	CHECK_EQ_U(in(&s, 0), 'a');
	CHECK_EQ_U(in(&s, 0), 'b');
	CHECK_EQ_I(irq_level, 0);
	/* THRI: pending while the transmitter is empty and the interrupt enabled */
	out(&s, 1, 0x02);
	CHECK_EQ_I(irq_level, 1);
	CHECK_EQ_U(in(&s, 2) & 0x0f, 0x02);
	out(&s, 1, 0x00);
	CHECK_EQ_I(irq_level, 0);
	close(p[0]);
	close(p[1]);
	serial_destroy(&s);
}

TEST(serial_loopback_passes_the_linux_probe)
{
	struct serial s;

	serial_init(&s, -1, 4, NULL, NULL);
	/* Linux's autoconfig: MCR = LOOP|OUT2|RTS, then expects MSR & 0xf0 == 0x90 */
	out(&s, 4, 0x1a);
	CHECK_EQ_U(in(&s, 6) & 0xf0, 0x90);
	out(&s, 0, 0x55); /* looped back, not transmitted */
	CHECK_EQ_U(in(&s, 0), 0x55);
	CHECK_EQ_U(s.tx_bytes, 0);
	out(&s, 4, 0x0b);
	CHECK_EQ_U(in(&s, 6) & 0xb0, 0xb0);
	/* the scratch register holds a byte */
	out(&s, 7, 0xa5);
	CHECK_EQ_U(in(&s, 7), 0xa5);
	serial_destroy(&s);
}

TEST(serial_rx_overflow_is_bounded)
{
	struct serial s;
	uint8_t big[SERIAL_RX_SIZE + 100];

	memset(big, 'x', sizeof(big));
	serial_init(&s, -1, 4, NULL, NULL);
	CHECK_EQ_U(serial_rx_push(&s, big, sizeof(big)), SERIAL_RX_SIZE);
	serial_destroy(&s);
}

static int resets;

static void on_reset(void *opaque)
{
	(void)opaque;
	resets++;
}

TEST(i8042_probe_and_reset)
{
	struct i8042 k;
	uint8_t v;

	i8042_init(&k, on_reset, NULL);
	v = 0xaa;
	i8042_io_ops.write(&k, 4, &v, 1);
	i8042_io_ops.read(&k, 4, &v, 1);
	CHECK_EQ_U(v & 1, 1); /* output buffer full */
	i8042_io_ops.read(&k, 0, &v, 1);
	CHECK_EQ_U(v, 0x55);
	v = 0x60; /* write the configuration byte */
	i8042_io_ops.write(&k, 4, &v, 1);
	v = 0x65;
	i8042_io_ops.write(&k, 0, &v, 1);
	v = 0x20;
	i8042_io_ops.write(&k, 4, &v, 1);
	i8042_io_ops.read(&k, 0, &v, 1);
	CHECK_EQ_U(v, 0x65);
	CHECK_EQ_I(resets, 0);
	v = 0xfe;
	i8042_io_ops.write(&k, 4, &v, 1);
	CHECK_EQ_I(resets, 1);
	i8042_destroy(&k);
}

/* Edges on the keyboard's line: a rise counts as one interrupt. */
static int kbd_irqs, kbd_level;

static void kbd_irq(void *opaque, unsigned gsi, int level)
{
	(void)opaque;
	if (gsi == I8042_KBD_IRQ && level && !kbd_level)
		kbd_irqs++;
	kbd_level = level;
}

static void i8042_set_ctr(struct i8042 *k, uint8_t ctr)
{
	uint8_t v = 0x60;

	i8042_io_ops.write(k, 4, &v, 1);
	i8042_io_ops.write(k, 0, &ctr, 1);
}

/*
 * What the guest's driver reads, one byte per interrupt, as it does (Linux i8042_interrupt):
 * the status port says a byte is there, the data port gives it.
 */
static size_t i8042_drain(struct i8042 *k, uint8_t *codes, size_t cap)
{
	size_t n = 0;
	uint8_t st;

	while (n < cap && n < (size_t)kbd_irqs) {
		i8042_io_ops.read(k, 4, &st, 1);
		if (!(st & 1))
			break;
		i8042_io_ops.read(k, 0, &codes[n++], 1);
	}
	return n;
}

/*
 * Ctrl-Alt-Del's make and break codes from the IBM PC/AT scan code tables: set 1 (what Linux's
 * atkbd reads when the controller translates, configuration byte bit 6) and set 2.
 */
TEST(i8042_ctrl_alt_del)
{
	static const uint8_t set1[] = { 0x1d, 0x38, 0xe0, 0x53, 0xe0, 0xd3, 0xb8, 0x9d };
	static const uint8_t set2[] = { 0x14, 0x11, 0xe0, 0x71, 0xe0, 0xf0,
					0x71, 0xf0, 0x11, 0xf0, 0x14 };
	struct i8042 k;
	uint8_t codes[32], st;
	int resets_before = resets;

	i8042_init(&k, on_reset, NULL);
	CHECK_EQ_I(i8042_ctrl_alt_del(&k), -ENODEV); /* no interrupt line */
	i8042_set_irq(&k, kbd_irq, NULL);
	CHECK_EQ_I(i8042_ctrl_alt_del(&k), -ENODEV); /* the guest has not enabled it */
	CHECK_EQ_I(kbd_irqs, 0);
	i8042_io_ops.read(&k, 4, &st, 1);
	CHECK_EQ_U(st & 1, 0); /* nothing queued */

	i8042_set_ctr(&k, 0x45); /* Linux's: translate, system flag, keyboard interrupt */
	CHECK_EQ_I(i8042_ctrl_alt_del(&k), 0);
	CHECK_EQ_I(i8042_ctrl_alt_del(&k), -EBUSY);
	CHECK_EQ_U(i8042_drain(&k, codes, sizeof(codes)), sizeof(set1));
	CHECK(!memcmp(codes, set1, sizeof(set1)));
	CHECK_EQ_I(kbd_irqs, (int)sizeof(set1));
	i8042_io_ops.read(&k, 4, &st, 1);
	CHECK_EQ_U(st & 1, 0);

	kbd_irqs = 0;
	i8042_set_ctr(&k, 0x05); /* no translation: set 2 */
	CHECK_EQ_I(i8042_ctrl_alt_del(&k), 0);
	CHECK_EQ_U(i8042_drain(&k, codes, sizeof(codes)), sizeof(set2));
	CHECK(!memcmp(codes, set2, sizeof(set2)));
	CHECK_EQ_I(resets, resets_before); /* keys are no reset */
	i8042_destroy(&k);
}

static int poweroffs;

static void on_poweroff(void *opaque)
{
	(void)opaque;
	poweroffs++;
}

TEST(acpi_sleep_s5_powers_off)
{
	struct vm_sleep s = { on_poweroff, NULL };
	uint8_t v = (3 << 2) | 0x20; /* S3: ignored */

	vm_sleep_io_ops.write(&s, 0, &v, 1);
	CHECK_EQ_I(poweroffs, 0);
	v = (5 << 2) | 0x20;
	vm_sleep_io_ops.write(&s, 0, &v, 1);
	CHECK_EQ_I(poweroffs, 1);
}

TEST(bus_dispatch_and_overlaps)
{
	struct vm_bus b = { 0 };
	struct err e = { 0 };
	struct serial s;
	uint8_t v = 0;

	serial_init(&s, -1, 4, NULL, NULL);
	CHECK_EQ_I(vm_bus_register(&b, 0x3f8, 8, &serial_io_ops, &s, "serial", &e), 0);
	CHECK_EQ_I(vm_bus_register(&b, 0x3ff, 2, &serial_io_ops, &s, "x", &e), -EEXIST);
	CHECK_EQ_I(vm_bus_register(&b, 0, 0, &serial_io_ops, &s, "x", &e), -EINVAL);
	CHECK_EQ_I(vm_bus_register(&b, UINT64_MAX, 2, &serial_io_ops, &s, "x", &e), -EINVAL);
	CHECK(vm_bus_read(&b, 0x3fd, &v, 1));
	CHECK_EQ_U(v & 0x60, 0x60);
	CHECK(!vm_bus_read(&b, 0x400, &v, 1));
	CHECK_EQ_U(v, 0xff);
	CHECK(!vm_bus_read(&b, 0x3ff, (uint8_t[2]){ 0 }, 2)); /* straddles the end */
	serial_destroy(&s);
}

TEST(config_specs)
{
	struct vmconfig c;
	struct err e = { 0 };

	vmconfig_init(&c);
	CHECK_EQ_I(vmconfig_add_disk(&c, "a.img", &e), 0);
	CHECK_EQ_I(vmconfig_add_disk(&c, "b,c.img,ro", &e), 0);
	CHECK_STR(c.disk[1].path, "b,c.img");
	CHECK(c.disk[1].read_only);
	CHECK_EQ_I(vmconfig_add_disk(&c, ",ro", &e), -EINVAL);
	CHECK_EQ_I(vmconfig_add_disk(&c, "x,rx", &e), -EINVAL);
	CHECK_EQ_I(c.disk[0].io_engine, VMCONFIG_IO_SYNC); /* the default, as in Firecracker */
	CHECK_EQ_I(vmconfig_add_disk(&c, "d.img,io_engine=Async,ro", &e), 0);
	CHECK_STR(c.disk[2].path, "d.img");
	CHECK_EQ_I(c.disk[2].io_engine, VMCONFIG_IO_ASYNC);
	CHECK(c.disk[2].read_only);
	CHECK_EQ_I(vmconfig_add_disk(&c, "e.img,rw,io_engine=Sync", &e), 0);
	CHECK_STR(c.disk[3].path, "e.img");
	CHECK_EQ_I(c.disk[3].io_engine, VMCONFIG_IO_SYNC);
	/* Firecracker's spelling only */
	CHECK_EQ_I(vmconfig_add_disk(&c, "f.img,io_engine=async", &e), -EINVAL);
	CHECK(strstr(e.msg, "unknown disk option 'io_engine=async'") != NULL);
	CHECK_EQ_I(vmconfig_add_net(&c, "tap0,mac=02:00:00:00:00:01", &e), 0);
	CHECK(c.net[0].has_mac);
	CHECK_EQ_U(c.net[0].mac[5], 1);
	CHECK_EQ_I(vmconfig_add_net(&c, "tap0,mac=01:00:00:00:00:01", &e), -EINVAL); /* multicast */
	CHECK_EQ_I(vmconfig_add_net(&c, "tap0,mac=02:00:00:00:00", &e), -EINVAL);
	CHECK_EQ_I(vmconfig_add_net(&c, "tap0,speed=1", &e), -EINVAL);
	CHECK_EQ_I(vmconfig_set_console(&c, "none", &e), 0);
	CHECK_EQ_I(c.console, VMCONFIG_CONSOLE_NONE);
	CHECK_EQ_I(vmconfig_set_console(&c, "/tmp/x", &e), 0);
	CHECK_STR(c.console_path, "/tmp/x");
	vmconfig_free(&c);
}

static unsigned warnings;

static void warn(void *arg, const char *msg)
{
	(void)arg;
	(void)msg;
	warnings++;
}

TEST(config_firecracker_json)
{
	struct vmconfig c;
	struct err e = { 0 };
	const char *good =
		"{\"boot-source\":{\"kernel_image_path\":\"/k\",\"boot_args\":\"console=ttyS0\","
		"\"initrd_path\":null},"
		"\"drives\":[{\"drive_id\":\"data\",\"path_on_host\":\"/d\",\"is_root_device\":false,"
		"\"is_read_only\":true},{\"drive_id\":\"rootfs\",\"path_on_host\":\"/r\","
		"\"is_root_device\":true,\"is_read_only\":false,\"rate_limiter\":{\"bandwidth\":{}}}],"
		"\"machine-config\":{\"vcpu_count\":2,\"mem_size_mib\":256,\"smt\":false},"
		"\"network-interfaces\":[{\"iface_id\":\"eth0\",\"guest_mac\":\"AA:FC:00:00:00:01\","
		"\"host_dev_name\":\"tap0\"}],\"logger\":{\"log_path\":\"/l\"},\"entropy\":{}}";

	vmconfig_init(&c);
	warnings = 0;
	REQUIRE(vmconfig_parse_json(&c, good, warn, NULL, &e) == 0);
	CHECK_STR(c.kernel, "/k");
	CHECK_STR(c.cmdline, "console=ttyS0");
	CHECK(c.initrd == NULL);
	CHECK_EQ_U(c.cpus, 2);
	CHECK_EQ_U(c.mem_bytes, 256ULL << 20);
	CHECK_EQ_U(c.nr_disks, 2);
	CHECK_STR(c.disk[0].path, "/r"); /* the root device comes first */
	CHECK(c.disk[0].root);
	CHECK(c.disk[1].read_only);
	CHECK_EQ_U(c.nr_nets, 1);
	CHECK_EQ_U(c.net[0].mac[1], 0xfc);
	CHECK(c.rng);
	CHECK_EQ_U(warnings, 2); /* logger, rate_limiter */
	vmconfig_free(&c);

	static const char *const bad[] = {
		"[]",
		"{\"boot-source\":{\"kernel_image_path\":\"/k\"},\"nope\":1}",
		"{\"boot-source\":{\"kernel_image_path\":1}}",
		"{\"boot-source\":{}}",
		"{\"machine-config\":{\"vcpu_count\":1}}",
		"{\"boot-source\":{\"kernel_image_path\":\"/k\"},\"machine-config\":{\"vcpu_count\":0}}",
		"{\"boot-source\":{\"kernel_image_path\":\"/k\"},\"machine-config\":{\"vcpu_count\":99}}",
		"{\"boot-source\":{\"kernel_image_path\":\"/k\"},\"drives\":[{\"drive_id\":\"x\"}]}",
		"{\"boot-source\":{\"kernel_image_path\":\"/k\"},\"drives\":{}}",
		("{\"boot-source\":{\"kernel_image_path\":\"/k\"},\"network-interfaces\":[{"
		 "\"host_dev_name\":\"t\",\"guest_mac\":\"zz\"}]}"),
		"{\"boot-source\":{\"kernel_image_path\":\"/k\",",
		"{\"boot-source\":{\"kernel_image_path\":\"/k\"},\"entropy\":false}",
		"{\"boot-source\":{\"kernel_image_path\":\"/k\"},\"entropy\":42}",
	};
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		vmconfig_init(&c);
		if (vmconfig_parse_json(&c, bad[i], warn, NULL, &e) == 0)
			CHECK_FAIL_AT("accepted: %s", bad[i]);
		vmconfig_free(&c);
	}
}

/*
 * What Firecracker's own configs carry as no-ops (its getting-started vm_config.json has
 * "pmem": [] and "memory-hotplug": null; 4 of its 8 examples "entropy": null): accepted, no
 * device, no warning. A non-empty pmem list is ignored with a warning.
 */
TEST(config_firecracker_noops)
{
	struct vmconfig c;
	struct err e = { 0 };

	vmconfig_init(&c);
	warnings = 0;
	REQUIRE(vmconfig_parse_json(&c,
				    "{\"boot-source\":{\"kernel_image_path\":\"/k\"},\"pmem\":[],"
				    "\"memory-hotplug\":null,\"entropy\":null}",
				    warn, NULL, &e) == 0);
	CHECK(!c.rng);
	CHECK_EQ_U(warnings, 0);
	vmconfig_free(&c);
	vmconfig_init(&c);
	REQUIRE(vmconfig_parse_json(&c,
				    "{\"boot-source\":{\"kernel_image_path\":\"/k\"},"
				    "\"pmem\":[{\"id\":\"p\",\"path_on_host\":\"/p\"}]}",
				    warn, NULL, &e) == 0);
	CHECK_EQ_U(warnings, 1);
	vmconfig_free(&c);
}

/* The default command line's parameters are Linux's own: "nomodule" (init/main.c), not
 * "nomodules", which the kernel would pass on to init as an unknown word. */
TEST(default_cmdline_nomodule)
{
	CHECK(strstr(" " VMCONFIG_DEFAULT_CMDLINE " ", " nomodule ") != NULL);
	/* the keyboard's IRQ comes from PnP (the DSDT's PNP0303): Ctrl-Alt-Del needs it */
	CHECK(strstr(" " VMCONFIG_DEFAULT_CMDLINE " ", " i8042.nopnp ") == NULL);
}

#define BOOT "{\"boot-source\":{\"kernel_image_path\":\"/k\"},"
#define MC   "\"machine-config\":{\"vcpu_count\":1,\"mem_size_mib\":64"

static char last_warning[256];

static void warn_keep(void *arg, const char *msg)
{
	(void)arg;
	warnings++;
	snprintf(last_warning, sizeof(last_warning), "%s", msg);
}

/* Parse text into a fresh c; the return code, the message in e. */
static int parse(struct vmconfig *c, const char *text, struct err *e)
{
	vmconfig_init(c);
	warnings = 0;
	last_warning[0] = '\0';
	return vmconfig_parse_json(c, text, warn_keep, NULL, e);
}

/*
 * Firecracker's machine-config (vmm_config/machine_config.rs): vcpu_count and mem_size_mib are
 * required; huge_pages "Transparent" is THP. Values equal to Firecracker's defaults configure
 * nothing and warn about nothing; other values of what mvm-run does not implement are warned.
 */
TEST(config_firecracker_machine)
{
	struct vmconfig c;
	struct err e = { 0 };

	CHECK_EQ_I(parse(&c, BOOT MC ",\"huge_pages\":\"Transparent\"}}", &e), 0);
	CHECK_EQ_I(c.mem_backing, DMA_BACKING_THP);
	vmconfig_free(&c);
	CHECK_EQ_I(parse(&c, BOOT "\"machine-config\":{\"mem_size_mib\":64}}", &e), -EINVAL);
	CHECK(strstr(e.msg, "machine-config: vcpu_count is missing") != NULL);
	vmconfig_free(&c);
	CHECK_EQ_I(parse(&c, BOOT "\"machine-config\":{\"vcpu_count\":2}}", &e), -EINVAL);
	CHECK(strstr(e.msg, "machine-config: mem_size_mib is missing") != NULL);
	vmconfig_free(&c);
	CHECK_EQ_I(parse(&c,
			 BOOT MC ",\"track_dirty_pages\":false,\"cpu_template\":\"None\"},"
				 "\"drives\":[{\"drive_id\":\"r\",\"path_on_host\":\"/r\","
				 "\"cache_type\":\"Unsafe\",\"io_engine\":\"Sync\"}]}",
			 &e),
		   0);
	CHECK_EQ_U(warnings, 0);
	vmconfig_free(&c);
	CHECK_EQ_I(parse(&c,
			 BOOT MC ",\"track_dirty_pages\":true},"
				 "\"drives\":[{\"drive_id\":\"r\",\"path_on_host\":\"/r\","
				 "\"cache_type\":\"Writeback\",\"io_engine\":\"Async\"}]}",
			 &e),
		   0);
	CHECK_EQ_U(warnings, 2); /* cache_type, track_dirty_pages: io_engine Async is served */
	CHECK_EQ_I(c.disk[0].io_engine, VMCONFIG_IO_ASYNC);
	vmconfig_free(&c);
	CHECK_EQ_I(parse(&c,
			 BOOT "\"drives\":[{\"drive_id\":\"r\",\"path_on_host\":\"/r\","
			      "\"io_engine\":\"Uring\"}]}",
			 &e),
		   -EINVAL);
	CHECK(strstr(e.msg, "drives[0].io_engine: 'Uring' is not \"Sync\" or \"Async\"") != NULL);
	vmconfig_free(&c);
}

/*
 * Firecracker's rules for several drives and interfaces (vmm_config/drive.rs insert,
 * vmm_config/net.rs build): a second root device is refused, a drive_id or iface_id seen before
 * replaces the earlier one, a guest_mac another interface has is refused.
 */
TEST(config_firecracker_duplicates)
{
	struct vmconfig c;
	struct err e = { 0 };

	CHECK_EQ_I(parse(&c,
			 BOOT
			 "\"drives\":[{\"drive_id\":\"a\",\"path_on_host\":\"/a\","
			 "\"is_root_device\":true},{\"drive_id\":\"b\",\"path_on_host\":\"/b\","
			 "\"is_root_device\":true}]}",
			 &e),
		   -EEXIST);
	CHECK(strstr(e.msg, "drives[1]: a root block device already exists (drive 'a')") != NULL);
	vmconfig_free(&c);
	/* the same id: an update, the later path wins, still one root disk first */
	CHECK_EQ_I(parse(&c,
			 BOOT
			 "\"drives\":[{\"drive_id\":\"d\",\"path_on_host\":\"/d\"},"
			 "{\"drive_id\":\"a\",\"path_on_host\":\"/a\",\"is_root_device\":true},"
			 "{\"drive_id\":\"d\",\"path_on_host\":\"/d2\",\"is_read_only\":true}]}",
			 &e),
		   0);
	CHECK_EQ_U(c.nr_disks, 2);
	CHECK_STR(c.disk[0].path, "/a");
	CHECK_STR(c.disk[1].path, "/d2");
	CHECK(c.disk[1].read_only);
	CHECK(strstr(last_warning, "drive_id 'd' again") != NULL);
	vmconfig_free(&c);
	/* a non-root drive updated into the root: moves to the front */
	CHECK_EQ_I(parse(&c,
			 BOOT
			 "\"drives\":[{\"drive_id\":\"a\",\"path_on_host\":\"/a\"},"
			 "{\"drive_id\":\"b\",\"path_on_host\":\"/b\"},"
			 "{\"drive_id\":\"b\",\"path_on_host\":\"/b2\",\"is_root_device\":true}]}",
			 &e),
		   0);
	CHECK_EQ_U(c.nr_disks, 2);
	CHECK_STR(c.disk[0].path, "/b2");
	CHECK(c.disk[0].root);
	CHECK_STR(c.disk[1].path, "/a");
	vmconfig_free(&c);
	CHECK_EQ_I(parse(&c,
			 BOOT
			 "\"network-interfaces\":[{\"iface_id\":\"e0\",\"host_dev_name\":\"t0\","
			 "\"guest_mac\":\"06:00:00:00:00:01\"},{\"iface_id\":\"e1\","
			 "\"host_dev_name\":\"t1\",\"guest_mac\":\"06:00:00:00:00:01\"}]}",
			 &e),
		   -EEXIST);
	CHECK(strstr(e.msg, "the MAC address is already in use: 06:00:00:00:00:01") != NULL);
	vmconfig_free(&c);
	CHECK_EQ_I(parse(&c,
			 BOOT
			 "\"network-interfaces\":[{\"iface_id\":\"e0\",\"host_dev_name\":\"t0\","
			 "\"guest_mac\":\"06:00:00:00:00:01\"},{\"iface_id\":\"e0\","
			 "\"host_dev_name\":\"t1\",\"guest_mac\":\"06:00:00:00:00:01\"}]}",
			 &e),
		   0);
	CHECK_EQ_U(c.nr_nets, 1);
	CHECK_STR(c.net[0].tap, "t1");
	/* and on the command line */
	CHECK_EQ_I(vmconfig_add_net(&c, "t2,mac=06:00:00:00:00:01", &e), -EEXIST);
	CHECK_EQ_I(vmconfig_add_net(&c, "t2,mac=06:00:00:00:00:02", &e), 0);
	vmconfig_free(&c);
}

/* Our additions to Firecracker's file: "vfio" devices and machine-config.huge_pages. */
TEST(config_vfio_and_huge_pages)
{
	static const char good[] = "{\"boot-source\": {\"kernel_image_path\": \"/k\"},"
				   " \"machine-config\": {\"vcpu_count\": 1, \"mem_size_mib\": 512,"
				   " \"huge_pages\": \"2M\"},"
				   " \"vfio\": [{\"id\": \"disk\", \"bdf\": \"0000:00:04.0\"},"
				   " {\"bdf\": \"01:00.0\"}]}";
	static const char *const bad[] = {
		"{\"boot-source\": {\"kernel_image_path\": \"/k\"}, \"vfio\": [{\"id\": \"x\"}]}",
		"{\"boot-source\": {\"kernel_image_path\": \"/k\"}, \"vfio\": [{\"bdf\": 4}]}",
		"{\"boot-source\": {\"kernel_image_path\": \"/k\"}, \"vfio\": {\"bdf\": \"x\"}}",
		"{\"boot-source\": {\"kernel_image_path\": \"/k\"}, \"vfio\": [{\"bdf\": \"x\", \"rom\": 1}]}",
		"{\"boot-source\": {\"kernel_image_path\": \"/k\"},"
		" \"machine-config\": {\"vcpu_count\": 1, \"mem_size_mib\": 64, \"huge_pages\": \"4M\"}}",
	};
	struct vmconfig c;
	struct err e = { 0 };

	vmconfig_init(&c);
	REQUIRE(vmconfig_parse_json(&c, good, warn, NULL, &e) == 0);
	CHECK_EQ_U(c.nr_vfio, 2);
	CHECK_STR(c.vfio[0], "0000:00:04.0");
	CHECK_STR(c.vfio[1], "01:00.0");
	CHECK_EQ_I(c.mem_backing, DMA_BACKING_HUGE_2M);
	vmconfig_free(&c);
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		vmconfig_init(&c);
		if (vmconfig_parse_json(&c, bad[i], warn, NULL, &e) == 0)
			CHECK_FAIL_AT("accepted: %s", bad[i]);
		vmconfig_free(&c);
	}
	vmconfig_init(&c);
	for (int i = 0; i < VMCONFIG_MAX_VFIO; i++)
		CHECK_EQ_I(vmconfig_add_vfio(&c, "0000:00:04.0", &e), 0);
	CHECK_EQ_I(vmconfig_add_vfio(&c, "0000:00:04.0", &e), -ENOSPC);
	vmconfig_free(&c);
}

/* Firecracker's PUT bodies, one section each: replaced or changed on success, untouched on
 * failure; the whole configuration comes back as JSON that the config-file parser reads. */
TEST(config_put_sections)
{
	struct vmconfig c, back;
	struct err e = { 0 };
	struct json_object *j;

	vmconfig_init(&c);
	REQUIRE(vmconfig_put_json(&c, "boot-source", NULL,
				  "{\"kernel_image_path\": \"/k\", \"boot_args\": \"a=1\"}", warn,
				  NULL, &e) == 0);
	CHECK_EQ_I(vmconfig_put_json(&c, "boot-source", NULL,
				     "{\"kernel_image_path\": \"/k2\", \"x\": 1}", warn, NULL, &e),
		   -EINVAL);
	CHECK_STR(c.kernel, "/k");
	CHECK_STR(c.cmdline, "a=1");
	REQUIRE(vmconfig_put_json(&c, "boot-source", NULL, "{\"kernel_image_path\": \"/k3\"}", warn,
				  NULL, &e) == 0);
	CHECK_STR(c.kernel, "/k3");
	CHECK(c.cmdline == NULL); /* a PUT replaces the whole boot source */

	CHECK_EQ_I(vmconfig_put_json(&c, "machine-config", NULL,
				     "{\"vcpu_count\": 4, \"mem_size_mib\": 0}", warn, NULL, &e),
		   -ERANGE);
	CHECK_EQ_U(c.cpus, 1);
	REQUIRE(vmconfig_put_json(&c, "machine-config", NULL, "{\"mem_size_mib\": 64}", warn, NULL,
				  &e) == 0);
	CHECK_EQ_U(c.mem_bytes, 64ULL << 20);

	REQUIRE(vmconfig_put_json(&c, "drives", "d1",
				  "{\"drive_id\": \"d1\", \"path_on_host\": \"/a\", "
				  "\"is_root_device\": false}",
				  warn, NULL, &e) == 0);
	REQUIRE(vmconfig_put_json(&c, "drives", "root",
				  "{\"drive_id\": \"root\", \"path_on_host\": \"/r\", "
				  "\"is_root_device\": true}",
				  warn, NULL, &e) == 0);
	REQUIRE(vmconfig_put_json(&c, "drives", "d1",
				  "{\"drive_id\": \"d1\", \"path_on_host\": \"/b\", "
				  "\"is_root_device\": false, \"is_read_only\": true, "
				  "\"io_engine\": \"Async\"}",
				  warn, NULL, &e) == 0);
	CHECK_EQ_I(vmconfig_put_json(&c, "drives", "d2",
				     "{\"drive_id\": \"d1\", \"path_on_host\": \"/c\"}", warn, NULL,
				     &e),
		   -EINVAL);
	CHECK_EQ_I(vmconfig_put_json(&c, "drives", "d3", "[1]", warn, NULL, &e), -EINVAL);
	CHECK_EQ_I(vmconfig_put_json(&c, "drives", "d3", "{\"drive_id\": ", warn, NULL, &e),
		   -EINVAL);
	REQUIRE(c.nr_disks == 2);
	CHECK_STR(c.disk[0].path, "/r");
	CHECK_STR(c.disk[1].path, "/b");
	CHECK(c.disk[1].read_only);
	CHECK_EQ_I(c.disk[1].io_engine, VMCONFIG_IO_ASYNC); /* PUT /drives: the same parser */

	REQUIRE(vmconfig_put_json(&c, "network-interfaces", "eth0",
				  "{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap0\"}", warn,
				  NULL, &e) == 0);
	REQUIRE(vmconfig_put_json(&c, "network-interfaces", "eth0",
				  "{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap1\", "
				  "\"guest_mac\": \"02:00:00:00:00:01\"}",
				  warn, NULL, &e) == 0);
	CHECK_EQ_U(c.nr_nets, 1);
	CHECK_STR(c.net[0].tap, "tap1");
	REQUIRE(vmconfig_put_json(&c, "entropy", NULL, "{}", warn, NULL, &e) == 0);
	CHECK(c.rng);
	REQUIRE(vmconfig_put_json(&c, "vsock", NULL, "{\"guest_cid\": 5, \"uds_path\": \"/v\"}",
				  warn, NULL, &e) == 0);
	CHECK_EQ_I(vmconfig_put_json(&c, "vsock", NULL, "{\"guest_cid\": 2, \"uds_path\": \"/w\"}",
				     warn, NULL, &e),
		   -ERANGE);
	CHECK_EQ_I(vmconfig_put_json(&c, "vsock", NULL, "{\"guest_cid\": 6}", warn, NULL, &e),
		   -EINVAL);
	CHECK_EQ_U(c.vsock_cid, 5);
	CHECK_STR(c.vsock_uds, "/v");
	CHECK_EQ_I(vmconfig_put_json(&c, "balloon", NULL, "{}", warn, NULL, &e), -ENOENT);

	/* What GET /vm/config answers, read back by the config-file parser. */
	REQUIRE(vmconfig_put_json(&c, "boot-source", NULL,
				  "{\"kernel_image_path\": \"/k3\", \"boot_args\": \"b=2\", "
				  "\"initrd_path\": \"/i\"}",
				  warn, NULL, &e) == 0);
	j = vmconfig_to_json(&c);
	REQUIRE(j != NULL);
	vmconfig_init(&back);
	REQUIRE(vmconfig_parse_json(&back, json_object_to_json_string(j), warn, NULL, &e) == 0);
	CHECK_STR(back.kernel, "/k3");
	CHECK_STR(back.cmdline, "b=2");
	CHECK_STR(back.initrd, "/i");
	CHECK_EQ_U(back.mem_bytes, 64ULL << 20);
	CHECK_EQ_U(back.nr_disks, 2);
	CHECK_STR(back.disk[0].path, "/r");
	CHECK(back.disk[0].root);
	CHECK_STR(back.disk[1].path, "/b");
	CHECK(back.disk[1].read_only);
	CHECK_EQ_I(back.disk[0].io_engine, VMCONFIG_IO_SYNC);
	CHECK_EQ_I(back.disk[1].io_engine, VMCONFIG_IO_ASYNC);
	CHECK_STR(back.net[0].tap, "tap1");
	CHECK_EQ_U(back.net[0].mac[5], 1);
	CHECK(back.rng);
	CHECK(back.vsock);
	CHECK_EQ_U(back.vsock_cid, 5);
	CHECK_STR(back.vsock_uds, "/v");
	json_object_put(j);
	vmconfig_free(&back);
	vmconfig_free(&c);
}

int main(void)
{
	RUN(serial_output_input_interrupts);
	RUN(serial_loopback_passes_the_linux_probe);
	RUN(serial_rx_overflow_is_bounded);
	RUN(i8042_probe_and_reset);
	RUN(i8042_ctrl_alt_del);
	RUN(acpi_sleep_s5_powers_off);
	RUN(bus_dispatch_and_overlaps);
	RUN(config_specs);
	RUN(config_firecracker_json);
	RUN(config_firecracker_noops);
	RUN(config_firecracker_machine);
	RUN(config_firecracker_duplicates);
	RUN(default_cmdline_nomodule);
	RUN(config_vfio_and_huge_pages);
	RUN(config_put_sections);
	return CHECK_MAIN_END();
}
