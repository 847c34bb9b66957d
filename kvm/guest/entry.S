/* SPDX-License-Identifier: MIT */
/*
 * Guest entry and CPU exception stubs.  The VMM starts every vCPU here in
 * 64-bit mode with %rdi = vCPU number, %rsp = its stack, %gs = its per-CPU
 * area and interrupts off.  An exception (a reader dereferencing garbage,
 * a #GP from an MSR the host refuses) reaches guest_exception(), which
 * reports it through a port instead of triple-faulting the VM.
 */
	.section .text.entry, "ax"
	.globl _start
_start:
	xorl %ebp, %ebp
	call guest_main
1:	hlt
	jmp 1b

	.text
.macro EXC vec, err
	.balign 16
exc_\vec:
	.if \err == 0
	pushq $0
	.endif
	pushq $\vec
	jmp exc_common
.endm

	EXC 0, 0
	EXC 1, 0
	EXC 2, 0
	EXC 3, 0
	EXC 4, 0
	EXC 5, 0
	EXC 6, 0
	EXC 7, 0
	EXC 8, 1
	EXC 9, 0
	EXC 10, 1
	EXC 11, 1
	EXC 12, 1
	EXC 13, 1
	EXC 14, 1
	EXC 15, 0
	EXC 16, 0
	EXC 17, 1
	EXC 18, 0
	EXC 19, 0
	EXC 20, 0
	EXC 21, 1
	EXC 22, 0
	EXC 23, 0
	EXC 24, 0
	EXC 25, 0
	EXC 26, 0
	EXC 27, 0
	EXC 28, 0
	EXC 29, 1
	EXC 30, 1
	EXC 31, 0

/* stack: vector, error code, rip, cs, rflags, rsp, ss */
exc_common:
	movq (%rsp), %rdi
	movq 8(%rsp), %rsi
	movq 16(%rsp), %rdx
	andq $-16, %rsp
	call guest_exception
2:	hlt
	jmp 2b

	.section .rodata
	.globl guest_exc_stubs
	.balign 8
guest_exc_stubs:
	.irp v, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	.quad exc_\v
	.endr

	.section .note.GNU-stack, "", @progbits
