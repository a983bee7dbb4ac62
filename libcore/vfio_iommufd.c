/* vfio_iommufd.c: the iommufd back-end: one /dev/iommu IOAS per IOMMU, each device's cdev
 * /dev/vfio/devices/vfioX bound to it and attached.
 * Written against the uAPI (see vfio_priv.h); untested in the lab, whose kernels lack IOMMUFD. */
#include "vfio_priv.h"

#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

/* The iommufd and its IOAS, created with the first device. */
static int ioas_create(struct vfio_iommu *io, struct err *e)
{
	struct lab_iommu_ioas_alloc alloc = { .size = sizeof(alloc) };
	int rc;

	io->iommufd = open("/dev/iommu", O_RDWR | O_CLOEXEC);
	if (io->iommufd < 0)
		return err_set(e, errno, "/dev/iommu: %s%s", strerror(errno),
			       errno == ENOENT
				       ? " (the kernel lacks IOMMUFD; use --backend container)"
				       : "");
	if (ioctl(io->iommufd, LAB_IOMMU_IOAS_ALLOC, &alloc)) {
		rc = err_set(e, errno, "IOMMU_IOAS_ALLOC: %s", strerror(errno));
		close(io->iommufd);
		io->iommufd = -1;
		return rc;
	}
	io->ioas_id = alloc.out_ioas_id;
	return 0;
}

/* The last device has left: destroying the IOAS drops its mappings. */
static void ioas_destroy(struct vfio_iommu *io)
{
	if (io->iommufd >= 0) {
		if (io->ioas_id) {
			struct lab_iommu_destroy des = { .size = sizeof(des), .id = io->ioas_id };

			ioctl(io->iommufd, LAB_IOMMU_DESTROY, &des);
		}
		close(io->iommufd);
	}
	io->iommufd = -1;
	io->ioas_id = 0;
}

static void iommufd_detach(struct vfio_iommu *io, struct vfio_dev *d)
{
	if (d->device_fd >= 0)
		close(d->device_fd); /* unbinds the device and detaches it from the IOAS */
	d->device_fd = -1;
	if (!io->ndevs)
		ioas_destroy(io);
}

static int iommufd_attach(struct vfio_iommu *io, struct vfio_dev *d, struct err *e)
{
	struct lab_vfio_device_bind_iommufd bind = { .argsz = sizeof(bind) };
	struct lab_vfio_device_attach_iommufd_pt at = { .argsz = sizeof(at) };
	char node[64];
	int rc;

	if (!d->cdev[0])
		return err_set(e, ENOTSUP,
			       "%s has no VFIO device cdev (/sys/bus/pci/devices/%s/vfio-dev): "
			       "the kernel lacks CONFIG_VFIO_DEVICE_CDEV; use --backend container",
			       d->bdf, d->bdf);
	if (io->iommufd < 0 && (rc = ioas_create(io, e)))
		return rc;
	snprintf(node, sizeof(node), "/dev/vfio/devices/%s", d->cdev);
	d->device_fd = open(node, O_RDWR | O_CLOEXEC);
	if (d->device_fd < 0) {
		rc = err_set(e, errno == EPERM ? EACCES : errno, "%s: %s", node, strerror(errno));
		goto fail;
	}
	bind.iommufd = io->iommufd;
	if (ioctl(d->device_fd, LAB_VFIO_DEVICE_BIND_IOMMUFD, &bind)) {
		rc = err_set(e, errno, "%s: VFIO_DEVICE_BIND_IOMMUFD: %s", node, strerror(errno));
		goto fail;
	}
	d->devid = bind.out_devid;
	at.pt_id = io->ioas_id;
	if (ioctl(d->device_fd, LAB_VFIO_DEVICE_ATTACH_IOMMUFD_PT, &at)) {
		rc = err_set(e, errno, "%s: VFIO_DEVICE_ATTACH_IOMMUFD_PT: %s", node,
			     strerror(errno));
		goto fail;
	}
	return 0;
fail:
	iommufd_detach(io, d);
	return rc;
}

static int iommufd_info(struct vfio_iommu *io, struct vfio_iommu_info *info, struct err *e)
{
	struct lab_iommu_iova_range r[DMA_MAX_RANGES];
	struct lab_iommu_ioas_iova_ranges q = {
		.size = sizeof(q),
		.ioas_id = io->ioas_id,
		.num_iovas = DMA_MAX_RANGES,
		.allowed_iovas = (uintptr_t)r,
	};

	memset(info, 0, sizeof(*info));
	info->backend = VFIO_BACKEND_IOMMUFD;
	if (ioctl(io->iommufd, LAB_IOMMU_IOAS_IOVA_RANGES, &q))
		return err_set(e, errno, "IOMMU_IOAS_IOVA_RANGES: %s%s", strerror(errno),
			       errno == EMSGSIZE ? " (more ranges than this tool handles)" : "");
	for (uint32_t i = 0; i < q.num_iovas && i < DMA_MAX_RANGES; i++) {
		info->ranges[i].start = dma_iova(r[i].start);
		info->ranges[i].last = dma_iova(r[i].last);
		info->nranges++;
	}
	info->pgsizes = q.out_iova_alignment > 1 ? q.out_iova_alignment : 4096;
	return 0;
}

static int iommufd_map(struct vfio_iommu *io, iova_t iova, uint64_t size_bytes, void *hva,
		       struct err *e)
{
	struct lab_iommu_ioas_map m = {
		.size = sizeof(m),
		.flags = LAB_IOMMU_IOAS_MAP_FIXED_IOVA | LAB_IOMMU_IOAS_MAP_READABLE |
			 LAB_IOMMU_IOAS_MAP_WRITEABLE,
		.ioas_id = io->ioas_id,
		.user_va = (uintptr_t)hva,
		.length = size_bytes,
		.iova = iova.v,
	};

	if (ioctl(io->iommufd, LAB_IOMMU_IOAS_MAP, &m))
		return err_set(e, errno, "IOMMU_IOAS_MAP 0x%" PRIx64 "+0x%" PRIx64 ": %s%s", iova.v,
			       size_bytes, strerror(errno),
			       errno == ENOMEM ? " (is RLIMIT_MEMLOCK big enough? ulimit -l)" : "");
	return 0;
}

static int iommufd_unmap(struct vfio_iommu *io, iova_t iova, uint64_t size_bytes, struct err *e)
{
	struct lab_iommu_ioas_unmap u = {
		.size = sizeof(u),
		.ioas_id = io->ioas_id,
		.iova = iova.v,
		.length = size_bytes,
	};

	if (ioctl(io->iommufd, LAB_IOMMU_IOAS_UNMAP, &u))
		return err_set(e, errno, "IOMMU_IOAS_UNMAP 0x%" PRIx64 "+0x%" PRIx64 ": %s", iova.v,
			       size_bytes, strerror(errno));
	return 0;
}

const struct vfio_iommu_ops vfio_iommufd_ops = {
	.kind = VFIO_BACKEND_IOMMUFD,
	.attach = iommufd_attach,
	.detach = iommufd_detach,
	.info = iommufd_info,
	.map = iommufd_map,
	.unmap = iommufd_unmap,
};
