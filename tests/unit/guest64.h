/*
 * guest64.h: 64-bit guests that attack the world switch (the vCPU tests and benches share them),
 * assembled with the test into one position-independent blob, and the VMM side they talk to.
 *
 * Every guest starts in the long mode mvm_open sets up (4 GiB identity-mapped, interrupts off),
 * finds its vCPU index in CPUID, takes a stack of its own and reports through ports: a bad
 * register or FPU state to G64_PORT_BAD (a code, below), the end of its rounds to G64_PORT_DONE.
 * It keeps its expectations in guest RAM at G64_DATA, where the host fills and reads them.
 */
#ifndef TESTS_GUEST64_H
#define TESTS_GUEST64_H

#include <linux/kvm.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>

#include "mvm.h"
#include "mvm_testlib.h"

#define G64_CODE_GPA  0x200000ULL
#define G64_DATA      0x400000ULL
#define G64_ROUNDS    0x00   /* u64: rounds the guest runs (host) */
#define G64_USE_AVX   0x08   /* u64: the guest enables AVX where CPUID offers it (host) */
#define G64_ROUND     0x10   /* u64: rounds done (g64_regs) */
#define G64_XVAL      0x18   /* u64: what g64_slot reads while its slot is there (host) */
#define G64_AVX_ON    0x30   /* u64: the guest did, and checks the ymm upper halves */
#define G64_GDTR      0x40   /* g64_regs's GDT pointer (host) */
#define G64_EXP	      0x100  /* u64[16]: register values (host for g64_check, guest for g64_regs) */
#define G64_GOT	      0x200  /* u64[16]: registers as the guest found them */
#define G64_PAT	      0x400  /* 16 x 32 bytes: the vector registers' values (host) */
#define G64_REF	      0x600  /* the guest's FXSAVE image once it loaded IMG (and PAT) */
#define G64_IMG	      0xc00  /* FXSAVE image the guest loads: x87 stack, MXCSR, xmm (host) */
#define G64_COUNT     0x1000 /* u64 per vCPU: loops done, for the host to watch progress */
#define G64_GDT	      0x2000 /* g64_regs's GDT (host) */
#define G64_STACKS    0x800000ULL   /* vCPU i's stack tops at G64_STACKS + 4K * (i + 1) */
#define G64_MMIO_GPA  0xc8000000ULL /* the test device's MMIO page */
#define G64_SLOT_GPA  0xc4000000ULL /* g64_slot's page (a memory slot, a device behind it) */
#define G64_HOLE_GPA  0xc9000000ULL /* no slot, no device */
#define G64_PORT_EXIT 0x520
#define G64_PORT_BAD  0x524
#define G64_PORT_DONE 0x52c
/* Codes at G64_PORT_BAD: the part that differed, and which register or 8-byte word of it. */
#define G64_BAD_FXSAVE 0x10000	  /* | word of the FXSAVE image (x87, MXCSR, xmm) */
#define G64_BAD_YMMHI  0x20000	  /* | word of the ymm upper halves */
#define G64_BAD_GPR    0x30000	  /* | register number, struct kvm_regs order */
#define G64_BAD_MANY   0x40000000 /* | vCPU << 16 */
/* g64_regs reports a mask instead: bit i for general register i (struct kvm_regs order), */
#define G64_REGS_FLAGS	(1u << 16)	   /* then rflags (arithmetic flags and DF), */
#define G64_REGS_SEG(n) (1u << (17 + (n))) /* ds es ss fs gs cs, */
#define G64_REGS_MSR(n) (1u << (23 + (n))) /* FS_BASE GS_BASE KERNEL_GS_BASE */
#define G64_FS_BASE	0x0000111122223333ULL
#define G64_GS_BASE	0x0000444455556666ULL
#define G64_KERNEL_GS	0x0000777788889999ULL

/* The guests' entry points and the blob that holds them. */
extern const uint8_t g64_start[], g64_end[];
extern const uint8_t g64_fpu[], g64_regs[], g64_check[], g64_many[], g64_fault[], g64_slot[],
	g64_avx[];
extern const uint8_t g64_pio[], g64_mmio[], g64_hlt[], g64_spin[];

__asm__(".pushsection .rodata.guest64, \"a\"\n"
	".set D, 0x400000\n"
	".set ROUNDS, D+0x00\n .set USE_AVX, D+0x08\n .set RND, D+0x10\n .set XVAL, D+0x18\n"
	".set AVX_ON, D+0x30\n .set IMG, D+0xc00\n"
	".set GFLAGS, D+0x20\n .set EXPFL, D+0x28\n .set GDTR, D+0x40\n .set EXP, D+0x100\n"
	".set GOT, D+0x200\n .set PAT, D+0x400\n .set REF, D+0x600\n .set CUR, D+0x800\n"
	".set CURHI, D+0xa00\n .set REFHI, D+0xb00\n .set COUNT, D+0x1000\n"
	".set P_EXIT, 0x520\n .set P_BAD, 0x524\n .set P_DONE, 0x52c\n"
	/* r15d = vCPU index (CPUID's APIC id), a stack, SSE on; AVX on if the host asks for it
	 * (USE_AVX) and CPUID offers it */
	".macro SETUP\n"
	" mov $1, %eax\n cpuid\n shr $24, %ebx\n mov %ebx, %r15d\n"
	" lea 1(%r15), %eax\n shl $12, %eax\n add $0x800000, %eax\n mov %rax, %rsp\n"
	" mov %cr4, %rax\n or $0x600, %rax\n mov %rax, %cr4\n" /* OSFXSR, OSXMMEXCPT */
	" cmpq $0, USE_AVX\n je 1f\n"
	" mov $1, %eax\n cpuid\n and $0x14000000, %ecx\n cmp $0x14000000, %ecx\n jne 1f\n"
	" mov %cr4, %rax\n bts $18, %rax\n mov %rax, %cr4\n" /* OSXSAVE, then x87|SSE|AVX */
	" xor %ecx, %ecx\n xor %edx, %edx\n mov $7, %eax\n xsetbv\n movq $1, AVX_ON\n"
	"1:\n"
	".endm\n"
	/* x87 stack, MXCSR and xmm from the host's FXSAVE image (IMG), the ymm from PAT where AVX
	 * is on; REF and REFHI keep what the guest then holds */
	".macro LOADFP\n"
	" fxrstor IMG\n cmpq $0, AVX_ON\n je 2f\n"
	" .irp i,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15\n vmovdqu PAT+32*\\i, %ymm\\i\n"
	" vextractf128 $1, %ymm\\i, REFHI+16*\\i\n .endr\n"
	"2: fxsave REF\n"
	".endm\n"
	/* The FPU as LOADFP left it (FIP/FDP words 1-2 aside), or to g64_badfx/g64_badymm; r14,
	 * r15 scratch */
	".macro CHECKFP\n"
	" fxsave CUR\n xor %r14d, %r14d\n mov REF, %r15\n cmp CUR, %r15\n jne g64_badfx\n"
	" mov $3, %r14d\n"
	"4: mov REF(,%r14,8), %r15\n cmp CUR(,%r14,8), %r15\n jne g64_badfx\n"
	" inc %r14d\n cmp $52, %r14d\n jne 4b\n"
	" cmpq $0, AVX_ON\n je 5f\n"
	" .irp i,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15\n vextractf128 $1, %ymm\\i, CURHI+16*\\i\n"
	" .endr\n xor %r14d, %r14d\n"
	"4: mov REFHI(,%r14,8), %r15\n cmp CURHI(,%r14,8), %r15\n jne g64_badymm\n"
	" inc %r14d\n cmp $32, %r14d\n jne 4b\n"
	"5:\n"
	".endm\n"
	".macro CHK reg, n\n"
	" cmp EXP+8*\\n, %\\reg\n je 6f\n mov $\\n, %r14d\n jmp g64_badgpr\n6:\n"
	".endm\n"
	".p2align 4\n"
	"g64_start:\n"
	/* FPU and vectors across port-I/O and MMIO exits (write and read), ROUNDS times */
	"g64_fpu:\n SETUP\n LOADFP\n xor %r12d, %r12d\n"
	"10: mov %r12d, %eax\n test $1, %r12b\n jz 11f\n"
	" mov $P_EXIT, %edx\n out %eax, %dx\n jmp 12f\n"
	"11: mov $0xc8000000, %ecx\n mov %eax, (%rcx)\n mov (%rcx), %eax\n"
	"12: CHECKFP\n inc %r12\n cmp ROUNDS, %r12\n jb 10b\n"
	" mov %r12d, %eax\n jmp g64_done\n"
	/* Every general register, rflags, segments and their bases across OUT exits */
	"g64_regs:\n SETUP\n lgdt GDTR\n pushq $0x40\n lea 20f(%rip), %rax\n pushq %rax\n lretq\n"
	"20: mov $0x20, %ax\n mov %ax, %ds\n mov $0x28, %ax\n mov %ax, %es\n"
	" mov $0x30, %ax\n mov %ax, %ss\n mov $0x38, %ax\n mov %ax, %fs\n"
	" mov $0x18, %ax\n mov %ax, %gs\n"
	" mov $0xc0000100, %ecx\n movabs $0x0000111122223333, %rax\n mov %rax, %rdx\n"
	" shr $32, %rdx\n wrmsr\n"
	" mov $0xc0000101, %ecx\n movabs $0x0000444455556666, %rax\n mov %rax, %rdx\n"
	" shr $32, %rdx\n wrmsr\n"
	" mov $0xc0000102, %ecx\n movabs $0x0000777788889999, %rax\n mov %rax, %rdx\n"
	" shr $32, %rdx\n wrmsr\n"
	"21: mov RND, %rax\n movabs $0x9e3779b97f4a7c15, %rbx\n imul %rbx, %rax\n"
	" movabs $0x0123456789abcdef, %rbx\n xor %rbx, %rax\n xor %ecx, %ecx\n"
	"22: movabs $6364136223846793005, %rbx\n imul %rbx, %rax\n"
	" movabs $1442695040888963407, %rbx\n add %rbx, %rax\n mov %rax, EXP(,%rcx,8)\n"
	" inc %ecx\n cmp $16, %ecx\n jne 22b\n"
	" mov EXP+24, %rax\n and $-65536, %rax\n or $P_EXIT, %rax\n mov %rax, EXP+24\n"
	" mov RND, %rax\n and $1, %eax\n shl $10, %eax\n or $0x8d7, %eax\n mov %rax, EXPFL\n"
	" push %rax\n popfq\n"
	" mov EXP+0, %rax\n mov EXP+8, %rbx\n mov EXP+16, %rcx\n mov EXP+24, %rdx\n"
	" mov EXP+32, %rsi\n mov EXP+40, %rdi\n mov EXP+56, %rbp\n mov EXP+64, %r8\n"
	" mov EXP+72, %r9\n mov EXP+80, %r10\n mov EXP+88, %r11\n mov EXP+96, %r12\n"
	" mov EXP+104, %r13\n mov EXP+112, %r14\n mov EXP+120, %r15\n mov EXP+48, %rsp\n"
	" out %al, %dx\n"
	" mov %rax, GOT+0\n mov %rbx, GOT+8\n mov %rcx, GOT+16\n mov %rdx, GOT+24\n"
	" mov %rsi, GOT+32\n mov %rdi, GOT+40\n mov %rsp, GOT+48\n mov %rbp, GOT+56\n"
	" mov %r8, GOT+64\n mov %r9, GOT+72\n mov %r10, GOT+80\n mov %r11, GOT+88\n"
	" mov %r12, GOT+96\n mov %r13, GOT+104\n mov %r14, GOT+112\n mov %r15, GOT+120\n"
	" mov $0x801000, %rsp\n pushfq\n popq GFLAGS\n cld\n"
	" xor %ebx, %ebx\n xor %ecx, %ecx\n"
	"23: mov EXP(,%rcx,8), %rax\n cmp GOT(,%rcx,8), %rax\n je 24f\n bts %ecx, %ebx\n"
	"24: inc %ecx\n cmp $16, %ecx\n jne 23b\n"
	" mov GFLAGS, %rax\n and $0xcd7, %eax\n cmp EXPFL, %rax\n je 25f\n bts $16, %ebx\n"
	"25: mov %ds, %ax\n cmp $0x20, %ax\n je 25f\n bts $17, %ebx\n"
	"25: mov %es, %ax\n cmp $0x28, %ax\n je 25f\n bts $18, %ebx\n"
	"25: mov %ss, %ax\n cmp $0x30, %ax\n je 25f\n bts $19, %ebx\n"
	"25: mov %fs, %ax\n cmp $0x38, %ax\n je 25f\n bts $20, %ebx\n"
	"25: mov %gs, %ax\n cmp $0x18, %ax\n je 25f\n bts $21, %ebx\n"
	"25: mov %cs, %ax\n cmp $0x40, %ax\n je 25f\n bts $22, %ebx\n"
	"25: mov $0xc0000100, %ecx\n rdmsr\n shl $32, %rdx\n or %rdx, %rax\n"
	" movabs $0x0000111122223333, %rdx\n cmp %rdx, %rax\n je 25f\n bts $23, %ebx\n"
	"25: mov $0xc0000101, %ecx\n rdmsr\n shl $32, %rdx\n or %rdx, %rax\n"
	" movabs $0x0000444455556666, %rdx\n cmp %rdx, %rax\n je 25f\n bts $24, %ebx\n"
	"25: mov $0xc0000102, %ecx\n rdmsr\n shl $32, %rdx\n or %rdx, %rax\n"
	" movabs $0x0000777788889999, %rdx\n cmp %rdx, %rax\n je 25f\n bts $25, %ebx\n"
	"25: mov %ebx, %eax\n test %eax, %eax\n jnz g64_report\n"
	" incq RND\n mov RND, %rax\n cmp ROUNDS, %rax\n jb 21b\n jmp g64_done\n"
	/* Spins checking its general registers (EXP) and FPU forever, with an MMIO write every 64
	 * rounds: for kicks and migrations */
	"g64_check:\n SETUP\n LOADFP\n"
	" mov EXP+0, %rax\n mov EXP+8, %rbx\n mov EXP+16, %rcx\n mov EXP+24, %rdx\n"
	" mov EXP+32, %rsi\n mov EXP+40, %rdi\n mov EXP+56, %rbp\n mov EXP+64, %r8\n"
	" mov EXP+72, %r9\n mov EXP+80, %r10\n mov EXP+88, %r11\n mov EXP+96, %r12\n"
	" mov EXP+104, %r13\n"
	"30: CHK rax,0\n CHK rbx,1\n CHK rcx,2\n CHK rdx,3\n CHK rsi,4\n CHK rdi,5\n CHK rbp,7\n"
	" CHK r8,8\n CHK r9,9\n CHK r10,10\n CHK r11,11\n CHK r12,12\n CHK r13,13\n"
	" CHECKFP\n incq COUNT\n testb $63, COUNT\n jnz 30b\n"
	" mov $0xc8000000, %r15d\n mov %r14, (%r15)\n jmp 30b\n" /* an MMIO exit now and then */
	/* Each vCPU: an OUT of its index, its own registers checked, its counter, forever */
	"g64_many:\n SETUP\n movabs $0x0101010101010101, %rbx\n imul %r15, %rbx\n"
	" mov %rbx, %rbp\n not %rbp\n lea 1(%rbx), %r12\n lea 2(%rbx), %r13\n"
	"40: mov $P_EXIT, %edx\n mov %r15d, %eax\n out %eax, %dx\n"
	" movabs $0x0101010101010101, %rax\n imul %r15, %rax\n cmp %rax, %rbx\n jne 41f\n"
	" not %rax\n cmp %rax, %rbp\n jne 41f\n not %rax\n inc %rax\n cmp %rax, %r12\n jne 41f\n"
	" inc %rax\n cmp %rax, %r13\n jne 41f\n"
	" incq COUNT(,%r15,8)\n jmp 40b\n"
	"41: mov %r15d, %eax\n shl $16, %eax\n or $0x40000000, %eax\n jmp g64_report\n"
	/* Reads and a write where nothing is: results to GOT */
	"g64_fault:\n SETUP\n mov $0xc9000000, %ecx\n mov (%rcx), %rax\n mov %rax, GOT+0\n"
	" movq $0x1234, (%rcx)\n mov (%rcx), %eax\n mov %rax, GOT+8\n xor %eax, %eax\n"
	" jmp g64_done\n"
	/* Reads its slot until the value changes (the slot went: the device answers) */
	"g64_slot:\n SETUP\n mov $0xc4000000, %ecx\n mov XVAL, %rbx\n"
	"50: mov (%rcx), %rax\n incq COUNT\n cmp %rbx, %rax\n je 50b\n"
	" mov %rax, GOT+0\n jmp g64_done\n"
	/* Benches: the bare exits */
	/* AVX on (where CPUID says so) and one AVX load: whether the hypervisor runs it */
	"g64_avx:\n SETUP\n cmpq $0, AVX_ON\n je 1f\n vmovdqu PAT, %ymm0\n1: xor %eax, %eax\n"
	" jmp g64_done\n"
	"g64_pio:\n mov $P_EXIT, %edx\n1: out %eax, %dx\n jmp 1b\n"
	"g64_mmio:\n mov $0xc8000000, %ecx\n1: mov %eax, (%rcx)\n jmp 1b\n"
	"g64_hlt:\n1: hlt\n jmp 1b\n"
	"g64_spin:\n1: jmp 1b\n"
	"g64_badfx:\n mov %r14d, %eax\n or $0x10000, %eax\n jmp g64_report\n"
	"g64_badymm:\n mov %r14d, %eax\n or $0x20000, %eax\n jmp g64_report\n"
	"g64_badgpr:\n mov %r14d, %eax\n or $0x30000, %eax\n jmp g64_report\n"
	"g64_report:\n mov $P_BAD, %edx\n out %eax, %dx\n jmp 1f\n"
	"g64_done:\n mov $P_DONE, %edx\n out %eax, %dx\n"
	"1: hlt\n jmp 1b\n"
	"g64_end:\n"
	".purgem SETUP\n .purgem LOADFP\n .purgem CHECKFP\n .purgem CHK\n"
	".popsection\n");

/* What the guests report, seen by the device at G64_PORT_* and G64_MMIO_GPA. */
struct g64_dev {
	struct vm *vm;
	uint32_t bad, done;	   /* first code at G64_PORT_BAD, value at G64_PORT_DONE */
	unsigned nr_bad, nr_done;  /* how many */
	uint64_t exits, mmio;	   /* G64_PORT_EXIT and G64_MMIO_GPA accesses */
	uint64_t slot_reads;	   /* reads at G64_SLOT_GPA */
	void (*on_exit)(void *op); /* called on each G64_PORT_EXIT and MMIO access, if set */
	void *op;
};

static inline void g64_port_write(void *dev, uint64_t off, const uint8_t *data, unsigned len)
{
	struct g64_dev *d = dev;
	uint32_t v = 0;

	memcpy(&v, data, len < 4 ? len : 4);
	if (off == G64_PORT_EXIT - G64_PORT_EXIT) {
		__atomic_add_fetch(&d->exits, 1, __ATOMIC_RELAXED);
		if (d->on_exit)
			d->on_exit(d->op);
	} else if (off == G64_PORT_BAD - G64_PORT_EXIT) {
		if (__atomic_fetch_add(&d->nr_bad, 1, __ATOMIC_SEQ_CST) == 0)
			d->bad = v;
		vm_request_stop(d->vm, VM_STOP_REQUESTED, 0, "guest: bad state");
	} else if (off == G64_PORT_DONE - G64_PORT_EXIT) {
		if (__atomic_fetch_add(&d->nr_done, 1, __ATOMIC_SEQ_CST) == 0)
			d->done = v;
		vm_request_stop(d->vm, VM_STOP_REQUESTED, 0, "guest: done");
	}
}

static inline void g64_mmio_read(void *dev, uint64_t off, uint8_t *data, unsigned len)
{
	struct g64_dev *d = dev;

	(void)off;
	memset(data, 0x5c, len);
	__atomic_add_fetch(&d->mmio, 1, __ATOMIC_RELAXED);
	if (d->on_exit)
		d->on_exit(d->op);
}

static inline void g64_mmio_write(void *dev, uint64_t off, const uint8_t *data, unsigned len)
{
	(void)data, (void)len;
	g64_mmio_read(dev, off, (uint8_t[8]){ 0 }, 0);
}

static inline void g64_slot_read(void *dev, uint64_t off, uint8_t *data, unsigned len)
{
	struct g64_dev *d = dev;

	(void)off;
	memset(data, 0xa7, len);
	__atomic_add_fetch(&d->slot_reads, 1, __ATOMIC_RELAXED);
}

static const struct vm_io_ops g64_port_ops = { .write = g64_port_write };
static const struct vm_io_ops g64_mmio_ops = { .read = g64_mmio_read, .write = g64_mmio_write };
static const struct vm_io_ops g64_slot_ops = { .read = g64_slot_read };

/* Guest RAM at G64_DATA + off. */
static inline void *g64_data(struct vm *vm, uint64_t off)
{
	return vm_ram_hva(&vm->ram, G64_DATA + off, 8);
}

/*
 * A VM of nr vCPUs built by mvm_open as mvm-run builds it, the blob at G64_CODE_GPA, the test
 * device d on its buses, and every vCPU runnable at entry (the boot vCPU as mvm_open left it,
 * the others in the same long mode, as if started by INIT/SIPI).
 */
static inline int g64_vm_open(struct mvm *m, unsigned nr, const uint8_t *entry, struct g64_dev *d,
			      struct err *e)
{
	struct vmconfig cfg;
	struct mvm_config c = { .console_fd = -1 };
	size_t len = (size_t)(g64_end - g64_start), n;
	uint64_t rip = G64_CODE_GPA + (uint64_t)(entry - g64_start);
	uint8_t *k = mvm_test_elf(1, G64_CODE_GPA, g64_start, len, 0x10000, rip, 0, &n);
	int rc;

	vmconfig_init(&cfg);
	cfg.mem_bytes = 16 << 20;
	cfg.cpus = nr;
	cfg.cmdline = "";
	c.vm = &cfg;
	c.kvm_dev = KVM_DEV;
	c.kernel = k;
	c.kernel_size = n;
	rc = mvm_open(m, &c, e);
	free(k);
	if (rc)
		return rc;
	memset(d, 0, sizeof(*d));
	d->vm = &m->vm;
	rc = vm_bus_register(&m->vm.pio, G64_PORT_EXIT, 16, &g64_port_ops, d, "g64", e);
	if (!rc)
		rc = vm_bus_register(&m->vm.mmio, G64_MMIO_GPA, 0x1000, &g64_mmio_ops, d, "g64", e);
	if (!rc)
		rc = vm_bus_register(&m->vm.mmio, G64_SLOT_GPA, 0x1000, &g64_slot_ops, d,
				     "g64-slot", e);
	for (unsigned i = 1; i < nr && !rc; i++) {
		struct kvm_vcpu *v = &m->vm.vcpu[i];
		struct kvm_regs regs = { .rip = rip, .rflags = 2 };
		struct kvm_sregs sregs;
		struct kvm_mp_state mp = { KVM_MP_STATE_RUNNABLE };

		rc = kvm_vcpu_get_sregs(v, &sregs, e);
		if (rc)
			break;
		boot_sregs_long_mode(&sregs);
		rc = kvm_vcpu_set_regs(v, &regs, &sregs, e);
		if (!rc && ioctl(v->fd, KVM_SET_MP_STATE, &mp) < 0)
			rc = err_set(e, errno, "KVM_SET_MP_STATE: %s", strerror(errno));
	}
	if (rc)
		mvm_close(m);
	return rc;
}

#endif
