/* guest.h: what the freestanding test guests share: port I/O, the COM1 console, exits. */
#ifndef GUEST_H
#define GUEST_H

#include <stdint.h>

static inline void outb(uint16_t port, uint8_t v)
{
	__asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static inline uint8_t inb(uint16_t port)
{
	uint8_t v;

	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline void outl(uint16_t port, uint32_t v)
{
	__asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port));
}

/* hvm_start_info (version 1), as the VMM leaves it at ebx. */
struct start_info {
	uint32_t magic, version, flags, nr_modules;
	uint64_t modlist_paddr, cmdline_paddr, rsdp_paddr, memmap_paddr;
	uint32_t memmap_entries, reserved;
};

struct memmap_entry {
	uint64_t addr, size;
	uint32_t type, reserved;
};

void putc(char c);
void puts(const char *s);
void put_hex(uint32_t v);
void put_dec(uint32_t v);
int streq_prefix(const char *s, const char *prefix);
/* Ask the VMM to stop: i8042 reset (mvm-run), isa-debug-exit (QEMU), then halt for good. */
void guest_exit(void) __attribute__((noreturn));
int main(struct start_info *si);

#endif
