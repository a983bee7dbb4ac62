/* i8042.c: PS/2 controller stub: the guest driver's probe, 0xfe as a reset, Ctrl-Alt-Del. */
#include "i8042.h"
#include "layout.h"

#include <errno.h>
#include <stdbool.h>
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

#define CTR_KBD_INT 0x01 /* configuration byte: keyboard interrupt enabled */
#define CTR_XLATE   0x40 /* ... and the controller translates set 2 to set 1 */

/* Ctrl, Alt, Del pressed, then released in reverse order (IBM PC/AT scan code sets 1 and 2). */
static const uint8_t cad_set1[] = { 0x1d, 0x38, 0xe0, 0x53, 0xe0, 0xd3, 0xb8, 0x9d };
static const uint8_t cad_set2[] = {
	0x14, 0x11, 0xe0, 0x71, 0xe0, 0xf0, 0x71, 0xf0, 0x11, 0xf0, 0x14
};

void i8042_init(struct i8042 *k, i8042_reset_fn *reset, void *opaque)
{
	memset(k, 0, sizeof(*k));
	pthread_mutex_init(&k->lock, NULL);
	k->ctr = 0x44; /* system flag, translation; no interrupts */
	k->outp = 0x01;
	k->reset = reset;
	k->opaque = opaque;
}

void i8042_destroy(struct i8042 *k)
{
	pthread_mutex_destroy(&k->lock);
}

void i8042_set_irq(struct i8042 *k, i8042_irq_fn *irq, void *opaque)
{
	k->irq = irq;
	k->irq_opaque = opaque;
}

/* One byte for the keyboard driver: pulse IRQ 1 (the guest reads one byte per interrupt). */
static void kbd_pulse(struct i8042 *k)
{
	k->irq(k->irq_opaque, I8042_KBD_IRQ, 1);
	k->irq(k->irq_opaque, I8042_KBD_IRQ, 0);
}

/* Queue Ctrl-Alt-Del; with heard_only, only when the guest's driver takes keyboard interrupts. */
static int press_ctrl_alt_del(struct i8042 *k, bool heard_only)
{
	const uint8_t *codes;
	size_t n;
	int rc = 0;

	pthread_mutex_lock(&k->lock);
	codes = k->ctr & CTR_XLATE ? cad_set1 : cad_set2;
	n = k->ctr & CTR_XLATE ? sizeof(cad_set1) : sizeof(cad_set2);
	if (heard_only && (!k->irq || !(k->ctr & CTR_KBD_INT)))
		rc = -ENODEV;
	else if (k->kbd_len)
		rc = -EBUSY;
	if (!rc) {
		memcpy(k->kbd, codes, n);
		k->kbd_len = (unsigned)n;
		if (!k->out_len && k->irq && (k->ctr & CTR_KBD_INT))
			kbd_pulse(k);
	}
	pthread_mutex_unlock(&k->lock);
	return rc;
}

int i8042_ctrl_alt_del(struct i8042 *k)
{
	return press_ctrl_alt_del(k, true);
}

int i8042_send_ctrl_alt_del(struct i8042 *k)
{
	return press_ctrl_alt_del(k, false);
}

static void push_locked(struct i8042 *k, uint8_t v)
{
	if (k->out_len < sizeof(k->out))
		k->out[k->out_len++] = v;
}

static void i8042_read(void *dev, uint64_t off, uint8_t *data, unsigned len)
{
	struct i8042 *k = dev;

	memset(data, 0, len);
	pthread_mutex_lock(&k->lock);
	if (off == 0) {
		if (k->out_len) {
			data[0] = k->out[0];
			memmove(k->out, k->out + 1, --k->out_len);
		} else if (k->kbd_len) {
			data[0] = k->kbd[0];
			memmove(k->kbd, k->kbd + 1, --k->kbd_len);
		}
		/* The next key, if the guest still listens. */
		if (!k->out_len && k->kbd_len && k->irq && (k->ctr & CTR_KBD_INT))
			kbd_pulse(k);
	} else if (off == I8042_COMMAND_PORT - I8042_IO_BASE) {
		data[0] = ST_SYS | ST_KBD_ON | (k->out_len || k->kbd_len ? ST_OUT_FULL : 0) |
			  (k->pending ? ST_CMD_DATA : 0);
	} else {
		data[0] = 0xff; /* 0x61-0x63 belong to other chips */
	}
	pthread_mutex_unlock(&k->lock);
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
