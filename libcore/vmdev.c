/* vmdev.c: builds the virtio-mmio device set of a microVM from its configuration. */
#include "vmdev.h"

#include <errno.h>

int vmdev_create_all(struct vmdev_set *s, struct vm *vm, const struct vmconfig *cfg,
		     char *cmdline, size_t cmdline_len, struct err *e)
{
	(void)vm;
	(void)cmdline;
	(void)cmdline_len;
	s->n = 0;
	if (cfg->nr_disks || cfg->nr_nets || cfg->rng)
		return err_set(e, ENOTSUP, "virtio devices are not available yet");
	return 0;
}

int vmdev_start_all(struct vmdev_set *s, struct err *e)
{
	(void)s;
	(void)e;
	return 0;
}
