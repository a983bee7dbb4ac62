/* lib.c: the test guests' runtime: a polled COM1 console and the way out. */
#include "guest.h"

#define COM1 0x3f8

void putc(char c)
{
	while (!(inb(COM1 + 5) & 0x20))
		; /* THR empty */
	outb(COM1, (uint8_t)c);
}

void puts(const char *s)
{
	while (*s)
		putc(*s++);
}

void put_hex(uint32_t v)
{
	puts("0x");
	for (int i = 28; i >= 0; i -= 4)
		putc("0123456789abcdef"[(v >> i) & 0xf]);
}

void put_dec(uint32_t v)
{
	char buf[11];
	int i = 10;

	buf[i] = 0;
	do {
		buf[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	puts(buf + i);
}

int streq_prefix(const char *s, const char *prefix)
{
	while (*prefix)
		if (*s++ != *prefix++)
			return 0;
	return 1;
}

void guest_exit(void)
{
	outb(0x64, 0xfe); /* i8042: pulse the reset line */
	outb(0xf4, 0);	  /* QEMU isa-debug-exit, when present */
	for (;;)
		__asm__ volatile("cli; hlt");
}
