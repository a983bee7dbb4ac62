/* vfio.c: the IOMMU object (back-end choice, device count, DMA through its one registry) and
 * devices opened by PCI address and attached to it: regions and IRQs (what back-ends share). */
#include "pcidev.h"
#include "vfio_priv.h"

#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

const char *vfio_backend_name(enum vfio_backend b)
{
	switch (b) {
	case VFIO_BACKEND_AUTO:
		return "auto";
	case VFIO_BACKEND_CONTAINER:
		return "container";
	case VFIO_BACKEND_IOMMUFD:
		return "iommufd";
	}
	return "?";
}

int vfio_backend_parse(const char *s, enum vfio_backend *out)
{
	if (!strcmp(s, "auto"))
		*out = VFIO_BACKEND_AUTO;
	else if (!strcmp(s, "container"))
		*out = VFIO_BACKEND_CONTAINER;
	else if (!strcmp(s, "iommufd"))
		*out = VFIO_BACKEND_IOMMUFD;
	else
		return -EINVAL;
	return 0;
}

int vfio_resolve_device(const char *text, struct pci_addr *a, struct err *e)
{
	struct pcidev_list l;
	struct pci_sel sel;
	struct sysfs s;
	size_t idx, n = 0;
	int rc;

	rc = pci_sel_parse(text, &sel, e);
	if (rc)
		return rc;
	if (sel.kind == PCI_SEL_ID)
		return err_set(e, EINVAL, "%s: give a PCI address (e.g. 0000:01:00.0), not an ID",
			       text);
	sysfs_init(&s, "");
	rc = pcidev_scan(&s, &l, e);
	if (rc)
		return rc;
	rc = pcidev_resolve(&l, &sel, text, &idx, 1, &n, e);
	if (!rc)
		*a = l.dev[idx].addr;
	pcidev_list_free(&l);
	return rc;
}

/* Basename of a symlink's target, "" when the link does not exist. */
static void link_name(const char *path, char *buf, size_t len)
{
	char target[PATH_MAX];
	ssize_t n = readlink(path, target, sizeof(target) - 1);
	const char *slash;

	buf[0] = '\0';
	if (n <= 0)
		return;
	target[n] = '\0';
	slash = strrchr(target, '/');
	snprintf(buf, len, "%s", slash ? slash + 1 : target);
}

/* The vfioX name of the device's cdev, "" when the kernel has none. */
static void find_cdev(const char *bdf, char *buf, size_t len)
{
	char path[PATH_MAX];
	struct dirent *de;
	DIR *dir;

	buf[0] = '\0';
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/vfio-dev", bdf);
	dir = opendir(path);
	if (!dir)
		return;
	while ((de = readdir(dir)))
		if (!strncmp(de->d_name, "vfio", 4)) {
			snprintf(buf, len, "%s", de->d_name);
			break;
		}
	closedir(dir);
}

/* Checks that need only sysfs, so that the common mistakes get a precise message. */
static int check_device(struct vfio_dev *d, struct err *e)
{
	char path[PATH_MAX], drv[64], grp[32];
	struct stat st;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s", d->bdf);
	if (stat(path, &st))
		return err_set(e, ENODEV, "%s: no such PCI device", d->bdf);
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver", d->bdf);
	link_name(path, drv, sizeof(drv));
	if (!drv[0])
		return err_set(e, ENXIO,
			       "%s is not bound to any driver, and VFIO needs vfio-pci "
			       "(bind it: vfio-bind %s)",
			       d->bdf, d->bdf);
	if (strcmp(drv, "vfio-pci"))
		return err_set(e, ENXIO,
			       "%s is bound to %s, not vfio-pci (bind it: vfio-bind %s; "
			       "vfio-bind --restore %s gives it back)",
			       d->bdf, drv, d->bdf, d->bdf);
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/iommu_group", d->bdf);
	link_name(path, grp, sizeof(grp));
	if (!grp[0])
		return err_set(e, ENODEV, "%s has no IOMMU group (is the IOMMU on? intel_iommu=on)",
			       d->bdf);
	d->group = atoi(grp);
	find_cdev(d->bdf, d->cdev, sizeof(d->cdev));
	return 0;
}

const char *vfio_dev_bdf(const struct vfio_dev *d)
{
	return d->bdf;
}

int vfio_dev_group(const struct vfio_dev *d)
{
	return d->group;
}

struct vfio_iommu *vfio_dev_iommu(const struct vfio_dev *d)
{
	return d->iommu;
}

int vfio_dev_fd(const struct vfio_dev *d)
{
	return d->device_fd;
}

int vfio_dev_kvm_fd(const struct vfio_dev *d)
{
	return d->group_fd >= 0 ? d->group_fd : d->device_fd;
}

uint32_t vfio_num_regions(const struct vfio_dev *d)
{
	return d->info.num_regions;
}

uint32_t vfio_num_irqs(const struct vfio_dev *d)
{
	return d->info.num_irqs;
}

/* ---- the IOMMU ---------------------------------------------------------------------------- */

int vfio_iommu_open_ops(struct vfio_iommu **out, const struct vfio_iommu_ops *ops, struct err *e)
{
	struct vfio_iommu *io = calloc(1, sizeof(*io));

	*out = NULL;
	if (!io)
		return err_set(e, ENOMEM, "out of memory");
	io->asked = ops ? ops->kind : VFIO_BACKEND_AUTO;
	io->ops = ops;
	io->container_fd = io->iommufd = -1;
	dma_map_init(&io->dma, NULL, 0, 0, NULL); /* replaced when the first device attaches */
	*out = io;
	return 0;
}

int vfio_iommu_open(struct vfio_iommu **out, enum vfio_backend backend, struct err *e)
{
	switch (backend) {
	case VFIO_BACKEND_AUTO:
		return vfio_iommu_open_ops(out, NULL, e);
	case VFIO_BACKEND_CONTAINER:
		return vfio_iommu_open_ops(out, &vfio_container_ops, e);
	case VFIO_BACKEND_IOMMUFD:
		return vfio_iommu_open_ops(out, &vfio_iommufd_ops, e);
	}
	*out = NULL;
	return err_set(e, EINVAL, "unknown IOMMU back-end %d", (int)backend);
}

int vfio_iommu_close(struct vfio_iommu *io)
{
	if (!io)
		return 0;
	if (io->ndevs)
		return -EBUSY;
	dma_map_fini(&io->dma);
	free(io);
	return 0;
}

enum vfio_backend vfio_iommu_backend(const struct vfio_iommu *io)
{
	return io->ops ? io->ops->kind : io->asked;
}

unsigned vfio_iommu_devices(const struct vfio_iommu *io)
{
	return io->ndevs;
}

/*
 * Fit the registry to what the kernel reports after an attach: a fresh registry for the first
 * device; for the next ones, the ranges narrowed by their groups' reserved regions (the kernel
 * refuses an attach that conflicts with a mapping, and dma_map_check confirms it).
 */
static int registry_fit(struct vfio_iommu *io, struct err *e)
{
	struct vfio_iommu_info info;
	struct dma_map fresh;
	int rc = io->ops->info(io, &info, e);

	if (rc)
		return rc;
	rc = dma_map_init(&fresh, info.ranges, info.nranges, info.pgsizes, e);
	if (rc)
		return rc;
	if (info.have_dma_avail)
		fresh.max_count = info.dma_avail + io->dma.n;
	if (!io->ndevs) {
		dma_map_fini(&io->dma);
		io->dma = fresh;
		return 0;
	}
	fresh.m = io->dma.m;
	fresh.n = io->dma.n;
	fresh.cap = io->dma.cap;
	fresh.total_bytes = io->dma.total_bytes;
	rc = dma_map_check(&fresh, e);
	if (rc) {
		err_prefix(e, "the IOMMU's new ranges exclude a mapping");
		return rc;
	}
	io->dma = fresh;
	return 0;
}

int vfio_iommu_attach(struct vfio_iommu *io, struct vfio_dev *d, struct err *e)
{
	int rc;

	if (!io->ops)
		io->ops = (!access("/dev/iommu", F_OK) && d->cdev[0]) ? &vfio_iommufd_ops
								      : &vfio_container_ops;
	rc = io->ops->attach(io, d, e);
	if (!rc) {
		rc = registry_fit(io, e);
		if (rc)
			io->ops->detach(io, d);
	}
	if (rc) {
		if (!io->ndevs && io->asked == VFIO_BACKEND_AUTO)
			io->ops = NULL; /* the next first device chooses again */
		return rc;
	}
	d->iommu = io;
	io->ndevs++;
	return 0;
}

void vfio_iommu_detach(struct vfio_dev *d)
{
	struct vfio_iommu *io = d->iommu;

	if (!io)
		return;
	/* The last device unmaps while the address space still exists. */
	while (io->ndevs == 1 && io->dma.n) {
		struct dma_mapping m = io->dma.m[io->dma.n - 1];

		if (vfio_dma_unmap(io, m.iova, m.size_bytes, NULL))
			break; /* destroying the address space below unmaps the rest */
	}
	io->ndevs--;
	io->ops->detach(io, d);
	if (!io->ndevs)
		dma_map_fini(&io->dma);
	d->iommu = NULL;
}

int vfio_iommu_info(struct vfio_iommu *io, struct vfio_iommu_info *info, struct err *e)
{
	if (!io->ndevs)
		return err_set(e, ENODEV, "the IOMMU has no device attached yet");
	return io->ops->info(io, info, e);
}

const struct dma_map *vfio_dma_registry(const struct vfio_iommu *io)
{
	return &io->dma;
}

int vfio_dma_map(struct vfio_iommu *io, iova_t iova, uint64_t size_bytes, void *hva,
		 enum dma_backing backing, struct err *e)
{
	int rc;

	if (!io->ndevs)
		return err_set(e, ENODEV, "the IOMMU has no device attached: nothing to map for");
	rc = dma_map_check_add(&io->dma, iova, size_bytes, hva, e);
	if (rc)
		return rc;
	rc = io->ops->map(io, iova, size_bytes, hva, e);
	if (rc)
		return rc;
	rc = dma_map_add(&io->dma, iova, size_bytes, hva, backing, e);
	if (rc)
		io->ops->unmap(io, iova, size_bytes, NULL);
	return rc;
}

int vfio_dma_unmap(struct vfio_iommu *io, iova_t iova, uint64_t size_bytes, struct err *e)
{
	const struct dma_mapping *m = dma_map_find(&io->dma, iova);
	int rc;

	if (!m || m->iova.v != iova.v || m->size_bytes != size_bytes)
		return dma_map_remove(&io->dma, iova, size_bytes, NULL, e); /* the exact message */
	rc = io->ops->unmap(io, iova, size_bytes, e);
	if (rc)
		return rc;
	return dma_map_remove(&io->dma, iova, size_bytes, NULL, e);
}

/* ---- devices ------------------------------------------------------------------------------ */

int vfio_dev_open(struct vfio_dev **out, const struct pci_addr *a, struct vfio_iommu *iommu,
		  struct err *e)
{
	struct vfio_dev *d = calloc(1, sizeof(*d));
	int rc;

	*out = NULL;
	if (!d)
		return err_set(e, ENOMEM, "out of memory");
	d->addr = *a;
	pci_addr_format(a, d->bdf);
	d->device_fd = d->group_fd = -1;
	rc = check_device(d, e);
	if (!rc)
		rc = vfio_iommu_attach(iommu, d, e);
	if (rc) {
		free(d);
		return rc;
	}
	d->info.argsz = sizeof(d->info);
	if (ioctl(d->device_fd, VFIO_DEVICE_GET_INFO, &d->info)) {
		rc = err_set(e, errno, "%s: VFIO_DEVICE_GET_INFO: %s", d->bdf, strerror(errno));
		vfio_iommu_detach(d);
		free(d);
		return rc;
	}
	*out = d;
	return 0;
}

void vfio_dev_close(struct vfio_dev *d)
{
	if (!d)
		return;
	for (uint32_t i = 0; i < 32; i++)
		if (d->irq_enabled & (1u << i))
			vfio_irq_disable(d, i, NULL);
	vfio_iommu_detach(d);
	free(d);
}

int vfio_reserved_regions(int group, struct vfio_resv_region *out, size_t cap, size_t *n,
			  struct err *e)
{
	char path[PATH_MAX], line[256];
	FILE *f;

	*n = 0;
	snprintf(path, sizeof(path), "/sys/kernel/iommu_groups/%d/reserved_regions", group);
	f = fopen(path, "re");
	if (!f)
		return err_set(e, errno, "%s: %s", path, strerror(errno));
	while (fgets(line, sizeof(line), f) && *n < cap) {
		struct vfio_resv_region *r = &out[*n];
		char type[24];

		if (sscanf(line, "%" SCNx64 " %" SCNx64 " %23s", &r->start.v, &r->last.v, type) ==
		    3) {
			snprintf(r->type, sizeof(r->type), "%s", type);
			(*n)++;
		}
	}
	fclose(f);
	return 0;
}

const char *vfio_region_name(uint32_t index)
{
	static const char *names[] = { "bar0", "bar1", "bar2",	 "bar3", "bar4",
				       "bar5", "rom",  "config", "vga" };

	return index < sizeof(names) / sizeof(names[0]) ? names[index] : "other";
}

int vfio_region_info(struct vfio_dev *d, uint32_t index, struct vfio_region *r, struct err *e)
{
	struct vfio_region_info *ri;
	size_t argsz = sizeof(*ri);

	if (index >= d->info.num_regions)
		return err_set(e, EINVAL, "%s: region %u: the device has %u regions", d->bdf, index,
			       d->info.num_regions);
	if (index < 16 && (d->reg_known & (1u << index))) {
		*r = d->reg[index];
		return 0;
	}
	for (;;) {
		ri = calloc(1, argsz);
		if (!ri)
			return err_set(e, ENOMEM, "out of memory");
		ri->argsz = (uint32_t)argsz;
		ri->index = index;
		if (ioctl(d->device_fd, VFIO_DEVICE_GET_REGION_INFO, ri)) {
			int rc = err_set(e, errno, "%s: region %u info: %s", d->bdf, index,
					 strerror(errno));

			free(ri);
			return rc;
		}
		if (ri->argsz <= argsz)
			break;
		argsz = ri->argsz;
		free(ri);
	}
	memset(r, 0, sizeof(*r));
	r->index = index;
	r->flags = ri->flags;
	r->size_bytes = ri->size;
	r->offset = ri->offset;
	if ((ri->flags & VFIO_REGION_INFO_FLAG_CAPS) && ri->cap_offset) {
		uint32_t off = ri->cap_offset;

		while (off && off + sizeof(struct vfio_info_cap_header) <= ri->argsz) {
			struct vfio_info_cap_header *h = (void *)((char *)ri + off);

			if (h->id == VFIO_REGION_INFO_CAP_SPARSE_MMAP)
				r->nsparse =
					((struct vfio_region_info_cap_sparse_mmap *)h)->nr_areas;
			off = h->next;
		}
	}
	free(ri);
	if (index < 16) {
		d->reg[index] = *r;
		d->reg_known |= 1u << index;
	}
	return 0;
}

static int region_rw(struct vfio_dev *d, uint32_t index, uint64_t off, void *buf, size_t len,
		     bool write, struct err *e)
{
	struct vfio_region r;
	ssize_t n;
	int rc = vfio_region_info(d, index, &r, e);

	if (rc)
		return rc;
	if (off > r.size_bytes || len > r.size_bytes - off)
		return err_set(e, EINVAL,
			       "%s: %s+0x%" PRIx64 ": outside the 0x%" PRIx64 "-byte region",
			       d->bdf, vfio_region_name(index), off, r.size_bytes);
	n = write ? pwrite(d->device_fd, buf, len, (off_t)(r.offset + off))
		  : pread(d->device_fd, buf, len, (off_t)(r.offset + off));
	if (n != (ssize_t)len)
		return err_set(e, n < 0 ? errno : EIO, "%s: %s %s+0x%" PRIx64 ": %s", d->bdf,
			       write ? "write" : "read", vfio_region_name(index), off,
			       n < 0 ? strerror(errno) : "short transfer");
	return 0;
}

int vfio_region_read(struct vfio_dev *d, uint32_t index, uint64_t off, void *buf, size_t len,
		     struct err *e)
{
	return region_rw(d, index, off, buf, len, false, e);
}

int vfio_region_write(struct vfio_dev *d, uint32_t index, uint64_t off, const void *buf, size_t len,
		      struct err *e)
{
	return region_rw(d, index, off, (void *)buf, len, true, e);
}

int vfio_bar_read32(struct vfio_dev *d, uint32_t bar, uint64_t off, uint32_t *v, struct err *e)
{
	return region_rw(d, bar, off, v, 4, false, e);
}

int vfio_bar_write32(struct vfio_dev *d, uint32_t bar, uint64_t off, uint32_t v, struct err *e)
{
	return region_rw(d, bar, off, &v, 4, true, e);
}

int vfio_bar_write64(struct vfio_dev *d, uint32_t bar, uint64_t off, uint64_t v, struct err *e)
{
	return region_rw(d, bar, off, &v, 8, true, e);
}

int vfio_config_command_set(struct vfio_dev *d, uint16_t bits, struct err *e)
{
	uint16_t cmd;
	int rc = region_rw(d, VFIO_PCI_CONFIG_REGION_INDEX, 4, &cmd, 2, false, e);

	if (rc)
		return rc;
	cmd |= bits;
	return region_rw(d, VFIO_PCI_CONFIG_REGION_INDEX, 4, &cmd, 2, true, e);
}

const char *vfio_irq_name(uint32_t index)
{
	static const char *names[] = { "intx", "msi", "msix", "err", "req" };

	return index < sizeof(names) / sizeof(names[0]) ? names[index] : "other";
}

int vfio_irq_info(struct vfio_dev *d, uint32_t index, struct vfio_irq *irq, struct err *e)
{
	struct vfio_irq_info ii = { .argsz = sizeof(ii), .index = index };

	if (index >= d->info.num_irqs)
		return err_set(e, EINVAL, "%s: IRQ index %u: the device has %u", d->bdf, index,
			       d->info.num_irqs);
	if (ioctl(d->device_fd, VFIO_DEVICE_GET_IRQ_INFO, &ii))
		return err_set(e, errno, "%s: %s IRQ info: %s", d->bdf, vfio_irq_name(index),
			       strerror(errno));
	irq->index = index;
	irq->flags = ii.flags;
	irq->count = ii.count;
	return 0;
}

static int set_irqs(struct vfio_dev *d, uint32_t flags, uint32_t index, uint32_t start,
		    uint32_t count, const int *fds, struct err *e)
{
	size_t datalen = fds ? count * sizeof(int) : 0;
	struct vfio_irq_set *s = calloc(1, sizeof(*s) + datalen);
	int rc = 0;

	if (!s)
		return err_set(e, ENOMEM, "out of memory");
	s->argsz = (uint32_t)(sizeof(*s) + datalen);
	s->flags = flags;
	s->index = index;
	s->start = start;
	s->count = count;
	if (datalen)
		memcpy(s->data, fds, datalen);
	if (ioctl(d->device_fd, VFIO_DEVICE_SET_IRQS, s))
		rc = err_set(e, errno, "%s: %s vectors %u..%u: VFIO_DEVICE_SET_IRQS: %s", d->bdf,
			     vfio_irq_name(index), start, start + (count ? count - 1 : 0),
			     strerror(errno));
	free(s);
	return rc;
}

int vfio_irq_enable(struct vfio_dev *d, uint32_t index, uint32_t start, uint32_t count,
		    const int *fds, struct err *e)
{
	int rc = set_irqs(d, VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER, index, start,
			  count, fds, e);

	if (!rc && index < 32)
		d->irq_enabled |= 1u << index;
	return rc;
}

int vfio_irq_unmask_fd(struct vfio_dev *d, uint32_t index, int fd, struct err *e)
{
	return set_irqs(d, VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_UNMASK, index, 0, 1, &fd,
			e);
}

int vfio_irq_trigger(struct vfio_dev *d, uint32_t index, uint32_t vector, struct err *e)
{
	return set_irqs(d, VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER, index, vector, 1,
			NULL, e);
}

int vfio_irq_disable(struct vfio_dev *d, uint32_t index, struct err *e)
{
	int rc = set_irqs(d, VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER, index, 0, 0,
			  NULL, e);

	if (!rc && index < 32)
		d->irq_enabled &= ~(1u << index);
	return rc;
}

bool vfio_dev_has_reset(const struct vfio_dev *d)
{
	return d->info.flags & VFIO_DEVICE_FLAGS_RESET;
}

int vfio_dev_reset(struct vfio_dev *d, struct err *e)
{
	if (!(d->info.flags & VFIO_DEVICE_FLAGS_RESET))
		return err_set(e, ENOTSUP, "%s: the device offers no reset", d->bdf);
	if (ioctl(d->device_fd, VFIO_DEVICE_RESET))
		return err_set(e, errno, "%s: VFIO_DEVICE_RESET: %s", d->bdf, strerror(errno));
	return 0;
}

const unsigned long vfio_run_ioctls[VFIO_RUN_IOCTLS] = {
	VFIO_DEVICE_SET_IRQS,	    VFIO_DEVICE_RESET,	VFIO_IOMMU_MAP_DMA,
	VFIO_IOMMU_UNMAP_DMA,	    LAB_IOMMU_IOAS_MAP, LAB_IOMMU_IOAS_UNMAP,
	VFIO_GROUP_UNSET_CONTAINER, LAB_IOMMU_DESTROY,
};
