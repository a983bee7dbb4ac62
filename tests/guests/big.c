/* big.c: a guest with 8 MiB of zeroed data, to test "memory too small for the kernel". */
#include "guest.h"

static volatile char ballast[8 << 20];

int main(struct start_info *si)
{
	(void)si;
	ballast[sizeof(ballast) - 1] = 1;
	puts(ballast[sizeof(ballast) - 1] ? "big\n" : "zero\n");
	return 0;
}
