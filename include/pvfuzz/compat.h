/* SPDX-License-Identifier: MIT */
/*
 * compat.h - the kernel primitives protocol code is written against.
 *
 * This is the ONLY file that knows which world the code runs in.  Every
 * protocol source (src/clock, src/mm, a user's --reader-file) is compiled
 * twice:
 *
 *   -DPVFUZZ_SIM     every shared access, barrier, TSC read, IRQ toggle, IPI
 *                    and VM exit is a scheduling point of the deterministic
 *                    fiber simulator (src/sim).  TSCs are virtual per vCPU.
 *   -DPVFUZZ_NATIVE  real C11 atomics/fences, real RDTSC/RDTSCP, real threads
 *                    (stress/), signals or mailboxes for IPIs.
 *   -DPVFUZZ_GUEST   freestanding guest code inside the /dev/kvm VMM (kvm/):
 *                    real memory, real barriers, real RDTSC, real MSR and
 *                    hypercall instructions; no libc, no threads (one task
 *                    per vCPU, interrupts off), reports by port I/O.
 *
 * Rules for protocol code:
 *   - every access to memory another CPU (or the hypervisor) can touch goes
 *     through READ_ONCE/WRITE_ONCE, an atomic, or pv_memcpy();
 *   - at most one such access per unsequenced expression (e.g. never two
 *     READ_ONCEs as arguments of one call): C leaves their order open, gcc
 *     and clang pick differently, and replay must be identical in both;
 *   - barriers are the kernel ones: smp_rmb/wmb/mb, virt_rmb/wmb/mb, barrier;
 *   - time comes from rdtsc()/rdtsc_ordered() only.
 */
#ifndef PVFUZZ_COMPAT_H
#define PVFUZZ_COMPAT_H

#include <string.h>

#include "pvfuzz/types.h"

#if defined(PVFUZZ_SIM) + defined(PVFUZZ_NATIVE) + defined(PVFUZZ_GUEST) != 1
#error "compile protocol code with exactly one of -DPVFUZZ_SIM, -DPVFUZZ_NATIVE or -DPVFUZZ_GUEST"
#endif

/* Where an access comes from: file, line and the accessed expression. */
struct pv_site {
	const char *file;
	const char *expr;
	int line;
	u32 id; /* lazily hashed from basename(file), line, expr */
};

/* Barrier kinds, shared by both worlds for tracing. */
enum pv_fence {
	PV_BARRIER,  /* compiler only */
	PV_SMP_RMB,  /* compiler-only on x86 (TSO keeps load->load order) */
	PV_SMP_WMB,  /* compiler-only on x86 (TSO keeps store->store order) */
	PV_SMP_MB,   /* mfence / locked op: drains the store buffer */
	PV_LFENCE,   /* orders a later RDTSC after earlier loads */
};

/* VM exits a guest can cause; the hypervisor side of each world handles them. */
enum pv_exit_reason {
	PV_EXIT_HYPERCALL,
	PV_EXIT_RDMSR,
	PV_EXIT_WRMSR,
};

/*
 * A VM exit.  Both worlds implement it (the simulator runs the registered
 * host model synchronously on the exiting vCPU, as KVM does; the native
 * stress runner runs its host thread's handler).
 */
u64 pv_vm_exit(enum pv_exit_reason reason, u64 a0, u64 a1);

#define kvm_hypercall2(nr, a0, a1) pv_vm_exit(PV_EXIT_HYPERCALL, (nr), ((u64)(a0) << 32) | (u32)(a1))
#define rdmsrl(msr) pv_vm_exit(PV_EXIT_RDMSR, (msr), 0)
#define wrmsrl(msr, val) ((void)pv_vm_exit(PV_EXIT_WRMSR, (msr), (val)))

/*
 * IPIs, as smp_call_function_many(): run func(info) on every online CPU in
 * mask except the caller, in hard-IRQ context (IRQs off) on that CPU; with
 * wait, return only after every target has run it.  The caller must have
 * IRQs enabled (as in the kernel).  Both worlds implement these:
 *   sim    - a per-vCPU pending-IPI queue; the target's fiber runs the
 *            handler at its next scheduling point with IRQs enabled (or
 *            the moment it re-enables them); a host-preempted vCPU takes
 *            none until resumed; the sender spins on acks with cpu_relax
 *            (src/sim/ipi.c);
 *   native - a per-CPU mailbox polled at the runner's IRQ-enabled points.
 */
typedef u64 pv_cpumask_t; /* bit per CPU */
typedef void (*smp_call_func_t)(void *info);
void smp_call_function_many(pv_cpumask_t mask, smp_call_func_t func, void *info, bool wait);
int num_online_cpus(void);

#ifdef PVFUZZ_SIM
/* ------------------------------------------------------------------ sim -- */

#define PV_SITE(e)                                                            \
	({                                                                    \
		static struct pv_site __pv_site = { __FILE__, e, __LINE__, 0 }; \
		&__pv_site;                                                   \
	})

u64 pvsim_load(struct pv_site *s, const volatile void *p, unsigned size);
void pvsim_store(struct pv_site *s, volatile void *p, unsigned size, u64 v);
void pvsim_memcpy(struct pv_site *s, volatile void *dst, const void *src, size_t n);
void pvsim_fence(struct pv_site *s, enum pv_fence kind);
u64 pvsim_rdtsc(struct pv_site *s, bool ordered);
int pvsim_cpu(void);
unsigned long pvsim_irq_save(struct pv_site *s);
void pvsim_irq_restore(struct pv_site *s, unsigned long flags);
void pvsim_preempt(int delta);
void pvsim_cpu_relax(struct pv_site *s);

enum pvsim_rmw { PVSIM_XCHG, PVSIM_CMPXCHG, PVSIM_ADD, PVSIM_OR, PVSIM_AND };
/* Returns the old value; every RMW is a locked op (full barrier). */
u64 pvsim_rmw(struct pv_site *s, volatile void *p, unsigned size, enum pvsim_rmw op, u64 a, u64 b);

/* an access traced under a site the caller names (helpers below name the caller's argument) */
#define __pv_load_at(site, x) ((__typeof__(x))pvsim_load((site), &(x), sizeof(x)))
#define __pv_store_at(site, x, v) pvsim_store((site), &(x), sizeof(x), (u64)(v))
#define READ_ONCE(x) __pv_load_at(PV_SITE(#x), x)
#define WRITE_ONCE(x, v) __pv_store_at(PV_SITE(#x), x, v)
/*
 * A shared word whose value must not reach the trace (an address: it
 * differs between builds, and so would the trace hash).  Fibers never run
 * at once, so a plain access is exact here; natively it is a relaxed atomic.
 */
#define READ_ONCE_NOTRACE(x) (x)
#define WRITE_ONCE_NOTRACE(x, v) ((x) = (v))

#define barrier() pvsim_fence(PV_SITE("barrier"), PV_BARRIER)
#define smp_rmb() pvsim_fence(PV_SITE("smp_rmb"), PV_SMP_RMB)
#define smp_wmb() pvsim_fence(PV_SITE("smp_wmb"), PV_SMP_WMB)
#define smp_mb() pvsim_fence(PV_SITE("smp_mb"), PV_SMP_MB)
#define virt_rmb() pvsim_fence(PV_SITE("virt_rmb"), PV_SMP_RMB)
#define virt_wmb() pvsim_fence(PV_SITE("virt_wmb"), PV_SMP_WMB)
#define virt_mb() pvsim_fence(PV_SITE("virt_mb"), PV_SMP_MB)
#define rmb() pvsim_fence(PV_SITE("rmb"), PV_LFENCE)
#define wmb() pvsim_fence(PV_SITE("wmb"), PV_SMP_WMB)
#define mb() pvsim_fence(PV_SITE("mb"), PV_SMP_MB)

/* Plain RDTSC may complete before earlier loads; RDTSC after LFENCE/RDTSCP may not. */
#define rdtsc() pvsim_rdtsc(PV_SITE("rdtsc"), false)
#define rdtsc_ordered() pvsim_rdtsc(PV_SITE("rdtsc_ordered"), true)

#define smp_processor_id() pvsim_cpu()
#define local_irq_save(flags) ((flags) = pvsim_irq_save(PV_SITE("local_irq_save")))
#define local_irq_restore(flags) pvsim_irq_restore(PV_SITE("local_irq_restore"), (flags))
#define preempt_disable() pvsim_preempt(1)
#define preempt_enable() pvsim_preempt(-1)
#define cpu_relax() pvsim_cpu_relax(PV_SITE("cpu_relax"))
/* a voluntary preemption point: a scheduling point that gives way (PCT demotion) */
#define cond_resched() pvsim_cpu_relax(PV_SITE("cond_resched"))

/*
 * VM exits and IPIs are traced at the caller's line: the site is built
 * where the macro is used, not inside the simulator.
 */
u64 pvsim_vm_exit(struct pv_site *s, enum pv_exit_reason reason, u64 a0, u64 a1);
#define pv_vm_exit(r, a0, a1) pvsim_vm_exit(PV_SITE("vm-exit " #r), (r), (a0), (a1))
void pvsim_call_function_many(struct pv_site *send, struct pv_site *wait_ack, pv_cpumask_t mask,
			      smp_call_func_t func, void *info, bool wait);
#define smp_call_function_many(mask, func, info, wait)                          \
	pvsim_call_function_many(PV_SITE("ipi-send"), PV_SITE("ipi-wait-ack"), \
				 (mask), (func), (info), (wait))

/* A plain bulk copy (memcpy / kvm_write_guest): chunk order is unspecified. */
#define pv_memcpy(dst, src, n) pvsim_memcpy(PV_SITE("memcpy " #dst), (dst), (src), (n))

#define __pv_rmw(p, op, a, b) \
	((__typeof__(*(p)))pvsim_rmw(PV_SITE(#p), (p), sizeof(*(p)), (op), (u64)(a), (u64)(b)))
#define xchg(p, v) __pv_rmw(p, PVSIM_XCHG, v, 0)
#define cmpxchg(p, o, n) __pv_rmw(p, PVSIM_CMPXCHG, o, n)
#define pv_fetch_add(p, v) __pv_rmw(p, PVSIM_ADD, v, 0)
#define pv_fetch_or(p, v) __pv_rmw(p, PVSIM_OR, v, 0)
#define pv_fetch_and(p, v) __pv_rmw(p, PVSIM_AND, v, 0)

#elif defined(PVFUZZ_NATIVE)
/* --------------------------------------------------------------- native -- */
#include <x86intrin.h>

/* Per-thread hooks of the native runtime (stress/native_runtime.c). */
extern __thread u64 pv_native_last_tsc;   /* last TSC the thread read (oracles) */
extern __thread u64 pv_native_tsc_reads;  /* TSC reads so far (retry statistics) */
extern s64 pv_native_tsc_skew[256];       /* injected per-CPU TSC skew */
int pv_native_cpu(void);
unsigned long pv_native_irq_save(void);
void pv_native_irq_restore(unsigned long flags);
void pv_native_preempt(int delta);

/* Relaxed atomics: the intentional races of these protocols, visible to TSan. */
#define READ_ONCE(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)
#define WRITE_ONCE(x, v) __atomic_store_n(&(x), (v), __ATOMIC_RELAXED)
#define READ_ONCE_NOTRACE(x) READ_ONCE(x)
#define WRITE_ONCE_NOTRACE(x, v) WRITE_ONCE(x, v)
#define __pv_load_at(site, x) READ_ONCE(x)
#define __pv_store_at(site, x, v) WRITE_ONCE(x, v)

#define barrier() __asm__ __volatile__("" ::: "memory")
#define smp_rmb() __atomic_thread_fence(__ATOMIC_ACQUIRE)
#define smp_wmb() __atomic_thread_fence(__ATOMIC_RELEASE)
#define smp_mb() __atomic_thread_fence(__ATOMIC_SEQ_CST)

static __always_inline u64 pv_native_rdtsc(bool ordered)
{
	unsigned int aux = 0;
	u64 t;

	if (ordered) {
		t = __rdtscp(&aux); /* Linux keeps the CPU number in TSC_AUX */
	} else {
		t = __rdtsc();
		aux = (unsigned)pv_native_cpu();
	}
	t += (u64)pv_native_tsc_skew[aux & 0xff];
	pv_native_last_tsc = t;
	pv_native_tsc_reads++;
	return t;
}
#define rdtsc() pv_native_rdtsc(false)
#define rdtsc_ordered() pv_native_rdtsc(true)

#define smp_processor_id() pv_native_cpu()
#define local_irq_save(flags) ((flags) = pv_native_irq_save())
#define local_irq_restore(flags) pv_native_irq_restore(flags)
#define preempt_disable() pv_native_preempt(1)
#define preempt_enable() pv_native_preempt(-1)
#define cpu_relax() __builtin_ia32_pause()
void pv_native_cond_resched(void); /* sched_yield() in the native runtime */
#define cond_resched() pv_native_cond_resched()

/*
 * A plain bulk copy racing with readers: done as relaxed byte stores so it is
 * not a C data race, with the unspecified order of a real memcpy.
 */
static inline void pv_native_memcpy(volatile void *dst, const void *src, size_t n)
{
	volatile u8 *d = dst;
	const u8 *s = src;
	for (size_t i = 0; i < n; i++)
		__atomic_store_n((u8 *)&d[i], s[i], __ATOMIC_RELAXED);
}
#define pv_memcpy(dst, src, n) pv_native_memcpy((dst), (src), (n))

#else
/* ---------------------------------------------------------------- guest -- */
/*
 * The guest world (kvm/guest/): the code runs in 64-bit ring 0 of a real
 * KVM vCPU and reads what the real host writes, so every primitive is the
 * instruction the kernel itself uses on x86-64.  One task per vCPU and
 * interrupts stay off, so preemption points are empty.
 */

/* The kernel's own definitions: a volatile access of the natural width. */
#define READ_ONCE(x) (*(const volatile __typeof__(x) *)&(x))
#define WRITE_ONCE(x, v) (*(volatile __typeof__(x) *)&(x) = (v))
#define READ_ONCE_NOTRACE(x) READ_ONCE(x)
#define WRITE_ONCE_NOTRACE(x, v) WRITE_ONCE(x, v)
/* no trace in the guest: the access site is dropped, as natively */
#define __pv_load_at(site, x) READ_ONCE(x)
#define __pv_store_at(site, x, v) WRITE_ONCE(x, v)

#define barrier() __asm__ __volatile__("" ::: "memory")
/* x86 TSO: load->load and store->store order come for free */
#define smp_rmb() barrier()
#define smp_wmb() barrier()
#define smp_mb() __asm__ __volatile__("mfence" ::: "memory")

static __always_inline u64 pv_guest_rdtsc(bool ordered)
{
	u32 lo, hi;

	/* rdtsc_ordered(): LFENCE keeps RDTSC after every earlier load */
	if (ordered)
		__asm__ __volatile__("lfence; rdtsc" : "=a"(lo), "=d"(hi) :: "memory");
	else
		__asm__ __volatile__("rdtsc" : "=a"(lo), "=d"(hi));
	return ((u64)hi << 32) | lo;
}
#define rdtsc() pv_guest_rdtsc(false)
#define rdtsc_ordered() pv_guest_rdtsc(true)

/* The per-CPU area's first word is the CPU number (%gs, as the kernel's). */
static __always_inline int pv_guest_cpu(void)
{
	int cpu;
	__asm__ __volatile__("movl %%gs:0, %0" : "=r"(cpu));
	return cpu;
}
#define smp_processor_id() pv_guest_cpu()

static __always_inline unsigned long pv_guest_irq_save(void)
{
	unsigned long flags;
	__asm__ __volatile__("pushfq; popq %0; cli" : "=r"(flags) :: "memory");
	return flags;
}
static __always_inline void pv_guest_irq_restore(unsigned long flags)
{
	__asm__ __volatile__("pushq %0; popfq" :: "r"(flags) : "memory", "cc");
}
#define local_irq_save(flags) ((flags) = pv_guest_irq_save())
#define local_irq_restore(flags) pv_guest_irq_restore(flags)
/* nothing else runs on a guest vCPU: preemption points are compiler barriers */
#define preempt_disable() barrier()
#define preempt_enable() barrier()
#define cpu_relax() __asm__ __volatile__("pause" ::: "memory")
#define cond_resched() barrier()

static inline void pv_guest_memcpy(volatile void *dst, const void *src, size_t n)
{
	volatile u8 *d = dst;
	const u8 *s = src;
	for (size_t i = 0; i < n; i++)
		d[i] = s[i];
}
#define pv_memcpy(dst, src, n) pv_guest_memcpy((dst), (src), (n))

/* the guest's kvmclock driver (src/clock/pvclock_guest.c) clears GUEST_STOPPED with it */
#define pv_fetch_and(p, v) __atomic_fetch_and((p), (v), __ATOMIC_SEQ_CST)


#endif /* PVFUZZ_GUEST */

#ifndef PVFUZZ_SIM
/* native and guest: the virt_ barriers are the smp_ ones, and the mandatory ones are x86's */
#define virt_rmb() smp_rmb()
#define virt_wmb() smp_wmb()
#define virt_mb() smp_mb()
#define rmb() __asm__ __volatile__("lfence" ::: "memory")
#define wmb() __asm__ __volatile__("sfence" ::: "memory")
#define mb() __asm__ __volatile__("mfence" ::: "memory")
/* real locked instructions, as the kernel's xchg/cmpxchg/xadd */
#define xchg(p, v) __atomic_exchange_n((p), (v), __ATOMIC_SEQ_CST)
#define cmpxchg(p, o, n)                                                      \
	({                                                                    \
		__typeof__(*(p)) __o = (o);                                   \
		__atomic_compare_exchange_n((p), &__o, (n), false,            \
					    __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST); \
		__o;                                                          \
	})
#define pv_fetch_add(p, v) __atomic_fetch_add((p), (v), __ATOMIC_SEQ_CST)
#define pv_fetch_or(p, v) __atomic_fetch_or((p), (v), __ATOMIC_SEQ_CST)
#define pv_fetch_and(p, v) __atomic_fetch_and((p), (v), __ATOMIC_SEQ_CST)
#endif

/* ------------------------------------------------ shared, built on top -- */

#define try_cmpxchg(p, po, n)                                                 \
	({                                                                    \
		__typeof__(*(p)) __exp = *(po);                               \
		__typeof__(*(p)) __got = cmpxchg((p), __exp, (n));            \
		if (__got != __exp)                                           \
			*(po) = __got;                                        \
		__got == __exp;                                               \
	})

typedef struct { s64 counter; } atomic64_t;
typedef struct { int counter; } atomic_t;

#define atomic64_read(v) READ_ONCE((v)->counter)
#define atomic64_set(v, i) WRITE_ONCE((v)->counter, (i))
#define atomic64_try_cmpxchg(v, po, n) try_cmpxchg(&(v)->counter, (po), (n))
#define atomic_read(v) READ_ONCE((v)->counter)
#define atomic_set(v, i) WRITE_ONCE((v)->counter, (i))
#define atomic_add_return(i, v) (pv_fetch_add(&(v)->counter, (i)) + (i))
#define atomic_inc(v) ((void)pv_fetch_add(&(v)->counter, 1))
#define atomic_dec_and_test(v) (pv_fetch_add(&(v)->counter, -1) == 1)

/*
 * include/linux/seqlock.h seqcount_t: one writer at a time (its caller holds
 * the lock that serialises writers), lockless readers that retry.  The
 * writer's own read of the count goes through READ_ONCE so it forwards from
 * its store buffer in the TSO model.
 *
 * These helpers (and atomic_inc_not_zero) are macros, not inline functions,
 * so each access they make is traced at the caller's line with the caller's
 * argument: a site inside this header would lump every caller together.
 * The seqcount ones evaluate their argument once.  Like every site macro, an invocation
 * stays on one line: for a macro spanning lines gcc's __LINE__ is the line
 * of its name and clang's the line of its closing parenthesis, and traces
 * must not differ between compilers (tests/triage_tests.py site-lines checks).
 */
typedef struct { unsigned sequence; } seqcount_t;

#define __seq_load(s, p) __pv_load_at(PV_SITE("(" #s ")->sequence"), (p)->sequence)
#define __seq_store(s, p, v) __pv_store_at(PV_SITE("(" #s ")->sequence"), (p)->sequence, (v))

#define read_seqcount_begin(s)                                                \
	({                                                                    \
		const seqcount_t *__rs = (s);                                 \
		unsigned __seq;                                               \
		while ((__seq = __seq_load(s, __rs)) & 1)                     \
			cpu_relax();                                          \
		smp_rmb();                                                    \
		__seq;                                                        \
	})

#define read_seqcount_retry(s, start)                                         \
	({                                                                    \
		const seqcount_t *__rs = (s);                                 \
		unsigned __start = (start);                                   \
		smp_rmb();                                                    \
		unlikely(__seq_load(s, __rs) != __start);                     \
	})

#define write_seqcount_begin(s)                                               \
	do {                                                                  \
		seqcount_t *__ws = (s);                                       \
		unsigned __seq = __seq_load(s, __ws);                         \
		__seq_store(s, __ws, __seq + 1);                              \
		smp_wmb();                                                    \
	} while (0)

#define write_seqcount_end(s)                                                 \
	do {                                                                  \
		seqcount_t *__ws = (s);                                       \
		smp_wmb();                                                    \
		unsigned __seq = __seq_load(s, __ws);                         \
		__seq_store(s, __ws, __seq + 1);                              \
	} while (0)

/*
 * refcount grab that fails on zero, as folio_try_get() / get_page_unless_zero().
 * v is evaluated at each access so that the trace shows the caller's
 * expression: pass a pointer expression without side effects.
 */
#define atomic_inc_not_zero(v)                                                \
	({                                                                    \
		int __c = atomic_read(v);                                     \
		bool __ok = false;                                            \
		while (__c != 0 && !(__ok = try_cmpxchg(&(v)->counter, &__c, __c + 1))) \
			;                                                     \
		__ok;                                                         \
	})

#endif /* PVFUZZ_COMPAT_H */
