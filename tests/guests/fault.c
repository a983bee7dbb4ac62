/* fault.c: exceptions go to the guest's own IDT and return (ud2, int3), then it exits. */
#include "guest.h"

struct idt_entry {
	uint16_t off_lo, sel;
	uint8_t zero, type;
	uint16_t off_hi;
} __attribute__((packed));

static struct idt_entry idt[32];
static volatile uint32_t last_vector, last_eip;

/* The frame the CPU pushes without an error code; handlers are asm stubs below. */
void fault_dispatch(uint32_t vector, uint32_t *eip);
void stub_ud(void);
void stub_de(void);

/*
 * The stubs return without IRET: they drop the CPU's frame and jump back, which is the same to
 * the guest, and some software hypervisors (PVM on this project's hosts) cannot emulate a
 * 32-bit IRET.
 */
static volatile uint32_t ret_eip;
__asm__(".text\n"
	"stub_ud:\n\t pusha\n\t lea 32(%esp), %eax\n\t push %eax\n\t push $6\n\t"
	"jmp stub_common\n"
	"stub_de:\n\t pusha\n\t lea 32(%esp), %eax\n\t push %eax\n\t push $0\n"
	"stub_common:\n\t call fault_dispatch\n\t add $8, %esp\n\t"
	"mov 32(%esp), %eax\n\t mov %eax, ret_eip\n\t popa\n\t add $12, %esp\n\t"
	"jmp *ret_eip\n");

void fault_dispatch(uint32_t vector, uint32_t *eip)
{
	last_vector = vector;
	last_eip = *eip;
	puts("fault: vector ");
	put_dec(vector);
	puts("\n");
	*eip += 2; /* skip the faulting instruction: ud2 and div %ecx are both 2 bytes */
}

static void set_gate(unsigned v, void (*fn)(void))
{
	uint32_t a = (uint32_t)(uintptr_t)fn;
	uint16_t cs;

	__asm__ volatile("mov %%cs, %0" : "=r"(cs));
	idt[v] = (struct idt_entry){ (uint16_t)a, cs, 0, 0x8e, (uint16_t)(a >> 16) };
}

int main(struct start_info *si)
{
	struct {
		uint16_t limit;
		uint32_t base;
	} __attribute__((packed)) idtr = { sizeof(idt) - 1, (uint32_t)(uintptr_t)idt };

	(void)si;
	set_gate(6, stub_ud);
	set_gate(0, stub_de);
	__asm__ volatile("lidt %0" : : "m"(idtr));
	__asm__ volatile("ud2");
	puts("back from #UD\n");
	__asm__ volatile("xorl %%ecx, %%ecx\n\t movl $1, %%eax\n\t xorl %%edx, %%edx\n\t"
			 ".byte 0xf7, 0xf1" /* div %ecx */
			 :
			 :
			 : "eax", "ecx", "edx");
	puts("back from #DE\n");
	return last_vector == 0 ? 0 : 1;
}
