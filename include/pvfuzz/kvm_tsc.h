/* SPDX-License-Identifier: MIT */
/*
 * KVM on a host whose TSC changes frequency (!X86_FEATURE_CONSTANT_TSC): the
 * interface every TSC-frequency writer - built in or your own file - is
 * written against.  Include only this header (it pulls in compat.h, the
 * pvclock ABI and the KVM clock host of pvclock.h).  docs/kvm_tsc.md walks
 * through it; docs/byo.md has a worked example.
 *
 * The world is the HOST: CPUs 0..nr_cpus-1 are physical CPUs, each with its
 * own TSC whose rate follows its frequency.  One VM has a vCPU per CPU; the
 * vCPU thread of vCPU v starts on CPU v and runs vcpu_enter_guest() loops
 * (kvm_tsc_vcpu_run_once()).  Around it run the host's cpufreq transitions
 * (PRECHANGE, the hardware change, POSTCHANGE; concurrent across CPUs,
 * notifiers called from any CPU), CPU hot-unplug and replug with
 * stop_machine semantics, and a kworker.  What the guest sees is kvmclock:
 * vCPU v's record, read with vCPU v's TSC.
 *
 * A WRITER is KVM's code for all this.  It fills in struct
 * kvm_tsc_writer_ops with what its patch changes; every member left NULL is
 * mainline's (v6.17, src/clock/kvm_tsc_mainline.c):
 *
 *	static int my_notifier(struct kvm_tsc_host *h, unsigned long val,
 *			       struct cpufreq_freqs *freq)
 *	{ ... kvmclock_cpufreq_notifier() as my patch has it ... }
 *	static const struct kvm_tsc_writer_ops my_ops = {
 *		.cpufreq_notifier = my_notifier,
 *	};
 *	KVM_TSC_WRITER(my_writer, my_ops, .expect = "safe", .history = "...");
 *
 * A READER is the guest's kvmclock set-up for a CPU coming online
 * (kvmclock_setup_percpu(): which 64-byte record slot a CPU gets).
 *
 * Rules (compat.h): every shared field through READ_ONCE/WRITE_ONCE or an
 * atomic, one such access per statement, kernel barriers, time from
 * rdtsc()/h->host_ns().  Per-CPU variables are arrays indexed by CPU;
 * "this CPU" is smp_processor_id().
 */
#ifndef PVFUZZ_KVM_TSC_H
#define PVFUZZ_KVM_TSC_H

#include "pvfuzz/clock_math.h"
#include "pvfuzz/compat.h"
#include "pvfuzz/pvclock.h"
#include "pvfuzz/variant.h"

#define KVM_TSC_MAX_CPUS PV_MAX_VCPUS

/* include/linux/cpufreq.h: one transition of one CPU's policy. */
struct cpufreq_freqs {
	int cpu;      /* the CPU whose frequency changes (one CPU per policy) */
	u32 old, new; /* kHz */
};
#define CPUFREQ_PRECHANGE 0
#define CPUFREQ_POSTCHANGE 1

/* vcpu->requests bits and vcpu->mode */
#define KVM_REQ_CLOCK_UPDATE 0x1u
enum { OUTSIDE_GUEST_MODE, IN_GUEST_MODE };

struct kvm_tsc_vcpu {
	int cpu;      /* vcpu->cpu: where its thread last loaded (kvm_arch_vcpu_load) */
	u32 requests; /* vcpu->requests: atomic bit ops */
	int mode;     /* vcpu->mode */
};

/*
 * The per-CPU TSC variables of the 2009 TSC-virtualization RFC (the seed of
 * src/clock/kvm_tsc_2009.c): each CPU scales its own TSC to a common
 * reference TSC running at ref_tsc_khz.
 */
struct cpu_tsc_vars {
	u32 tsc_khz;          /* this CPU's TSC frequency */
	u32 tsc_multiplier;   /* hardware ticks -> reference ticks, 32.32 */
	s8 tsc_shift;
	u64 tsc_offset;       /* reference TSC at tsc_measure_base */
	u64 tsc_measure_base; /* hardware TSC at the last synchronisation */
	u32 tsc_generation;
	atomic_t tsc_synchronized;
	u64 last_ref;         /* the patch: reference TSC when evicted */
};

struct kvm_tsc_writer_ops;

struct kvm_tsc_host {
	/* the guest's kvmclock records and KVM's per-vCPU clock state (pvclock.h) */
	struct kvm_clock_host clock;
	int nr_cpus;                         /* CPUs and vCPUs */
	u64 online;                          /* cpu_online_mask (READ_ONCE) */
	u32 cpu_tsc_khz[KVM_TSC_MAX_CPUS];   /* DEFINE_PER_CPU(cpu_tsc_khz) */
	u32 tsc_khz;                         /* the boot calibration */
	struct kvm_tsc_vcpu vcpu[KVM_TSC_MAX_CPUS];
	int kvm_lock;                        /* spinlock: the VM list */

	/* the 2009 RFC's reference TSC */
	struct cpu_tsc_vars tsc_vars[KVM_TSC_MAX_CPUS];
	int tsc_base_cpu;
	u32 ref_tsc_khz;
	int kvm_tsc_lock;                    /* spinlock */
	int resync_lock;                     /* mutex */
	int sync_lock;                       /* spinlock: one measurement at a time */
	int work_scheduled;

	/* ---- the world (host kernel services; scheduling points in the sim) ---- */
	u64 (*host_ns)(struct kvm_tsc_host *h);                /* get_kvmclock_base_ns() */
	/* rdtsc() and get_kvmclock_base_ns() back to back with IRQs off: one instant */
	void (*host_tsc_and_ns)(struct kvm_tsc_host *h, u64 *tsc, u64 *ns);
	u32 (*cpufreq_quick_get)(struct kvm_tsc_host *h, int cpu); /* the CPU's kHz now */
	/* policy->transition_ongoing: a PRECHANGE was sent, its POSTCHANGE not yet */
	bool (*cpufreq_transition_ongoing)(struct kvm_tsc_host *h, int cpu);
	/* execute_in_process_context() from IRQ context: a kworker runs fn later */
	void (*schedule_work)(struct kvm_tsc_host *h, void (*fn)(struct kvm_tsc_host *h));
	/* work_on_cpu(): fn runs in process context on cpu; the caller waits */
	long (*work_on_cpu)(struct kvm_tsc_host *h, int cpu, long (*fn)(struct kvm_tsc_host *h));
	/* in_interrupt(): the caller runs in hard-IRQ context (an IPI handler) */
	bool (*in_interrupt)(struct kvm_tsc_host *h);
	/* get_online_cpus()/put_online_cpus(): no hotplug in between */
	void (*get_online_cpus)(struct kvm_tsc_host *h);
	void (*put_online_cpus)(struct kvm_tsc_host *h);
	/*
	 * The 2009 series' measurement of this CPU against a base CPU: the
	 * base's reference TSC and this CPU's TSC at one instant (its
	 * rendezvous code is not in any stored source; modelled as exact).
	 */
	void (*measure_base)(struct kvm_tsc_host *h, int base, u64 *base_ref, u64 *tsc);
	/* ground truth: a reference TSC a design hands out (2009 RFC) */
	void (*ref_tsc_seen)(struct kvm_tsc_host *h, int cpu, u64 ref);
	void *world;
	const struct kvm_tsc_writer_ops *ops; /* resolved: no NULL members */
};

/*
 * A writer.  Every member is optional, NULL means mainline (the function in
 * the comment, src/clock/kvm_tsc_mainline.c).
 */
struct kvm_tsc_writer_ops {
	/* kvm_timer_init(): boot, before any vCPU runs (on CPU 0) */
	void (*timer_init)(struct kvm_tsc_host *h);
	/* kvmclock_cpufreq_notifier(): called on whatever CPU runs the transition */
	int (*cpufreq_notifier)(struct kvm_tsc_host *h, unsigned long val, struct cpufreq_freqs *freq);
	/* CPU hotplug: DOWN_PREPARE on the dying CPU (process context, still online) */
	void (*cpu_down_prepare)(struct kvm_tsc_host *h, int cpu);
	/* CPU_DYING: inside stop_machine, every other CPU stopped, no scheduling point */
	void (*cpu_dying)(struct kvm_tsc_host *h, int cpu);
	/* CPU_ONLINE: on the new CPU (process context) */
	void (*cpu_online)(struct kvm_tsc_host *h, int cpu);
	/* vcpu_enter_guest(): may vCPU v enter now? (mainline: yes) */
	bool (*vcpu_can_enter)(struct kvm_tsc_host *h, int v);
	/* kvm_guest_time_update(): KVM_REQ_CLOCK_UPDATE on vCPU v's thread; nonzero: re-requested */
	int (*guest_time_update)(struct kvm_tsc_host *h, int v);
	/*
	 * A design that traps RDTSC: what the guest's RDTSC returns (the exit
	 * handler runs with host IRQs enabled).  NULL: the guest reads the
	 * hardware TSC (mainline).
	 */
	u64 (*guest_rdtsc)(struct kvm_tsc_host *h, int v);
};

void kvm_tsc_writer_ops_resolve(struct kvm_tsc_writer_ops *out, const struct kvm_tsc_writer_ops *ops);

/* ---------------------------------------------------------- kernel helpers -- */

/*
 * The helpers that touch shared state are macros, so the trace names the
 * caller's line (compat.h); each evaluates its arguments once.
 */
#define cpu_online(h, cpu)                                                    \
	({                                                                    \
		struct kvm_tsc_host *__coh = (h);                             \
		int __coc = (cpu);                                            \
		(bool)((READ_ONCE(__coh->online) >> __coc) & 1);              \
	})

/*
 * smp_call_function_single(): func on cpu in hard-IRQ context, locally with
 * IRQs off when cpu is this CPU; -ENXIO (6) for an offline CPU.
 */
int smp_call_function_single(struct kvm_tsc_host *h, int cpu, smp_call_func_t func, void *info, bool wait);
/* on_each_cpu(): func on every online CPU, this one included */
void on_each_cpu(struct kvm_tsc_host *h, smp_call_func_t func, void *info, bool wait);
void kvm_spin_lock(int *lock);
void kvm_spin_unlock(int *lock);
/* a mutex: sleeps, so never inside an atomic section (checked) */
void kvm_mutex_lock(int *lock);
void kvm_mutex_unlock(int *lock);

#define kvm_make_request(req, vcpu)                                           \
	do {                                                                  \
		u32 __mrq = (req);                                            \
		(void)pv_fetch_or(&(vcpu)->requests, __mrq);                  \
	} while (0)

#define kvm_check_request(req, vcpu)                                          \
	({                                                                    \
		u32 __crq = (req);                                            \
		struct kvm_tsc_vcpu *__crv = (vcpu);                          \
		bool __crhit = (READ_ONCE(__crv->requests) & __crq) != 0;     \
		if (__crhit)                                                  \
			(void)pv_fetch_and(&__crv->requests, ~__crq);         \
		__crhit;                                                      \
	})

/* IPI payloads carry the world with them. */
struct kvm_tsc_ipi {
	struct kvm_tsc_host *h;
	struct cpufreq_freqs *freq;
};

/* ------------------------------------------------ mainline (v6.17) blocks -- */

/* get_cpu_tsc_khz(): this CPU's kHz (!CONSTANT_TSC) */
u32 get_cpu_tsc_khz(struct kvm_tsc_host *h);
/* tsc_khz_changed(): IPI handler, info is a struct kvm_tsc_ipi */
void tsc_khz_changed(void *info);
int kvmclock_cpufreq_notifier_call(struct kvm_tsc_host *h, unsigned long val, struct cpufreq_freqs *freq);
void __kvmclock_cpufreq_notifier(struct kvm_tsc_host *h, struct cpufreq_freqs *freq, int cpu);
void kvmclock_cpu_down_prep(struct kvm_tsc_host *h, int cpu);
void kvmclock_cpu_online(struct kvm_tsc_host *h, int cpu);
void kvm_timer_init(struct kvm_tsc_host *h);
int kvm_guest_time_update_khz(struct kvm_tsc_host *h, int v);
/*
 * One vcpu_enter_guest() up to VM entry: kvm_arch_vcpu_load on a CPU
 * change, KVM_REQ_CLOCK_UPDATE, the writer's vcpu_can_enter, then
 * IN_GUEST_MODE unless a request came in.  False: not entered (try again).
 */
bool kvm_tsc_vcpu_enter(struct kvm_tsc_host *h, int v);
/* kvm_arch_vcpu_load(): the vCPU thread was scheduled in on this CPU */
void kvm_tsc_vcpu_load(struct kvm_tsc_host *h, int v);
void kvm_tsc_vcpu_exit(struct kvm_tsc_host *h, int v);

/* ------------------------------------------------------------- the guest -- */

#define KVM_TSC_MAX_CPU_IDS 256

/* arch/x86/kernel/kvmclock.c: the per-CPU record slots */
struct kvmclock_guest {
	struct pvclock_vsyscall_time_info *hv_clock_boot; /* [HVC_BOOT_ARRAY_SIZE] */
	struct pvclock_vsyscall_time_info *hvclock_mem;   /* CPUs >= 64, or NULL */
	struct pvclock_vsyscall_time_info *hv_clock_per_cpu[KVM_TSC_MAX_CPU_IDS];
	int nr_cpu_ids;          /* num_possible_cpus() */
	bool kvmclock_vsyscall;  /* the vDSO may use kvmclock */
	bool vdso_pvclock;       /* kvm_clock.vdso_clock_mode == VDSO_CLOCKMODE_PVCLOCK */
	/* the world: alloc_pages() for hvclock_mem (NULL on failure) */
	struct pvclock_vsyscall_time_info *(*alloc_records)(struct kvmclock_guest *g, int n);
};

struct kvm_tsc_reader_ops {
	/* kvm_setup_vsyscall_timeinfo(): early_initcall, boot record flags known */
	void (*setup_vsyscall_timeinfo)(struct kvmclock_guest *g, u8 boot_flags);
	/* kvmclock_setup_percpu(): CPUHP_BP_PREPARE_DYN for a CPU coming online */
	int (*setup_percpu)(struct kvmclock_guest *g, int cpu);
};

/* mainline (v6.17) */
void kvm_setup_vsyscall_timeinfo(struct kvmclock_guest *g, u8 boot_flags);
int kvmclock_setup_percpu(struct kvmclock_guest *g, int cpu);
void kvmclock_init_mem(struct kvmclock_guest *g);

/* ------------------------------------------------------------ registration -- */

#define KVM_TSC_WRITER(var, ops_, ...)                                        \
	static const struct pv_variant var = {                                \
		.name = #var, .protocol = PV_KVM_TSC, .role = PV_WRITER,      \
		.ops = &(ops_), .file = __FILE__, __VA_ARGS__                 \
	};                                                                    \
	PV_REGISTER(var)

#define KVM_TSC_READER(var, ops_, ...)                                        \
	static const struct pv_variant var = {                                \
		.name = #var, .protocol = PV_KVM_TSC, .role = PV_READER,      \
		.ops = &(ops_), .file = __FILE__, __VA_ARGS__                 \
	};                                                                    \
	PV_REGISTER(var)

#endif
