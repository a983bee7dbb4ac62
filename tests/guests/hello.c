/* hello.c: serial output, and what the VMM passed in start_info (magic, command line, memory). */
#include "guest.h"

int main(struct start_info *si)
{
	puts("hello from the PVH guest\n");
	puts("magic ");
	put_hex(si->magic);
	puts("\ncmdline ");
	if (si->cmdline_paddr)
		puts((const char *)(uintptr_t)si->cmdline_paddr);
	puts("\nmemmap");
	struct memmap_entry *m = (struct memmap_entry *)(uintptr_t)si->memmap_paddr;
	uint64_t ram = 0;

	for (uint32_t i = 0; i < si->memmap_entries; i++)
		if (m[i].type == 1)
			ram += m[i].size;
	puts(" entries ");
	put_dec(si->memmap_entries);
	puts(" ram_kib ");
	put_dec((uint32_t)(ram >> 10));
	puts("\nmodules ");
	put_dec(si->nr_modules);
	puts("\nbye\n");
	return 0;
}
