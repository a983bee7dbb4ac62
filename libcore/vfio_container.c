/* vfio_container.c: the legacy back-end: one /dev/vfio/vfio container (type1v2) per IOMMU, the
 * /dev/vfio/N groups of its devices in it, each opened once however many of its devices attach. */
#include "vfio_priv.h"

#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

/* "0000:01:00.1 (e1000e)" for every member of the group not on vfio-pci or driverless. */
static void blockers(int group, char *buf, size_t len)
{
	char path[PATH_MAX], target[PATH_MAX];
	struct dirent *de;
	size_t off = 0;
	DIR *dir;

	buf[0] = '\0';
	snprintf(path, sizeof(path), "/sys/kernel/iommu_groups/%d/devices", group);
	dir = opendir(path);
	if (!dir)
		return;
	while ((de = readdir(dir)) && off < len) {
		ssize_t n;
		const char *drv;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/sys/kernel/iommu_groups/%d/devices/%s/driver", group,
			 de->d_name);
		n = readlink(path, target, sizeof(target) - 1);
		if (n <= 0)
			continue;
		target[n] = '\0';
		drv = strrchr(target, '/') ? strrchr(target, '/') + 1 : target;
		if (!strcmp(drv, "vfio-pci") || !strcmp(drv, "pcieport"))
			continue;
		off += (size_t)snprintf(buf + off, len - off, "%s%s (%s)", off ? ", " : "",
					de->d_name, drv);
	}
	closedir(dir);
}

static struct vfio_group_ref *group_find(struct vfio_iommu *io, int group)
{
	for (unsigned i = 0; i < io->ngroups; i++)
		if (io->group[i].group == group)
			return &io->group[i];
	return NULL;
}

/* The container, created with the first device: API version and type1v2 checked. */
static int container_create(struct vfio_iommu *io, struct err *e)
{
	int rc;

	io->container_fd = open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC);
	if (io->container_fd < 0)
		return err_set(e, errno, "/dev/vfio/vfio: %s%s", strerror(errno),
			       errno == ENOENT
				       ? " (the vfio modules are not loaded: vfio-bind loads them)"
				       : "");
	if (ioctl(io->container_fd, VFIO_GET_API_VERSION) != VFIO_API_VERSION)
		rc = err_set(e, ENOTSUP, "/dev/vfio/vfio: unknown VFIO API version");
	else if (ioctl(io->container_fd, VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU) != 1)
		rc = err_set(e, ENOTSUP, "/dev/vfio/vfio: the type1v2 IOMMU is not supported");
	else
		return 0;
	close(io->container_fd);
	io->container_fd = -1;
	return rc;
}

/* The last group has left: the kernel has released the IOMMU and its mappings with it. */
static void container_destroy(struct vfio_iommu *io)
{
	if (io->container_fd >= 0)
		close(io->container_fd);
	io->container_fd = -1;
	io->type_set = false;
}

static void group_close(struct vfio_iommu *io, struct vfio_group_ref *g)
{
	ioctl(g->fd, VFIO_GROUP_UNSET_CONTAINER);
	close(g->fd);
	*g = io->group[--io->ngroups];
}

static int group_open_error(const char *node, const struct vfio_dev *d, struct err *e)
{
	if (errno == EACCES || errno == EPERM)
		return err_set(e, EACCES,
			       "%s: no permission (run as root, or give the group to your "
			       "user: vfio-bind --user USER %s)",
			       node, d->bdf);
	if (errno == EBUSY)
		return err_set(e, EBUSY, "%s: the group is already open in another process", node);
	return err_set(e, errno, "%s: %s", node, strerror(errno));
}

/* Open the device's group, check that it is viable and put it in the container. */
static int group_join(struct vfio_iommu *io, struct vfio_dev *d, struct vfio_group_ref **out,
		      struct err *e)
{
	struct vfio_group_status status = { .argsz = sizeof(status) };
	struct vfio_group_ref *g;
	char node[32], why[512];
	int rc;

	if (io->ngroups == VFIO_IOMMU_MAX_GROUPS)
		return err_set(e, ENOSPC, "%s: at most %d IOMMU groups share a container", d->bdf,
			       VFIO_IOMMU_MAX_GROUPS);
	snprintf(node, sizeof(node), "/dev/vfio/%d", d->group);
	g = &io->group[io->ngroups];
	g->group = d->group;
	g->users = 0;
	g->fd = open(node, O_RDWR | O_CLOEXEC);
	if (g->fd < 0)
		return group_open_error(node, d, e);
	if (ioctl(g->fd, VFIO_GROUP_GET_STATUS, &status)) {
		rc = err_set(e, errno, "%s: VFIO_GROUP_GET_STATUS: %s", node, strerror(errno));
		goto fail;
	}
	if (!(status.flags & VFIO_GROUP_FLAGS_VIABLE)) {
		blockers(d->group, why, sizeof(why));
		rc = err_set(e, EBUSY,
			     "IOMMU group %d is not viable: %s still on another driver "
			     "(bind the whole group: vfio-bind --group %s)",
			     d->group, why[0] ? why : "a member is", d->bdf);
		goto fail;
	}
	if (ioctl(g->fd, VFIO_GROUP_SET_CONTAINER, &io->container_fd)) {
		rc = err_set(e, errno, "%s: VFIO_GROUP_SET_CONTAINER: %s", node, strerror(errno));
		goto fail;
	}
	io->ngroups++;
	/* The IOMMU type is set once, with the first group in the container. */
	if (!io->type_set && ioctl(io->container_fd, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU)) {
		rc = err_set(e, errno, "VFIO_SET_IOMMU(type1v2): %s", strerror(errno));
		group_close(io, g);
		return rc;
	}
	io->type_set = true;
	*out = g;
	return 0;
fail:
	close(g->fd);
	return rc;
}

static void container_detach(struct vfio_iommu *io, struct vfio_dev *d)
{
	struct vfio_group_ref *g = group_find(io, d->group);

	if (d->device_fd >= 0)
		close(d->device_fd);
	if (g && --g->users == 0)
		group_close(io, g);
	d->device_fd = d->group_fd = -1;
	if (!io->ngroups)
		container_destroy(io);
}

static int container_attach(struct vfio_iommu *io, struct vfio_dev *d, struct err *e)
{
	struct vfio_group_ref *g;
	int rc = 0;

	if (io->container_fd < 0 && (rc = container_create(io, e)))
		return rc;
	/* A second function of a group already here shares the group's descriptor. */
	g = group_find(io, d->group);
	if (!g && (rc = group_join(io, d, &g, e)))
		goto fail;
	d->device_fd = ioctl(g->fd, VFIO_GROUP_GET_DEVICE_FD, d->bdf);
	if (d->device_fd < 0) {
		rc = err_set(e, errno, "%s: VFIO_GROUP_GET_DEVICE_FD: %s", d->bdf, strerror(errno));
		if (!g->users)
			group_close(io, g);
		goto fail;
	}
	g->users++;
	d->group_fd = g->fd;
	return 0;
fail:
	if (!io->ngroups)
		container_destroy(io);
	return rc;
}

static int container_info(struct vfio_iommu *io, struct vfio_iommu_info *info, struct err *e)
{
	struct vfio_iommu_type1_info *ti;
	size_t argsz = sizeof(*ti);

	memset(info, 0, sizeof(*info));
	info->backend = VFIO_BACKEND_CONTAINER;
	for (;;) {
		ti = calloc(1, argsz);
		if (!ti)
			return err_set(e, ENOMEM, "out of memory");
		ti->argsz = (uint32_t)argsz;
		if (ioctl(io->container_fd, VFIO_IOMMU_GET_INFO, ti)) {
			int rc = err_set(e, errno, "VFIO_IOMMU_GET_INFO: %s", strerror(errno));

			free(ti);
			return rc;
		}
		if (ti->argsz <= argsz)
			break;
		argsz = ti->argsz; /* the capability chain needs more room: ask again */
		free(ti);
	}
	info->pgsizes = (ti->flags & VFIO_IOMMU_INFO_PGSIZES) ? ti->iova_pgsizes : 4096;
	if ((ti->flags & VFIO_IOMMU_INFO_CAPS) && ti->cap_offset) {
		uint32_t off = ti->cap_offset;

		while (off && off + sizeof(struct vfio_info_cap_header) <= argsz) {
			struct vfio_info_cap_header *h = (void *)((char *)ti + off);

			if (h->id == VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE) {
				struct vfio_iommu_type1_info_cap_iova_range *r = (void *)h;

				for (uint32_t i = 0; i < r->nr_iovas && i < DMA_MAX_RANGES; i++) {
					info->ranges[i].start = dma_iova(r->iova_ranges[i].start);
					info->ranges[i].last = dma_iova(r->iova_ranges[i].end);
					info->nranges++;
				}
			} else if (h->id == VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL) {
				info->have_dma_avail = true;
				info->dma_avail =
					((struct vfio_iommu_type1_info_dma_avail *)h)->avail;
			}
			off = h->next;
		}
	}
	free(ti);
	return 0;
}

static int container_map(struct vfio_iommu *io, iova_t iova, uint64_t size_bytes, void *hva,
			 struct err *e)
{
	struct vfio_iommu_type1_dma_map m = {
		.argsz = sizeof(m),
		.flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
		.vaddr = (uintptr_t)hva,
		.iova = iova.v,
		.size = size_bytes,
	};

	if (ioctl(io->container_fd, VFIO_IOMMU_MAP_DMA, &m))
		return err_set(e, errno, "VFIO_IOMMU_MAP_DMA 0x%" PRIx64 "+0x%" PRIx64 ": %s%s",
			       iova.v, size_bytes, strerror(errno),
			       errno == ENOMEM ? " (is RLIMIT_MEMLOCK big enough? ulimit -l)" : "");
	return 0;
}

static int container_unmap(struct vfio_iommu *io, iova_t iova, uint64_t size_bytes, struct err *e)
{
	struct vfio_iommu_type1_dma_unmap u = {
		.argsz = sizeof(u),
		.iova = iova.v,
		.size = size_bytes,
	};

	if (ioctl(io->container_fd, VFIO_IOMMU_UNMAP_DMA, &u))
		return err_set(e, errno, "VFIO_IOMMU_UNMAP_DMA 0x%" PRIx64 "+0x%" PRIx64 ": %s",
			       iova.v, size_bytes, strerror(errno));
	if (u.size != size_bytes)
		return err_set(e, EIO,
			       "VFIO_IOMMU_UNMAP_DMA 0x%" PRIx64 ": unmapped 0x%llx of 0x%" PRIx64,
			       iova.v, (unsigned long long)u.size, size_bytes);
	return 0;
}

const struct vfio_iommu_ops vfio_container_ops = {
	.kind = VFIO_BACKEND_CONTAINER,
	.attach = container_attach,
	.detach = container_detach,
	.info = container_info,
	.map = container_map,
	.unmap = container_unmap,
};
