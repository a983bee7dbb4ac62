/* testdrv_priv.h: the test-driver ops table and the drivers registered in testdrv.c; included
 * only by testdrv*.c. */
#ifndef CORE_TESTDRV_PRIV_H
#define CORE_TESTDRV_PRIV_H

#include "testdrv.h"

/*
 * One test device: its IDs, what it raises, and how. testdrv.c checks the vector and the DMA
 * arguments against the fields before calling fire and dma; dma is NULL without an engine.
 */
struct testdrv_ops {
	const char *name;
	uint16_t vendor, device;
	uint32_t irq_index;
	uint32_t vectors;
	iova_t dma_limit;
	uint32_t dma_max_bytes;
	int (*irq_setup)(struct testdrv *t, struct err *e);
	int (*irq_fire)(struct testdrv *t, uint32_t vector, struct err *e);
	int (*irq_ack)(struct testdrv *t, uint32_t vector, struct err *e);
	void (*irq_teardown)(struct testdrv *t);
	int (*dma)(struct testdrv *t, iova_t iova, uint32_t len, bool to_ram, int timeout_ms,
		   struct err *e);
};

extern const struct testdrv_ops testdrv_edu;
extern const struct testdrv_ops testdrv_e1000e;

/* BAR0 register access, for the drivers. */
static inline int testdrv_wr(struct testdrv *t, uint64_t off, uint32_t v, struct err *e)
{
	return vfio_bar_write32(t->dev, 0, off, v, e);
}

static inline int testdrv_rd(struct testdrv *t, uint64_t off, uint32_t *v, struct err *e)
{
	return vfio_bar_read32(t->dev, 0, off, v, e);
}

#endif
