/* pcicap.c: MSI/MSI-X capability parsing through libpci (sysfs or `lspci -xxx` dumps). */
#include "pcicap.h"
#include "fileio.h"
#include "pci_priv.h"

#include <fcntl.h>
#include <pci/pci.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct pcicap_ctx {
	struct pci_access *pacc;
	bool dump;
};

void pcicap_decode_msi_control(uint16_t control, struct pcicap_msi *msi)
{
	msi->control = control;
	msi->enabled = control & PCI_MSI_FLAGS_ENABLE;
	msi->vectors_max = 1u << ((control & PCI_MSI_FLAGS_QMASK) >> 1);
	msi->vectors_enabled = 1u << ((control & PCI_MSI_FLAGS_QSIZE) >> 4);
	msi->is_64bit = control & PCI_MSI_FLAGS_64BIT;
	msi->per_vector_mask = control & PCI_MSI_FLAGS_MASK_BIT;
}

void pcicap_decode_msix(uint16_t control, uint32_t table, uint32_t pba, struct pcicap_msix *msix)
{
	msix->control = control;
	msix->enabled = control & PCI_MSIX_ENABLE;
	msix->function_mask = control & PCI_MSIX_MASK;
	msix->table_size = (control & PCI_MSIX_TABSIZE) + 1u;
	msix->table_bir = table & PCI_MSIX_BIR;
	msix->table_offset = table & ~(uint32_t)PCI_MSIX_BIR;
	msix->pba_bir = pba & PCI_MSIX_BIR;
	msix->pba_offset = pba & ~(uint32_t)PCI_MSIX_BIR;
}

static int check_area(const char *what, uint8_t bir, uint32_t offset, uint64_t len,
		      const uint64_t bar_size[6], struct err *e)
{
	if (bir > 5)
		return err_set(e, EINVAL, "MSI-X %s: BIR %u is reserved (BARs are 0..5)", what,
			       bir);
	if (!bar_size[bir])
		return err_set(e, EINVAL, "MSI-X %s: BAR %u is not implemented", what, bir);
	if (offset > bar_size[bir] || len > bar_size[bir] - offset)
		return err_set(e, EINVAL,
			       "MSI-X %s: 0x%x + 0x%llx bytes does not fit BAR %u of 0x%llx bytes",
			       what, offset, (unsigned long long)len, bir,
			       (unsigned long long)bar_size[bir]);
	return 0;
}

int pcicap_msix_check_bars(const struct pcicap_msix *m, const uint64_t bar_size[6], struct err *e)
{
	int rc = check_area("table", m->table_bir, m->table_offset, 16ull * m->table_size, bar_size,
			    e);

	if (rc)
		return rc;
	return check_area("PBA", m->pba_bir, m->pba_offset, 8ull * ((m->table_size + 63) / 64),
			  bar_size, e);
}

int pcicap_open(struct pcicap_ctx **out, const char *dump_file, struct err *e)
{
	struct pcicap_ctx *c = calloc(1, sizeof(*c));

	*out = NULL;
	if (!c)
		return err_set(e, ENOMEM, "out of memory");
	c->pacc = pciacc_alloc();
	if (!c->pacc) {
		free(c);
		return err_set(e, ENOMEM, "libpci: out of memory");
	}
	if (setjmp(pciacc_jmp)) {
		pci_cleanup(c->pacc);
		free(c);
		return err_set(e, EIO, "libpci: %s", pciacc_errmsg);
	}
	if (dump_file) {
		/* libpci opens the file itself, and would wait for ever on a FIFO: refused here */
		int fd = file_open_regular(dump_file, O_RDONLY, NULL, e);

		if (fd < 0) {
			pci_cleanup(c->pacc);
			free(c);
			return fd;
		}
		close(fd);
		c->pacc->method = PCI_ACCESS_DUMP;
		pci_set_param(c->pacc, "dump.name", (char *)dump_file);
		c->dump = true;
	} else {
		c->pacc->method = PCI_ACCESS_SYS_BUS_PCI;
	}
	pci_init(c->pacc);
	pci_scan_bus(c->pacc);
	*out = c;
	return 0;
}

void pcicap_close(struct pcicap_ctx *c)
{
	if (!c)
		return;
	pci_cleanup(c->pacc);
	free(c);
}

static void read_msi(struct pci_dev *d, unsigned pos, struct pcicap_msi *msi)
{
	unsigned data_at, mask_at;

	msi->present = true;
	msi->offset = (uint8_t)pos;
	pcicap_decode_msi_control(pci_read_word(d, (int)pos + PCI_MSI_FLAGS), msi);
	msi->address = pci_read_long(d, (int)pos + PCI_MSI_ADDRESS_LO);
	if (msi->is_64bit) {
		msi->address |= (uint64_t)pci_read_long(d, (int)pos + PCI_MSI_ADDRESS_HI) << 32;
		data_at = PCI_MSI_DATA_64;
		mask_at = PCI_MSI_MASK_BIT_64;
	} else {
		data_at = PCI_MSI_DATA_32;
		mask_at = PCI_MSI_MASK_BIT_32;
	}
	msi->data = pci_read_word(d, (int)(pos + data_at));
	if (msi->per_vector_mask) {
		msi->mask = pci_read_long(d, (int)(pos + mask_at));
		msi->pending = pci_read_long(d, (int)(pos + mask_at + 4));
	}
}

static void read_msix(struct pci_dev *d, unsigned pos, struct pcicap_msix *msix)
{
	msix->present = true;
	msix->offset = (uint8_t)pos;
	pcicap_decode_msix(pci_read_word(d, (int)pos + 2) /* Message Control */,
			   pci_read_long(d, (int)pos + PCI_MSIX_TABLE),
			   pci_read_long(d, (int)pos + PCI_MSIX_PBA), msix);
}

int pcicap_read(struct pcicap_ctx *c, const struct pci_addr *a, struct pcicap_info *out,
		struct err *e)
{
	char bdf[PCI_ADDR_STRLEN];
	struct pci_dev *volatile d;
	struct pci_cap *cap;

	memset(out, 0, sizeof(*out));
	out->addr = *a;
	pci_addr_format(a, bdf);
	if (setjmp(pciacc_jmp))
		return err_set(e, EIO, "%s: libpci: %s", bdf, pciacc_errmsg);
	for (d = c->pacc->devices; d; d = d->next)
		if ((uint32_t)d->domain == a->domain && d->bus == a->bus && d->dev == a->dev &&
		    d->func == a->fn)
			break;
	if (!d)
		return err_set(e, ENODEV, "%s: no such PCI device", bdf);
	pci_fill_info(d, PCI_FILL_IDENT | PCI_FILL_CAPS);
	out->vendor = d->vendor_id;
	out->device = d->device_id;
	if (pci_read_word(d, PCI_STATUS) & PCI_STATUS_CAP_LIST) {
		unsigned first = pci_read_byte(d, PCI_CAPABILITY_LIST) & ~3u;

		/* Unprivileged sysfs reads stop at 64 bytes; libpci then sees 0xff and no caps. */
		if (!c->dump && first >= 0x40 && pci_read_byte(d, (int)first) == 0xff &&
		    geteuid() != 0)
			return err_set(e, EACCES,
				       "%s: capabilities at 0x%02x are in the part of config space "
				       "only root may read",
				       bdf, first);
	}
	cap = pci_find_cap(d, PCI_CAP_ID_MSI, PCI_CAP_NORMAL);
	if (cap)
		read_msi(d, cap->addr, &out->msi);
	cap = pci_find_cap(d, PCI_CAP_ID_MSIX, PCI_CAP_NORMAL);
	if (cap)
		read_msix(d, cap->addr, &out->msix);
	return 0;
}
