// SPDX-License-Identifier: MIT
/*
 * The native hooks compat.h declares (PVFUZZ_NATIVE): per-thread IRQ-off
 * depth and preempt count, the per-CPU TSC skew applied by rdtsc() from
 * RDTSCP's TSC_AUX (Linux keeps the CPU number there), smp_processor_id()
 * from sched_getcpu(), and pv_vm_exit() dispatching to the protocol's host.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <sys/syscall.h>

#include "native.h"

__thread u64 pv_native_last_tsc;
__thread u64 pv_native_tsc_reads;
s64 pv_native_tsc_skew[NATIVE_MAX_CPUS];

static int vcpu_cpu[NATIVE_MAX_CPUS];
static int cpu_vcpu[NATIVE_MAX_CPUS];
static int nr_vcpus = 1;
static native_exit_fn exit_handler;
static __thread struct native_thread *self;
static __thread bool irqs_off;

int native_usable_cpus(int *cpus, int max)
{
	cpu_set_t set;
	int n = 0;

	if (sched_getaffinity(0, sizeof(set), &set) != 0) {
		cpus[0] = 0;
		return 1;
	}
	for (int c = 0; c < CPU_SETSIZE && c < NATIVE_MAX_CPUS && n < max; c++)
		if (CPU_ISSET(c, &set))
			cpus[n++] = c;
	return n;
}

void native_set_vcpus(const int *cpus, int n)
{
	nr_vcpus = n;
	for (int i = 0; i < n; i++)
		vcpu_cpu[i] = cpus[i];
	for (int c = 0; c < NATIVE_MAX_CPUS; c++)
		cpu_vcpu[c] = c % n;
	for (int i = 0; i < n; i++)
		cpu_vcpu[cpus[i]] = i;
}

int native_vcpu_count(void)
{
	return nr_vcpus;
}

int native_vcpu_cpu(int v)
{
	return vcpu_cpu[v];
}

void native_set_skew(int v, s64 cycles)
{
	for (int c = 0; c < NATIVE_MAX_CPUS; c++)
		if (cpu_vcpu[c] == v)
			pv_native_tsc_skew[c] = cycles;
}

static __thread int thread_vcpu = -1;
static const struct native_irq_hooks *irq_hooks;

void native_set_thread_vcpu(int v)
{
	thread_vcpu = v;
}

void native_set_irq_hooks(const struct native_irq_hooks *h)
{
	irq_hooks = h;
}

bool native_irqs_disabled(void)
{
	return irqs_off;
}

int pv_native_cpu(void)
{
	if (thread_vcpu >= 0)
		return thread_vcpu;
	int c = sched_getcpu();
	return c < 0 ? 0 : cpu_vcpu[c % NATIVE_MAX_CPUS];
}

/* ------------------------------------------ IRQ-off / preempt-off ---- */

static void section_enter(void)
{
	struct native_thread *t = self;
	if (!t || t->depth++)
		return;
	/* a migrator holding nomig has its sched_setaffinity() in flight */
	for (int want = 0; !atomic_compare_exchange_weak_explicit(&t->nomig, &want, 1,
				memory_order_acquire, memory_order_relaxed); want = 0)
		__builtin_ia32_pause();
}

static void section_exit(void)
{
	struct native_thread *t = self;
	if (!t)
		return;
	if (--t->depth == 0)
		atomic_store_explicit(&t->nomig, 0, memory_order_release);
}

unsigned long pv_native_irq_save(void)
{
	unsigned long was_off = irqs_off;
	if (!was_off) {
		section_enter();
		irqs_off = true;
		if (irq_hooks && irq_hooks->disabled)
			irq_hooks->disabled();
	}
	return was_off;
}

void pv_native_irq_restore(unsigned long flags)
{
	if (!flags && irqs_off) {
		irqs_off = false;
		section_exit();
		if (irq_hooks && irq_hooks->enabled)
			irq_hooks->enabled();
	}
}

void pv_native_preempt(int delta)
{
	if (delta > 0)
		section_enter();
	else
		section_exit();
}

/* -------------------------------------------------------- migration -- */

static int pin(pid_t tid, int v)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(vcpu_cpu[v], &set);
	return sched_setaffinity(tid, sizeof(set), &set);
}

void native_thread_start(struct native_thread *t, int v)
{
	/* the migrator thread reads tid concurrently: publish it atomically */
	__atomic_store_n(&t->tid, (pid_t)syscall(SYS_gettid), __ATOMIC_RELEASE);
	t->depth = 0;
	atomic_store(&t->nomig, 0);
	self = t;
	atomic_store_explicit(&t->vcpu, v, memory_order_relaxed);
	if (pin(0, v) != 0)
		perror("pvfuzz-stress: sched_setaffinity");
}

bool native_migrate_self(struct native_thread *t, int v)
{
	if (atomic_load_explicit(&t->vcpu, memory_order_relaxed) == v || pin(0, v) != 0)
		return false;
	atomic_store_explicit(&t->vcpu, v, memory_order_relaxed);
	atomic_fetch_add_explicit(&t->migrations, 1, memory_order_relaxed);
	return true;
}

bool native_migrate_other(struct native_thread *t, int v)
{
	int want = 0;
	if (!atomic_compare_exchange_strong_explicit(&t->nomig, &want, 2, memory_order_acquire,
						     memory_order_relaxed))
		return false; /* inside an IRQ-off / preempt-off section */
	pid_t tid = __atomic_load_n(&t->tid, __ATOMIC_ACQUIRE);
	bool ok = tid != 0 && pin(tid, v) == 0;
	if (ok)
		atomic_store_explicit(&t->vcpu, v, memory_order_relaxed);
	atomic_store_explicit(&t->nomig, 0, memory_order_release);
	if (ok)
		atomic_fetch_add_explicit(&t->migrations, 1, memory_order_relaxed);
	return ok;
}

/* ---------------------------------------------------------- VM exits -- */

void native_set_exit_handler(native_exit_fn fn)
{
	exit_handler = fn;
}

/*
 * As in KVM, the exit is handled synchronously on the exiting vCPU's
 * thread; the handler serialises with the host thread itself.
 */
u64 pv_vm_exit(enum pv_exit_reason reason, u64 a0, u64 a1)
{
	if (!exit_handler) {
		fprintf(stderr, "pvfuzz-stress: VM exit %d with no host model\n", (int)reason);
		abort();
	}
	return exit_handler(reason, a0, a1);
}

u64 native_raw_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC_RAW, &ts);
	return (u64)ts.tv_sec * NSEC_PER_SEC + (u64)ts.tv_nsec;
}

/* cond_resched(): a voluntary preemption point; natively, let another thread run. */
void pv_native_cond_resched(void)
{
	sched_yield();
}
