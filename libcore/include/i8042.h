/* i8042.h: the PS/2 controller, only as far as guests use it: probing, and 0xfe = CPU reset. */
#ifndef CORE_I8042_H
#define CORE_I8042_H

#include <pthread.h>
#include <stdint.h>

#include "layout.h" /* its ports */
#include "vm_bus.h"

typedef void i8042_reset_fn(void *opaque);

struct i8042 {
	pthread_mutex_t lock;
	uint8_t ctr;	 /* controller configuration byte */
	uint8_t outp;	 /* output port */
	uint8_t pending; /* command waiting for its data byte (0: none) */
	uint8_t out[4];	 /* output buffer */
	unsigned out_len;
	i8042_reset_fn *reset;
	void *opaque;
};

void i8042_init(struct i8042 *k, i8042_reset_fn *reset, void *opaque);
void i8042_destroy(struct i8042 *k);
/* Register both ports at I8042_IO_BASE: the ops take the port number as offset from 0x60. */
extern const struct vm_io_ops i8042_io_ops;

#endif
