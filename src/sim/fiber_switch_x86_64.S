/* SPDX-License-Identifier: MIT */
/*
 * Fiber context switch without a system call (swapcontext would do a
 * sigprocmask per switch).  Saves the System V callee-saved registers on the
 * old stack, stores the old stack pointer, loads the new one.
 *
 *   void pvfuzz_fiber_switch(void **save_sp, void *new_sp);
 */
	.text
	.globl	pvfuzz_fiber_switch
	.type	pvfuzz_fiber_switch, @function
pvfuzz_fiber_switch:
	.cfi_startproc
	pushq	%rbp
	pushq	%rbx
	pushq	%r12
	pushq	%r13
	pushq	%r14
	pushq	%r15
	movq	%rsp, (%rdi)
	movq	%rsi, %rsp
	popq	%r15
	popq	%r14
	popq	%r13
	popq	%r12
	popq	%rbx
	popq	%rbp
	ret
	.cfi_endproc
	.size	pvfuzz_fiber_switch, .-pvfuzz_fiber_switch

/* First entry of a fiber: r12 = argument, r13 = C entry point. */
	.globl	pvfuzz_fiber_start
	.type	pvfuzz_fiber_start, @function
pvfuzz_fiber_start:
	.cfi_startproc
	.cfi_undefined rip
	movq	%r12, %rdi
	callq	*%r13
	ud2
	.cfi_endproc
	.size	pvfuzz_fiber_start, .-pvfuzz_fiber_start

	.section .note.GNU-stack,"",@progbits
