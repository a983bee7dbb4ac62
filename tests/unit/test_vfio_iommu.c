/* test_vfio_iommu.c: the IOMMU contract (vfio.h): one registry shared by every attached device,
 * the address space's life from first attach to last detach, the close order enforced. The
 * back-end is a fake ops table whose "kernel" keeps its own record of what it was asked to map:
 * the oracle the registry is compared with. */
#include "../../libcore/vfio_priv.h"
#include "check.h"

#define PG 4096ull

/* What the fake kernel holds: its address space and the mappings it was told about. */
static struct fake_kernel {
	bool exists;	      /* created by the first attach, destroyed by the last detach */
	unsigned created;     /* how many times */
	unsigned attached;    /* devices in it */
	unsigned late_unmaps; /* unmaps asked when no device held the address space */
	unsigned dropped;     /* mappings still there when the address space was destroyed */
	struct {
		uint64_t iova, size;
	} map[16];
	unsigned nmap;
	uint64_t last_of_device[8]; /* by group: the top of the valid range once it has attached */
	int fail_attach_group;	    /* attach of this group fails (0: none) */
} k;

static void fake_reset(void)
{
	memset(&k, 0, sizeof(k));
	for (unsigned i = 0; i < 8; i++)
		k.last_of_device[i] = UINT64_MAX;
}

static int fake_attach(struct vfio_iommu *io, struct vfio_dev *d, struct err *e)
{
	if (d->group == k.fail_attach_group)
		return err_set(e, EPERM, "group %d: refused", d->group);
	if (!io->ndevs) {
		CHECK(!k.exists);
		k.exists = true;
		k.created++;
	}
	k.attached++;
	d->device_fd = 100 + d->group;
	return 0;
}

static void fake_detach(struct vfio_iommu *io, struct vfio_dev *d)
{
	k.attached--;
	d->device_fd = -1;
	if (!io->ndevs) {
		k.exists = false;
		k.dropped += k.nmap; /* the kernel drops whatever is left with the address space */
		k.nmap = 0;
	}
}

/* The valid range narrows with each device attached (as reserved regions do). */
static int fake_info(struct vfio_iommu *io, struct vfio_iommu_info *info, struct err *e)
{
	uint64_t last = UINT64_MAX;

	(void)io;
	(void)e;
	memset(info, 0, sizeof(*info));
	for (unsigned i = 0; i < 8; i++)
		if (k.last_of_device[i] < last)
			last = k.last_of_device[i];
	info->backend = VFIO_BACKEND_CONTAINER;
	info->pgsizes = PG;
	info->ranges[0] = (struct dma_range){ dma_iova(0), dma_iova(last) };
	info->nranges = 1;
	return 0;
}

static int fake_map(struct vfio_iommu *io, iova_t iova, uint64_t size_bytes, void *hva,
		    struct err *e)
{
	(void)io;
	(void)hva;
	if (k.nmap == 16)
		return err_set(e, ENOSPC, "the fake holds 16 mappings");
	k.map[k.nmap].iova = iova.v;
	k.map[k.nmap].size = size_bytes;
	k.nmap++;
	return 0;
}

static int fake_unmap(struct vfio_iommu *io, iova_t iova, uint64_t size_bytes, struct err *e)
{
	(void)io;
	if (!k.exists || !k.attached) {
		k.late_unmaps++;
		return err_set(e, ENODEV, "no address space");
	}
	for (unsigned i = 0; i < k.nmap; i++)
		if (k.map[i].iova == iova.v && k.map[i].size == size_bytes) {
			k.map[i] = k.map[--k.nmap];
			return 0;
		}
	return err_set(e, ENOENT, "not mapped");
}

static const struct vfio_iommu_ops fake_ops = {
	.kind = VFIO_BACKEND_CONTAINER,
	.attach = fake_attach,
	.detach = fake_detach,
	.info = fake_info,
	.map = fake_map,
	.unmap = fake_unmap,
};

/* A device as vfio_dev_open has it after its sysfs checks: address, group, no descriptors. */
static void fake_dev(struct vfio_dev *d, unsigned fn, int group)
{
	memset(d, 0, sizeof(*d));
	d->addr = (struct pci_addr){ 0, 1, 0, fn };
	pci_addr_format(&d->addr, d->bdf);
	d->group = group;
	d->device_fd = d->group_fd = -1;
}

/* The registry and the fake kernel hold the same mappings. */
static bool registry_matches_kernel(const struct dma_map *dm)
{
	if (dm->n != k.nmap)
		return false;
	for (size_t i = 0; i < dm->n; i++) {
		bool found = false;

		for (unsigned j = 0; j < k.nmap; j++)
			found |= k.map[j].iova == dm->m[i].iova.v &&
				 k.map[j].size == dm->m[i].size_bytes;
		if (!found)
			return false;
	}
	return true;
}

static void *mem(void)
{
	static uint8_t page[4][PG] __attribute__((aligned(PG)));
	static unsigned next;

	return page[next++ % 4];
}

TEST(second_device_sees_the_first_ones_mappings)
{
	struct vfio_iommu *io;
	struct vfio_dev a, b;
	struct err e = { 0 };

	fake_reset();
	REQUIRE(vfio_iommu_open_ops(&io, &fake_ops, &e) == 0);
	fake_dev(&a, 0, 3);
	fake_dev(&b, 1, 4);
	REQUIRE(vfio_iommu_attach(io, &a, &e) == 0);
	CHECK_EQ_I(vfio_dma_map(io, dma_iova(0x10000), PG, mem(), DMA_BACKING_ANON, &e), 0);
	REQUIRE(vfio_iommu_attach(io, &b, &e) == 0);
	/* One address space, one registry: b attached to what a's mappings live in. */
	CHECK(vfio_dev_iommu(&a) == io && vfio_dev_iommu(&b) == io);
	CHECK_EQ_U(k.created, 1);
	CHECK_EQ_U(vfio_iommu_devices(io), 2);
	CHECK_EQ_U(vfio_dma_registry(vfio_dev_iommu(&b))->n, 1);
	CHECK(dma_map_find(vfio_dma_registry(vfio_dev_iommu(&b)), dma_iova(0x10000)) != NULL);
	/* A mapping made after b joined is made once, for both. */
	CHECK_EQ_I(vfio_dma_map(io, dma_iova(0x20000), PG, mem(), DMA_BACKING_ANON, &e), 0);
	CHECK_EQ_U(k.nmap, 2);
	CHECK(registry_matches_kernel(vfio_dma_registry(io)));
	CHECK_EQ_I(dma_map_check(vfio_dma_registry(io), &e), 0);
	vfio_iommu_detach(&b);
	vfio_iommu_detach(&a);
	CHECK_EQ_I(vfio_iommu_close(io), 0);
}

TEST(close_is_refused_while_devices_are_attached)
{
	struct vfio_iommu *io;
	struct vfio_dev a, b;
	struct err e = { 0 };

	fake_reset();
	REQUIRE(vfio_iommu_open_ops(&io, &fake_ops, &e) == 0);
	fake_dev(&a, 0, 3);
	fake_dev(&b, 1, 3); /* a second function of the same group */
	REQUIRE(vfio_iommu_attach(io, &a, &e) == 0);
	REQUIRE(vfio_iommu_attach(io, &b, &e) == 0);
	CHECK_EQ_I(vfio_dma_map(io, dma_iova(0x10000), PG, mem(), DMA_BACKING_ANON, &e), 0);
	REQUIRE(vfio_iommu_close(io) == -EBUSY);
	/* Refused means untouched: the IOMMU still maps (ASan would see a freed one). */
	CHECK_EQ_I(vfio_dma_map(io, dma_iova(0x20000), PG, mem(), DMA_BACKING_ANON, &e), 0);
	/* The first device to leave takes nothing with it. */
	vfio_iommu_detach(&a);
	CHECK(vfio_dev_iommu(&a) == NULL);
	CHECK_EQ_U(k.nmap, 2);
	CHECK_EQ_U(vfio_dma_registry(io)->n, 2);
	REQUIRE(vfio_iommu_close(io) == -EBUSY);
	/* The last one unmaps everything while it still holds the address space. */
	vfio_iommu_detach(&b);
	CHECK_EQ_U(k.late_unmaps, 0);
	CHECK_EQ_U(k.dropped, 0);
	CHECK(!k.exists);
	CHECK_EQ_U(vfio_dma_registry(io)->n, 0);
	CHECK_EQ_U(vfio_dma_registry(io)->total_bytes, 0);
	CHECK_EQ_I(vfio_iommu_close(io), 0);
	CHECK_EQ_I(vfio_iommu_close(NULL), 0);
}

TEST(nothing_maps_without_a_device)
{
	struct vfio_iommu *io;
	struct vfio_iommu_info info;
	struct vfio_dev a;
	struct err e = { 0 };

	fake_reset();
	REQUIRE(vfio_iommu_open_ops(&io, &fake_ops, &e) == 0);
	CHECK_EQ_I(vfio_dma_map(io, dma_iova(0x10000), PG, mem(), DMA_BACKING_ANON, &e), -ENODEV);
	CHECK_EQ_I(vfio_iommu_info(io, &info, &e), -ENODEV);
	CHECK_EQ_U(k.nmap, 0);
	/* A failed first attach leaves no address space and no device behind. */
	k.fail_attach_group = 7;
	fake_dev(&a, 0, 7);
	CHECK_EQ_I(vfio_iommu_attach(io, &a, &e), -EPERM);
	CHECK_EQ_U(vfio_iommu_devices(io), 0);
	CHECK(vfio_dev_iommu(&a) == NULL);
	CHECK_EQ_I(vfio_iommu_close(io), 0);
}

TEST(each_attach_narrows_the_valid_ranges)
{
	struct vfio_iommu *io;
	struct vfio_dev a, b, c;
	struct err e = { 0 };

	fake_reset();
	REQUIRE(vfio_iommu_open_ops(&io, &fake_ops, &e) == 0);
	fake_dev(&a, 0, 1);
	fake_dev(&b, 1, 2);
	fake_dev(&c, 2, 5);
	REQUIRE(vfio_iommu_attach(io, &a, &e) == 0);
	CHECK_EQ_I(vfio_dma_map(io, dma_iova(0x100000), PG, mem(), DMA_BACKING_ANON, &e), 0);
	/* b's group reserves everything from 1 MiB + 64 KiB up. */
	k.last_of_device[2] = 0x10ffff;
	REQUIRE(vfio_iommu_attach(io, &b, &e) == 0);
	CHECK_EQ_U(vfio_dma_registry(io)->ranges[0].last.v, 0x10ffff);
	CHECK_EQ_I(vfio_dma_map(io, dma_iova(0x200000), PG, mem(), DMA_BACKING_ANON, &e), -ERANGE);
	/* c's would exclude the mapping at 1 MiB: the attach is undone, the registry kept. */
	k.last_of_device[5] = 0xfffff;
	CHECK_EQ_I(vfio_iommu_attach(io, &c, &e), -EUCLEAN);
	CHECK_EQ_U(vfio_iommu_devices(io), 2);
	CHECK_EQ_U(k.attached, 2);
	CHECK_EQ_U(vfio_dma_registry(io)->ranges[0].last.v, 0x10ffff);
	CHECK(registry_matches_kernel(vfio_dma_registry(io)));
	vfio_iommu_detach(&a);
	vfio_iommu_detach(&b);
	CHECK_EQ_I(vfio_iommu_close(io), 0);
}

int main(void)
{
	RUN(second_device_sees_the_first_ones_mappings);
	RUN(close_is_refused_while_devices_are_attached);
	RUN(nothing_maps_without_a_device);
	RUN(each_attach_narrows_the_valid_ranges);
	return CHECK_MAIN_END();
}
