/* serial.c: 8250/16550A UART emulation: registers, loopback (for the driver's probe), interrupts.
 */
#include "serial.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

/* Register offsets and bits (the 16550A data sheet's names). */
#define UART_RX	 0 /* read, DLAB=0 */
#define UART_TX	 0 /* write, DLAB=0 */
#define UART_DLL 0 /* DLAB=1 */
#define UART_IER 1
#define UART_DLM 1 /* DLAB=1 */
#define UART_IIR 2 /* read */
#define UART_FCR 2 /* write */
#define UART_LCR 3
#define UART_MCR 4
#define UART_LSR 5
#define UART_MSR 6
#define UART_SCR 7

#define IER_RDI	   0x01
#define IER_THRI   0x02
#define IIR_NONE   0x01
#define IIR_THRI   0x02
#define IIR_RDI	   0x04
#define IIR_FIFO   0xc0
#define LCR_DLAB   0x80
#define MCR_DTR	   0x01
#define MCR_RTS	   0x02
#define MCR_OUT1   0x04
#define MCR_OUT2   0x08
#define MCR_LOOP   0x10
#define LSR_DR	   0x01
#define LSR_THRE   0x20
#define LSR_TEMT   0x40
#define MSR_CTS	   0x10
#define MSR_DSR	   0x20
#define MSR_RI	   0x40
#define MSR_DCD	   0x80
#define FCR_ENABLE 0x01

void serial_init(struct serial *s, int out_fd, unsigned gsi, serial_irq_fn *irq, void *opaque)
{
	memset(s, 0, sizeof(*s));
	pthread_mutex_init(&s->lock, NULL);
	s->out_fd = out_fd;
	s->gsi = gsi;
	s->irq = irq;
	s->irq_opaque = opaque;
	s->lsr = LSR_THRE | LSR_TEMT;
	s->msr = MSR_DCD | MSR_DSR | MSR_CTS;
	s->mcr = MCR_OUT2;
}

void serial_destroy(struct serial *s)
{
	pthread_mutex_destroy(&s->lock);
}

static uint8_t iir_locked(const struct serial *s)
{
	uint8_t fifo = (s->fcr & FCR_ENABLE) ? IIR_FIFO : 0;

	if ((s->ier & IER_RDI) && s->rx_count)
		return IIR_RDI | fifo;
	if ((s->ier & IER_THRI) && (s->lsr & LSR_TEMT))
		return IIR_THRI | fifo;
	return IIR_NONE | fifo;
}

/* The line follows "an interrupt is pending"; the interrupt controller sees its edges. */
static void update_irq_locked(struct serial *s)
{
	int level = !(iir_locked(s) & IIR_NONE);

	if (level != s->irq_level) {
		s->irq_level = level;
		if (s->irq)
			s->irq(s->irq_opaque, s->gsi, level);
	}
}

static void rx_put_locked(struct serial *s, uint8_t c)
{
	if (s->rx_count == SERIAL_RX_SIZE)
		return; /* overrun: the byte is lost, as on real hardware */
	s->rx[(s->rx_head + s->rx_count) % SERIAL_RX_SIZE] = c;
	s->rx_count++;
}

size_t serial_rx_push(struct serial *s, const uint8_t *buf, size_t n)
{
	size_t done = 0;

	pthread_mutex_lock(&s->lock);
	while (done < n && s->rx_count < SERIAL_RX_SIZE)
		rx_put_locked(s, buf[done++]);
	update_irq_locked(s);
	pthread_mutex_unlock(&s->lock);
	return done;
}

static void tx_locked(struct serial *s, uint8_t c)
{
	if (s->mcr & MCR_LOOP) {
		rx_put_locked(s, c);
		return;
	}
	s->tx_bytes++;
	if (s->out_fd >= 0) {
		/* The console is best effort: a closed or full output must not stop the guest. */
		while (write(s->out_fd, &c, 1) < 0 && errno == EINTR)
			;
	}
}

static uint8_t reg_read_locked(struct serial *s, unsigned reg)
{
	uint8_t v;

	switch (reg) {
	case UART_RX:
		if (s->lcr & LCR_DLAB)
			return s->dll;
		if (!s->rx_count)
			return 0;
		v = s->rx[s->rx_head];
		s->rx_head = (s->rx_head + 1) % SERIAL_RX_SIZE;
		s->rx_count--;
		return v;
	case UART_IER:
		return (s->lcr & LCR_DLAB) ? s->dlm : s->ier;
	case UART_IIR:
		return iir_locked(s);
	case UART_LCR:
		return s->lcr;
	case UART_MCR:
		return s->mcr;
	case UART_LSR:
		return (uint8_t)(s->lsr | (s->rx_count ? LSR_DR : 0));
	case UART_MSR:
		if (s->mcr & MCR_LOOP) {
			/* Loopback wires the modem control outputs back to the status inputs. */
			v = 0;
			if (s->mcr & MCR_RTS)
				v |= MSR_CTS;
			if (s->mcr & MCR_DTR)
				v |= MSR_DSR;
			if (s->mcr & MCR_OUT1)
				v |= MSR_RI;
			if (s->mcr & MCR_OUT2)
				v |= MSR_DCD;
			return v;
		}
		return s->msr;
	default:
		return s->scr;
	}
}

static void reg_write_locked(struct serial *s, unsigned reg, uint8_t v)
{
	switch (reg) {
	case UART_TX:
		if (s->lcr & LCR_DLAB)
			s->dll = v;
		else
			tx_locked(s, v);
		break;
	case UART_IER:
		if (s->lcr & LCR_DLAB)
			s->dlm = v;
		else
			s->ier = v & 0x0f;
		break;
	case UART_FCR:
		s->fcr = v & 0xc9;
		if (v & 0x02) { /* clear the receive FIFO */
			s->rx_count = 0;
			s->rx_head = 0;
		}
		break;
	case UART_LCR:
		s->lcr = v;
		break;
	case UART_MCR:
		s->mcr = v & 0x1f;
		break;
	case UART_SCR:
		s->scr = v;
		break;
	default:
		break; /* LSR and MSR are read-only */
	}
}

static void serial_read(void *dev, uint64_t off, uint8_t *data, unsigned len)
{
	struct serial *s = dev;

	pthread_mutex_lock(&s->lock);
	data[0] = reg_read_locked(s, (unsigned)off);
	for (unsigned i = 1; i < len; i++)
		data[i] = 0xff;
	update_irq_locked(s);
	pthread_mutex_unlock(&s->lock);
}

static void serial_write(void *dev, uint64_t off, const uint8_t *data, unsigned len)
{
	struct serial *s = dev;

	(void)len; /* wider accesses use their low byte, as on the ISA bus */
	pthread_mutex_lock(&s->lock);
	reg_write_locked(s, (unsigned)off, data[0]);
	update_irq_locked(s);
	pthread_mutex_unlock(&s->lock);
}

const struct vm_io_ops serial_io_ops = { .read = serial_read, .write = serial_write };
