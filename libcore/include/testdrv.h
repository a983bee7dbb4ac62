/* testdrv.h: tiny user-space drivers for the lab's test devices, driven through VFIO: QEMU's edu
 * (DMA engine; MSI raised by a register) and e1000e (MSI-X raised by Interrupt Cause Set). Each
 * device is one file (testdrv_edu.c, testdrv_e1000e.c) behind an ops table; testdrv.c holds the
 * registry that testdrv_probe searches, so a new device's driver is one new file and one line. */
#ifndef CORE_TESTDRV_H
#define CORE_TESTDRV_H

#include <stdbool.h>
#include <stdint.h>

#include "dma.h"
#include "err.h"
#include "vfio.h"

struct testdrv_ops;

struct testdrv {
	const struct testdrv_ops *ops;
	const char *name;
	struct vfio_dev *dev;
	uint32_t irq_index; /* VFIO_PCI_MSI_IRQ_INDEX (edu) or VFIO_PCI_MSIX_IRQ_INDEX (e1000e) */
	uint32_t vectors;   /* how many vectors the device itself can raise */
	/* DMA engine: the highest IOVA it reaches and the most bytes per transfer (0: none) */
	iova_t dma_limit;
	uint32_t dma_max_bytes;
};

/* QEMU's edu masks DMA addresses to 28 bits: IOVAs it uses must lie below 256 MiB. */
#define EDU_DMA_LIMIT ((iova_t){ (1u << 28) - 1 })
/*
 * The device buffer is 4096 bytes, but QEMU up to 7.2 aborts (hw_error) on a transfer that ends
 * exactly at the buffer's end (an off-by-one in its range check): stay well inside it.
 */
#define EDU_DMA_BUF_BYTES 2048u

/*
 * Recognise the device (vendor/device from config space) among the registered drivers and
 * enable memory decode and bus mastering; -ENOTSUP when no driver has it.
 */
int testdrv_probe(struct vfio_dev *d, struct testdrv *t, struct err *e);

/* Interrupts: program the device so that fire(v) raises vector v; ack clears the cause. */
int testdrv_irq_setup(struct testdrv *t, struct err *e);
int testdrv_irq_fire(struct testdrv *t, uint32_t vector, struct err *e);
int testdrv_irq_ack(struct testdrv *t, uint32_t vector, struct err *e);
/* Mask everything again (leave the device quiet). */
void testdrv_irq_teardown(struct testdrv *t);

static inline bool testdrv_has_dma(const struct testdrv *t)
{
	return t->dma_max_bytes != 0;
}

/*
 * The device's DMA engine: copy len (1..dma_max_bytes) bytes between its internal buffer and an
 * IOVA (at most dma_limit), to_ram choosing the direction; waits for completion (up to
 * timeout_ms). -ENOTSUP without a DMA engine, -EINVAL bad length, -ERANGE out of reach,
 * -ETIMEDOUT if it never ends.
 */
int testdrv_dma(struct testdrv *t, iova_t iova, uint32_t len, bool to_ram, int timeout_ms,
		struct err *e);

#endif
