/* spin.c: a vCPU that never exits on its own (interrupts off, no I/O): only a kick stops it. */
#include "guest.h"

int main(struct start_info *si)
{
	(void)si;
	puts("spinning\n");
	for (;;)
		__asm__ volatile("" ::: "memory");
}
