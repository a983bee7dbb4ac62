/* triple.c: an exception with no IDT: #UD → #DF → triple fault; the VMM must report it. */
#include "guest.h"

int main(struct start_info *si)
{
	(void)si;
	puts("triple fault next\n");
	__asm__ volatile("movl $0xdeadbeef, %eax\n\t ud2");
	return 0;
}
