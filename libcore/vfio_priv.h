/* vfio_priv.h: struct vfio_dev, shared by the VFIO core and its two back-ends; the iommufd uAPI. */
#ifndef CORE_VFIO_PRIV_H
#define CORE_VFIO_PRIV_H

#include <linux/ioctl.h>
#include <linux/types.h>
#include <linux/vfio.h>

#include "vfio.h"

struct vfio_dev {
	struct pci_addr addr;
	char bdf[PCI_ADDR_STRLEN];
	int group;	 /* IOMMU group number */
	char cdev[32];	 /* "vfio3" under /dev/vfio/devices, "" when there is none */
	const struct vfio_iommu_ops *ops;
	int device_fd;
	/* container back-end; with a peer, its container (and group, when the same) is borrowed */
	struct vfio_dev *peer;
	int container_fd, group_fd;
	/* iommufd back-end */
	int iommufd;
	uint32_t ioas_id, devid;
	struct vfio_device_info info;
	struct vfio_region reg[16]; /* region info, cached on first use */
	uint32_t reg_known;	     /* bitmap of cached regions */
	uint32_t irq_enabled;	     /* bitmap of IRQ indexes with eventfds attached */
	struct dma_map dma;
};

/*
 * iommufd and VFIO cdev uAPI (Linux 6.2+ include/uapi/linux/iommufd.h and vfio.h). The installed
 * headers (6.1) lack them, so the few structures and ioctl numbers used here are written out
 * from the uAPI documentation. Untested in the lab: Debian kernels do not enable IOMMUFD.
 */
#define LAB_IOMMUFD_TYPE ';'
#define LAB_IOMMUFD_CMD_IOAS_ALLOC 0x81
#define LAB_IOMMUFD_CMD_IOAS_IOVA_RANGES 0x84
#define LAB_IOMMUFD_CMD_IOAS_MAP 0x85
#define LAB_IOMMUFD_CMD_IOAS_UNMAP 0x86
#define LAB_IOMMU_DESTROY _IO(LAB_IOMMUFD_TYPE, 0x80)
#define LAB_IOMMU_IOAS_ALLOC _IO(LAB_IOMMUFD_TYPE, LAB_IOMMUFD_CMD_IOAS_ALLOC)
#define LAB_IOMMU_IOAS_IOVA_RANGES _IO(LAB_IOMMUFD_TYPE, LAB_IOMMUFD_CMD_IOAS_IOVA_RANGES)
#define LAB_IOMMU_IOAS_MAP _IO(LAB_IOMMUFD_TYPE, LAB_IOMMUFD_CMD_IOAS_MAP)
#define LAB_IOMMU_IOAS_UNMAP _IO(LAB_IOMMUFD_TYPE, LAB_IOMMUFD_CMD_IOAS_UNMAP)
#define LAB_IOMMU_IOAS_MAP_FIXED_IOVA (1u << 0)
#define LAB_IOMMU_IOAS_MAP_WRITEABLE (1u << 1)
#define LAB_IOMMU_IOAS_MAP_READABLE (1u << 2)
#define LAB_VFIO_DEVICE_BIND_IOMMUFD _IO(VFIO_TYPE, VFIO_BASE + 18)
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
