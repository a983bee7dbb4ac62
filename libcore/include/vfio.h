/* vfio.h: VFIO's IOMMU (one DMA address space and its registry, behind one interface for the
 * type1v2 container and iommufd back-ends) and the devices attached to it: regions and IRQs. */
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

struct vfio_iommu;
struct vfio_dev;

/*
 * Resolve what a user typed ("0000:01:00.0", or "01:00.0" when one domain has it) to an existing
 * device's address, through sysfs. -EINVAL bad syntax, -ENODEV no such device, with a message.
 */
int vfio_resolve_device(const char *text, struct pci_addr *a, struct err *e);

/*
 * The IOMMU: one DMA address space and its registry, which devices attach to (as the kernel's
 * VFIO selftests do: iommu_init(mode), then vfio_pci_device_init(bdf, iommu)). Open it once,
 * attach every device that should see the same mappings (vfio_dev_open), map through it.
 *
 * The kernel object exists while devices are attached: the first device creates it (a type1v2
 * container, or an iommufd IOAS) and fixes the back-end when AUTO was asked (iommufd when
 * /dev/iommu and that device's cdev exist, else the container); each device attached narrows
 * the valid ranges to what the kernel then reports; the last device to leave unmaps everything
 * first, and the registry is empty again. Before the first device, info, map and unmap fail with
 * -ENODEV. Devices of one IOMMU group share the group's descriptor here, so two functions of one
 * group (a GPU and its audio function) attach to one IOMMU without further ado.
 *
 * Close order is enforced, not reference-counted: vfio_iommu_close refuses (-EBUSY, nothing
 * closed) while a device is attached; close the devices first.
 */
int vfio_iommu_open(struct vfio_iommu **out, enum vfio_backend backend, struct err *e);
/* 0, or -EBUSY while devices are attached (the IOMMU stays open). NULL is fine. */
int vfio_iommu_close(struct vfio_iommu *iommu);
/* The back-end in use: what was asked, or, for AUTO, what the first device chose. */
enum vfio_backend vfio_iommu_backend(const struct vfio_iommu *iommu);
/* How many devices are attached. */
unsigned vfio_iommu_devices(const struct vfio_iommu *iommu);
/* What the kernel reports now (ranges, page sizes, DMA_AVAIL); -ENODEV before a device. */
int vfio_iommu_info(struct vfio_iommu *iommu, struct vfio_iommu_info *info, struct err *e);

/*
 * DMA: map host memory at an IOVA for read and write, for every attached device. The registry
 * refuses first (zero size, overflow, misalignment, outside the valid ranges, overlap: see
 * dma_map_check_add), then the kernel is asked; on success the mapping is recorded. Unmap takes
 * exactly what was mapped. -ENODEV when no device is attached.
 */
int vfio_dma_map(struct vfio_iommu *iommu, iova_t iova, uint64_t size_bytes, void *hva,
		 enum dma_backing backing, struct err *e);
int vfio_dma_unmap(struct vfio_iommu *iommu, iova_t iova, uint64_t size_bytes, struct err *e);
/* The one registry of the address space, shared by every attached device. */
const struct dma_map *vfio_dma_registry(const struct vfio_iommu *iommu);

/*
 * Open the device at a and attach it to iommu: checks the device exists, is bound to vfio-pci
 * (else -ENXIO with a message suggesting vfio-bind), has an IOMMU group; then joins the address
 * space (creating it when it is the first device). Errors name the cause: group not viable
 * (-EBUSY, listing the members still on other drivers), no permission on /dev/vfio/N (-EACCES),
 * a second IOMMU group the container cannot share (the kernel's errno). The device sees every
 * mapping already made through iommu.
 */
int vfio_dev_open(struct vfio_dev **out, const struct pci_addr *a, struct vfio_iommu *iommu,
		  struct err *e);
/*
 * Disables IRQs, detaches from the IOMMU (the last device unmaps everything first), closes the
 * device's descriptors. NULL is fine. The IOMMU stays open.
 */
void vfio_dev_close(struct vfio_dev *d);

const char *vfio_dev_bdf(const struct vfio_dev *d);
int vfio_dev_group(const struct vfio_dev *d);
struct vfio_iommu *vfio_dev_iommu(const struct vfio_dev *d);
int vfio_dev_fd(const struct vfio_dev *d);
/* What KVM's VFIO device is told about (KVM_DEV_VFIO_FILE_ADD): the group (container back-end)
 * or the device (iommufd). */
int vfio_dev_kvm_fd(const struct vfio_dev *d);

/* The group's reserved regions (addresses the IOMMU will never translate). */
int vfio_reserved_regions(int group, struct vfio_resv_region *out, size_t cap, size_t *n,
			  struct err *e);

/* Regions (VFIO_PCI_*_REGION_INDEX: BAR0..5 = 0..5, ROM 6, config 7, VGA 8). */
struct vfio_region {
	uint32_t index;
	uint32_t flags; /* VFIO_REGION_INFO_FLAG_READ/WRITE/MMAP */
	uint64_t size_bytes;
	uint64_t offset;  /* of the region in the device fd */
	uint32_t nsparse; /* sparse-mmap areas (mmap-able parts around e.g. an MSI-X table) */
};

uint32_t vfio_num_regions(const struct vfio_dev *d);
uint32_t vfio_num_irqs(const struct vfio_dev *d);
const char *vfio_region_name(uint32_t index);
int vfio_region_info(struct vfio_dev *d, uint32_t index, struct vfio_region *r, struct err *e);
/* Read/write len (1, 2, 4 or 8) bytes at off inside a region, little-endian value. */
int vfio_region_read(struct vfio_dev *d, uint32_t index, uint64_t off, void *buf, size_t len,
		     struct err *e);
int vfio_region_write(struct vfio_dev *d, uint32_t index, uint64_t off, const void *buf, size_t len,
		      struct err *e);
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
/* A write to fd unmasks vector 0 of index (INTx, which VFIO masks each time it fires). */
int vfio_irq_unmask_fd(struct vfio_dev *d, uint32_t index, int fd, struct err *e);

/* Function-level reset: -ENOTSUP when the device offers none. */
bool vfio_dev_has_reset(const struct vfio_dev *d);
int vfio_dev_reset(struct vfio_dev *d, struct err *e);

/*
 * Every ioctl this layer may issue once a VM runs, for a run-phase seccomp allowlist
 * (vm_seccomp.h): a guest moving a BAR that is mapped for peer-to-peer (DMA unmap and map,
 * container or iommufd), MSI-X and MSI vectors it (un)masks, and teardown at exit (reset, the group
 * leaving its container, the last device destroying the iommufd address space).
 */
#define VFIO_RUN_IOCTLS 8
extern const unsigned long vfio_run_ioctls[VFIO_RUN_IOCTLS];

#endif
