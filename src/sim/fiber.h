/* SPDX-License-Identifier: MIT */
#ifndef PVFUZZ_FIBER_H
#define PVFUZZ_FIBER_H

#include <stddef.h>

/* A context: the main thread's or a fiber's preallocated stack. */
struct fiber_ctx {
	void *sp;
	void *stack;        /* lowest address; NULL for the main context */
	size_t stack_size;
	const void *asan_bottom; /* what ASan knows of this stack */
	size_t asan_size;
	void *asan_fake;
	void *tsan;
};

void fiber_ctx_main(struct fiber_ctx *c);
/* Prepare c to run entry(arg) from the top of its stack on the next switch. */
void fiber_ctx_make(struct fiber_ctx *c, size_t stack_size, void (*entry)(void *), void *arg);
void fiber_switch(struct fiber_ctx *from, struct fiber_ctx *to, int from_is_dying);
/* Must be the first thing a fiber entry does. */
void fiber_entered(struct fiber_ctx *self);

#endif
