/* vmdev.c: builds the virtio-mmio device set of a microVM from its configuration. */
#include "vmdev.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "layout.h"
#include "virtio_devs.h"
#include "virtio_mmio.h"

struct vmdev {
	struct virtio_mmio mmio;
	gpa_t gpa;
	unsigned irq;
	union {
		struct virtio_blk blk;
		struct virtio_net net;
		struct virtio_rng rng;
		struct virtio_vsock vsock;
	} u;
};

struct virtio_mmio *vmdev_transport(struct vmdev_set *s, unsigned i)
{
	return i < s->n ? &s->dev[i]->mmio : NULL;
}

static int append(char *cmdline, size_t len, gpa_t gpa, unsigned irq, struct err *e)
{
	size_t used = strlen(cmdline);
	int n = snprintf(cmdline + used, len - used, "%svirtio_mmio.device=4K@0x%" PRIx64 ":%u",
			 used ? " " : "", gpa, irq);

	if (n < 0 || (size_t)n >= len - used)
		return err_input(e, E2BIG, "kernel command line too long for the devices");
	return 0;
}

/* Register the transport at the next slot: MMIO range, irqfd, one ioeventfd per queue. */
static int attach(struct vmdev_set *s, struct vm *vm, struct vmdev *d,
		  const struct virtio_dev_ops *ops, char *cmdline, size_t cmdline_len,
		  struct err *e)
{
	unsigned i = s->n;
	int rc;

	if (i == VMDEV_MAX)
		return err_input(e, ENOSPC, "at most %d virtio devices", VMDEV_MAX);
	d->gpa = vmdev_mmio_gpa(i);
	d->irq = vmdev_irq(i);
	virtio_mmio_init(&d->mmio, ops, &d->u, s->mem);
	s->dev[s->n++] = d;
	rc = vm_bus_register(&vm->mmio, d->gpa, VMDEV_MMIO_SIZE, &virtio_mmio_io_ops, &d->mmio,
			     ops->name, e);
	if (rc)
		return rc;
	if (vm->kvm.irqchip) {
		d->mmio.irq_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (d->mmio.irq_fd < 0)
			return err_set(e, errno, "eventfd: %s", strerror(errno));
		rc = kvm_irqfd_assign(&vm->kvm, d->mmio.irq_fd, d->irq, e);
		if (rc)
			return rc;
		for (unsigned q = 0; q < ops->nr_queues; q++) {
			int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

			if (fd < 0)
				return err_set(e, errno, "eventfd: %s", strerror(errno));
			if (kvm_vm_ioeventfd(&vm->kvm, fd, d->gpa + VIRTIO_MMIO_QUEUE_NOTIFY, 4,
					     true, q, NULL)) {
				/* No ioeventfd: notifications come as MMIO exits instead. */
				close(fd);
				break;
			}
			d->mmio.kick_fd[q] = fd;
		}
	}
	return append(cmdline, cmdline_len, d->gpa, d->irq, e);
}

int vmdev_create_all(struct vmdev_set *s, struct vm *vm, const struct vmconfig *cfg, char *cmdline,
		     size_t cmdline_len, struct err *e)
{
	int rc;

	memset(s, 0, sizeof(*s));
	s->mem = &vm->ram.mem;
	for (unsigned i = 0; i < cfg->nr_disks; i++) {
		struct vmdev *d = calloc(1, sizeof(*d));

		if (!d)
			return err_set(e, ENOMEM, "%s", strerror(ENOMEM));
		rc = virtio_blk_open(&d->u.blk, cfg->disk[i].path, cfg->disk[i].read_only, e);
		if (rc) {
			free(d);
			return err_prefix(e, "disk");
		}
		if (cfg->disk[i].io_engine == VMCONFIG_IO_ASYNC &&
		    (rc = virtio_blk_set_engine(&d->u.blk, VIRTIO_BLK_ASYNC, e))) {
			virtio_blk_close(&d->u.blk);
			free(d);
			return err_prefix(e, "drives[%u]: io_engine \"Async\"", i);
		}
		rc = attach(s, vm, d, &virtio_blk_ops, cmdline, cmdline_len, e);
		if (rc)
			return rc;
		if (d->u.blk.read_only)
			d->mmio.device_features |= 1ULL << 5; /* VIRTIO_BLK_F_RO */
	}
	for (unsigned i = 0; i < cfg->nr_nets; i++) {
		struct vmdev *d = calloc(1, sizeof(*d));
		uint8_t mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, (uint8_t)(0x56 + i) };

		if (!d)
			return err_set(e, ENOMEM, "%s", strerror(ENOMEM));
		if (cfg->net[i].has_mac)
			memcpy(mac, cfg->net[i].mac, 6);
		rc = virtio_net_open(&d->u.net, cfg->net[i].tap, mac, e);
		if (rc) {
			free(d);
			return err_prefix(e, "network");
		}
		rc = attach(s, vm, d, &virtio_net_ops, cmdline, cmdline_len, e);
		if (rc)
			return rc;
	}
	if (cfg->rng) {
		struct vmdev *d = calloc(1, sizeof(*d));

		if (!d)
			return err_set(e, ENOMEM, "%s", strerror(ENOMEM));
		rc = attach(s, vm, d, &virtio_rng_ops, cmdline, cmdline_len, e);
		if (rc)
			return rc;
	}
	if (cfg->vsock) {
		struct vmdev *d = calloc(1, sizeof(*d));

		if (!d)
			return err_set(e, ENOMEM, "%s", strerror(ENOMEM));
		rc = virtio_vsock_open(&d->u.vsock, cfg->vsock_cid, cfg->vsock_uds, e);
		if (rc) {
			virtio_vsock_close(&d->u.vsock);
			free(d);
			return rc;
		}
		rc = attach(s, vm, d, &virtio_vsock_ops, cmdline, cmdline_len, e);
		if (rc)
			return rc;
	}
	return 0;
}

int vmdev_start_all(struct vmdev_set *s, struct err *e)
{
	for (unsigned i = 0; i < s->n; i++) {
		int rc = virtio_mmio_start(&s->dev[i]->mmio, e);

		if (rc)
			return rc;
	}
	return 0;
}

void vmdev_pause_all(struct vmdev_set *s)
{
	for (unsigned i = 0; i < s->n; i++)
		virtio_mmio_pause(&s->dev[i]->mmio);
}

void vmdev_finish_in_flight(struct vmdev_set *s)
{
	/* Only those that can have requests in flight: another may be blocked under its lock. */
	for (unsigned i = 0; i < s->n; i++)
		if (s->dev[i]->mmio.ops->quiesce)
			virtio_mmio_pause(&s->dev[i]->mmio);
}

void vmdev_resume_all(struct vmdev_set *s)
{
	for (unsigned i = 0; i < s->n; i++)
		virtio_mmio_resume(&s->dev[i]->mmio);
}

int vmdev_where(struct vmdev_set *s, unsigned i, gpa_t *gpa, unsigned *irq)
{
	if (i >= s->n)
		return -ENOENT;
	*gpa = s->dev[i]->gpa;
	*irq = s->dev[i]->irq;
	return 0;
}

unsigned vmdev_report_broken(struct vmdev_set *s, void (*fn)(const char *line, void *arg),
			     void *arg)
{
	unsigned n = 0;

	for (unsigned i = 0; i < s->n; i++) {
		struct virtio_mmio *m = &s->dev[i]->mmio;
		char line[300];

		pthread_mutex_lock(&m->lock);
		if (m->broken_count) {
			snprintf(line, sizeof(line), "%s at 0x%" PRIx64 ": needs reset: %s",
				 m->ops->name, s->dev[i]->gpa, m->broken);
			n++;
		}
		pthread_mutex_unlock(&m->lock);
		if (m->broken_count && fn)
			fn(line, arg);
	}
	return n;
}
