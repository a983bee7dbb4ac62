/* regs.c: every register keeps its value across port-I/O exits (gVisor-style round trips). */
#include "guest.h"

uint32_t regs_roundtrip(uint32_t seed);

#define ROUNDS 10000

int main(struct start_info *si)
{
	uint32_t seed = 0x9e3779b9;

	(void)si;
	for (uint32_t i = 0; i < ROUNDS; i++) {
		uint32_t bad = regs_roundtrip(seed);

		if (bad) {
			puts("regs BAD mask ");
			put_hex(bad);
			puts(" round ");
			put_dec(i);
			puts("\n");
			return 1;
		}
		seed = seed * 1664525u + 1013904223u;
	}
	puts("regs ok ");
	put_dec(ROUNDS);
	puts("\n");
	return 0;
}
