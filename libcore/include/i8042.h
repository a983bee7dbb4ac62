/*
 * i8042.h: the PS/2 controller, only as far as guests use it: probing, 0xfe = CPU reset, and a
 * keyboard that can press one key combination, Ctrl-Alt-Del (how a host asks a guest to shut
 * down, as Firecracker's SendCtrlAltDel does).
 */
#ifndef CORE_I8042_H
#define CORE_I8042_H

#include <pthread.h>
#include <stdint.h>

#include "layout.h" /* its ports */
#include "vm_bus.h"

typedef void i8042_reset_fn(void *opaque);
typedef void i8042_irq_fn(void *opaque, unsigned gsi, int level);

struct i8042 {
	pthread_mutex_t lock;
	uint8_t ctr;	 /* controller configuration byte */
	uint8_t outp;	 /* output port */
	uint8_t pending; /* command waiting for its data byte (0: none) */
	uint8_t out[4];	 /* output buffer: command responses */
	unsigned out_len;
	uint8_t kbd[16]; /* keyboard scan codes, read after the command responses */
	unsigned kbd_len;
	i8042_reset_fn *reset;
	void *opaque;
	i8042_irq_fn *irq; /* NULL: no keyboard interrupt (no key is pressed) */
	void *irq_opaque;
};

void i8042_init(struct i8042 *k, i8042_reset_fn *reset, void *opaque);
void i8042_destroy(struct i8042 *k);
/* The line that raises the keyboard's interrupt (IRQ 1, edge: raised then lowered). */
void i8042_set_irq(struct i8042 *k, i8042_irq_fn *irq, void *opaque);
/*
 * Press and release Ctrl-Alt-Del: the scan codes go to the guest's keyboard driver, one per
 * interrupt, in set 1 when the guest has the controller translate (configuration byte bit 6,
 * as Linux leaves it) and in set 2 otherwise. -ENODEV when no guest driver listens (keyboard
 * interrupt off, or no IRQ line), -EBUSY when keys are still queued.
 */
int i8042_ctrl_alt_del(struct i8042 *k);
/*
 * The same as Firecracker's SendCtrlAltDel does it: the keys are queued whether or not the guest
 * takes keyboard interrupts (a guest that polls the controller reads them); -EBUSY while keys
 * are still queued.
 */
int i8042_send_ctrl_alt_del(struct i8042 *k);
/* Register both ports at I8042_IO_BASE: the ops take the port number as offset from 0x60. */
extern const struct vm_io_ops i8042_io_ops;

#endif
