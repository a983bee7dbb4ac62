/* fuzz_serial_i8042.c: libFuzzer target: the COM1 UART and the i8042 driven by guest port I/O. */
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "i8042.h"
#include "serial.h"
#include "vm_bus.h"

static int null_fd = -1;
static unsigned events;

static void irq(void *opaque, unsigned gsi, int level)
{
	(void)opaque;
	if (gsi != 4 || (level != 0 && level != 1))
		abort(); /* only COM1's line, only raised or lowered */
	events++;
}

static void reset(void *opaque)
{
	(void)opaque;
	events++;
}

/*
 * Input: a sequence of 3-byte accesses: op (bit 0: write; bit 1: i8042, else UART; bit 2:
 * console input instead), port offset, value. Console input pushes 8 * value bytes (a typist
 * faster than the guest reads: the queue must stay bounded).
 */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct serial s;
	struct i8042 k;

	if (null_fd < 0)
		null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	serial_init(&s, null_fd, 4, irq, NULL);
	i8042_init(&k, reset, NULL);
	for (size_t i = 0; i + 3 <= len; i += 3) {
		uint8_t op = data[i], port = data[i + 1], v = data[i + 2], got = 0;

		if (op & 4) {
			uint8_t typed[8 * 255];
			size_t n = 8u * v;

			memset(typed, port, n);
			if (serial_rx_push(&s, typed, n) > n)
				abort();
			if (s.rx_count > SERIAL_RX_SIZE)
				abort();
			continue;
		}
		if (op & 2) {
			uint64_t off = port % 5; /* the bus gives offsets 0..4 from 0x60 */

			if (op & 1)
				i8042_io_ops.write(&k, off, &v, 1);
			else
				i8042_io_ops.read(&k, off, &got, 1);
		} else {
			if (op & 1)
				serial_io_ops.write(&s, port & 7, &v, 1);
			else
				serial_io_ops.read(&s, port & 7, &got, 1);
		}
		if (s.rx_count > SERIAL_RX_SIZE || k.out_len > sizeof(k.out))
			abort();
	}
	serial_destroy(&s);
	i8042_destroy(&k);
	return events == 0xdeadbeef;
}
