// SPDX-License-Identifier: MIT
/*
 * Fibers on preallocated stacks, with the ASan fiber annotations and, in TSan
 * builds, TSan fibers.  The TSan switch is synchronising on purpose: inside
 * the simulator every cross-vCPU access is already mediated by the scheduler,
 * and TSan's job is the native stress build.
 */
#include "sim/fiber.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define PV_ASAN 1
#endif
#if __has_feature(thread_sanitizer)
#define PV_TSAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define PV_ASAN 1
#endif
#if defined(__SANITIZE_THREAD__)
#define PV_TSAN 1
#endif

#ifdef PV_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif
#ifdef PV_TSAN
#include <sanitizer/tsan_interface.h>
#endif

void pvfuzz_fiber_switch(void **save_sp, void *new_sp);
void pvfuzz_fiber_start(void);

void fiber_ctx_main(struct fiber_ctx *c)
{
	memset(c, 0, sizeof(*c));
#ifdef PV_TSAN
	c->tsan = __tsan_get_current_fiber();
#endif
}

/* First-use allocation: out of coverage so a process's first input takes no extra edge. */
#if defined(__clang__) && __clang_major__ >= 13
__attribute__((no_sanitize("coverage")))
#endif
static void fiber_stack_alloc(struct fiber_ctx *c, size_t stack_size)
{
	if (!c->stack) {
		/* Guard page below the stack turns a fiber overflow into SEGV. */
		void *m = mmap(NULL, stack_size + 4096, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (m == MAP_FAILED)
			abort();
		mprotect(m, 4096, PROT_NONE);
		c->stack = (char *)m + 4096;
		c->stack_size = stack_size;
#ifdef PV_TSAN
		c->tsan = __tsan_create_fiber(0);
#endif
	}
}

void fiber_ctx_make(struct fiber_ctx *c, size_t stack_size, void (*entry)(void *), void *arg)
{
	fiber_stack_alloc(c, stack_size);
#ifdef PV_ASAN
	/* A fiber abandoned mid-run left poisoned frames behind. */
	__asan_unpoison_memory_region(c->stack, c->stack_size);
#endif
	c->asan_bottom = c->stack;
	c->asan_size = c->stack_size;
	c->asan_fake = NULL;

	uintptr_t top = ((uintptr_t)c->stack + c->stack_size) & ~(uintptr_t)15;
	void **sp = (void **)(top - 64 - 8);
	/* popped by pvfuzz_fiber_switch: r15 r14 r13 r12 rbx rbp, then ret */
	sp[0] = 0;
	sp[1] = 0;
	sp[2] = (void *)entry; /* r13 */
	sp[3] = arg;           /* r12 */
	sp[4] = 0;
	sp[5] = 0;
	sp[6] = (void *)pvfuzz_fiber_start;
	c->sp = sp;
}

/* The context that switched last: what a fiber's first entry came from. */
static struct fiber_ctx *switching_from;

void fiber_switch(struct fiber_ctx *from, struct fiber_ctx *to, int from_is_dying)
{
	switching_from = from;
#ifdef PV_ASAN
	__sanitizer_start_switch_fiber(from_is_dying ? NULL : &from->asan_fake,
				       to->asan_bottom, to->asan_size);
#else
	(void)from_is_dying;
#endif
#ifdef PV_TSAN
	__tsan_switch_to_fiber(to->tsan, 0);
#endif
	pvfuzz_fiber_switch(&from->sp, to->sp);
#ifdef PV_ASAN
	const void *ob;
	size_t os;
	__sanitizer_finish_switch_fiber(from->asan_fake, &ob, &os);
#endif
}

void fiber_entered(struct fiber_ctx *self)
{
	struct fiber_ctx *from = switching_from;
#ifdef PV_ASAN
	const void *ob;
	size_t os;
	__sanitizer_finish_switch_fiber(NULL, &ob, &os);
	if (!from->stack && !from->asan_bottom) { /* learn the main stack's extent */
		from->asan_bottom = ob;
		from->asan_size = os;
	}
#endif
	(void)self;
	(void)from;
}
