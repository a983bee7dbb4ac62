/* regs_asm.S: load every register with a pattern, exit to the VMM with an OUT, check them all. */
	.code32
	.text
/*
 * uint32_t regs_roundtrip(uint32_t seed): 0 when eax..ebp, esp and CF came back unchanged;
 * otherwise one bit per damaged register (eax 1, ebx 2, ecx 4, edx 8, esi 16, edi 32, ebp 64,
 * esp 128, CF 256).
 */
	.globl regs_roundtrip
regs_roundtrip:
	pushl %ebp
	pushl %ebx
	pushl %esi
	pushl %edi
	movl $0, rt_result
	movl %esp, rt_esp
	movl 20(%esp), %eax
	movl %eax, rt_seed
	movl %eax, %ebx
	xorl $0x11111111, %ebx
	movl %eax, %ecx
	xorl $0x22222222, %ecx
	movl %eax, %esi
	xorl $0x44444444, %esi
	movl %eax, %edi
	xorl $0x55555555, %edi
	movl %eax, %ebp
	xorl $0x66666666, %ebp
	movl $0x510, %edx	/* a port no device claims: always an exit to the VMM */
	stc
	outb %al, %dx
	jc 1f
	orl $256, rt_result
1:	cmpl %esp, rt_esp
	je 1f
	orl $128, rt_result
	movl rt_esp, %esp
1:	cmpl $0x510, %edx
	je 1f
	orl $8, rt_result
1:	movl rt_seed, %edx
	cmpl %edx, %eax
	je 1f
	orl $1, rt_result
1:	xorl $0x11111111, %edx
	cmpl %edx, %ebx
	je 1f
	orl $2, rt_result
1:	movl rt_seed, %edx
	xorl $0x22222222, %edx
	cmpl %edx, %ecx
	je 1f
	orl $4, rt_result
1:	movl rt_seed, %edx
	xorl $0x44444444, %edx
	cmpl %edx, %esi
	je 1f
	orl $16, rt_result
1:	movl rt_seed, %edx
	xorl $0x55555555, %edx
	cmpl %edx, %edi
	je 1f
	orl $32, rt_result
1:	movl rt_seed, %edx
	xorl $0x66666666, %edx
	cmpl %edx, %ebp
	je 1f
	orl $64, rt_result
1:	movl rt_result, %eax
	popl %edi
	popl %esi
	popl %ebx
	popl %ebp
	ret

	.data
rt_result:	.long 0
rt_esp:		.long 0
rt_seed:	.long 0
