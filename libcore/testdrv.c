/* testdrv.c: the registry of test drivers (one file each, testdrv_*.c), probing by PCI ID, and
 * the argument checks every driver shares. */
#include "testdrv_priv.h"

#include <inttypes.h>
#include <linux/vfio.h>
#include <stdio.h>

static const struct testdrv_ops *const drivers[] = {
	&testdrv_edu,
	&testdrv_e1000e,
};

#define NDRIVERS (sizeof(drivers) / sizeof(drivers[0]))

int testdrv_probe(struct vfio_dev *d, struct testdrv *t, struct err *e)
{
	uint16_t id[2];
	char known[256];
	size_t off = 0;
	int rc = vfio_region_read(d, VFIO_PCI_CONFIG_REGION_INDEX, 0, id, sizeof(id), e);

	if (rc)
		return rc;
	for (size_t i = 0; i < NDRIVERS; i++) {
		const struct testdrv_ops *ops = drivers[i];

		if (id[0] != ops->vendor || id[1] != ops->device)
			continue;
		*t = (struct testdrv){
			.ops = ops,
			.name = ops->name,
			.dev = d,
			.irq_index = ops->irq_index,
			.vectors = ops->vectors,
			.dma_limit = ops->dma_limit,
			.dma_max_bytes = ops->dma ? ops->dma_max_bytes : 0,
		};
		/* Memory decode for the registers, bus master for DMA and for MSI writes. */
		return vfio_config_command_set(d, 0x0006, e);
	}
	for (size_t i = 0; i < NDRIVERS && off < sizeof(known); i++)
		off += (size_t)snprintf(known + off, sizeof(known) - off, "%s%s %04x:%04x",
					i == 0		    ? ""
					: i + 1 == NDRIVERS ? " and "
							    : ", ",
					drivers[i]->name, drivers[i]->vendor, drivers[i]->device);
	return err_set(e, ENOTSUP, "%s (%04x:%04x): no test driver (%s have one)", vfio_dev_bdf(d),
		       id[0], id[1], known);
}

int testdrv_irq_setup(struct testdrv *t, struct err *e)
{
	return t->ops->irq_setup(t, e);
}

int testdrv_irq_fire(struct testdrv *t, uint32_t vector, struct err *e)
{
	if (vector >= t->vectors)
		return err_set(e, ERANGE, "%s raises vectors 0..%u only", t->name, t->vectors - 1);
	return t->ops->irq_fire(t, vector, e);
}

int testdrv_irq_ack(struct testdrv *t, uint32_t vector, struct err *e)
{
	return t->ops->irq_ack(t, vector, e);
}

void testdrv_irq_teardown(struct testdrv *t)
{
	t->ops->irq_teardown(t);
}

int testdrv_dma(struct testdrv *t, iova_t iova, uint32_t len, bool to_ram, int timeout_ms,
		struct err *e)
{
	if (!testdrv_has_dma(t))
		return err_set(e, ENOTSUP, "%s has no DMA engine driver", t->name);
	if (len == 0 || len > t->dma_max_bytes)
		return err_set(e, EINVAL, "%s DMA of %u bytes: 1..%u", t->name, len,
			       t->dma_max_bytes);
	if (iova.v > t->dma_limit.v || len - 1 > t->dma_limit.v - iova.v)
		return err_set(e, ERANGE,
			       "%s DMA at IOVA 0x%" PRIx64
			       ": the device reaches only up to 0x%" PRIx64,
			       t->name, iova.v, t->dma_limit.v);
	return t->ops->dma(t, iova, len, to_ram, timeout_ms, e);
}
