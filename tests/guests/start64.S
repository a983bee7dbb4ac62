/*
 * start64.S: PVH entry of the 64-bit test guests: from 32-bit protected mode (paging off, ebx =
 * start_info) into long mode with the first 4 GiB identity-mapped in 2 MiB pages (RAM and the
 * virtio-mmio slots of mvm-run and QEMU's microvm), then main(start_info).
 */
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
	movl %ebx, %esi		/* start_info, kept for main */
	/* pd[i] = i * 2 MiB | PS | RW | P, 4 x 512 entries */
	movl $pd, %edi
	xorl %ecx, %ecx
1:	movl %ecx, %eax
	shll $21, %eax
	orl $0x83, %eax
	movl %eax, (%edi,%ecx,8)
	movl $0, 4(%edi,%ecx,8)
	incl %ecx
	cmpl $2048, %ecx
	jb 1b
	/* pdpt[0..3] = pd + i * 4 KiB | RW | P; pml4[0] = pdpt | RW | P */
	xorl %ecx, %ecx
2:	movl %ecx, %eax
	shll $12, %eax
	addl $pd + 3, %eax
	movl %eax, pdpt(,%ecx,8)
	incl %ecx
	cmpl $4, %ecx
	jb 2b
	movl $pdpt + 3, pml4
	movl $pml4, %eax
	movl %eax, %cr3
	movl %cr4, %eax
	orl $0x20, %eax		/* PAE */
	movl %eax, %cr4
	movl $0xc0000080, %ecx	/* EFER */
	rdmsr
	orl $0x100, %eax	/* LME */
	wrmsr
	movl %cr0, %eax
	orl $0x80000001, %eax	/* PG | PE */
	movl %eax, %cr0
	lgdt gdt_ptr
	ljmp $0x08, $long_mode

	.code64
long_mode:
	movl $0x10, %eax
	movl %eax, %ds
	movl %eax, %es
	movl %eax, %ss
	movl %eax, %fs
	movl %eax, %gs
	movq $stack_top, %rsp
	movl %esi, %edi		/* main(start_info), zero-extended */
	call main
	call guest_exit
3:	hlt
	jmp 3b

	.section .rodata
	.p2align 3
gdt:
	.quad 0
	.quad 0x00af9a000000ffff	/* 0x08: 64-bit code */
	.quad 0x00cf92000000ffff	/* 0x10: data */
gdt_ptr:
	.word gdt_ptr - gdt - 1
	.long gdt

	.section .bss
	.p2align 12
pml4:	.space 4096
pdpt:	.space 4096
pd:	.space 4 * 4096
	.p2align 4
	.space 16384
stack_top:
