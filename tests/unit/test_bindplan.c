/* test_bindplan.c: bind planning against a sysfs snapshot tree (tests/fixtures/gpu-audio.spec). */
#include "bind.h"
#include "check.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

static char root[64];
static struct sysfs sys;
static struct pcidev_list devs;

static int setup(void)
{
	char cmd[256];
	struct err e = { 0 };

	snprintf(root, sizeof(root), "/tmp/bindplan-test.XXXXXX");
	if (!mkdtemp(root))
		return -1;
	snprintf(cmd, sizeof(cmd), "tests/fixtures/mksysfs tests/fixtures/gpu-audio.spec %s", root);
	if (system(cmd) != 0)
		return -1;
	sysfs_init(&sys, root);
	return pcidev_scan(&sys, &devs, &e);
}

static size_t index_of(const char *bdf)
{
	struct pci_addr a;

	pci_addr_parse(bdf, &a, NULL, NULL);
	return (size_t)(pcidev_find(&devs, &a) - devs.dev);
}

TEST(scan_reads_the_snapshot)
{
	struct pci_addr a;
	const struct pcidev *d;

	REQUIRE(devs.n == 9);
	pci_addr_parse("0000:01:00.0", &a, NULL, NULL);
	d = pcidev_find(&devs, &a);
	REQUIRE(d != NULL);
	CHECK_EQ_U(d->vendor, 0x10de);
	CHECK_EQ_U(d->device, 0x2330);
	CHECK_EQ_U(d->class, 0x030000);
	CHECK_STR(d->driver, "nvidia");
	CHECK_EQ_I(d->iommu_group, 1);
	CHECK_EQ_I(d->boot_vga, 1);
	CHECK_EQ_U(d->bar_base[1], 0x4000000000ull);
	CHECK_EQ_U(d->bar_size[1], 0x400000000ull);
	CHECK(d->bar_io[5]);
	pci_addr_parse("0000:00:01.0", &a, NULL, NULL);
	CHECK(pcidev_find(&devs, &a)->is_bridge);
	CHECK(pcidev_have_iommu(&sys));
}

TEST(resolve_selectors)
{
	size_t idx[8], n = 0;
	struct pci_sel sel;
	struct err e = { 0 };

	pci_sel_parse("10de:0fb9", &sel, &e);
	CHECK_EQ_I(pcidev_resolve(&devs, &sel, "10de:0fb9", idx, 8, &n, &e), 0);
	CHECK_EQ_U(n, 1);
	pci_sel_parse("01:00.1", &sel, &e);
	CHECK_EQ_I(pcidev_resolve(&devs, &sel, "01:00.1", idx, 8, &n, &e), 0);
	CHECK_EQ_U(n, 2);
	pci_sel_parse("03:00.0", &sel, &e);
	CHECK_EQ_I(pcidev_resolve(&devs, &sel, "03:00.0", idx, 8, &n, &e), -EINVAL);
	CHECK(strstr(e.msg, "ambiguous") != NULL);
	pci_sel_parse("0000:09:00.0", &sel, &e);
	CHECK_EQ_I(pcidev_resolve(&devs, &sel, "0000:09:00.0", idx, 8, &n, &e), -ENODEV);
	pci_sel_parse("1234:5678", &sel, &e);
	CHECK_EQ_I(pcidev_resolve(&devs, &sel, "1234:5678", idx, 8, &n, &e), -ENODEV);
}

TEST(group_viability_and_expansion)
{
	size_t idx[8] = { index_of("0000:01:00.0") }, n = 1;
	struct err e = { 0 };

	CHECK_EQ_I(bind_check_viable(&devs, idx, n, &e), -EBUSY);
	CHECK(strstr(e.msg, "0000:01:00.1 (snd_hda_intel)") != NULL);
	/* The root port (a bridge) shares the group but is left alone. */
	CHECK(strstr(e.msg, "pcieport") == NULL);
	CHECK_EQ_I(bind_expand_groups(&devs, idx, 8, &n, &e), 0);
	CHECK_EQ_U(n, 2);
	CHECK_EQ_U(idx[1], index_of("0000:01:00.1"));
	CHECK_EQ_I(bind_check_viable(&devs, idx, n, &e), 0);
	/* A group whose other member has no driver is viable as it is. */
	idx[0] = index_of("0000:03:00.0");
	CHECK_EQ_I(bind_check_viable(&devs, idx, 1, &e), 0);
}

/*
 * A group's members are the devices whose own iommu_group link names it (sysfs-kernel-iommu_groups
 * ABI), read through libpci: with the group's devices/ directory gone from the snapshot, the
 * audio function still keeps the GPU's group from being viable.
 */
TEST(group_members_from_each_devices_link)
{
	char dir[128], hidden[128];
	size_t idx[1] = { index_of("0000:01:00.0") }, n;
	struct pci_addr m[8];
	struct err e = { 0 };

	snprintf(dir, sizeof(dir), "%s/sys/kernel/iommu_groups/1/devices", root);
	snprintf(hidden, sizeof(hidden), "%s.hidden", dir);
	REQUIRE(rename(dir, hidden) == 0);
	bind_group_members(&devs, 1, m, 8, &n);
	CHECK_EQ_U(n, 3);
	CHECK_EQ_U(n == 3 ? m[2].fn : 0, 1); /* 00:01.0, 01:00.0, 01:00.1 in address order */
	CHECK_EQ_I(bind_check_viable(&devs, idx, 1, &e), -EBUSY);
	CHECK(strstr(e.msg, "0000:01:00.1 (snd_hda_intel)") != NULL);
	CHECK(rename(hidden, dir) == 0);
}

/*
 * pcidev_refresh reads driver and group through libpci pointed at the snapshot (its sysfs.path),
 * never the live /sys: domain 0001 exists only in the snapshot. Relinked as a bind to vfio-pci
 * and a new group would leave them, they read back.
 */
TEST(refresh_reads_the_snapshot_through_libpci)
{
	char dir[160], link[224], grp[160];
	struct pci_addr a;
	struct pcidev d;

	pci_addr_parse("0001:03:00.0", &a, NULL, NULL);
	REQUIRE(pcidev_find(&devs, &a) != NULL);
	d = *pcidev_find(&devs, &a);
	snprintf(dir, sizeof(dir), "%s/sys/devices/pci0001:00/0001:03:00.0", root);
	snprintf(grp, sizeof(grp), "%s/sys/kernel/iommu_groups/9", root);
	REQUIRE(mkdir(grp, 0755) == 0);
	snprintf(link, sizeof(link), "%s/driver", dir);
	REQUIRE(unlink(link) == 0 && symlink("../../../bus/pci/drivers/vfio-pci", link) == 0);
	snprintf(link, sizeof(link), "%s/iommu_group", dir);
	REQUIRE(unlink(link) == 0 && symlink("../../../kernel/iommu_groups/9", link) == 0);
	snprintf(grp, sizeof(grp), "%s/sys/bus/pci/drivers/vfio-pci", root);
	mkdir(grp, 0755);
	pcidev_refresh(&sys, &d);
	CHECK_STR(d.driver, "vfio-pci");
	CHECK_EQ_I(d.iommu_group, 9);
	/* no driver link: no driver */
	snprintf(link, sizeof(link), "%s/driver", dir);
	CHECK(unlink(link) == 0);
	pcidev_refresh(&sys, &d);
	CHECK_STR(d.driver, "");
	CHECK(symlink("../../../bus/pci/drivers/igb", link) == 0);
	snprintf(link, sizeof(link), "%s/iommu_group", dir);
	CHECK(unlink(link) == 0 && symlink("../../../kernel/iommu_groups/7", link) == 0);
	pcidev_refresh(&sys, &d);
	CHECK_STR(d.driver, "igb");
	CHECK_EQ_I(d.iommu_group, 7);
}

TEST(preflight)
{
	char *p = NULL;
	struct err e = { 0 };

	CHECK_EQ_I(bind_preflight(&sys, &devs.dev[index_of("0000:01:00.0")], &p, &e), 2);
	CHECK(p && strstr(p, "boot VGA") && strstr(p, "efifb"));
	free(p);
	CHECK_EQ_I(bind_preflight(&sys, &devs.dev[index_of("0000:03:00.0")], &p, &e), 0);
	free(p);
	CHECK_EQ_I(bind_preflight(&sys, &devs.dev[index_of("0001:03:00.0")], &p, &e), 1);
	CHECK(p && strstr(p, "enp1s0 is up"));
	free(p);
	CHECK_EQ_I(bind_preflight(&sys, &devs.dev[index_of("0000:00:01.0")], &p, &e), -EINVAL);
	CHECK(strstr(e.msg, "bridge") != NULL);
	CHECK_EQ_I(bind_preflight(&sys, &devs.dev[index_of("0000:00:00.0")], &p, &e), 0);
}

static bool has_step(const struct bind_plan *p, enum bind_step_kind k, const char *path_end,
		     const char *value)
{
	for (size_t i = 0; i < p->ns; i++) {
		size_t lp = strlen(p->steps[i].path), le = strlen(path_end);

		if (p->steps[i].kind == k && lp >= le &&
		    !strcmp(p->steps[i].path + lp - le, path_end) &&
		    !strcmp(p->steps[i].value, value))
			return true;
	}
	return false;
}

TEST(plan_bind_order)
{
	struct pcidev *t[2] = { &devs.dev[index_of("0000:01:00.0")],
				&devs.dev[index_of("0000:01:00.1")] };
	struct bindstate st = { .lock_fd = -1 };
	struct bind_opts o = { .timeout_ms = 100, .sigfd = -1 };
	struct bind_plan p;
	struct err e = { 0 };

	snprintf(st.dir, sizeof(st.dir), "%s/run", root);
	REQUIRE(bind_plan_build(&p, BIND_OP_BIND, &sys, &st, t, 2, &o, &e) == 0);
	/* vfio_pci is loaded in the snapshot: no modprobe; records come before every write. */
	CHECK_EQ_I(p.steps[0].kind, BIND_STEP_RECORD);
	CHECK_STR(p.steps[0].value, "nvidia");
	CHECK_EQ_I(p.steps[1].kind, BIND_STEP_RECORD);
	CHECK_STR(p.steps[1].value, "snd_hda_intel");
	CHECK(has_step(&p, BIND_STEP_WRITE, "/0000:01:00.0/driver_override", "vfio-pci"));
	CHECK(has_step(&p, BIND_STEP_WRITE, "/drivers/nvidia/unbind", "0000:01:00.0"));
	CHECK(has_step(&p, BIND_STEP_WRITE, "/drivers/snd_hda_intel/unbind", "0000:01:00.1"));
	CHECK(has_step(&p, BIND_STEP_WRITE, "/sys/bus/pci/drivers_probe", "0000:01:00.1"));
	CHECK_EQ_I(p.steps[p.ns - 1].kind, BIND_STEP_WAIT);
	CHECK_EQ_U(p.ns, 10);
	bind_plan_free(&p);
}

/*
 * Bind 0000:02:00.0 with a fault injected (o), expect rc and both messages, and check that the
 * rollback left no record and driver_override cleared.
 */
static void run_faulted_bind(struct bind_opts o, int want_rc, const char *msg1, const char *msg2)
{
	struct pcidev *t[1] = { &devs.dev[index_of("0000:02:00.0")] };
	struct bindstate st;
	struct bind_plan p;
	struct err e = { 0 };
	char path[160], buf[64];

	snprintf(path, sizeof(path), "%s/run", root);
	REQUIRE(bindstate_open(&st, path, false, &e) == 0);
	REQUIRE(bind_plan_build(&p, BIND_OP_BIND, &sys, &st, t, 1, &o, &e) == 0);
	CHECK_EQ_I(bind_plan_run(&p, &sys, &st, &o, &e), want_rc);
	CHECK(strstr(e.msg, msg1) != NULL);
	CHECK(strstr(e.msg, msg2) != NULL);
	CHECK(bindstate_get(&st, "0000:02:00.0") == NULL);
	CHECK(sysfs_read(&sys, buf, sizeof(buf),
			 "/sys/bus/pci/devices/0000:02:00.0/driver_override") == 0);
	bind_plan_free(&p);
	bindstate_close(&st);
}

/* A failure at the second write rolls the first one back: driver_override cleared, no record. */
TEST(rollback_after_injected_fault)
{
	run_faulted_bind((struct bind_opts){ .timeout_ms = 100, .sigfd = -1, .fault_write = 2 },
			 -EIO, "injected fault", "injected fault");
}

/* The hang fault: the write never returns, the timeout ends it, and the rollback runs. */
TEST(rollback_after_injected_hang)
{
	run_faulted_bind((struct bind_opts){ .timeout_ms = 200, .sigfd = -1, .fault_hang = 2 },
			 -ETIMEDOUT, "drivers/nvme/unbind did not return within", "injected hang");
}

/*
 * The modalias as the kernel's file2alias writes vfio_pci: aliases (do_pci_entry: "v%08X"
 * "d%08X" "sv%08X" "sd%08X" "bc%02X" "sc%02X" "i%02X"), and the most specific alias winning.
 */
TEST(variant_driver_from_aliases)
{
	static const char aliases[] =
		"alias pci:v0000144Dd0000A808sv*sd*bc*sc*i* nvme\n"
		"alias vfio_pci:v*d*sv*sd*bc*sc*i* vfio_pci\n"
		"alias vfio_pci:v000015B3d0000101Esv*sd*bc*sc*i* mlx5_vfio_pci\n"
		"alias vfio_pci:v000010DEd*sv*sd*bc03sc*i* nvgrace_gpu_vfio_pci\n"
		"alias vfio_pci:v000010DEd00002330sv*sd*bc03sc02i00 nvgrace_gpu_vfio_pci_h100\n"
		"# a comment\n"
		"alias vfio_pci:v00001AF4d*sv*sd*bc*sc*i*"; /* no module: ignored */
	char m[64], ma[128];

	bind_modalias(&sys, &devs.dev[index_of("0000:02:00.0")], ma, sizeof(ma));
	CHECK_STR(ma, "vfio_pci:v0000144Dd0000A808sv00000000sd00000000bc01sc08i02");
	bind_alias_match(aliases, ma, m, sizeof(m));
	CHECK_STR(m, "vfio_pci"); /* the pci: alias of nvme is not a vfio one */
	bind_alias_match(aliases, "vfio_pci:v000015B3d0000101Esv000015B3sd00000051bc02sc00i00", m,
			 sizeof(m));
	CHECK_STR(m, "mlx5_vfio_pci");
	bind_alias_match(aliases, "vfio_pci:v000015B3d0000101Fsv000015B3sd00000051bc02sc00i00", m,
			 sizeof(m));
	CHECK_STR(m, "vfio_pci");
	bind_alias_match(aliases, "vfio_pci:v000010DEd00002330sv000010DEsd000016C1bc03sc02i00", m,
			 sizeof(m));
	CHECK_STR(m, "nvgrace_gpu_vfio_pci_h100");
	bind_alias_match(aliases, "vfio_pci:v000010DEd00002331sv000010DEsd000016C1bc03sc02i00", m,
			 sizeof(m));
	CHECK_STR(m, "nvgrace_gpu_vfio_pci");
	bind_alias_match("alias vfio_pci:v000015B3d*sv*sd*bc*sc*i* mlx5_vfio_pci\n", ma, m,
			 sizeof(m));
	CHECK_STR(m, "");
}

/* A PF with VFs: zeroed before the bind (as setup.sh does), given its VFs back by the undo. */
TEST(sriov_zeroed_and_restored)
{
	struct pcidev *t[1] = { &devs.dev[index_of("0000:02:00.0")] };
	struct bind_opts o = { .timeout_ms = 100, .sigfd = -1, .zero_vfs = true };
	struct bindstate st = { .lock_fd = -1 };
	struct bind_plan p, u;
	struct err e = { 0 };
	char path[160];
	FILE *f;

	snprintf(st.dir, sizeof(st.dir), "%s/run", root);
	snprintf(path, sizeof(path), "%s/sys/bus/pci/devices/0000:02:00.0/sriov_numvfs", root);
	REQUIRE((f = fopen(path, "w")) != NULL);
	fputs("4\n", f);
	fclose(f);
	REQUIRE(bind_plan_build(&p, BIND_OP_BIND, &sys, &st, t, 1, &o, &e) == 0);
	CHECK(has_step(&p, BIND_STEP_SRIOV, "/0000:02:00.0/sriov_numvfs", "0"));
	CHECK_EQ_I(p.steps[1].kind, BIND_STEP_SRIOV); /* after the record, before any write */
	/* Recorded, so that a --restore after a crash gives the VFs back too. */
	CHECK(has_step(&p, BIND_STEP_RECORD, "/run/state", "nvme numvfs=4"));
	/* The undo is planned after the bind ran: the VFs are gone by then. */
	REQUIRE((f = fopen(path, "w")) != NULL);
	fputs("0\n", f);
	fclose(f);
	REQUIRE(bind_plan_undo(&u, &p, &sys, &st, &e) == 0);
	CHECK(has_step(&u, BIND_STEP_SRIOV, "/0000:02:00.0/sriov_numvfs", "4"));
	bind_plan_free(&u);
	bind_plan_free(&p);
	o.zero_vfs = false;
	REQUIRE(bind_plan_build(&p, BIND_OP_BIND, &sys, &st, t, 1, &o, &e) == 0);
	CHECK(!has_step(&p, BIND_STEP_SRIOV, "/0000:02:00.0/sriov_numvfs", "0"));
	bind_plan_free(&p);
	unlink(path);
}

/* A second snapshot: tests/fixtures/sriov.spec, PFs with and without VFs. */
static int sriov_snapshot(char *dir, size_t len, struct sysfs *s, struct pcidev_list *l)
{
	char cmd[256];
	struct err e = { 0 };

	snprintf(dir, len, "/tmp/bindplan-sriov.XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(cmd, sizeof(cmd), "tests/fixtures/mksysfs tests/fixtures/sriov.spec %s", dir);
	if (system(cmd) != 0)
		return -1;
	sysfs_init(s, dir);
	return pcidev_scan(s, l, &e);
}

static struct pcidev *find_in(const struct pcidev_list *l, const char *bdf)
{
	struct pci_addr a;

	pci_addr_parse(bdf, &a, NULL, NULL);
	return pcidev_find(l, &a);
}

static size_t step_index(const struct bind_plan *p, enum bind_step_kind k, const char *path_end,
			 const char *value)
{
	for (size_t i = 0; i < p->ns; i++) {
		size_t lp = strlen(p->steps[i].path), le = strlen(path_end);

		if (p->steps[i].kind == k && lp >= le &&
		    !strcmp(p->steps[i].path + lp - le, path_end) &&
		    !strcmp(p->steps[i].value, value))
			return i;
	}
	return (size_t)-1;
}

static void remove_tree(const char *dir)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		printf("# cannot remove %s\n", dir);
}

/*
 * --vfs on a PF: VF i at the PF's routing ID + First VF Offset + i * VF Stride (PCIe SR-IOV
 * 9.3.3.10-11; 03:00.0, offset 2, stride 1: 03:00.2, 03:00.3), autoprobe off before the count is
 * set, the old settings in the record, and sriov_totalvfs as the limit.
 */
TEST(vfs_plan)
{
	char dir[64], rel[64];
	struct sysfs s;
	struct pcidev_list l;
	struct bind_opts o = { .timeout_ms = 100, .sigfd = -1, .vfs = 2 };
	struct bindstate st = { .lock_fd = -1 };
	struct pcidev *t[1];
	struct bind_plan p;
	struct err e = { 0 };
	struct pci_addr a;
	size_t ap, nv;

	REQUIRE(sriov_snapshot(dir, sizeof(dir), &s, &l) == 0);
	snprintf(st.dir, sizeof(st.dir), "%s/run", dir);
	t[0] = find_in(&l, "0000:03:00.0");
	REQUIRE(t[0] != NULL);
	CHECK_EQ_I(bind_vf_addr(&s, t[0], 7, &a, &e), 0);
	CHECK(a.bus == 3 && a.dev == 1 && a.fn == 1); /* 0x300 + 2 + 7 = 0x309 */
	REQUIRE(bind_plan_build(&p, BIND_OP_BIND, &s, &st, t, 1, &o, &e) == 0);
	CHECK_EQ_U(p.nt, 3);
	CHECK_STR(p.t[1].dev->bdf, "0000:03:00.2");
	CHECK_STR(p.t[2].dev->bdf, "0000:03:00.3");
	CHECK_EQ_U(p.t[1].dev->device, 0x101e);
	CHECK_STR(p.t[1].driver, "mlx5_vfio_pci"); /* the VF's ID has a variant driver */
	CHECK(has_step(&p, BIND_STEP_RECORD, "/run/state", "mlx5_core numvfs=0 autoprobe=1"));
	ap = step_index(&p, BIND_STEP_SRIOV, "/0000:03:00.0/sriov_drivers_autoprobe", "0");
	nv = step_index(&p, BIND_STEP_SRIOV, "/0000:03:00.0/sriov_numvfs", "2");
	CHECK(ap != (size_t)-1 && nv != (size_t)-1 && ap < nv);
	CHECK(nv <
	      step_index(&p, BIND_STEP_WRITE, "/0000:03:00.2/driver_override", "mlx5_vfio_pci"));
	CHECK(nv < step_index(&p, BIND_STEP_RECORD, "/run/state", "-")); /* VFs once they exist */
	/* The PF keeps its driver. */
	CHECK(!has_step(&p, BIND_STEP_WRITE, "/drivers/mlx5_core/unbind", "0000:03:00.0"));
	CHECK(!has_step(&p, BIND_STEP_WRITE, "/0000:03:00.0/driver_override", "mlx5_vfio_pci"));
	bind_plan_free(&p);

	o.vfs = 8; /* sriov_totalvfs */
	REQUIRE(bind_plan_build(&p, BIND_OP_BIND, &s, &st, t, 1, &o, &e) == 0);
	CHECK_STR(p.t[8].dev->bdf, "0000:03:01.1");
	bind_plan_free(&p);
	o.vfs = 9;
	CHECK_EQ_I(bind_plan_build(&p, BIND_OP_BIND, &s, &st, t, 1, &o, &e), -ERANGE);
	CHECK_EQ_I(e.kind, ERR_INPUT);
	CHECK(strstr(e.msg, "sriov_totalvfs (8)") != NULL);
	bind_plan_free(&p);
	o.vfs = 1;
	t[0] = find_in(&l, "0000:00:06.0");
	CHECK_EQ_I(bind_plan_build(&p, BIND_OP_BIND, &s, &st, t, 1, &o, &e), -EINVAL);
	CHECK(strstr(e.msg, "not an SR-IOV physical function") != NULL);
	bind_plan_free(&p);

	/* 04:00.0 has 1 VF: the kernel refuses 1 -> 2 (EBUSY), so through 0; its VF is made anew.
	 */
	t[0] = find_in(&l, "0000:04:00.0");
	o.vfs = 2;
	o.driver = "vfio-pci";
	REQUIRE(bind_plan_build(&p, BIND_OP_BIND, &s, &st, t, 1, &o, &e) == 0);
	snprintf(rel, sizeof(rel), "/0000:04:00.0/sriov_numvfs");
	nv = step_index(&p, BIND_STEP_SRIOV, rel, "0");
	CHECK(nv != (size_t)-1 && nv < step_index(&p, BIND_STEP_SRIOV, rel, "2"));
	CHECK(has_step(&p, BIND_STEP_RECORD, "/run/state", "nvme numvfs=1 autoprobe=0"));
	CHECK(!p.t[1].noop); /* 04:00.1 is on vfio-pci now, but not once recreated */
	CHECK(has_step(&p, BIND_STEP_WRITE, "/0000:04:00.1/driver_override", "vfio-pci"));
	CHECK(!has_step(&p, BIND_STEP_SRIOV, "/0000:04:00.0/sriov_drivers_autoprobe", "0"));
	bind_plan_free(&p);
	pcidev_list_free(&l);
	remove_tree(dir);
}

/*
 * A failure midway rolls the PF back: in the snapshot no VF appears when sriov_numvfs is written,
 * so the first VF's driver_override write fails, and the PF's files must be as they were.
 */
TEST(vfs_rollback)
{
	char dir[64], path[160];
	uint64_t v;
	struct sysfs s;
	struct pcidev_list l;
	struct bind_opts o = { .timeout_ms = 100, .sigfd = -1, .vfs = 2, .driver = "vfio-pci" };
	struct bindstate st;
	struct pcidev *t[1];
	struct bind_plan p;
	struct err e = { 0 };

	REQUIRE(sriov_snapshot(dir, sizeof(dir), &s, &l) == 0);
	snprintf(path, sizeof(path), "%s/run", dir);
	REQUIRE(bindstate_open(&st, path, false, &e) == 0);
	t[0] = find_in(&l, "0000:03:00.0");
	REQUIRE(bind_plan_build(&p, BIND_OP_BIND, &s, &st, t, 1, &o, &e) == 0);
	CHECK_EQ_I(bind_plan_run(&p, &s, &st, &o, &e), -ENOENT);
	CHECK(strstr(e.msg, "0000:03:00.2/driver_override") != NULL);
	REQUIRE(sysfs_read_u64(&s, &v, "/sys/bus/pci/devices/0000:03:00.0/sriov_numvfs") == 0);
	CHECK_EQ_U(v, 0);
	REQUIRE(sysfs_read_u64(&s, &v,
			       "/sys/bus/pci/devices/0000:03:00.0/sriov_drivers_autoprobe") == 0);
	CHECK_EQ_U(v, 1);
	CHECK_EQ_U(st.n, 0); /* PF and VF records dropped */
	bind_plan_free(&p);
	bindstate_close(&st);
	pcidev_list_free(&l);
	remove_tree(dir);
}

/*
 * The uevents a wait reads sysfs again for (Linux: KOBJ_BIND/KOBJ_UNBIND of the device, since
 * 4.14; the vfio group's char device "add", named by the group number), and those it sleeps on.
 */
TEST(uevents_that_wake_a_wait)
{
	const char *bdf = "0000:00:04.0";

	CHECK(bind_uevent_matters("pci", "bind", bdf, bdf, 4));
	CHECK(bind_uevent_matters("pci", "unbind", bdf, bdf, 4));
	CHECK(bind_uevent_matters("vfio", "add", "4", bdf, 4));
	/* another device, another group, or an action that says nothing about the driver */
	CHECK(!bind_uevent_matters("pci", "bind", "0000:00:05.0", bdf, 4));
	CHECK(!bind_uevent_matters("vfio", "add", "14", bdf, 4));
	CHECK(!bind_uevent_matters("vfio", "add", "4", bdf, -1));
	CHECK(!bind_uevent_matters("pci", "change", bdf, bdf, 4));
	CHECK(!bind_uevent_matters("pci", "add", bdf, bdf, 4));
	CHECK(!bind_uevent_matters("vfio", "remove", "4", bdf, 4));
	CHECK(!bind_uevent_matters("vfio-dev", "add", "4", bdf, 4));
	CHECK(!bind_uevent_matters(NULL, "bind", bdf, bdf, 4));
	CHECK(!bind_uevent_matters("pci", NULL, bdf, bdf, 4));
	CHECK(!bind_uevent_matters("pci", "bind", NULL, bdf, 4));
}

int main(void)
{
	char cmd[128];

	if (setup()) {
		printf("not ok 1 setup: cannot build the snapshot tree\n");
		return 1;
	}
	RUN(scan_reads_the_snapshot);
	RUN(resolve_selectors);
	RUN(group_viability_and_expansion);
	RUN(group_members_from_each_devices_link);
	RUN(refresh_reads_the_snapshot_through_libpci);
	RUN(preflight);
	RUN(plan_bind_order);
	RUN(rollback_after_injected_fault);
	RUN(rollback_after_injected_hang);
	RUN(variant_driver_from_aliases);
	RUN(sriov_zeroed_and_restored);
	RUN(vfs_plan);
	RUN(vfs_rollback);
	RUN(uevents_that_wake_a_wait);
	pcidev_list_free(&devs);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
	if (system(cmd) != 0)
		return 1;
	return CHECK_MAIN_END();
}
