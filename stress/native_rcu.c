// SPDX-License-Identifier: MIT
/*
 * RCU for the native world: mm.h's rcu_read_lock/unlock,
 * rcu_quiescent_state, call_rcu and synchronize_rcu on liburcu
 * (tlb-protocols.md section 5).  src/mm/rcu.c is the simulator's RCU; the
 * native build links this file instead.
 *
 * Flavours (PVFUZZ_URCU_MB selects mb, else qsbr):
 *   qsbr  the kernel's shape: readers have no markers; a vCPU thread reports
 *         urcu_qsbr_quiescent_state() at its IRQ-enabled points outside
 *         rcu_read_lock (local_irq_restore's hook, the runner's loops), so an
 *         IRQ-off section - also one the host parked - holds grace periods;
 *         a halted vCPU is urcu_qsbr_thread_offline().  A host-parked vCPU
 *         stays online, as a preempted vCPU holds grace periods.
 *   mb    explicit readers: urcu_mb_read_lock() when IRQs go off and in
 *         rcu_read_lock(), unlock when they come back on; every ordering is
 *         an smp_mb, no membarrier.
 *
 * TSan: Debian's liburcu is not built with -fsanitize=thread, so TSan sees
 * none of its ordering (its atomics run inside the uninstrumented .so, and
 * TSan does not model fences), in either flavour.  Rather than suppress the
 * resulting reports, TSan builds add the two happens-before edges liburcu
 * guarantees, as real atomics: every quiescent point / read-side unlock is
 * a release RMW on gp_hb, every callback and synchronize_rcu acquires it
 * before freeing (everything a reader did before a quiescent state that the
 * grace period waited for happens-before the free); and call_rcu releases
 * the callback record the callback acquires.  An access after the reader's
 * last quiescent state is not covered, so a free under a live reader is
 * still a TSan report.
 */
#include <stdlib.h>
#include <time.h>

#include "pvfuzz/mm.h"

#ifdef PVFUZZ_URCU_MB
#include <urcu/urcu-mb.h>
#define U(x) urcu_mb_##x
#define FLAVOUR "urcu-mb"
#else
#include <urcu/urcu-qsbr.h>
#define U(x) urcu_qsbr_##x
#define FLAVOUR "urcu-qsbr"
#endif

#include "native_tlb.h"

#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define PV_TSAN 1
#endif
#endif
#if defined(__SANITIZE_THREAD__)
#define PV_TSAN 1
#endif

_Atomic u64 native_rcu_qs, native_rcu_cbs;
static _Atomic u64 cbs_queued;
#ifdef PV_TSAN
static _Atomic u64 gp_hb; /* TSan builds: see above */
#endif
static __thread bool registered;
static __thread bool halted;
static __thread int nesting; /* rcu_read_lock depth */

static inline void hb_release(void)
{
#ifdef PV_TSAN
	atomic_fetch_add_explicit(&gp_hb, 1, memory_order_release);
#endif
}

static inline void hb_acquire(void)
{
#ifdef PV_TSAN
	(void)atomic_load_explicit(&gp_hb, memory_order_acquire);
#endif
}

const char *native_rcu_flavour(void)
{
	return FLAVOUR;
}

void native_rcu_thread_online(void)
{
	U(register_thread)();
	registered = true;
	halted = false;
}

void native_rcu_thread_exit(void)
{
	if (!registered)
		return;
	hb_release();
#ifndef PVFUZZ_URCU_MB
	if (!halted)
		urcu_qsbr_thread_offline();
#endif
	U(unregister_thread)();
	registered = false;
}

void native_rcu_halt(bool h)
{
	if (!registered || h == halted)
		return;
	halted = h;
#ifndef PVFUZZ_URCU_MB
	if (h) {
		hb_release();
		urcu_qsbr_thread_offline();
	} else {
		urcu_qsbr_thread_online();
	}
#endif
}

void native_rcu_irq_disabled(void)
{
#ifdef PVFUZZ_URCU_MB
	if (registered)
		urcu_mb_read_lock();
#endif
}

/* an IRQ-enabled point: quiescent outside rcu_read_lock and the IPI handler */
static void quiescent_point(void)
{
	if (!registered || nesting || native_ipi_in_handler() || halted)
		return;
#ifndef PVFUZZ_URCU_MB
	hb_release();
	urcu_qsbr_quiescent_state(); /* mb: not inside a read section is quiescent */
#endif
	atomic_fetch_add_explicit(&native_rcu_qs, 1, memory_order_relaxed);
}

void native_rcu_irq_enabled(void)
{
	if (!registered)
		return;
#ifdef PVFUZZ_URCU_MB
	hb_release();
	urcu_mb_read_unlock(); /* pairs with native_rcu_irq_disabled() */
#endif
	quiescent_point();
}

/* ------------------------------------------------- mm.h's RCU API -- */

void rcu_read_lock(struct mm_struct *mm)
{
	int cpu = smp_processor_id();
	nesting++;
	MM_BK_WRITE(mm->cpu[cpu].rcu_nesting, MM_BK_READ(mm->cpu[cpu].rcu_nesting) + 1);
#ifdef PVFUZZ_URCU_MB
	urcu_mb_read_lock();
#endif
	barrier();
}

void rcu_read_unlock(struct mm_struct *mm)
{
	int cpu = smp_processor_id();
	barrier();
#ifdef PVFUZZ_URCU_MB
	hb_release();
	urcu_mb_read_unlock();
#endif
	MM_BK_WRITE(mm->cpu[cpu].rcu_nesting, MM_BK_READ(mm->cpu[cpu].rcu_nesting) - 1);
	nesting--;
}

void rcu_quiescent_state(struct mm_struct *mm)
{
	mm_hook(mm, quiescent);
	quiescent_point();
}

struct native_rcu_cb {
	struct rcu_head head;
	struct mm_struct *mm;
	rcu_cb_t fn;
	int arg;
	_Atomic int armed;
};

static void rcu_cb_trampoline(struct rcu_head *head)
{
	struct native_rcu_cb *cb = caa_container_of(head, struct native_rcu_cb, head);
	(void)atomic_load_explicit(&cb->armed, memory_order_acquire);
	hb_acquire();
	cb->fn(cb->mm, cb->arg);
	free(cb);
	atomic_fetch_add_explicit(&native_rcu_cbs, 1, memory_order_release);
}

void call_rcu(struct mm_struct *mm, rcu_cb_t fn, int arg)
{
	struct native_rcu_cb *cb = malloc(sizeof(*cb));
	if (!cb)
		abort();
	cb->mm = mm;
	cb->fn = fn;
	cb->arg = arg;
	atomic_store_explicit(&cb->armed, 1, memory_order_release);
	atomic_fetch_add_explicit(&cbs_queued, 1, memory_order_relaxed);
	U(call_rcu)(&cb->head, rcu_cb_trampoline);
}

void synchronize_rcu(struct mm_struct *mm)
{
	(void)mm;
	hb_release(); /* the caller's own quiescent state */
	U(synchronize_rcu)();
	hb_acquire();
}

/*
 * Teardown: wait until every queued callback ran.  Not urcu_*_barrier():
 * its completion record is handed between liburcu's threads by atomics
 * inside the uninstrumented library, a TSan report we would have to
 * suppress; with every vCPU thread gone, grace periods end at once.
 */
void native_rcu_barrier(void)
{
	for (int ms = 0; ms < 10000; ms++) {
		if (atomic_load_explicit(&native_rcu_cbs, memory_order_acquire) ==
		    atomic_load_explicit(&cbs_queued, memory_order_relaxed))
			break;
		struct timespec ts = { 0, 1000000 };
		nanosleep(&ts, NULL);
	}
	hb_acquire();
}
