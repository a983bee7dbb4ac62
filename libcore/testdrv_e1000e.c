/* testdrv_e1000e.c: QEMU's e1000e (Intel 82574; the datasheet's ICR/ICS/IMS/IVAR): MSI-X vectors
 * raised through Interrupt Cause Set, one queue cause per vector. No DMA engine driver. */
#include "testdrv_priv.h"

#include <linux/vfio.h>

/* BAR0 registers and bits */
#define E1000_CTRL_EXT		 0x0018
#define E1000_ICR		 0x00c0
#define E1000_ITR		 0x00c4
#define E1000_ICS		 0x00c8
#define E1000_IMS		 0x00d0
#define E1000_IMC		 0x00d8
#define E1000_EIAC		 0x00dc
#define E1000_IAM		 0x00e0
#define E1000_IVAR		 0x00e4
#define E1000_EITR(n)		 (0x00e8 + 4 * (n))
#define E1000_CTRL_EXT_AUTO_BITS 0xa9000000u /* PBA_CLR, INT_TIMERS_CLEAR_ENA, IAME, EIAME */
#define E1000_ICR_QUEUE0	 20	     /* RXQ0, RXQ1, TXQ0, TXQ1, OTHER: bits 20..24 */
#define E1000_IVAR_VALID	 0x8u
#define E1000_MSIX_VECTORS	 5

/* No throttling, no auto-clear/auto-mask, cause i -> vector i, queue causes on. */
static int e1000e_irq_setup(struct testdrv *t, struct err *e)
{
	uint32_t v;
	int rc;

	if ((rc = testdrv_wr(t, E1000_IMC, 0xffffffff, e)) ||
	    (rc = testdrv_wr(t, E1000_ITR, 0, e)) || (rc = testdrv_wr(t, E1000_EIAC, 0, e)) ||
	    (rc = testdrv_wr(t, E1000_IAM, 0, e)) || (rc = testdrv_rd(t, E1000_CTRL_EXT, &v, e)) ||
	    (rc = testdrv_wr(t, E1000_CTRL_EXT, v & ~E1000_CTRL_EXT_AUTO_BITS, e)))
		return rc;
	for (uint32_t n = 0; n < E1000_MSIX_VECTORS; n++)
		if ((rc = testdrv_wr(t, E1000_EITR(n), 0, e)))
			return rc;
	v = 0;
	for (uint32_t n = 0; n < E1000_MSIX_VECTORS; n++)
		v |= (E1000_IVAR_VALID | n) << (4 * n);
	if ((rc = testdrv_wr(t, E1000_IVAR, v, e)) ||
	    (rc = testdrv_wr(t, E1000_ICR, 0xffffffff, e)))
		return rc;
	return testdrv_wr(t, E1000_IMS, ((1u << E1000_MSIX_VECTORS) - 1) << E1000_ICR_QUEUE0, e);
}

static int e1000e_irq_fire(struct testdrv *t, uint32_t vector, struct err *e)
{
	return testdrv_wr(t, E1000_ICS, 1u << (E1000_ICR_QUEUE0 + vector), e);
}

static int e1000e_irq_ack(struct testdrv *t, uint32_t vector, struct err *e)
{
	return testdrv_wr(t, E1000_ICR, 1u << (E1000_ICR_QUEUE0 + vector), e);
}

static void e1000e_irq_teardown(struct testdrv *t)
{
	testdrv_wr(t, E1000_IMC, 0xffffffff, NULL);
	testdrv_wr(t, E1000_ICR, 0xffffffff, NULL);
}

const struct testdrv_ops testdrv_e1000e = {
	.name = "e1000e",
	.vendor = 0x8086,
	.device = 0x10d3,
	.irq_index = VFIO_PCI_MSIX_IRQ_INDEX,
	.vectors = E1000_MSIX_VECTORS,
	.irq_setup = e1000e_irq_setup,
	.irq_fire = e1000e_irq_fire,
	.irq_ack = e1000e_irq_ack,
	.irq_teardown = e1000e_irq_teardown,
};
