/* vfio.h: a VFIO device opened by PCI address, behind one interface for the two IOMMU back-ends
 * (container + group with type1v2, or iommufd + device cdev); its DMA, regions and IRQs. */
#ifndef CORE_VFIO_H
#define CORE_VFIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dma.h"
#include "err.h"
#include "pciaddr.h"

enum vfio_backend { VFIO_BACKEND_AUTO, VFIO_BACKEND_CONTAINER, VFIO_BACKEND_IOMMUFD };

const char *vfio_backend_name(enum vfio_backend b);
/* "container", "iommufd", "auto": 0, or -EINVAL. */
int vfio_backend_parse(const char *s, enum vfio_backend *out);

struct vfio_iommu_info {
	enum vfio_backend backend;
	uint64_t pgsizes; /* bitmap of IOMMU page sizes (iommufd: the minimum IOVA alignment) */
	struct dma_range ranges[DMA_MAX_RANGES];
	size_t nranges;
	bool have_dma_avail; /* type1 DMA_AVAIL: how many more mappings the kernel allows */
	uint32_t dma_avail;
};

/* One line of /sys/kernel/iommu_groups/N/reserved_regions. */
struct vfio_resv_region {
	iova_t start, last;
	char type[24]; /* "msi", "direct", "reserved", "direct-relaxable" */
};

struct vfio_dev;

/*
 * Resolve what a user typed ("0000:01:00.0", or "01:00.0" when one domain has it) to an existing
 * device's address, through sysfs. -EINVAL bad syntax, -ENODEV no such device, with a message.
 */
int vfio_resolve_device(const char *text, struct pci_addr *a, struct err *e);

/*
 * Open the device at a: checks the device exists, is bound to vfio-pci (else -ENXIO with a
 * message suggesting vfio-bind), has an IOMMU group; then attaches it to a fresh IOMMU address
 * space with the chosen back-end (AUTO: iommufd when /dev/iommu and the device's
 * /dev/vfio/devices/vfioX exist, else the container). Errors name the cause: group not viable
 * (-EBUSY, listing the members still on other drivers), no permission on /dev/vfio/N (-EACCES).
 * The DMA registry starts empty with the IOMMU's valid ranges and page sizes.
 */
int vfio_dev_open(struct vfio_dev **out, const struct pci_addr *a, enum vfio_backend backend,
		  struct err *e);
/*
 * Open a device into peer's IOMMU address space (container back-end): mappings made through
 * peer serve it too, so memory is pinned once for several devices, and two functions of one
 * IOMMU group (a GPU and its audio function) can be opened at all. Close it before peer.
 * -ENOTSUP when peer uses iommufd.
 */
int vfio_dev_open_shared(struct vfio_dev **out, const struct pci_addr *a, struct vfio_dev *peer,
			 struct err *e);
/* Unmaps everything still mapped, disables IRQs, closes every descriptor. NULL is fine. */
void vfio_dev_close(struct vfio_dev *d);

const char *vfio_dev_bdf(const struct vfio_dev *d);
int vfio_dev_group(const struct vfio_dev *d);
enum vfio_backend vfio_dev_backend(const struct vfio_dev *d);
int vfio_dev_fd(const struct vfio_dev *d);

int vfio_iommu_info(struct vfio_dev *d, struct vfio_iommu_info *info, struct err *e);
/* The group's reserved regions (addresses the IOMMU will never translate). */
int vfio_reserved_regions(int group, struct vfio_resv_region *out, size_t cap, size_t *n,
			  struct err *e);

/*
 * DMA: map host memory at an IOVA for read and write. The registry refuses first (zero size,
 * overflow, misalignment, outside the valid ranges, overlap: see dma_map_check_add), then the
 * kernel is asked; on success the mapping is recorded. Unmap takes exactly what was mapped.
 */
int vfio_dma_map(struct vfio_dev *d, iova_t iova, uint64_t size_bytes, void *hva,
		 enum dma_backing backing, struct err *e);
int vfio_dma_unmap(struct vfio_dev *d, iova_t iova, uint64_t size_bytes, struct err *e);
const struct dma_map *vfio_dma_registry(const struct vfio_dev *d);

/* Regions (VFIO_PCI_*_REGION_INDEX: BAR0..5 = 0..5, ROM 6, config 7, VGA 8). */
struct vfio_region {
	uint32_t index;
	uint32_t flags; /* VFIO_REGION_INFO_FLAG_READ/WRITE/MMAP */
	uint64_t size_bytes;
	uint64_t offset; /* of the region in the device fd */
	uint32_t nsparse; /* sparse-mmap areas (mmap-able parts around e.g. an MSI-X table) */
};

uint32_t vfio_num_regions(const struct vfio_dev *d);
uint32_t vfio_num_irqs(const struct vfio_dev *d);
const char *vfio_region_name(uint32_t index);
int vfio_region_info(struct vfio_dev *d, uint32_t index, struct vfio_region *r, struct err *e);
/* Read/write len (1, 2, 4 or 8) bytes at off inside a region, little-endian value. */
int vfio_region_read(struct vfio_dev *d, uint32_t index, uint64_t off, void *buf, size_t len,
		     struct err *e);
int vfio_region_write(struct vfio_dev *d, uint32_t index, uint64_t off, const void *buf,
		      size_t len, struct err *e);
int vfio_bar_read32(struct vfio_dev *d, uint32_t bar, uint64_t off, uint32_t *v, struct err *e);
int vfio_bar_write32(struct vfio_dev *d, uint32_t bar, uint64_t off, uint32_t v, struct err *e);
int vfio_bar_write64(struct vfio_dev *d, uint32_t bar, uint64_t off, uint64_t v, struct err *e);
/* Set bits in the PCI command register (memory decode, bus master) through the config region. */
int vfio_config_command_set(struct vfio_dev *d, uint16_t bits, struct err *e);

/* IRQs (VFIO_PCI_INTX/MSI/MSIX_IRQ_INDEX = 0/1/2). */
struct vfio_irq {
	uint32_t index;
	uint32_t flags; /* VFIO_IRQ_INFO_EVENTFD/MASKABLE/AUTOMASKED/NORESIZE */
	uint32_t count;
};

const char *vfio_irq_name(uint32_t index);
int vfio_irq_info(struct vfio_dev *d, uint32_t index, struct vfio_irq *irq, struct err *e);
/* Attach eventfds to vectors start..start+count-1 (fd -1 leaves a vector unattached). */
int vfio_irq_enable(struct vfio_dev *d, uint32_t index, uint32_t start, uint32_t count,
		    const int *fds, struct err *e);
/* Loopback: make VFIO signal the vector's eventfd as if the device had raised it. */
int vfio_irq_trigger(struct vfio_dev *d, uint32_t index, uint32_t vector, struct err *e);
/* Detach every eventfd of the index (the caller closes them). */
int vfio_irq_disable(struct vfio_dev *d, uint32_t index, struct err *e);

int vfio_dev_reset(struct vfio_dev *d, struct err *e);

/*
 * The back-end ops table (what differs between container/type1v2 and iommufd). attach sets
 * the device fd and the backend's own state; the rest act on the address space.
 */
struct vfio_iommu_ops {
	enum vfio_backend kind;
	int (*attach)(struct vfio_dev *d, struct err *e);
	void (*detach)(struct vfio_dev *d);
	int (*info)(struct vfio_dev *d, struct vfio_iommu_info *info, struct err *e);
	int (*map)(struct vfio_dev *d, iova_t iova, uint64_t size_bytes, void *hva, struct err *e);
	int (*unmap)(struct vfio_dev *d, iova_t iova, uint64_t size_bytes, struct err *e);
};

extern const struct vfio_iommu_ops vfio_container_ops;
extern const struct vfio_iommu_ops vfio_iommufd_ops;

#endif
