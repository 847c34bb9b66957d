// SPDX-License-Identifier: MIT
/*
 * RCU for table freeing, QSBR-shaped: a CPU is quiescent at an IRQ-enabled
 * point outside rcu_read_lock (the scheduler tick / context switch of the
 * kernel); IRQ-off sections and rcu_read_lock sections are read-side
 * critical sections because no quiescent state is reported inside them.  A
 * grace period for a callback ends when every CPU has reported a quiescent
 * state after call_rcu() took its snapshot.  A host-preempted vCPU reports
 * nothing, so it holds grace periods (as a real preempted vCPU does).
 *
 * The counters and the callback list are bookkeeping (MM_BK_*); callbacks
 * run on the CPU whose quiescent state completes their grace period.
 */
#include "pvfuzz/mm.h"

void rcu_read_lock(struct mm_struct *mm)
{
	int cpu = smp_processor_id();
	MM_BK_WRITE(mm->cpu[cpu].rcu_nesting, MM_BK_READ(mm->cpu[cpu].rcu_nesting) + 1);
	barrier();
}

void rcu_read_unlock(struct mm_struct *mm)
{
	int cpu = smp_processor_id();
	barrier();
	MM_BK_WRITE(mm->cpu[cpu].rcu_nesting, MM_BK_READ(mm->cpu[cpu].rcu_nesting) - 1);
}

static void rcu_do_batch(struct mm_struct *mm);

/* an idle vCPU (its tasks finished) is in an extended quiescent state */
void rcu_idle_enter(struct mm_struct *mm)
{
	int cpu = smp_processor_id();
	MM_BK_WRITE(mm->rcu.idle[cpu], 1);
	rcu_do_batch(mm);
}

static bool gp_done(struct mm_struct *mm, const u64 *snap)
{
	for (int c = 0; c < mm->nr_cpus; c++)
		if (!MM_BK_READ(mm->rcu.idle[c]) && MM_BK_READ(mm->rcu.qs[c]) <= snap[c])
			return false;
	return true;
}

static void rcu_snapshot(struct mm_struct *mm, u64 *snap)
{
	for (int c = 0; c < mm->nr_cpus; c++)
		snap[c] = MM_BK_READ(mm->rcu.qs[c]);
}

static void rcu_do_batch(struct mm_struct *mm)
{
	struct rcu_state *r = &mm->rcu;
	for (int i = 0; i < r->ncb;) {
		if (!gp_done(mm, r->cb[i].snap)) {
			i++;
			continue;
		}
		rcu_cb_t fn = r->cb[i].fn;
		int arg = r->cb[i].arg;
		r->cb[i] = r->cb[--r->ncb];
		fn(mm, arg);
	}
}

void rcu_quiescent_state(struct mm_struct *mm)
{
	int cpu = smp_processor_id();
	mm_hook(mm, quiescent);
	MM_BK_WRITE(mm->rcu.qs[cpu], MM_BK_READ(mm->rcu.qs[cpu]) + 1);
	rcu_do_batch(mm);
}

void call_rcu(struct mm_struct *mm, rcu_cb_t fn, int arg)
{
	struct rcu_state *r = &mm->rcu;
	if (r->ncb == MM_RCU_CBS) {
		synchronize_rcu(mm); /* the model's callback list is full: wait one out */
		rcu_do_batch(mm);
	}
	r->cb[r->ncb].fn = fn;
	r->cb[r->ncb].arg = arg;
	rcu_snapshot(mm, r->cb[r->ncb].snap);
	r->ncb++;
}

void synchronize_rcu(struct mm_struct *mm)
{
	u64 snap[MM_MAX_CPUS];
	rcu_snapshot(mm, snap);
	rcu_quiescent_state(mm); /* the caller sleeps: its own quiescent state */
	while (!gp_done(mm, snap))
		cpu_relax();
	rcu_do_batch(mm);
}
