/* vfio_priv.h: the IOMMU and device structures and the back-end ops table, shared by the VFIO
 * core (vfio.c) and its two back-ends (vfio_container.c, vfio_iommufd.c); the iommufd uAPI. */
#ifndef CORE_VFIO_PRIV_H
#define CORE_VFIO_PRIV_H

#include <linux/ioctl.h>
#include <linux/types.h>
#include <linux/vfio.h>

#include "vfio.h"

#define VFIO_IOMMU_MAX_GROUPS 16

/* An IOMMU group in a container: opened by its first device, closed with its last. */
struct vfio_group_ref {
	int group;
	int fd;
	unsigned users;
};

struct vfio_iommu {
	enum vfio_backend asked;
	const struct vfio_iommu_ops *ops; /* NULL until the first device resolves AUTO */
	unsigned ndevs;
	struct dma_map dma; /* the one registry; empty while ndevs is 0 */
	/* container back-end */
	int container_fd;
	bool type_set; /* VFIO_SET_IOMMU done (it needs a group in the container) */
	struct vfio_group_ref group[VFIO_IOMMU_MAX_GROUPS];
	unsigned ngroups;
	/* iommufd back-end */
	int iommufd;
	uint32_t ioas_id;
};

struct vfio_dev {
	struct pci_addr addr;
	char bdf[PCI_ADDR_STRLEN];
	int group;		  /* IOMMU group number */
	char cdev[32];		  /* "vfio3" under /dev/vfio/devices, "" when there is none */
	struct vfio_iommu *iommu; /* NULL until attached */
	int device_fd;
	int group_fd;	/* container back-end: the group's descriptor, owned by the IOMMU */
	uint32_t devid; /* iommufd back-end */
	struct vfio_device_info info;
	struct vfio_region reg[16]; /* region info, cached on first use */
	uint32_t reg_known;	    /* bitmap of cached regions */
	uint32_t irq_enabled;	    /* bitmap of IRQ indexes with eventfds attached */
};

/*
 * The back-end ops table (what differs between container/type1v2 and iommufd). attach joins d
 * to the address space, creating the kernel's objects when io->ndevs is 0, and sets
 * d->device_fd; detach undoes it, destroying them when io->ndevs is 0 (the core counts devices:
 * ndevs excludes d in both calls). The rest act on the address space.
 */
struct vfio_iommu_ops {
	enum vfio_backend kind;
	int (*attach)(struct vfio_iommu *io, struct vfio_dev *d, struct err *e);
	void (*detach)(struct vfio_iommu *io, struct vfio_dev *d);
	int (*info)(struct vfio_iommu *io, struct vfio_iommu_info *info, struct err *e);
	int (*map)(struct vfio_iommu *io, iova_t iova, uint64_t size_bytes, void *hva,
		   struct err *e);
	int (*unmap)(struct vfio_iommu *io, iova_t iova, uint64_t size_bytes, struct err *e);
};

extern const struct vfio_iommu_ops vfio_container_ops;
extern const struct vfio_iommu_ops vfio_iommufd_ops;

/*
 * The core's attach and detach, below vfio_dev_open/vfio_dev_close's sysfs checks and device
 * info: join d (bdf, group and cdev filled) to io and fit the registry to what the kernel then
 * reports; leave it (the last device unmaps everything first). Unit tests drive these with an
 * ops table of their own (vfio_iommu_open_ops).
 */
int vfio_iommu_open_ops(struct vfio_iommu **out, const struct vfio_iommu_ops *ops, struct err *e);
int vfio_iommu_attach(struct vfio_iommu *io, struct vfio_dev *d, struct err *e);
void vfio_iommu_detach(struct vfio_dev *d);

/*
 * iommufd and VFIO cdev uAPI (Linux 6.2+ include/uapi/linux/iommufd.h and vfio.h). The installed
 * headers (6.1) lack them, so the few structures and ioctl numbers used here are written out
 * from the uAPI documentation. Untested in the lab: Debian kernels do not enable IOMMUFD.
 */
#define LAB_IOMMUFD_TYPE		  ';'
#define LAB_IOMMUFD_CMD_IOAS_ALLOC	  0x81
#define LAB_IOMMUFD_CMD_IOAS_IOVA_RANGES  0x84
#define LAB_IOMMUFD_CMD_IOAS_MAP	  0x85
#define LAB_IOMMUFD_CMD_IOAS_UNMAP	  0x86
#define LAB_IOMMU_DESTROY		  _IO(LAB_IOMMUFD_TYPE, 0x80)
#define LAB_IOMMU_IOAS_ALLOC		  _IO(LAB_IOMMUFD_TYPE, LAB_IOMMUFD_CMD_IOAS_ALLOC)
#define LAB_IOMMU_IOAS_IOVA_RANGES	  _IO(LAB_IOMMUFD_TYPE, LAB_IOMMUFD_CMD_IOAS_IOVA_RANGES)
#define LAB_IOMMU_IOAS_MAP		  _IO(LAB_IOMMUFD_TYPE, LAB_IOMMUFD_CMD_IOAS_MAP)
#define LAB_IOMMU_IOAS_UNMAP		  _IO(LAB_IOMMUFD_TYPE, LAB_IOMMUFD_CMD_IOAS_UNMAP)
#define LAB_IOMMU_IOAS_MAP_FIXED_IOVA	  (1u << 0)
#define LAB_IOMMU_IOAS_MAP_WRITEABLE	  (1u << 1)
#define LAB_IOMMU_IOAS_MAP_READABLE	  (1u << 2)
#define LAB_VFIO_DEVICE_BIND_IOMMUFD	  _IO(VFIO_TYPE, VFIO_BASE + 18)
#define LAB_VFIO_DEVICE_ATTACH_IOMMUFD_PT _IO(VFIO_TYPE, VFIO_BASE + 19)

struct lab_iommu_destroy {
	__u32 size;
	__u32 id;
};

struct lab_iommu_ioas_alloc {
	__u32 size;
	__u32 flags;
	__u32 out_ioas_id;
};

struct lab_iommu_iova_range {
	__aligned_u64 start;
	__aligned_u64 last;
};

struct lab_iommu_ioas_iova_ranges {
	__u32 size;
	__u32 ioas_id;
	__u32 num_iovas;
	__u32 __reserved;
	__aligned_u64 allowed_iovas;
	__aligned_u64 out_iova_alignment;
};

struct lab_iommu_ioas_map {
	__u32 size;
	__u32 flags;
	__u32 ioas_id;
	__u32 __reserved;
	__aligned_u64 user_va;
	__aligned_u64 length;
	__aligned_u64 iova;
};

struct lab_iommu_ioas_unmap {
	__u32 size;
	__u32 ioas_id;
	__aligned_u64 iova;
	__aligned_u64 length;
};

struct lab_vfio_device_bind_iommufd {
	__u32 argsz;
	__u32 flags;
	__s32 iommufd;
	__u32 out_devid;
};

struct lab_vfio_device_attach_iommufd_pt {
	__u32 argsz;
	__u32 flags;
	__u32 pt_id;
};

#endif
