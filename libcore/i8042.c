/* i8042.c: PS/2 controller stub: answers the guest driver's probe and turns 0xfe into a reset. */
#include "i8042.h"
#include "layout.h"

#include <errno.h>
#include <string.h>

#define ST_OUT_FULL 0x01
#define ST_SYS	    0x04
#define ST_CMD_DATA 0x08
#define ST_KBD_ON   0x10

#define CMD_READ_CTR   0x20
#define CMD_WRITE_CTR  0x60
#define CMD_SELF_TEST  0xaa
#define CMD_KBD_TEST   0xab
#define CMD_READ_OUTP  0xd0
#define CMD_WRITE_OUTP 0xd1
#define CMD_RESET_CPU  0xfe

#define CTR_KBD_INT 0x01 /* keyboard interrupt enabled */

void i8042_init(struct i8042 *k, i8042_reset_fn *reset, void *opaque)
{
	memset(k, 0, sizeof(*k));
	pthread_mutex_init(&k->lock, NULL);
	k->ctr = 0x44; /* system flag, translation; no interrupts */
	k->outp = 0x01;
	k->reset = reset;
	k->opaque = opaque;
}

/* An edge on the ISA line: the IOAPIC and PIC latch it. */
static void kbd_irq(struct i8042 *k)
{
	k->irq(k->irq_opaque, I8042_KBD_IRQ, 1);
	k->irq(k->irq_opaque, I8042_KBD_IRQ, 0);
}

void i8042_set_irq(struct i8042 *k, i8042_irq_fn *irq, void *opaque)
{
	k->irq = irq;
	k->irq_opaque = opaque;
}

int i8042_ctrl_alt_del(struct i8042 *k)
{
	static const uint8_t keys[] = { 0x14, 0x11, 0xe0, 0x71 };
	bool irq;

	pthread_mutex_lock(&k->lock);
	if (k->out_len + sizeof(keys) > sizeof(k->out)) {
		pthread_mutex_unlock(&k->lock);
		return -ENOSPC;
	}
	memcpy(k->out + k->out_len, keys, sizeof(keys));
	k->out_len += sizeof(keys);
	irq = k->irq && (k->ctr & CTR_KBD_INT);
	pthread_mutex_unlock(&k->lock);
	if (irq)
		kbd_irq(k);
	return 0;
}

void i8042_destroy(struct i8042 *k)
{
	pthread_mutex_destroy(&k->lock);
}

static void push_locked(struct i8042 *k, uint8_t v)
{
	if (k->out_len < sizeof(k->out))
		k->out[k->out_len++] = v;
}

static void i8042_read(void *dev, uint64_t off, uint8_t *data, unsigned len)
{
	struct i8042 *k = dev;
	bool more = false;

	memset(data, 0, len);
	pthread_mutex_lock(&k->lock);
	if (off == 0) {
		if (k->out_len) {
			data[0] = k->out[0];
			memmove(k->out, k->out + 1, --k->out_len);
			/* One interrupt per byte, as the guest's handler reads one byte each. */
			more = k->out_len && k->irq && (k->ctr & CTR_KBD_INT);
		}
	} else if (off == I8042_COMMAND_PORT - I8042_IO_BASE) {
		data[0] = ST_SYS | ST_KBD_ON | (k->out_len ? ST_OUT_FULL : 0) |
			  (k->pending ? ST_CMD_DATA : 0);
	} else {
		data[0] = 0xff; /* 0x61-0x63 belong to other chips */
	}
	pthread_mutex_unlock(&k->lock);
	if (more)
		kbd_irq(k);
}

static void i8042_write(void *dev, uint64_t off, const uint8_t *data, unsigned len)
{
	struct i8042 *k = dev;
	int reset = 0;

	(void)len;
	pthread_mutex_lock(&k->lock);
	if (off == 0) {
		if (k->pending == CMD_WRITE_CTR)
			k->ctr = data[0];
		else if (k->pending == CMD_WRITE_OUTP)
			k->outp = data[0];
		k->pending = 0;
	} else if (off == I8042_COMMAND_PORT - I8042_IO_BASE) {
		switch (data[0]) {
		case CMD_READ_CTR:
			push_locked(k, k->ctr);
			break;
		case CMD_WRITE_CTR:
		case CMD_WRITE_OUTP:
			k->pending = data[0];
			break;
		case CMD_SELF_TEST:
			push_locked(k, 0x55);
			break;
		case CMD_KBD_TEST:
			push_locked(k, 0x00);
			break;
		case CMD_READ_OUTP:
			push_locked(k, k->outp);
			break;
		case CMD_RESET_CPU:
			reset = 1;
			break;
		default:
			break; /* enable/disable ports and the like: nothing to model */
		}
	}
	pthread_mutex_unlock(&k->lock);
	if (reset && k->reset)
		k->reset(k->opaque);
}

const struct vm_io_ops i8042_io_ops = { .read = i8042_read, .write = i8042_write };
