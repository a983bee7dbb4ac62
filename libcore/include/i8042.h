/* i8042.h: the PS/2 controller, only as far as guests use it: probing, 0xfe = CPU reset, and
 * Ctrl-Alt-Del typed on the keyboard. */
#ifndef CORE_I8042_H
#define CORE_I8042_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "layout.h" /* its ports */
#include "vm_bus.h"

typedef void i8042_reset_fn(void *opaque);
/* Raise (level 1) or lower (0) an interrupt line: the keyboard's is IRQ 1. */
typedef void i8042_irq_fn(void *opaque, unsigned gsi, int level);

#define I8042_KBD_IRQ 1

struct i8042 {
	pthread_mutex_t lock;
	uint8_t ctr;	 /* controller configuration byte */
	uint8_t outp;	 /* output port */
	uint8_t pending; /* command waiting for its data byte (0: none) */
	uint8_t out[16]; /* output buffer */
	unsigned out_len;
	i8042_reset_fn *reset;
	void *opaque;
	i8042_irq_fn *irq;
	void *irq_opaque;
};

void i8042_init(struct i8042 *k, i8042_reset_fn *reset, void *opaque);
/* Where the keyboard interrupt goes (none until set). */
void i8042_set_irq(struct i8042 *k, i8042_irq_fn *irq, void *opaque);
/*
 * Ctrl, Alt and Del pressed (scan code set 2, as Firecracker sends them: 14 11 e0 71) into the
 * output buffer, with IRQ 1 when the guest enabled the keyboard interrupt; -ENOSPC when the
 * buffer cannot take them (the guest does not read its keyboard).
 */
int i8042_ctrl_alt_del(struct i8042 *k);
void i8042_destroy(struct i8042 *k);
/* Register both ports at I8042_IO_BASE: the ops take the port number as offset from 0x60. */
extern const struct vm_io_ops i8042_io_ops;

#endif
