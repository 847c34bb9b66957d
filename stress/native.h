/* SPDX-License-Identifier: MIT */
/*
 * The native runtime behind compat.h's PVFUZZ_NATIVE branch
 * (stress/native_runtime.c): which real CPUs are the guest's vCPUs, the
 * per-CPU TSC skew, the per-thread IRQ/preemption state that keeps a
 * thread from being migrated inside a "kernel" section, and the VM-exit
 * dispatch to the running protocol's host model.
 *
 * The guest's vCPUs are real CPUs: vCPU i runs on CPU native_vcpu_cpu(i),
 * and smp_processor_id() is the vCPU index of the CPU the thread runs on.
 */
#ifndef PVFUZZ_STRESS_NATIVE_H
#define PVFUZZ_STRESS_NATIVE_H

#include <stdatomic.h>
#include <sys/types.h>

#include "pvfuzz/compat.h"

#define NATIVE_MAX_CPUS 256 /* the size of pv_native_tsc_skew[] */

/* The CPUs this process may run on (sched_getaffinity), ascending. */
int native_usable_cpus(int *cpus, int max);

/* vCPU i is real CPU cpus[i]; other CPUs alias vCPU (cpu % n). */
void native_set_vcpus(const int *cpus, int n);
int native_vcpu_count(void);
int native_vcpu_cpu(int v);

/* Guest TSC on vCPU v = host TSC + skew (every CPU that maps to v). */
void native_set_skew(int v, s64 cycles);

/*
 * A thread that runs guest code.  Inside local_irq_save() or
 * preempt_disable() it holds `nomig`, so a migrator can move it only
 * outside those sections: the native stand-in for "the kernel does not
 * migrate a task with preemption or IRQs disabled".
 */
struct native_thread {
	pid_t tid;
	_Atomic int vcpu;         /* where it was pinned last */
	_Atomic int nomig;        /* 0 free, 1 held by the thread, 2 by a migrator */
	int depth;                /* preempt count + IRQ-off depth (owner only) */
	_Atomic u64 migrations;
};

/* Make the calling thread a guest thread and pin it to vCPU v. */
void native_thread_start(struct native_thread *t, int v);
/* Pin the calling thread to vCPU v (between reads). */
bool native_migrate_self(struct native_thread *t, int v);
/*
 * Move thread t (another thread) to vCPU v if it is not inside an IRQ-off
 * or preempt-off section; sched_setaffinity() returns once it has moved.
 */
bool native_migrate_other(struct native_thread *t, int v);

/*
 * A thread that IS a vCPU (the TLB runner's vCPU threads): smp_processor_id()
 * returns v wherever the host (sched_setaffinity) runs the thread; -1 (the
 * default) derives it from the real CPU as above.
 */
void native_set_thread_vcpu(int v);

/*
 * Interrupt delivery points: `enabled` runs on the thread right after
 * local_irq_restore() re-enabled IRQs (pending IPIs, quiescent states),
 * `disabled` right after local_irq_save() disabled them.  NULL: nothing.
 */
struct native_irq_hooks {
	void (*enabled)(void);
	void (*disabled)(void);
};
void native_set_irq_hooks(const struct native_irq_hooks *h);
bool native_irqs_disabled(void);

/* VM exits (pv_vm_exit) go to the running protocol's host model. */
typedef u64 (*native_exit_fn)(enum pv_exit_reason reason, u64 a0, u64 a1);
void native_set_exit_handler(native_exit_fn fn);

/* CLOCK_MONOTONIC_RAW in ns; the host's TSC (no injected skew). */
u64 native_raw_ns(void);
static inline u64 native_host_tsc(void)
{
	unsigned int aux;
	return __rdtscp(&aux);
}

#endif
