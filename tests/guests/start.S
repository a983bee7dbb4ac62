/* start.S: PVH entry of the test guests: 32-bit protected mode, paging off, ebx = start_info. */
	.section .note.Xen, "a"
	.p2align 2
	.long 4			/* name size: "Xen\0" */
	.long 4			/* desc size */
	.long 18		/* XEN_ELFNOTE_PHYS32_ENTRY */
	.asciz "Xen"
	.long _start

	.section .text.start, "ax"
	.code32
	.globl _start
_start:
	cli
	movl $stack_top, %esp
	pushl %ebx		/* main(start_info) */
	call main
	call guest_exit
1:	hlt
	jmp 1b

	.section .bss
	.p2align 4
	.space 16384
stack_top:
