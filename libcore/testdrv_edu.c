/* testdrv_edu.c: QEMU's edu device (docs/specs/edu.txt): MSI raised by a register, and a DMA
 * engine between a 4 KiB internal buffer and a 28-bit bus address. */
#include "clock.h"
#include "testdrv_priv.h"

#include <linux/vfio.h>
#include <time.h>

/* BAR0 registers */
#define EDU_ID	       0x00
#define EDU_IRQ_STATUS 0x24
#define EDU_IRQ_RAISE  0x60
#define EDU_IRQ_ACK    0x64
#define EDU_DMA_SRC    0x80
#define EDU_DMA_DST    0x88
#define EDU_DMA_CNT    0x90
#define EDU_DMA_CMD    0x98
#define EDU_DMA_RUN    0x1
#define EDU_DMA_TO_RAM 0x2
#define EDU_BUF	       0x40000

static int edu_irq_setup(struct testdrv *t, struct err *e)
{
	uint32_t v;
	int rc = testdrv_rd(t, EDU_ID, &v, e);

	if (!rc && (v & 0xff) != 0xed)
		return err_set(e, EIO, "%s: edu identification register reads 0x%08x",
			       vfio_dev_bdf(t->dev), v);
	return rc ? rc : testdrv_wr(t, EDU_IRQ_ACK, 0xffffffff, e);
}

static int edu_irq_fire(struct testdrv *t, uint32_t vector, struct err *e)
{
	(void)vector; /* one MSI vector */
	return testdrv_wr(t, EDU_IRQ_RAISE, 1, e);
}

static int edu_irq_ack(struct testdrv *t, uint32_t vector, struct err *e)
{
	(void)vector;
	return testdrv_wr(t, EDU_IRQ_ACK, 0xffffffff, e);
}

static void edu_irq_teardown(struct testdrv *t)
{
	testdrv_wr(t, EDU_IRQ_ACK, 0xffffffff, NULL);
}

static int edu_dma(struct testdrv *t, iova_t iova, uint32_t len, bool to_ram, int timeout_ms,
		   struct err *e)
{
	int64_t deadline = clock_now_ms() + timeout_ms;
	uint32_t cmd;
	int rc;

	/* Addresses fit 32 bits: 4-byte writes set the 64-bit registers with a zero top. */
	if ((rc = testdrv_wr(t, EDU_DMA_SRC, to_ram ? EDU_BUF : (uint32_t)iova.v, e)) ||
	    (rc = testdrv_wr(t, EDU_DMA_DST, to_ram ? (uint32_t)iova.v : EDU_BUF, e)) ||
	    (rc = testdrv_wr(t, EDU_DMA_CNT, len, e)) ||
	    (rc = testdrv_wr(t, EDU_DMA_CMD, EDU_DMA_RUN | (to_ram ? EDU_DMA_TO_RAM : 0), e)))
		return rc;
	do {
		struct timespec ms = { 0, 1000000 };

		if ((rc = testdrv_rd(t, EDU_DMA_CMD, &cmd, e)))
			return rc;
		if (!(cmd & EDU_DMA_RUN))
			return 0;
		nanosleep(&ms, NULL);
	} while (clock_now_ms() < deadline);
	return err_set(e, ETIMEDOUT, "edu DMA did not complete within %d ms", timeout_ms);
}

const struct testdrv_ops testdrv_edu = {
	.name = "edu",
	.vendor = 0x1234,
	.device = 0x11e8,
	.irq_index = VFIO_PCI_MSI_IRQ_INDEX,
	.vectors = 1,
	.dma_limit = EDU_DMA_LIMIT,
	.dma_max_bytes = EDU_DMA_BUF_BYTES,
	.irq_setup = edu_irq_setup,
	.irq_fire = edu_irq_fire,
	.irq_ack = edu_irq_ack,
	.irq_teardown = edu_irq_teardown,
	.dma = edu_dma,
};
