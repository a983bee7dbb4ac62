/* count.c: counts on COM1 for ever, and reports what its keyboard (the i8042) sends it. */
#include "guest.h"

#define I8042_DATA   0x60
#define I8042_STATUS 0x64

/* Polls the keyboard; true once Ctrl, Alt and Del came (set 2: 14 11 e0 71). */
static int keyboard(void)
{
	static const uint8_t cad[] = { 0x14, 0x11, 0xe0, 0x71 };
	static unsigned seen;
	uint8_t b;

	if (!(inb(I8042_STATUS) & 1))
		return 0;
	b = inb(I8042_DATA);
	puts("key ");
	put_hex(b);
	puts("\n");
	seen = b == cad[seen] ? seen + 1 : b == cad[0];
	return seen == sizeof(cad);
}

int main(struct start_info *si)
{
	puts("cmdline ");
	if (si->cmdline_paddr)
		puts((const char *)(uintptr_t)si->cmdline_paddr);
	puts("\n");
	/* The controller's configuration byte: no translation (so set 2, what Firecracker's i8042
	 * sends), no interrupts: this guest polls. */
	outb(I8042_STATUS, 0x60);
	outb(I8042_DATA, 0x04);
	for (uint32_t n = 0;; n++) {
		puts("count ");
		put_dec(n);
		puts("\n");
		/* Each status read is an exit: about a few ms between lines, on any host. */
		for (int i = 0; i < 1000; i++) {
			if (keyboard()) {
				puts("ctrl-alt-del\n");
				guest_exit();
			}
		}
	}
}
