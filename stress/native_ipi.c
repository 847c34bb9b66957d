// SPDX-License-Identifier: MIT
/*
 * IPIs for the native world (compat.h's smp_call_function_many): every
 * (target, sender) pair has a mailbox slot; the sender fills it, sets its
 * bit in the target's pending mask (release) and, with wait, spins on the
 * slot's ack (acquire).  The target takes its pending IPIs only at its
 * IRQ-enabled points (native_ipi_poll from local_irq_restore's hook and the
 * runner's loops): an IRQ-off walker - or a vCPU the host has parked - does
 * not ack, so the sender's wait is the grace period the native flush gives
 * IRQ-off walkers (tlb-protocols.md section 3).  The handler runs with IRQs
 * off, as in hard-IRQ context.  The ack is also the happens-before edge
 * TSan needs between the walker's reads and the sender's free.
 */
#define _GNU_SOURCE
#include <sched.h>
#include <stdlib.h>
#include <time.h>

#include "native.h"
#include "native_tlb.h"

struct ipi_slot {
	smp_call_func_t func;
	void *info;
	_Atomic int acked;
} __attribute__((aligned(64)));

static struct ipi_slot slot[MM_MAX_CPUS][MM_MAX_CPUS]; /* [target][sender] */
static _Atomic u32 pending[MM_MAX_CPUS] __attribute__((aligned(64)));
static int nr_cpus = 1;
static __thread bool in_handler;
_Atomic u64 native_ipis_sent, native_ipis_handled;

void native_ipi_init(int n)
{
	nr_cpus = n;
}

int num_online_cpus(void)
{
	return nr_cpus;
}

bool native_ipi_in_handler(void)
{
	return in_handler;
}

void native_ipi_poll(void)
{
	int me = smp_processor_id();
	if (in_handler || me >= nr_cpus || native_irqs_disabled())
		return;
	if (!atomic_load_explicit(&pending[me], memory_order_relaxed))
		return;
	u32 bits = atomic_exchange_explicit(&pending[me], 0, memory_order_acquire);
	in_handler = true;
	while (bits) {
		int s = __builtin_ctz(bits);
		bits &= bits - 1;
		struct ipi_slot *sl = &slot[me][s];
		unsigned long flags;
		local_irq_save(flags); /* hard-IRQ context */
		sl->func(sl->info);
		local_irq_restore(flags);
		atomic_fetch_add_explicit(&native_ipis_handled, 1, memory_order_relaxed);
		atomic_store_explicit(&sl->acked, 1, memory_order_release);
	}
	in_handler = false;
}

void smp_call_function_many(pv_cpumask_t mask, smp_call_func_t func, void *info, bool wait)
{
	int self = smp_processor_id();
	u32 targets = 0;

	if (native_irqs_disabled() || in_handler)
		abort(); /* as the kernel's WARN_ON_ONCE(irqs_disabled()): a model bug */
	for (int c = 0; c < nr_cpus; c++) {
		if (!(mask >> c & 1) || c == self)
			continue;
		struct ipi_slot *sl = &slot[c][self];
		sl->func = func;
		sl->info = info;
		atomic_store_explicit(&sl->acked, 0, memory_order_relaxed);
		atomic_fetch_or_explicit(&pending[c], 1u << self, memory_order_release);
		targets |= 1u << c;
		atomic_fetch_add_explicit(&native_ipis_sent, 1, memory_order_relaxed);
	}
	/*
	 * The slots are reused by this sender's next call, so even !wait
	 * waits (the model only sends with wait); waiting with IRQs on, the
	 * sender takes IPIs sent to it meanwhile (no IPI deadlock).
	 */
	(void)wait;
	for (unsigned spin = 0; targets; spin++) {
		for (u32 b = targets; b;) {
			int c = __builtin_ctz(b);
			b &= b - 1;
			if (atomic_load_explicit(&slot[c][self].acked, memory_order_acquire))
				targets &= ~(1u << c);
		}
		native_ipi_poll();
		if ((spin & 63) == 63) {
			/* more vCPU threads than CPUs: block briefly so the target runs */
			struct timespec ts = { 0, 5000 };
			nanosleep(&ts, NULL);
		} else {
			cpu_relax();
		}
	}
}
