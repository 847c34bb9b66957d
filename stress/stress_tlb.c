// SPDX-License-Identifier: MIT
/*
 * pvfuzz-stress tlb: the native world of the TLB model (src/mm).
 *
 * Real threads are the vCPUs of one mm.  vCPU 0 runs the mutator (munmap +
 * mmap of a region through the mmu_gather, PTE remaps, khugepaged-style
 * collapses) through the selected flush backend and table-free path;
 * vCPUs 1.. run the selected lockless walker (gup_fast with IRQs off, or
 * pte_offset_map under rcu_read_lock) and user accesses through their
 * TLB / paging-structure cache.  Everything they run is the model's code,
 * compiled with -DPVFUZZ_NATIVE:
 *
 *   IPIs       a real per-vCPU mailbox with acks (native_ipi.c), taken only
 *              at IRQ-enabled points: the native backend's wait really
 *              waits for an IRQ-off walker;
 *   hypercalls pv_vm_exit() runs the backend's host side on the calling
 *              thread: Hyper-V / Xen flush the targets' TLB arrays directly,
 *              without waiting for the targets.  A TLB lookup / hardware
 *              walk is one instruction: it holds its vCPU's "hardware" lock,
 *              which the host's flush takes too;
 *   RCU        liburcu (native_rcu.c): quiescent states at IRQ-enabled
 *              points (qsbr) or read-side sections (mb);
 *   tables     every table page is its own malloc()/free(): a walker that
 *              reads a freed table is an ASan heap-use-after-free; pfns are
 *              reused FIFO, so the stale pointer stays a dangling one for a
 *              while, and a generation tag per pfn catches reuse in every
 *              build (table_uaf);
 *   migration  the framework's migrator moves vCPU threads between real
 *              CPUs with sched_setaffinity (a vCPU keeps its identity);
 *   host       a host thread parks a vCPU thread (SIGUSR2, the handler
 *              waits until released) - also inside its IRQ-off walker
 *              section - with the KVM steal-time PREEMPTED byte set at the
 *              park and xchg'd at resume as the host does (vcpu_put /
 *              record_steal_time), and Xen's deferred flush at resume.
 *
 * Oracles (native versions of tlb-protocols.md section 6):
 *   table_uaf     a table page a walker derived a pointer to was freed or
 *                 reused (generation changed) before its section ended (TO1);
 *                 in ASan builds ASan's report of the read itself comes first
 *   stale_tlb     a TLB hit on a translation older than a flush of it that
 *                 already returned (TO3)
 *   stale_psc     a paging-structure-cache hit on a freed / reused table (TO4)
 *   refcount_zero a walker's reference taken on a free data page (TO5)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "stress.h"
#include "native_tlb.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define PV_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define PV_ASAN 1
#endif
#ifdef PV_ASAN
#include <sanitizer/common_interface_defs.h>
#endif

#define PARK_SIG SIGUSR2
#define NPFN 64          /* table pfns (each a separate allocation while live) */
#define MAX_REFS 4

/* ------------------------------------------------------------ options -- */

static const char *const backends[][2] = {
	{ "native", "native_ipi" },
	{ "hyperv", "hyperv_hypercall" },
	{ "xen", "xen_mmuext" },
	{ "kvm-pv", "kvm_pv_preempted" },
};
static const char *const frees[][2] = {
	{ "immediate", "free_immediate" },
	{ "semi-rcu", "free_semi_rcu" },
	{ "rcu", "free_rcu" },
};
static const char *const walkers[][2] = {
	{ "irqoff", "gup_fast" },
	{ "rcu", "pte_offset_map_rcu" },
};

static struct {
	int backend, free, walker;
	bool backend_set, free_set;
	int vcpus;       /* 0: default */
	int preempt;     /* host preemption: 1 on (default), 0 off */
	u64 walk_delay_ns;
} opt = { .walker = 0, .preempt = 1, .walk_delay_ns = 20000 };

static char errbuf[200];

static int pick(const char *const (*tab)[2], int n, const char *what, const char *val, const char *choices)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(val, tab[i][0]))
			return i;
	snprintf(errbuf, sizeof(errbuf), "%s: '%s' is not one of %s", what, val, choices);
	return -1;
}

static const char *tlb_option(const char *name, const char *val)
{
	if (!strcmp(name, "--backend")) {
		opt.backend = pick(backends, 4, name, val, "native|hyperv|xen|kvm-pv");
		opt.backend_set = true;
		return opt.backend < 0 ? errbuf : NULL;
	}
	if (!strcmp(name, "--free")) {
		opt.free = pick(frees, 3, name, val, "immediate|semi-rcu|rcu");
		opt.free_set = true;
		return opt.free < 0 ? errbuf : NULL;
	}
	if (!strcmp(name, "--walker")) {
		opt.walker = pick(walkers, 2, name, val, "irqoff|rcu");
		return opt.walker < 0 ? errbuf : NULL;
	}
	if (!strcmp(name, "--vcpus") || !strcmp(name, "--walk-delay-ns")) {
		char *end;
		bool vc = !strcmp(name, "--vcpus");
		u64 lo = vc ? 2 : 0, hi = vc ? MM_MAX_CPUS : 1000000;
		errno = 0;
		unsigned long long v = strtoull(val, &end, 10);
		if (!*val || *val == '-' || *val == '+' || errno || *end || v < lo || v > hi) {
			snprintf(errbuf, sizeof(errbuf), "%s: '%s' is not an integer in [%" PRIu64 ", %" PRIu64 "]",
				 name, val, lo, hi);
			return errbuf;
		}
		if (vc)
			opt.vcpus = (int)v;
		else
			opt.walk_delay_ns = v;
		return NULL;
	}
	if (!strcmp(name, "--preempt")) {
		if (!strcmp(val, "on"))
			opt.preempt = 1;
		else if (!strcmp(val, "off"))
			opt.preempt = 0;
		else {
			snprintf(errbuf, sizeof(errbuf), "--preempt: '%s' is not one of on|off", val);
			return errbuf;
		}
		return NULL;
	}
	return "internal: unhandled option";
}

static const char *const tlb_options[] = { "--backend", "--free", "--walker", "--vcpus", "--preempt",
					   "--walk-delay-ns", NULL };

/* ------------------------------------------------------------ world -- */

struct vcpu {
	int id;
	pthread_t thread;
	struct stress_worker *w;
	_Atomic int hw_lock;     /* the "hardware": TLB lookups/walks vs the host's flushes */
	_Atomic int parked;      /* the host has descheduled it */
	_Atomic int park_ack;    /* parked (seen by the host thread) */
	_Atomic int release;     /* the host resumes it */
	_Atomic bool alive;
	_Atomic u64 parks, parks_irqoff, walks, accesses, hits;
} __attribute__((aligned(64)));

static struct mm_struct mm;
static struct mm_hooks hooks;
static struct vcpu vcpus[MM_MAX_CPUS];
static int nr_vcpus;
static const struct tlb_flush_ops *flush_ops;
static pthread_t host_thread;
static bool host_on;

/* ground truth */
static _Atomic u32 ver[MM_NR_VPN];         /* mapping version per vpn */
static _Atomic u32 flushed_ver[MM_NR_VPN]; /* versions a returned flush covered */
static __thread u32 flush_snap[MM_NR_VPN];

/* counters */
static _Atomic u64 n_unmap, n_map, n_remap, n_collapse, n_hypercalls, n_batch_fail, n_tables_freed,
	n_tables_alloc, n_grabs;

/* per-thread walker state */
static __thread struct vcpu *self;
static __thread volatile sig_atomic_t in_insn, park_deferred;
static __thread struct { int pfn; u32 gen; bool freed; } refs[MAX_REFS];
static __thread int nrefs, sec_depth;
static __thread u64 rs;

/* ---------------------------------------------- table pages: malloc -- */

static struct {
	pthread_mutex_t lock;
	struct pt_page *_Atomic page[NPFN]; /* stays dangling after free() until reuse */
	struct ptdesc desc[NPFN];
	int fifo[NPFN];
	int head, n;
} T = { .lock = PTHREAD_MUTEX_INITIALIZER };

static int tbl_alloc(void *ctx, enum pt_type type)
{
	pthread_mutex_lock(&T.lock);
	if (!T.n) {
		pthread_mutex_unlock(&T.lock);
		return -1;
	}
	int pfn = T.fifo[T.head];
	T.head = (T.head + 1) % NPFN;
	T.n--;
	pthread_mutex_unlock(&T.lock);
	struct pt_page *p = malloc(sizeof(*p));
	if (!p)
		abort();
	for (int i = 0; i < PTRS_PER_TABLE; i++)
		__atomic_store_n(&p->e[i], 0, __ATOMIC_RELAXED);
	MM_BK_WRITE(T.desc[pfn].gen, MM_BK_READ(T.desc[pfn].gen) + 1);
	MM_BK_WRITE(T.desc[pfn].type, (u8)type);
	atomic_store_explicit(&T.page[pfn], p, memory_order_release);
	atomic_fetch_add_explicit(&n_tables_alloc, 1, memory_order_relaxed);
	return pfn;
}

static void tbl_free(void *ctx, int pfn)
{
	if (pfn < 0 || pfn >= NPFN || MM_BK_READ(T.desc[pfn].type) == PT_FREE)
		abort(); /* double free: a model bug */
	MM_BK_WRITE(T.desc[pfn].type, PT_FREE);
	free(atomic_load_explicit(&T.page[pfn], memory_order_relaxed)); /* __free_page: really gone */
	atomic_fetch_add_explicit(&n_tables_freed, 1, memory_order_relaxed);
	pthread_mutex_lock(&T.lock);
	T.fifo[(T.head + T.n) % NPFN] = pfn;
	T.n++;
	pthread_mutex_unlock(&T.lock);
}

static struct pt_page *tbl_va(void *ctx, int pfn)
{
	return atomic_load_explicit(&T.page[pfn], memory_order_acquire);
}

static struct ptdesc *tbl_desc(void *ctx, int pfn)
{
	return &T.desc[pfn];
}

static const struct pt_alloc_ops tbl_ops = { tbl_alloc, tbl_free, tbl_va, tbl_desc, NULL, NULL, NULL };

/* --------------------------------------------- the vCPU "hardware" -- */

static void hw_lock(struct vcpu *v)
{
	for (int want = 0; !atomic_compare_exchange_weak_explicit(&v->hw_lock, &want, 1, memory_order_acquire,
								   memory_order_relaxed);
	     want = 0)
		__builtin_ia32_pause();
}

static void hw_unlock(struct vcpu *v)
{
	atomic_store_explicit(&v->hw_lock, 0, memory_order_release);
}

static void host_park(struct vcpu *v);

/* one instruction: the host preempts between instructions, not inside */
static void insn_begin(struct vcpu *v)
{
	in_insn = 1;
	atomic_signal_fence(memory_order_seq_cst);
	hw_lock(v);
}

static void insn_end(struct vcpu *v)
{
	hw_unlock(v);
	atomic_signal_fence(memory_order_seq_cst);
	in_insn = 0;
	atomic_signal_fence(memory_order_seq_cst);
	if (park_deferred) {
		park_deferred = 0;
		host_park(v);
	}
}

/* ---------------------------------------------------- host: VM exits -- */

static void lock_mask(u64 mask, bool lock)
{
	for (int c = 0; c < nr_vcpus; c++)
		if (mask >> c & 1) {
			if (lock)
				hw_lock(&vcpus[c]);
			else
				hw_unlock(&vcpus[c]);
		}
}

/*
 * A hypercall: the backend's host side runs on the calling vCPU's thread
 * (as KVM handles exits on the exiting vCPU) and flushes the target vCPUs'
 * TLB arrays itself, at once, whatever the targets are doing.
 */
static u64 tlb_vm_exit(enum pv_exit_reason r, u64 a0, u64 a1)
{
	if (r != PV_EXIT_HYPERCALL || !flush_ops->host_hypercall)
		return (u64)-38;
	atomic_fetch_add_explicit(&n_hypercalls, 1, memory_order_relaxed);
	/*
	 * The targets are in the hypercall input (a mask, or Hyper-V's input
	 * page): lock every other vCPU's hardware (never our own: a park
	 * signal taken meanwhile locks it).
	 */
	u64 mask = ((1ULL << nr_vcpus) - 1) & ~(1ULL << smp_processor_id());
	lock_mask(mask, true);
	u64 ret = flush_ops->host_hypercall(&mm, smp_processor_id(), a0, a1);
	lock_mask(mask, false);
	return ret;
}

/* ------------------------------------------- host: preemption (park) -- */

static void host_park(struct vcpu *v)
{
	hw_lock(v);
	atomic_store_explicit(&v->parked, 1, memory_order_release);
	mm.cpu[v->id].kvm.at_instruction_boundary = 1; /* parked between instructions (in_insn defers it) */
	if (flush_ops->host_vcpu_put)
		flush_ops->host_vcpu_put(&mm, v->id); /* kvm_steal_time_set_preempted */
	/*
	 * On x86 the host's store of PREEMPTED, after the vCPU stopped, is a
	 * release, and the guest's cmpxchg that reads it an acquire: what the
	 * vCPU did before the park happens before a flush that skips it.
	 * WRITE_ONCE is relaxed in C11, so say it with a release RMW (value
	 * unchanged) for TSan.
	 */
	__atomic_fetch_or(&mm.cpu[v->id].st.preempted, 0, __ATOMIC_RELEASE);
	hw_unlock(v);
	atomic_fetch_add_explicit(&v->parks, 1, memory_order_relaxed);
	if (sec_depth)
		atomic_fetch_add_explicit(&v->parks_irqoff, 1, memory_order_relaxed);
	atomic_store_explicit(&v->park_ack, 1, memory_order_release);
	while (!atomic_load_explicit(&v->release, memory_order_acquire) && !stress_stop()) {
		struct timespec ts = { 0, 20000 };
		nanosleep(&ts, NULL); /* stopped: the pCPU goes to other threads */
	}
	atomic_store_explicit(&v->release, 0, memory_order_relaxed);
	hw_lock(v);
	if (flush_ops->host_vcpu_entry)
		flush_ops->host_vcpu_entry(&mm, v->id); /* Xen's pending flush */
	if (flush_ops->host_vcpu_run)
		flush_ops->host_vcpu_run(&mm, v->id); /* record_steal_time */
	atomic_store_explicit(&v->parked, 0, memory_order_release);
	hw_unlock(v);
}

static void park_handler(int sig)
{
	int e = errno;
	struct vcpu *v = self;
	if (v) {
		if (in_insn)
			park_deferred = 1;
		else
			host_park(v);
	}
	errno = e;
}

static bool h_vcpu_running(struct mm_struct *m, int cpu)
{
	return !atomic_load_explicit(&vcpus[cpu].parked, memory_order_acquire);
}

static void *host_main(void *arg)
{
	u64 r = stress_seed(0x686f7374);
	while (!stress_stop()) {
		struct timespec ts = { 0, 50000 + (long)(stress_rand(&r) % 400000) };
		nanosleep(&ts, NULL);
		/* mostly the walkers' vCPUs; the mutator's now and then */
		int c = (stress_rand(&r) % 8 == 0) ? 0 : 1 + (int)(stress_rand(&r) % (u64)(nr_vcpus - 1));
		struct vcpu *v = &vcpus[c];
		if (!atomic_load(&v->alive) || atomic_load_explicit(&v->parked, memory_order_acquire))
			continue;
		atomic_store_explicit(&v->park_ack, 0, memory_order_relaxed);
		if (pthread_kill(v->thread, PARK_SIG) != 0)
			continue;
		u64 t0 = native_raw_ns();
		while (!atomic_load_explicit(&v->park_ack, memory_order_acquire) && !stress_stop() &&
		       atomic_load(&v->alive) && native_raw_ns() - t0 < 100 * 1000000ULL)
			sched_yield();
		if (atomic_load_explicit(&v->park_ack, memory_order_acquire)) {
			ts.tv_nsec = 20000 + (long)(stress_rand(&r) % 300000);
			nanosleep(&ts, NULL);
		}
		/*
		 * Resume.  A signal not delivered yet (TSan defers them) parks the
		 * thread later: the release stays set, so that park is brief.
		 */
		atomic_store_explicit(&v->release, 1, memory_order_release);
	}
	for (int c = 0; c < nr_vcpus; c++)
		atomic_store_explicit(&vcpus[c].release, 1, memory_order_release);
	return NULL;
}

/* ----------------------------------------------------------- oracles -- */

static void h_mapping_changed(struct mm_struct *m, int vpn, int n)
{
	for (int v = vpn; v < vpn + n && v < MM_NR_VPN; v++)
		atomic_fetch_add_explicit(&ver[v], 1, memory_order_relaxed);
}

static u32 h_ref_version(struct mm_struct *m, int vpn)
{
	return atomic_load_explicit(&ver[vpn], memory_order_relaxed);
}

static void h_flush_begin(struct mm_struct *m, int start, int end)
{
	for (int v = 0; v < MM_NR_VPN; v++)
		flush_snap[v] = atomic_load_explicit(&ver[v], memory_order_relaxed);
}

static void h_flush_end(struct mm_struct *m, int start, int end)
{
	if (end == TLB_FLUSH_ALL) {
		start = 0;
		end = MM_NR_VPN;
	}
	for (int v = start; v < end && v < MM_NR_VPN; v++) {
		u32 cur = atomic_load_explicit(&flushed_ver[v], memory_order_relaxed);
		while (cur < flush_snap[v] &&
		       !atomic_compare_exchange_weak_explicit(&flushed_ver[v], &cur, flush_snap[v],
							      memory_order_release, memory_order_relaxed))
			;
	}
}

static void h_tlb_use(struct mm_struct *m, int cpu, const struct tlb_entry *e)
{
	int vpn = MM_BK_READ(e->vpn);
	u32 ev = MM_BK_READ(e->ver);
	u32 fv = atomic_load_explicit(&flushed_ver[vpn], memory_order_acquire);
	atomic_fetch_add_explicit(&vcpus[cpu].hits, 1, memory_order_relaxed);
	if (ev < fv) {
		char what[160];
		snprintf(what, sizeof(what), "vcpu=%d vpn=%d pfn=%d: TLB entry of mapping version %u used after "
			 "a flush covering version %u returned", cpu, vpn, MM_BK_READ(e->pfn), ev, fv);
		oracle_stale_tlb(what);
	}
}

static void h_psc_use(struct mm_struct *m, int cpu, int pfn, u32 gen)
{
	u8 type = MM_BK_READ(T.desc[pfn].type);
	u32 g = MM_BK_READ(T.desc[pfn].gen);
	if (type != PT_PTE || g != gen) {
		char what[160];
		snprintf(what, sizeof(what), "vcpu=%d: paging-structure-cache entry into table pfn %d (gen %u) "
			 "used while the table is %s (gen %u)", cpu, pfn, gen, type == PT_FREE ? "freed" : "reused", g);
		oracle_stale_psc(what);
	}
}

static void h_section(struct mm_struct *m, enum mm_section kind, bool enter)
{
	if (enter) {
		if (sec_depth++ == 0)
			nrefs = 0;
		return;
	}
	if (--sec_depth)
		return;
	for (int i = 0; i < nrefs; i++) {
		u8 type = MM_BK_READ(T.desc[refs[i].pfn].type);
		u32 g = MM_BK_READ(T.desc[refs[i].pfn].gen);
		if (refs[i].freed || type == PT_FREE || g != refs[i].gen) {
			char what[200];
			snprintf(what, sizeof(what), "vcpu=%d %s walker: table pfn %d (gen %u) it derived a pointer to "
				 "was %s before its section ended (now %s, gen %u)", smp_processor_id(),
				 kind == MM_SEC_IRQOFF ? "IRQ-off" : "rcu-only", refs[i].pfn, refs[i].gen,
				 refs[i].freed ? "already freed when derived" : "freed",
				 type == PT_FREE ? "free" : "reused", g);
			oracle_table_uaf(what);
		}
	}
	nrefs = 0;
}

static void spin_ns(u64 ns)
{
	u64 t0 = native_raw_ns();
	while (native_raw_ns() - t0 < ns)
		cpu_relax();
}

static void h_table_ref(struct mm_struct *m, int pfn)
{
	u8 type = MM_BK_READ(T.desc[pfn].type);
	if (nrefs < MAX_REFS) {
		refs[nrefs].pfn = pfn;
		refs[nrefs].gen = MM_BK_READ(T.desc[pfn].gen);
		refs[nrefs].freed = type == PT_FREE;
		nrefs++;
	}
	if (type == PT_PGD || type == PT_PMD)
		return;
	/*
	 * The walker holds a pointer to a pte table: this is the window.  An
	 * rcu-only walker has IRQs on, so an IPI can arrive here; an IRQ-off
	 * one takes none.  Either is slow here (a real walker is slow when it
	 * misses in the cache or the host deschedules it).
	 */
	if (!native_irqs_disabled())
		native_ipi_poll();
	if (opt.walk_delay_ns)
		spin_ns(stress_rand(&rs) % (opt.walk_delay_ns + 1));
}

static void h_grab(struct mm_struct *m, int vpn, int pfn)
{
	atomic_fetch_add_explicit(&n_grabs, 1, memory_order_relaxed);
	if (MM_BK_READ(m->page_free) >> pfn & 1) {
		char what[120];
		snprintf(what, sizeof(what), "vcpu=%d vpn=%d: reference taken on data page %d, which is on the "
			 "free list", smp_processor_id(), vpn, pfn);
		oracle_refcount_zero(what);
	}
}

static bool h_batch_alloc_fails(struct mm_struct *m)
{
	/* GFP_NOWAIT fails: often with semi-RCU (its only IPI path), sometimes otherwise */
	bool f = stress_rand(&rs) % (opt.free == 1 ? 2 : 8) == 0;
	if (f)
		atomic_fetch_add_explicit(&n_batch_fail, 1, memory_order_relaxed);
	return f;
}

/* ------------------------------------------------------------ vCPUs -- */

static void irq_enabled(void)
{
	native_rcu_irq_enabled();
	native_ipi_poll();
}

static void irq_disabled(void)
{
	native_rcu_irq_disabled();
}

static const struct native_irq_hooks irq_hooks = { irq_enabled, irq_disabled };

/* an IRQ-enabled point of the vCPU's loop: take IPIs, report a quiescent state */
static void idle_point(void)
{
	native_ipi_poll();
	rcu_quiescent_state(&mm);
}

static void vcpu_start(struct stress_worker *w, struct vcpu *v)
{
	int nreal = native_vcpu_count();
	native_thread_start(&w->nt, v->id % nreal);
	native_set_thread_vcpu(v->id);
	self = v;
	rs = stress_seed(0x76637075 + (u64)v->id);
	native_rcu_thread_online();
	sigset_t s;
	sigemptyset(&s);
	sigaddset(&s, PARK_SIG);
	pthread_sigmask(SIG_UNBLOCK, &s, NULL);
	atomic_store(&v->alive, true);
}

static void vcpu_stop(struct vcpu *v)
{
	sigset_t s;
	sigemptyset(&s);
	sigaddset(&s, PARK_SIG);
	pthread_sigmask(SIG_BLOCK, &s, NULL);
	atomic_store(&v->alive, false);
	/* the mutator may still wait for our acks: stay responsive until it is done */
	if (v->id)
		while (atomic_load(&vcpus[0].alive)) {
			idle_point();
			sched_yield();
		}
	native_rcu_thread_exit();
}

static void maybe_halt(struct vcpu *v)
{
	/*
	 * Now and then the vCPU halts (the idle loop's HLT): RCU-offline, as
	 * it cannot be inside a walker; an idle vCPU still takes IPIs, so the
	 * halt is short and it polls on wake-up.
	 */
	if (stress_rand(&rs) % 4096)
		return;
	native_rcu_halt(true);
	struct timespec ts = { 0, 30000 };
	nanosleep(&ts, NULL);
	native_rcu_halt(false);
	idle_point();
}

static void *mutator_main(struct stress_worker *w)
{
	struct vcpu *v = w->arg;
	vcpu_start(w, v);
	int regions = MM_NR_VPN / PTRS_PER_TABLE;
	for (int r = 0; r < regions; r++)
		mm_map_region(&mm, r);
	while (!stress_stop()) {
		u64 x = stress_rand(&rs);
		int r = (int)(x % (u64)regions);
		bool mapped = pte_present(READ_ONCE(*pmd_entry_ptr(&mm, r)));
		switch ((x >> 8) % 8) {
		case 0:
			if (mapped) {
				change_pte(&mm, r * PTRS_PER_TABLE + (int)((x >> 16) % PTRS_PER_TABLE));
				atomic_fetch_add_explicit(&n_remap, 1, memory_order_relaxed);
				break;
			}
			/* fall through */
		case 1:
			if (mapped) {
				collapse_region(&mm, r, (int)((x >> 16) & 7)); /* slow copies: a wider window */
				atomic_fetch_add_explicit(&n_collapse, 1, memory_order_relaxed);
				break;
			}
			/* fall through */
		default:
			if (mapped) {
				unmap_region(&mm, r, true); /* zap + free_pgtables */
				atomic_fetch_add_explicit(&n_unmap, 1, memory_order_relaxed);
			} else {
				mm_map_region(&mm, r); /* mmap + fault-in: a new pte table */
				atomic_fetch_add_explicit(&n_map, 1, memory_order_relaxed);
			}
		}
		stress_progress(w);
		idle_point();
		maybe_halt(v);
	}
	vcpu_stop(v);
	return NULL;
}

static const struct walker_ops *walker;

static void *walker_main(struct stress_worker *w)
{
	struct vcpu *v = w->arg;
	vcpu_start(w, v);
	while (!stress_stop()) {
		u64 x = stress_rand(&rs);
		int vpn = (int)(x % MM_NR_VPN);
		if ((x >> 8) % 4 == 0) {
			/* a user access through the TLB / PSC: one instruction */
			insn_begin(v);
			(void)mm_user_access(&mm, vpn, false);
			insn_end(v);
			atomic_fetch_add_explicit(&v->accesses, 1, memory_order_relaxed);
		} else {
			int pfns[PTRS_PER_TABLE];
			int nr = 1 + (int)((x >> 12) % (PTRS_PER_TABLE - vpn_pte_index(vpn)));
			int got = walker->walk(&mm, vpn, nr, pfns);
			for (int i = 0; walker->grabs && i < got; i++)
				put_page(&mm, pfns[i]); /* the caller's unpin */
			atomic_fetch_add_explicit(&v->walks, 1, memory_order_relaxed);
		}
		stress_progress(w);
		idle_point();
		maybe_halt(v);
	}
	vcpu_stop(v);
	return NULL;
}

/* --------------------------------------------------------- the driver -- */

static char label[160];

#ifdef PV_ASAN
static void asan_death(void)
{
	fprintf(stderr, "SUMMARY: pvfuzz: table_uaf variant=%s AddressSanitizer report above (TO1)\n", label);
}
#endif

static const struct pv_variant *find(const char *name, enum pv_role role)
{
	const struct pv_variant *pv = pv_variant_find(name);
	if (!pv || pv->protocol != PV_TLB || pv->role != role) {
		fprintf(stderr, "pvfuzz-stress: variant %s is not registered\n", name);
		return NULL;
	}
	return pv;
}

static bool tlb_start(struct stress_opts *o)
{
	if (!opt.backend_set || !opt.free_set) {
		fprintf(stderr, "pvfuzz-stress: tlb needs --backend native|hyperv|xen|kvm-pv and --free "
				"immediate|semi-rcu|rcu (try --help)\n");
		return false;
	}
	if (o->variant) {
		fprintf(stderr, "pvfuzz-stress: tlb takes --backend/--free/--walker, not --variant (try --help)\n");
		return false;
	}
	const struct pv_variant *fv = find(backends[opt.backend][1], PV_FLUSH);
	const struct pv_variant *frv = find(frees[opt.free][1], PV_FREE);
	const struct pv_variant *wv = find(walkers[opt.walker][1], PV_WALKER);
	if (!fv || !frv || !wv)
		return false;

	int cpus[NATIVE_MAX_CPUS];
	int nreal = native_usable_cpus(cpus, NATIVE_MAX_CPUS);
	native_set_vcpus(cpus, nreal);
	nr_vcpus = opt.vcpus ? opt.vcpus : (nreal + 1 < 3 ? 3 : nreal + 1 > MM_MAX_CPUS ? MM_MAX_CPUS : nreal + 1);
	o->readers = nr_vcpus - 1;

	snprintf(label, sizeof(label), "%s+%s+%s", fv->name, frv->name, wv->name);
	stress_set_label(label);
#ifdef PV_ASAN
	__sanitizer_set_death_callback(asan_death);
#endif

	for (int i = 0; i < NPFN; i++)
		T.fifo[i] = i;
	T.n = NPFN;
	hooks = (struct mm_hooks){
		.mapping_changed = h_mapping_changed,
		.ref_version = h_ref_version,
		.table_ref = h_table_ref,
		.section = h_section,
		.grab = h_grab,
		.flush_begin = h_flush_begin,
		.flush_end = h_flush_end,
		.tlb_use = h_tlb_use,
		.psc_use = h_psc_use,
		.batch_alloc_fails = h_batch_alloc_fails,
		.vcpu_running = h_vcpu_running,
	};
	if (mm_init(&mm, nr_vcpus, &tbl_ops, &hooks) != 0) {
		fprintf(stderr, "pvfuzz-stress: mm_init failed\n");
		return false;
	}
	flush_ops = fv->ops;
	mm.flush = flush_ops;
	mm.free = frv->ops;
	mm.walker = walker = wv->ops;
	mm_guest_init(&mm); /* the KVM PV backend allocates its per-CPU masks */
	flush_ops = mm.flush;

	native_ipi_init(nr_vcpus);
	native_set_irq_hooks(&irq_hooks);
	native_set_exit_handler(tlb_vm_exit);

	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = park_handler;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	sigaction(PARK_SIG, &sa, NULL);

	for (int c = 0; c < nr_vcpus; c++) {
		struct vcpu *v = &vcpus[c];
		v->id = c;
		static char names[MM_MAX_CPUS][16];
		snprintf(names[c], sizeof(names[c]), c ? "walker%d" : "mutator", c);
		v->w = stress_spawn(names[c], c ? walker_main : mutator_main, v, c == 0, true);
		v->thread = v->w->thread;
	}
	if (opt.preempt && pthread_create(&host_thread, NULL, host_main, NULL) == 0)
		host_on = true;
	printf("tlb: backend %s, free %s, walker %s, %d vCPUs on %d CPU%s, RCU %s, host preemption %s, "
	       "walker window <= %" PRIu64 " ns\n", fv->name, frv->name, wv->name, nr_vcpus, nreal,
	       nreal == 1 ? "" : "s", native_rcu_flavour(), host_on ? "on" : "off", opt.walk_delay_ns);
	return true;
}

static u64 sumv(size_t off)
{
	u64 s = 0;
	for (int c = 0; c < nr_vcpus; c++)
		s += atomic_load_explicit((_Atomic u64 *)((char *)&vcpus[c] + off), memory_order_relaxed);
	return s;
}

static void tlb_status(char *buf, size_t n)
{
	snprintf(buf, n, " ipis %" PRIu64 " hypercalls %" PRIu64 " parks %" PRIu64 " (irq-off %" PRIu64
		 ") tables-freed %" PRIu64,
		 atomic_load_explicit(&native_ipis_handled, memory_order_relaxed),
		 atomic_load_explicit(&n_hypercalls, memory_order_relaxed), sumv(offsetof(struct vcpu, parks)),
		 sumv(offsetof(struct vcpu, parks_irqoff)), atomic_load_explicit(&n_tables_freed, memory_order_relaxed));
}

static void tlb_summary(FILE *f)
{
	if (host_on)
		pthread_join(host_thread, NULL);
	/* teardown: every pending RCU callback runs, then every live table goes */
	native_rcu_barrier();
	fprintf(f, "  tlb %s: walks %" PRIu64 " (grabs %" PRIu64 "), user accesses %" PRIu64 " (TLB hits %" PRIu64
		   "); mutator: unmap %" PRIu64 ", map %" PRIu64 ", remap %" PRIu64 ", collapse %" PRIu64 "\n",
		label, sumv(offsetof(struct vcpu, walks)), atomic_load(&n_grabs), sumv(offsetof(struct vcpu, accesses)),
		sumv(offsetof(struct vcpu, hits)), atomic_load(&n_unmap), atomic_load(&n_map), atomic_load(&n_remap),
		atomic_load(&n_collapse));
	fprintf(f, "  tables allocated %" PRIu64 ", freed %" PRIu64 " (%" PRIu64 " via RCU callbacks), batch-page "
		   "failures %" PRIu64 "; IPIs sent %" PRIu64 " handled %" PRIu64 ", hypercalls %" PRIu64 "\n",
		atomic_load(&n_tables_alloc), atomic_load(&n_tables_freed), atomic_load(&native_rcu_cbs),
		atomic_load(&n_batch_fail), atomic_load(&native_ipis_sent), atomic_load(&native_ipis_handled),
		atomic_load(&n_hypercalls));
	fprintf(f, "  host preemptions %" PRIu64 " (%" PRIu64 " inside a walker section), %s quiescent states "
		   "%" PRIu64 "\n", sumv(offsetof(struct vcpu, parks)), sumv(offsetof(struct vcpu, parks_irqoff)),
		native_rcu_flavour(), atomic_load(&native_rcu_qs));
	for (int i = 0; i < NPFN; i++)
		if (MM_BK_READ(T.desc[i].type) != PT_FREE && MM_BK_READ(T.desc[i].gen)) {
			free(T.page[i]);
			MM_BK_WRITE(T.desc[i].type, PT_FREE);
		}
}

static const struct stress_driver tlb_driver = {
	.protocol = "tlb",
	.summary = "TLB flush backends x table-free paths vs lockless walkers (src/mm)",
	.start = tlb_start,
	.summary_lines = tlb_summary,
	.options = tlb_options,
	.options_help =
		"  --backend B     flush backend: native|hyperv|xen|kvm-pv (required)\n"
		"  --free F        table free path: immediate|semi-rcu|rcu (required)\n"
		"  --walker W      lockless walker: irqoff (gup_fast) | rcu (pte_offset_map) (default irqoff)\n"
		"  --vcpus N       vCPU threads, 2-8 (default: CPUs+1, at least 3)\n"
		"  --preempt on|off  host preemption of vCPU threads (default on)\n"
		"  --walk-delay-ns NS  longest pause of a walker holding a table pointer, 0-10^6 (default 20000)\n",
	.option = tlb_option,
	.status = tlb_status,
};
STRESS_DRIVER(tlb_driver);
