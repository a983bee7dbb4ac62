/* testdrv.c: edu and e1000e test drivers (register facts: QEMU docs/specs/edu.txt and the 82574
 * datasheet's ICR/ICS/IMS/IVAR; QEMU 7.2 models both). */
#include "testdrv.h"
#include "clock.h"

#include <inttypes.h>
#include <linux/vfio.h>
#include <time.h>

/* edu BAR0 registers */
#define EDU_ID 0x00
#define EDU_IRQ_STATUS 0x24
#define EDU_IRQ_RAISE 0x60
#define EDU_IRQ_ACK 0x64
#define EDU_DMA_SRC 0x80
#define EDU_DMA_DST 0x88
#define EDU_DMA_CNT 0x90
#define EDU_DMA_CMD 0x98
#define EDU_DMA_RUN 0x1
#define EDU_DMA_TO_RAM 0x2
#define EDU_BUF 0x40000

/* e1000e (82574) BAR0 registers and bits */
#define E1000_CTRL_EXT 0x0018
#define E1000_ICR 0x00c0
#define E1000_ITR 0x00c4
#define E1000_ICS 0x00c8
#define E1000_IMS 0x00d0
#define E1000_IMC 0x00d8
#define E1000_EIAC 0x00dc
#define E1000_IAM 0x00e0
#define E1000_IVAR 0x00e4
#define E1000_EITR(n) (0x00e8 + 4 * (n))
#define E1000_CTRL_EXT_AUTO_BITS 0xa9000000u /* PBA_CLR, INT_TIMERS_CLEAR_ENA, IAME, EIAME */
#define E1000_ICR_QUEUE0 20		     /* RXQ0, RXQ1, TXQ0, TXQ1, OTHER: bits 20..24 */
#define E1000_IVAR_VALID 0x8u
#define E1000_MSIX_VECTORS 5

int testdrv_probe(struct vfio_dev *d, struct testdrv *t, struct err *e)
{
	uint16_t id[2];
	int rc = vfio_region_read(d, VFIO_PCI_CONFIG_REGION_INDEX, 0, id, sizeof(id), e);

	if (rc)
		return rc;
	t->dev = d;
	if (id[0] == 0x1234 && id[1] == 0x11e8) {
		t->kind = TESTDRV_EDU;
		t->name = "edu";
		t->irq_index = VFIO_PCI_MSI_IRQ_INDEX;
		t->vectors = 1;
	} else if (id[0] == 0x8086 && id[1] == 0x10d3) {
		t->kind = TESTDRV_E1000E;
		t->name = "e1000e";
		t->irq_index = VFIO_PCI_MSIX_IRQ_INDEX;
		t->vectors = E1000_MSIX_VECTORS;
	} else {
		return err_set(e, ENOTSUP,
			       "%s (%04x:%04x): no test driver (edu 1234:11e8 and e1000e 8086:10d3 "
			       "have one)",
			       vfio_dev_bdf(d), id[0], id[1]);
	}
	/* Memory decode for the registers, bus master for DMA and for MSI writes. */
	return vfio_config_command_set(d, 0x0006, e);
}

static int wr(struct testdrv *t, uint64_t off, uint32_t v, struct err *e)
{
	return vfio_bar_write32(t->dev, 0, off, v, e);
}

static int rd(struct testdrv *t, uint64_t off, uint32_t *v, struct err *e)
{
	return vfio_bar_read32(t->dev, 0, off, v, e);
}

int testdrv_irq_setup(struct testdrv *t, struct err *e)
{
	uint32_t v;
	int rc;

	if (t->kind == TESTDRV_EDU) {
		rc = rd(t, EDU_ID, &v, e);
		if (!rc && (v & 0xff) != 0xed)
			return err_set(e, EIO, "%s: edu identification register reads 0x%08x",
				       vfio_dev_bdf(t->dev), v);
		return rc ? rc : wr(t, EDU_IRQ_ACK, 0xffffffff, e);
	}
	/* e1000e: no throttling, no auto-clear/auto-mask, cause i -> vector i, queue causes on. */
	if ((rc = wr(t, E1000_IMC, 0xffffffff, e)) || (rc = wr(t, E1000_ITR, 0, e)) ||
	    (rc = wr(t, E1000_EIAC, 0, e)) || (rc = wr(t, E1000_IAM, 0, e)) ||
	    (rc = rd(t, E1000_CTRL_EXT, &v, e)) ||
	    (rc = wr(t, E1000_CTRL_EXT, v & ~E1000_CTRL_EXT_AUTO_BITS, e)))
		return rc;
	for (uint32_t n = 0; n < E1000_MSIX_VECTORS; n++)
		if ((rc = wr(t, E1000_EITR(n), 0, e)))
			return rc;
	v = 0;
	for (uint32_t n = 0; n < E1000_MSIX_VECTORS; n++)
		v |= (E1000_IVAR_VALID | n) << (4 * n);
	if ((rc = wr(t, E1000_IVAR, v, e)) || (rc = wr(t, E1000_ICR, 0xffffffff, e)))
		return rc;
	return wr(t, E1000_IMS, ((1u << E1000_MSIX_VECTORS) - 1) << E1000_ICR_QUEUE0, e);
}

int testdrv_irq_fire(struct testdrv *t, uint32_t vector, struct err *e)
{
	if (vector >= t->vectors)
		return err_set(e, ERANGE, "%s raises vectors 0..%u only", t->name, t->vectors - 1);
	if (t->kind == TESTDRV_EDU)
		return wr(t, EDU_IRQ_RAISE, 1, e);
	return wr(t, E1000_ICS, 1u << (E1000_ICR_QUEUE0 + vector), e);
}

int testdrv_irq_ack(struct testdrv *t, uint32_t vector, struct err *e)
{
	if (t->kind == TESTDRV_EDU)
		return wr(t, EDU_IRQ_ACK, 0xffffffff, e);
	return wr(t, E1000_ICR, 1u << (E1000_ICR_QUEUE0 + vector), e);
}

void testdrv_irq_teardown(struct testdrv *t)
{
	if (t->kind == TESTDRV_E1000E) {
		wr(t, E1000_IMC, 0xffffffff, NULL);
		wr(t, E1000_ICR, 0xffffffff, NULL);
	} else {
		wr(t, EDU_IRQ_ACK, 0xffffffff, NULL);
	}
}

int edu_dma(struct testdrv *t, iova_t iova, uint32_t len, bool to_ram, int timeout_ms,
	    struct err *e)
{
	int64_t deadline = clock_now_ms() + timeout_ms;
	uint32_t cmd;
	int rc;

	if (t->kind != TESTDRV_EDU)
		return err_set(e, ENOTSUP, "%s has no DMA engine driver", t->name);
	if (len == 0 || len > EDU_DMA_BUF_BYTES)
		return err_set(e, EINVAL, "edu DMA of %u bytes: 1..%u", len, EDU_DMA_BUF_BYTES);
	if (iova.v > EDU_DMA_LIMIT.v || len - 1 > EDU_DMA_LIMIT.v - iova.v)
		return err_set(e, ERANGE,
			       "edu DMA at IOVA 0x%" PRIx64 ": the device reaches only 28 bits "
			       "(below 0x10000000)",
			       iova.v);
	/* Addresses fit 32 bits: 4-byte writes set the 64-bit registers with a zero top. */
	if ((rc = wr(t, EDU_DMA_SRC, to_ram ? EDU_BUF : (uint32_t)iova.v, e)) ||
	    (rc = wr(t, EDU_DMA_DST, to_ram ? (uint32_t)iova.v : EDU_BUF, e)) ||
	    (rc = wr(t, EDU_DMA_CNT, len, e)) ||
	    (rc = wr(t, EDU_DMA_CMD, EDU_DMA_RUN | (to_ram ? EDU_DMA_TO_RAM : 0), e)))
		return rc;
	do {
		struct timespec ms = { 0, 1000000 };

		if ((rc = rd(t, EDU_DMA_CMD, &cmd, e)))
			return rc;
		if (!(cmd & EDU_DMA_RUN))
			return 0;
		nanosleep(&ms, NULL);
	} while (clock_now_ms() < deadline);
	return err_set(e, ETIMEDOUT, "edu DMA did not complete within %d ms", timeout_ms);
}
