/* serial.h: an 8250/16550A UART (COM1) for the guest console: output to a file, input queued. */
#ifndef CORE_SERIAL_H
#define CORE_SERIAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "layout.h" /* COM1's ports and IRQ */
#include "vm_bus.h"

#define SERIAL_RX_SIZE 1024

/* Interrupt line callback: level 1 raised, 0 lowered. */
typedef void serial_irq_fn(void *opaque, unsigned gsi, int level);

struct serial {
	pthread_mutex_t lock;
	uint8_t ier, lcr, mcr, lsr, msr, scr, dll, dlm, fcr;
	uint8_t rx[SERIAL_RX_SIZE];
	unsigned rx_head, rx_count;
	int out_fd; /* -1: output discarded */
	unsigned gsi;
	int irq_level;
	serial_irq_fn *irq;
	void *irq_opaque;
	uint64_t tx_bytes;
};

void serial_init(struct serial *s, int out_fd, unsigned gsi, serial_irq_fn *irq, void *opaque);
void serial_destroy(struct serial *s);
/* Queue console input for the guest; returns how many bytes fit. */
size_t serial_rx_push(struct serial *s, const uint8_t *buf, size_t n);

extern const struct vm_io_ops serial_io_ops;

#endif
