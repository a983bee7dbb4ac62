/* echo.c: console input: reads one line from COM1 (polling) and prints it back. */
#include "guest.h"

int main(struct start_info *si)
{
	char line[64];
	unsigned n = 0;

	(void)si;
	puts("type a line\n");
	while (n < sizeof(line) - 1) {
		char c;

		while (!(inb(0x3f8 + 5) & 1))
			; /* data ready */
		c = (char)inb(0x3f8);
		if (c == '\n' || c == '\r')
			break;
		line[n++] = c;
	}
	line[n] = 0;
	puts("got: ");
	puts(line);
	puts("\n");
	return 0;
}
