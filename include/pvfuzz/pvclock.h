/* SPDX-License-Identifier: MIT */
/*
 * KVM pvclock (kvmclock): the interface every reader and writer - built in
 * or your own file - is written against.  See docs/byo.md for a worked
 * example.  Include only this header (it pulls in compat.h and the ABI).
 *
 * A READER is guest code: it gets the guest's view (the per-vCPU records in
 * guest memory and pvclock.c's globals) and returns nanoseconds, or
 * PVCLOCK_FALLBACK to say "use the syscall" as the vDSO does.
 *
 * A WRITER is KVM: it gets struct kvm_clock_host (the VM's clock state and the
 * guest memory it writes) and implements KVM's update entry points.  Start
 * from the mainline helpers below and change what your patch changes.
 */
#ifndef PVFUZZ_PVCLOCK_H
#define PVFUZZ_PVCLOCK_H

#include "pvfuzz/clock_math.h"
#include "pvfuzz/compat.h"
#include "pvfuzz/pvclock_abi.h"
#include "pvfuzz/timekeeping.h"
#include "pvfuzz/variant.h"

#define PV_MAX_VCPUS 4
#define PVCLOCK_FALLBACK U64_MAX

/* ------------------------------------------------------------- guest -- */

struct pvclock_guest {
	struct pvclock_vsyscall_time_info *hv_clock; /* hv_clock_boot[], one per vCPU */
	int nr_cpus;
	atomic64_t *last_value;  /* arch/x86/kernel/pvclock.c */
	u8 valid_flags;          /* pvclock_set_flags(): STABLE if CPUID says so */
	/*
	 * hv_clock_per_cpu: the record each CPU registered (kvm_register_clock),
	 * hv_clock_boot[cpu] after boot; a kexec'd or resumed kernel may keep
	 * its per-CPU records elsewhere.  NULL means "the boot record" (worlds
	 * without a guest lifecycle).
	 */
	struct pvclock_vcpu_time_info *per_cpu[PV_MAX_VCPUS];
	/* guest physical memory, for the addresses written to the MSR (NULL: none) */
	u8 *mem;
	u64 mem_size;
};

/*
 * The record this CPU's kvmclock reads (this_cpu_hvclock()->pvti).  Only
 * the 32-byte record: a relocated one need not sit in a 64-byte wrapper.
 */
static inline struct pvclock_vcpu_time_info *this_cpu_pvti(struct pvclock_guest *g)
{
	int cpu = smp_processor_id();

	return g->per_cpu[cpu] ? g->per_cpu[cpu] : &g->hv_clock[cpu].pvti;
}

/*
 * The model's guest physical memory: guest page k is mapped at offset
 * k * PVCLOCK_GUEST_PAGE_STRIDE from mem; the page after each guest page is
 * the host's own memory, so a host store running past a guest page lands on
 * no guest byte at all (what CVE-2013-1796 did to the host).
 */
#define PVCLOCK_GUEST_PAGE_SIZE 4096ULL
#define PVCLOCK_GUEST_PAGE_STRIDE 8192ULL

/* slow_virt_to_phys(): a guest pointer as the guest physical address the MSR takes */
static inline u64 pvclock_guest_pa(const struct pvclock_guest *g, const void *p)
{
	u64 off = (u64)((const u8 *)p - g->mem);

	return off / PVCLOCK_GUEST_PAGE_STRIDE * PVCLOCK_GUEST_PAGE_SIZE + off % PVCLOCK_GUEST_PAGE_STRIDE;
}

/* ... and back: where the guest (and a host mapping of its page) sees gpa */
static inline u8 *pvclock_guest_mem_at(u8 *mem, u64 gpa)
{
	return mem + gpa / PVCLOCK_GUEST_PAGE_SIZE * PVCLOCK_GUEST_PAGE_STRIDE + gpa % PVCLOCK_GUEST_PAGE_SIZE;
}

struct kvm_clock_host;
struct kvm_clock_data;

struct pvclock_reader_ops {
	u64 (*read)(struct pvclock_guest *g);
	/* runs in user space: may be migrated anywhere, even mid-read */
	bool userspace;
	/*
	 * A host-side reader (the VMM's KVM_GET_CLOCK): the harness runs it as
	 * a host fiber beside guest kvmclock readers (mainline pvclock_kernel);
	 * get_clock replaces read.
	 */
	bool host;
	void (*get_clock)(struct kvm_clock_host *h, struct kvm_clock_data *data);
	/*
	 * The guest's kvmclock driver around the reads (arch/x86/kernel/kvmclock.c
	 * and kvm.c); NULL means mainline.  They run on the current CPU with
	 * preemption off, like the kernel's hotplug, suspend and watchdog paths.
	 */
	/* kvm_register_clock(): this CPU's record (boot, CPU online, resume, kexec'd kernel) */
	void (*cpu_online)(struct pvclock_guest *g);
	/* kvm_guest_cpu_offline() / kvm_save_sched_clock_state() / kvm_crash_shutdown() */
	void (*cpu_offline)(struct pvclock_guest *g);
	/* kvm_check_and_clear_guest_paused(): the watchdog consumes GUEST_STOPPED */
	bool (*check_and_clear_guest_paused)(struct pvclock_guest *g);
};

/* The mainline guest driver (src/clock/pvclock_guest.c). */
void kvm_register_clock(struct pvclock_guest *g);
void kvmclock_disable(struct pvclock_guest *g);
bool kvm_check_and_clear_guest_paused(struct pvclock_guest *g);

/*
 * The mainline kernel helpers (arch/x86/include/asm/pvclock.h), for reuse.
 * Macros rather than inline functions so that the trace names the line of
 * the reader that calls them and the record it passed (compat.h); each
 * evaluates its arguments once, tsc before any field is read.
 */
#define __pvti_load(src, p, field) __pv_load_at(PV_SITE("(" #src ")->" #field), (p)->field)

#define pvclock_read_begin(src)                                               \
	({                                                                    \
		const struct pvclock_vcpu_time_info *__pv = (src);            \
		unsigned __version = __pvti_load(src, __pv, version) & ~1;    \
		/* Make sure that the version is read before the data. */     \
		virt_rmb();                                                   \
		__version;                                                    \
	})

#define pvclock_read_retry(src, ver)                                          \
	({                                                                    \
		const struct pvclock_vcpu_time_info *__pv = (src);            \
		unsigned __version = (ver);                                   \
		/* Make sure that the version is re-read after the data. */   \
		virt_rmb();                                                   \
		unlikely(__version != __pvti_load(src, __pv, version));       \
	})

/*
 * The kernel reads these fields with plain loads inside the version window.
 * Each load is its own statement: argument evaluation order is unspecified
 * (gcc and clang differ), and the simulator's trace must not depend on it.
 */
#define __pvclock_read_cycles(src, tsc)                                       \
	({                                                                    \
		u64 __tsc = (tsc);                                            \
		const struct pvclock_vcpu_time_info *__pv = (src);            \
		u64 __delta = __tsc - __pvti_load(src, __pv, tsc_timestamp);  \
		u32 __mul = __pvti_load(src, __pv, tsc_to_system_mul);        \
		s8 __shift = __pvti_load(src, __pv, tsc_shift);               \
		u64 __offset = pvclock_scale_delta(__delta, __mul, __shift);  \
		__pvti_load(src, __pv, system_time) + __offset;               \
	})


/* ------------------------------------------------------------- host --- */

/* What KVM keeps per vCPU (vcpu->arch). */
struct kvm_vcpu_clock {
	struct pvclock_vcpu_time_info hv_clock; /* last record written (host copy) */
	s64 tsc_offset;                         /* l1 TSC offset */
	u32 hw_tsc_khz;                         /* kHz the mul/shift were made for */
	s8 pvclock_tsc_shift;
	u32 pvclock_tsc_mul;
	int thread_busy; /* the vCPU thread is handling an exit or a request */
	/*
	 * MSR_KVM_SYSTEM_TIME_NEW as the guest last wrote it (vcpu->arch.time),
	 * and the record it maps (the pv_time gfn_to_pfn_cache): NULL while
	 * kvmclock is disabled on this vCPU or the address was refused.
	 */
	u64 time;
	struct pvclock_vcpu_time_info *pv_time;
	bool pvclock_set_guest_stopped_request; /* KVM_KVMCLOCK_CTRL, not yet published */
	bool clock_update_request;              /* KVM_REQ_CLOCK_UPDATE, before the next entry */
	/* TSC synchronisation: the generation this vCPU's TSC belongs to */
	u64 this_tsc_generation, this_tsc_nsec, this_tsc_write;
	u64 last_guest_tsc;
	u64 last_kernel_ns; /* host time of the last record's anchor (the 2010 overshoot protection) */
};

/* uapi struct kvm_clock_data (KVM_GET_CLOCK), without the padding */
struct kvm_clock_data {
	u64 clock;
	u32 flags;
	u64 realtime;
	u64 host_tsc;
};
#define KVM_CLOCK_TSC_STABLE 2
#define KVM_CLOCK_REALTIME (1 << 2)
#define KVM_CLOCK_HOST_TSC (1 << 3)

/*
 * KVM's private copy of the host timekeeper (arch/x86/kvm/x86.c struct
 * pvclock_gtod_data, v6.17): update_pvclock_gtod() refreshes it from every
 * timekeeping update (the pvclock_gtod notifier), under its own seqcount,
 * and the masterclock reads it (do_kvmclock_base(),
 * kvm_get_time_and_clockread()) from any vCPU thread.  One per host; every
 * VM's struct kvm_clock_host points to it.  The clock fields are the
 * clock_math model's (struct kvm_gtod_clock), so the arithmetic is one.
 */
struct pvclock_gtod_data {
	seqcount_t seq;
	struct kvm_gtod_clock clock;     /* extract of tk->tkr_mono */
	struct kvm_gtod_clock raw_clock; /* extract of tk->tkr_raw */
	u64 offs_boot;                   /* tk->offs_boot */
	u64 wall_time_sec;               /* tk->xtime_sec */
};

/* gtod_is_based_on_tsc(): the masterclock needs a TSC-derived host clocksource */
static inline bool gtod_is_based_on_tsc(int mode)
{
	return mode == VDSO_CLOCKMODE_TSC || mode == VDSO_CLOCKMODE_HVCLOCK;
}

#define PVCLOCK_WRITER_PRIV_BYTES 256

/* What KVM keeps per VM (kvm->arch) and the world it runs in. */
struct kvm_clock_host {
	struct pvclock_vsyscall_time_info *guest; /* the guest's records (shared) */
	int nr_vcpus;
	struct kvm_vcpu_clock vcpu[PV_MAX_VCPUS];

	/*
	 * The master copy: written by pvclock_update_vm_gtod_copy() inside the
	 * pvclock_sc write section, read with READ_ONCE under
	 * read_seqcount_begin/retry (kvm_guest_time_update, KVM_GET_CLOCK).
	 * The struct lives in the simulator's shared arena.
	 */
	seqcount_t pvclock_sc;
	bool use_master_clock;
	u64 master_kernel_ns;
	u64 master_cycle_now;
	s64 kvmclock_offset;
	bool tsc_matched;          /* nr_vcpus_matched_tsc + 1 == online_vcpus */
	/*
	 * kvm_synchronize_tsc() state (kvm->arch): the last host-initiated TSC
	 * write and the current TSC generation.  tsc_matched follows from
	 * nr_vcpus_matched_tsc (kvm_track_tsc_matching()).
	 */
	u64 last_tsc_nsec, last_tsc_write, last_tsc_offset;
	u32 last_tsc_khz;
	u64 cur_tsc_generation, cur_tsc_nsec, cur_tsc_write, cur_tsc_offset;
	int nr_vcpus_matched_tsc;
	bool user_set_tsc;
	/*
	 * Guest physical memory (worlds with a guest lifecycle: the
	 * simulator).  With it, a vCPU's record is wherever its
	 * MSR_KVM_SYSTEM_TIME_NEW points (vcpu[v].pv_time); without it, the
	 * guest's records are guest[v], always enabled (the native runner).
	 */
	u8 *guest_mem;
	u64 guest_mem_size;
	/*
	 * The VMM's TSC offset control (KVM_VCPU_TSC_OFFSET) changes what the
	 * vCPU's TSC reads; the world applies it (NULL: nothing to apply).
	 */
	void (*set_guest_tsc_offset)(struct kvm_clock_host *h, int v, s64 offset);
	/*
	 * The host clocksource stopped being TSC-based (mark_tsc_unstable,
	 * pvclock_gtod_notify): no masterclock any more.  A host whose TSC
	 * changes frequency is such a host (!CONSTANT_TSC).
	 */
	bool host_tsc_unstable;
	bool tsc_always_catchup;   /* software TSC catch-up: update on every exit */
	u32 tsc_khz;               /* the host's per-CPU cpu_tsc_khz */

	/* The world: host clock and TSC reads (scheduling points in the sim). */
	u64 (*host_ns)(struct kvm_clock_host *h);       /* get_kvmclock_base_ns() */
	u64 (*host_tsc)(struct kvm_clock_host *h);      /* rdtsc() on the host */
	/* kvm_get_time_and_clockread(): one (ns, tsc) pair taken at one instant */
	void (*host_ns_and_tsc)(struct kvm_clock_host *h, u64 *ns, u64 *tsc);
	/* a coarse host clock (jiffies-like xtime), for the pre-masterclock writers */
	u64 (*host_coarse_ns)(struct kvm_clock_host *h);
	/*
	 * vCPU v (-1: every vCPU) leaves guest mode (true) or may enter it
	 * again (false): requests run on the vCPU's thread, out of guest mode.
	 */
	void (*vcpu_in_host)(struct kvm_clock_host *h, int v, bool in_host);
	/* the order in which the vCPU threads get to their KVM_REQ_CLOCK_UPDATE */
	int (*vcpu_order)(struct kvm_clock_host *h, int k);
	/* Ground truth for oracles: the record the writer means to publish. */
	void (*publish)(struct kvm_clock_host *h, int vcpu, const struct pvclock_vcpu_time_info *rec);
	/*
	 * Ground truth: the master copy of the generation a pvclock_sc write
	 * section is about to end (NULL: nobody is watching).
	 */
	void (*publish_master)(struct kvm_clock_host *h, bool use_master_clock, u64 master_kernel_ns,
			       u64 master_cycle_now);
	void *world;
	/*
	 * The host kernel, in worlds that model it (the simulator): its
	 * timekeeper and KVM's copy of it.  NULL in a world whose host is the
	 * real kernel (the native runner): then host_ns_and_tsc is
	 * kvm_get_time_and_clockread() and the host clocksource is the TSC.
	 */
	struct timekeeping *host_tk;
	struct pvclock_gtod_data *gtod;
	/*
	 * pvclock_gtod_update_fn(): the host clocksource stopped being
	 * TSC-based while the VM uses the masterclock, and KVM requested
	 * KVM_REQ_MASTERCLOCK_UPDATE on every vCPU; the VM's vCPU threads (the
	 * harness's host fiber) run it and clear this.
	 */
	bool gtod_masterclock_request;
	/*
	 * The writer the VM runs, pvclock_writer_ops_resolve()d; NULL means
	 * mainline.  The mainline building blocks reach the writer's hooks
	 * through it (pv_setup_guest_pvclock() ...).
	 */
	const struct pvclock_writer_ops *ops;
	/*
	 * A writer variant's private per-run state: zeroed before every run,
	 * then its .reset hook runs.  A writer keeps what it must remember
	 * between calls here, never in statics: a libFuzzer process runs
	 * millions of inputs, and a static would carry one input's state into
	 * the next (so a finding would not replay on its own).
	 */
	u8 writer_priv[PVCLOCK_WRITER_PRIV_BYTES] __attribute__((aligned(8)));
};

/*
 * A writer.  The first five members are optional, NULL means mainline (the
 * function named in the comment); the harnesses call the entry points
 * masterclock_update, guest_time_update and write_record, and the mainline
 * ones call the writer's guest_time_compute, setup_guest_pvclock and
 * guest_time_update.  So a patch to kvm_setup_guest_pvclock() is just
 * { .setup_guest_pvclock = my_setup_guest_pvclock, .hypercall = kvm_pv_clock_pairing }.
 */
struct pvclock_writer_ops {
	/* kvm_guest_time_compute(): the record vCPU v's clock update would write */
	bool (*guest_time_compute)(struct kvm_clock_host *h, int v, struct pvclock_vcpu_time_info *hv);
	/* kvm_setup_guest_pvclock(): publish a record in vCPU v's guest memory */
	void (*setup_guest_pvclock)(struct kvm_clock_host *h, int v, struct pvclock_vcpu_time_info *ref);
	/* kvm_update_masterclock(): recompute the master copy, update every vCPU */
	void (*masterclock_update)(struct kvm_clock_host *h);
	/* kvm_guest_time_update(v): KVM_REQ_CLOCK_UPDATE on vCPU v */
	void (*guest_time_update)(struct kvm_clock_host *h, int v);
	/* kvm_write_record(): publish an explicit record (adversarial payload) for vCPU v */
	void (*write_record)(struct kvm_clock_host *h, int v, const struct pvclock_vcpu_time_info *ref);
	/* a hypercall from vCPU v; NULL means mainline kvm_pv_clock_pairing() */
	u64 (*hypercall)(struct kvm_clock_host *h, int v, u64 nr, u64 arg);
	/*
	 * cpufreq on the host: kHz changes; apply() makes the TSC change speed.
	 * NULL: mainline kvmclock_cpufreq_notifier() ordering around this
	 * writer's own masterclock_update.
	 */
	void (*tsc_khz_change)(struct kvm_clock_host *h, u32 new_khz,
			       void (*apply)(struct kvm_clock_host *h, u32 khz));
	/*
	 * kvm_get_time_and_clockread(): the masterclock's (kernel_ns, host TSC)
	 * pair, false if the host clocksource is not TSC-based.  NULL: mainline
	 * (KVM's gtod copy through do_kvmclock_base()).
	 */
	bool (*get_time_and_clockread)(struct kvm_clock_host *h, s64 *kernel_ns, u64 *tsc_timestamp);
	/*
	 * The host operations of include/pvfuzz/kvm_host_ops.h, each NULL for
	 * mainline (the function in the comment).
	 */
	/* kvm_vm_ioctl_set_clock(): KVM_SET_CLOCK; 0 or -errno */
	int (*set_clock)(struct kvm_clock_host *h, const struct kvm_clock_data *data);
	/* kvm_set_guest_paused(): KVM_KVMCLOCK_CTRL on vCPU v; 0 or -errno */
	int (*set_guest_paused)(struct kvm_clock_host *h, int v);
	/*
	 * kvm_synchronize_tsc(): a TSC write on vCPU v (NULL user_value: vCPU
	 * creation); true if it requested a masterclock update
	 */
	bool (*synchronize_tsc)(struct kvm_clock_host *h, int v, const u64 *user_value);
	/* kvm_set_msr_common(): a guest MSR write from vCPU v; 0, or 1 for #GP */
	int (*wrmsr)(struct kvm_clock_host *h, int v, u32 msr, u64 data);
	/* after writer_priv is zeroed, once per run: the writer's own set-up */
	void (*reset)(struct kvm_clock_host *h);
	/* kvm_vm_ioctl_get_clock(): KVM_GET_CLOCK (NULL: mainline get_kvmclock(), or the era's) */
	void (*get_clock)(struct kvm_clock_host *h, struct kvm_clock_data *data);
	/*
	 * The KVM this writer is: what its host interface lacks
	 * (KVM_LACKS_*, 0 = mainline has everything) and which host clock its
	 * records anchor to (enum pvclock_anchor, 0 = mainline's).  The VMM
	 * model asks only what this KVM has, as a real VMM does, and CO8
	 * judges kvmclock against the clock the writer follows.
	 */
	unsigned kvm_lacks;
	int anchor;
};

/*
 * Host interface a KVM of another era did not have (pvclock_writer_ops.kvm_lacks).
 * KVM_SET_CLOCK / KVM_GET_CLOCK came in v2.6.32 with flags that must be 0
 * (kvm_arch_vm_ioctl() failed the set with -EINVAL on any nonzero flag; GET
 * reported flags 0 and the clock against get_kernel_ns(), CLOCK_BOOTTIME);
 * KVM_CLOCK_TSC_STABLE came with the masterclock (2012-2016), KVM_CLOCK_REALTIME
 * and KVM_CLOCK_HOST_TSC in 2021; KVM_KVMCLOCK_CTRL in v3.5 (2012).
 */
#define KVM_LACKS_CLOCK_FLAGS   (1u << 0) /* SET_CLOCK: any flag -EINVAL; GET_CLOCK: flags 0, boottime */
#define KVM_LACKS_KVMCLOCK_CTRL (1u << 1) /* KVM_KVMCLOCK_CTRL: -EINVAL, nothing published */

/* The host clock a writer's records follow (pvclock_writer_ops.anchor). */
enum pvclock_anchor {
	/* mainline: CLOCK_MONOTONIC_RAW + offs_boot (do_kvmclock_base()), the TSC's own rate */
	PVCLOCK_ANCHOR_RAW = 0,
	/* CLOCK_BOOTTIME: NTP-steered, so up to MAXFREQ (500 ppm) off the raw rate */
	PVCLOCK_ANCHOR_BOOTTIME,
	/* the same at tick granularity (ktime_get_coarse_boottime()): also a tick behind */
	PVCLOCK_ANCHOR_BOOTTIME_COARSE,
};

/*
 * *out = *ops with its NULL members (all but hypercall, tsc_khz_change and
 * reset) filled in with mainline's; a harness calls the writer through out and
 * sets h->ops = out.
 */
void pvclock_writer_ops_resolve(struct pvclock_writer_ops *out, const struct pvclock_writer_ops *ops);

/*
 * Mainline KVM building blocks (src/clock/pvclock_kvm.c).
 * kvm_guest_time_update(), kvm_update_masterclock() and kvm_write_record()
 * compute, publish and update each vCPU with the VM's writer's hooks
 * (pv_guest_time_compute() ... below).
 */
void kvm_setup_guest_pvclock(struct kvm_clock_host *h, int v, struct pvclock_vcpu_time_info *ref);
/*
 * The pvclock_sc write section around a new master copy:
 * __kvm_start_pvclock_update (tsc_write_lock + write_seqcount_begin), the
 * WRITE_ONCEs, publish_master, __kvm_end_pvclock_update.  The master
 * fields are written only when use_master_clock, as the model always did.
 */
void kvm_write_master_copy(struct kvm_clock_host *h, bool use_master_clock, u64 master_kernel_ns,
			   u64 master_cycle_now);
/* Takes the write section itself (KVM's callers take it around the call). */
void pvclock_update_vm_gtod_copy(struct kvm_clock_host *h);
/* KVM_GET_CLOCK: get_kvmclock() (v6.17) and get_kvmclock_ns() on it. */
void get_kvmclock(struct kvm_clock_host *h, struct kvm_clock_data *data);
u64 get_kvmclock_ns(struct kvm_clock_host *h);
/* KVM_SET_CLOCK / KVM_GET_CLOCK of v2.6.32-v3.x (KVM_LACKS_CLOCK_FLAGS): no flags, CLOCK_BOOTTIME */
int kvm_vm_ioctl_set_clock_noflags(struct kvm_clock_host *h, const struct kvm_clock_data *data);
void get_kvmclock_noflags(struct kvm_clock_host *h, struct kvm_clock_data *data);
/*
 * KVM_SET_CLOCK (v6.17): freeze, new master copy, kvmclock_offset so that
 * kvmclock reads data->clock now (plus the host realtime elapsed since
 * data->realtime with KVM_CLOCK_REALTIME), then every vCPU rewrites its
 * record before it runs again.
 */
int kvm_vm_ioctl_set_clock(struct kvm_clock_host *h, const struct kvm_clock_data *data);
/* KVM_KVMCLOCK_CTRL: GUEST_STOPPED in vCPU v's next record; -EINVAL without kvmclock */
int kvm_set_guest_paused(struct kvm_clock_host *h, int v);
/*
 * A host-initiated MSR_IA32_TSC write (or vCPU creation with NULL):
 * matched writes join the current TSC generation, others start one;
 * kvm_track_tsc_matching() then decides whether the masterclock toggles.
 * Returns true if KVM requested KVM_REQ_MASTERCLOCK_UPDATE.
 */
bool kvm_synchronize_tsc(struct kvm_clock_host *h, int v, const u64 *user_value);
/* KVM_VCPU_TSC_OFFSET: the VMM sets vCPU v's L1 TSC offset directly */
bool kvm_vcpu_set_tsc_offset(struct kvm_clock_host *h, int v, s64 offset);
/* kvm_read_l1_tsc(v, rdtsc()): vCPU v's TSC as the host reads it (KVM_GET_MSRS) */
u64 kvm_vcpu_read_tsc(struct kvm_clock_host *h, int v);
/* kvm_set_msr_common() for the kvmclock MSRs; kvm_write_system_time() */
int kvm_set_msr_common(struct kvm_clock_host *h, int v, u32 msr, u64 data);
/*
 * The record vCPU v's clock updates write: vcpu[v].pv_time in a world with
 * guest memory (NULL while disabled), else the always-enabled guest[v].
 */
static inline struct pvclock_vcpu_time_info *kvm_pvclock_record(struct kvm_clock_host *h, int v)
{
	return h->guest_mem ? h->vcpu[v].pv_time : &h->guest[v].pvti;
}
/* The record kvm_guest_time_update() would write; false: retry later. */
bool kvm_guest_time_compute(struct kvm_clock_host *h, int v, struct pvclock_vcpu_time_info *hv);
void kvm_guest_time_update(struct kvm_clock_host *h, int v);
/* vCPU v handles a request on its own thread, out of guest mode. */
void kvm_vcpu_run_request(struct kvm_clock_host *h, int v, void (*fn)(struct kvm_clock_host *h, int v));
/* vCPU v's thread publishes an explicit record (adversarial payloads). */
void kvm_vcpu_write_record(struct kvm_clock_host *h, const struct pvclock_writer_ops *ops, int v,
			   const struct pvclock_vcpu_time_info *rec);
/*
 * A VM exit on vCPU v: the hypercall or MSR write (the writer's .hypercall /
 * .wrmsr, mainline without), then the requests it raised
 * (KVM_REQ_CLOCK_UPDATE; with tsc_always_catchup, on every exit).
 */
u64 kvm_vcpu_handle_exit(struct kvm_clock_host *h, const struct pvclock_writer_ops *ops, int v,
			 enum pv_exit_reason reason, u64 a0, u64 a1);
void kvm_update_masterclock(struct kvm_clock_host *h);
/* The same freeze-update-unfreeze sequence with a writer's own per-vCPU update. */
void kvm_update_masterclock_with(struct kvm_clock_host *h,
				 void (*update)(struct kvm_clock_host *h, int v));
void kvm_write_record(struct kvm_clock_host *h, int v, const struct pvclock_vcpu_time_info *ref);
u64 kvm_pv_clock_pairing(struct kvm_clock_host *h, int v, u64 nr, u64 arg);
void kvmclock_cpufreq_notifier(struct kvm_clock_host *h, u32 new_khz,
			       void (*apply)(struct kvm_clock_host *h, u32 khz));
/* The same ordering around a writer's own all-vCPU update. */
void kvmclock_cpufreq_notifier_with(struct kvm_clock_host *h, u32 new_khz,
				    void (*apply)(struct kvm_clock_host *h, u32 khz),
				    void (*update_all)(struct kvm_clock_host *h));
/*
 * KVM's copy of the host timekeeper (src/clock/pvclock_gtod.c).
 * pvclock_gtod_notify() is the tk_notifier_fn KVM registers; its ctx is the
 * VM (struct kvm_clock_host, the model has one per host), whose h->gtod it
 * refreshes and whose masterclock it stops when the clocksource is no
 * longer TSC-based.
 */
void update_pvclock_gtod(struct pvclock_gtod_data *gtod, const struct timekeeper *tk);
void pvclock_gtod_notify(void *h, const struct timekeeper *tk, bool was_set);
/*
 * One read section of the gtod copy: both clocks, offs_boot, and the host
 * TSC read the way the raw clock's mode says (read_tsc()).  Returns that
 * mode; a writer's own do_kvmclock_base()/do_monotonic_raw() computes
 * from the snapshot.
 */
#define KVM_GTOD_RAW 0x1  /* raw_clock and offs_boot (always) */
#define KVM_GTOD_MONO 0x2 /* clock (CLOCK_MONOTONIC) too */
int kvm_gtod_snapshot(struct kvm_clock_host *h, struct kvm_gtod_data *snap, u64 *tsc_timestamp,
		      unsigned clocks);
/* the mainline kvm_get_time_and_clockread(); without h->gtod, h->host_ns_and_tsc */
bool kvm_get_time_and_clockread(struct kvm_clock_host *h, s64 *kernel_ns, u64 *tsc_timestamp);
/* kvm_get_walltime_and_clockread(): CLOCK_REALTIME of the gtod copy and its TSC */
bool kvm_get_walltime_and_clockread(struct kvm_clock_host *h, struct timespec64 *ts, u64 *tsc_timestamp);
/* get_kvmclock_base_ns(): CLOCK_MONOTONIC_RAW + offs_boot, read from the timekeeper */
u64 get_kvmclock_base_ns(struct kvm_clock_host *h);

/* kvm_start/end_pvclock_update(): MCLOCK_INPROGRESS keeps every vCPU out. */
void kvm_start_pvclock_update(struct kvm_clock_host *h);
void kvm_end_pvclock_update(struct kvm_clock_host *h);
/* The master copy inside an open pvclock_sc write section (KVM's own callers'). */
void __pvclock_update_vm_gtod_copy(struct kvm_clock_host *h);

/* What the VM's writer does there (h->ops, or mainline without one). */
static inline bool pv_guest_time_compute(struct kvm_clock_host *h, int v, struct pvclock_vcpu_time_info *hv)
{
	return (h->ops ? h->ops->guest_time_compute : kvm_guest_time_compute)(h, v, hv);
}

static inline void pv_setup_guest_pvclock(struct kvm_clock_host *h, int v, struct pvclock_vcpu_time_info *ref)
{
	(h->ops ? h->ops->setup_guest_pvclock : kvm_setup_guest_pvclock)(h, v, ref);
}

static inline void pv_guest_time_update(struct kvm_clock_host *h, int v)
{
	(h->ops ? h->ops->guest_time_update : kvm_guest_time_update)(h, v);
}

static inline bool pv_get_time_and_clockread(struct kvm_clock_host *h, s64 *kernel_ns, u64 *tsc)
{
	return (h->ops ? h->ops->get_time_and_clockread : kvm_get_time_and_clockread)(h, kernel_ns, tsc);
}

/*
 * Registration helpers for variant files: the remaining arguments are
 * designated initializers of struct pv_variant (.expect, .bug, .history,
 * .scenario, .partner, .flags).
 */
#define PVCLOCK_READER(var, fn, user, ...)                                    \
	static const struct pvclock_reader_ops var##_ops = { .read = fn, .userspace = user }; \
	static const struct pv_variant var = {                                \
		.name = #var, .protocol = PV_PVCLOCK, .role = PV_READER,      \
		.ops = &var##_ops, .file = __FILE__, __VA_ARGS__              \
	};                                                                    \
	PV_REGISTER(var)

/*
 * A reader given as a whole struct pvclock_reader_ops: a patch to the guest's
 * kvmclock driver (.cpu_online, .cpu_offline, .check_and_clear_guest_paused)
 * around a reader (.read; pvclock_clocksource_read_nowd() for the kernel's).
 */
#define PVCLOCK_READER_OPS(var, ops_, ...)                                    \
	static const struct pv_variant var = {                                \
		.name = #var, .protocol = PV_PVCLOCK, .role = PV_READER,      \
		.ops = &(ops_), .file = __FILE__, __VA_ARGS__                 \
	};                                                                    \
	PV_REGISTER(var)

/* The guest kernel's kvmclock read, kvm_clock_read() (for readers built from parts). */
u64 kvm_clock_read(struct pvclock_guest *g);

/* A host-side reader: fn(struct kvm_clock_host *, struct kvm_clock_data *). */
#define PVCLOCK_HOST_READER(var, fn, ...)                                     \
	static const struct pvclock_reader_ops var##_ops = { .host = true, .get_clock = fn }; \
	static const struct pv_variant var = {                                \
		.name = #var, .protocol = PV_PVCLOCK, .role = PV_READER,      \
		.ops = &var##_ops, .file = __FILE__, __VA_ARGS__              \
	};                                                                    \
	PV_REGISTER(var)

#define PVCLOCK_WRITER(var, ops_, ...)                                        \
	static const struct pv_variant var = {                                \
		.name = #var, .protocol = PV_PVCLOCK, .role = PV_WRITER,      \
		.ops = &(ops_), .file = __FILE__, __VA_ARGS__                 \
	};                                                                    \
	PV_REGISTER(var)

#endif
