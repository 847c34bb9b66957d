// SPDX-License-Identifier: MIT
/*
 * The TLB-flush / page-table-freeing scenario in the simulator.
 *
 * vCPU0 runs a mutator (munmap+mmap, remap, collapse, MADV_DONTNEED,
 * mprotect) through the selected flush backend, free path and mutator ops;
 * optionally a second mutator on vCPU1 works on the same mm (mmap_lock, the
 * PTL and tlb_flush_pending decide what overlaps).  The other vCPUs run
 * workers (the selected lockless walker, user reads and writes through the
 * TLB, lazy-TLB periods with speculative walks) and then an idle loop that
 * takes IPIs and reports quiescent states.  Every task is pinned to its
 * vCPU (sim_pin), as per-CPU work is.
 *
 * Input head (front), each byte defaulting when the input runs out:
 *   mode    bit 0: sparse schedule instead of PCT, bit 1: x86-TSO store
 *           buffers (other sim modes are off), bit 7: the boot-time per-CPU
 *           cpumask allocation of the flush backend fails
 *   shape   vCPUs 2-4 | mutator ops 1-4 | worker ops 1-4 | bit 6: two mutators
 *   fail    bit k: the k-th table-batch page allocation fails (GFP_NOWAIT)
 *   then the op bytes of mutator 0 and of mutator 1 (always read, so the
 *   worker bytes stay put), then per worker vCPU one per op:
 *     mutator: kind = b & 7, region r = (b>>3)&3, bit 7: need_resched at
 *              the op's cond_resched points (else they do not give way):
 *              0 munmap 1+((b>>5)&1) regions from r, then mmap them again,
 *              1 remap vpn (b>>3)&15, 2 collapse r with (b>>5)&3 slow page
 *              copies, 3 as 0 with the batch allocation failing,
 *              4 MADV_DONTNEED r, 6 the same then refault, 5/7 mprotect r
 *              (read-only <-> read-write, alternating)
 *     worker:  kind = b & 3: 0 walk from vpn (b>>2)&15 to the end of its pte
 *              table and hold the pinned pages for 1 << 2*(b>>6) rounds, 1 user access
 *              (a write if bit 6), 2 lazy
 *              period of 1+((b>>2)&7) rounds of speculative walks, 3 access
 *              then walk; after its ops a worker repeats its last op (a
 *              lazy period: idles) until the mutators are done
 * Tail events: SIM_EV_HOST_PREEMPT (at a step, also inside walker sections),
 * SIM_EV_SCENARIO: arg bits 7-6 clear: the next 1+(arg&3) batch allocations
 * fail; bit 6 alone: the host preempts vCPU arg&3 for 8*(((arg>>2)&15)+1)
 * steps inside its next user access (translated, not yet accessed); bit 7 set: the host preempts vCPU arg&3 for 8*(((arg>>2)&31)+1) steps as
 * soon as its next walk has derived a pte-table pointer (a preemption inside
 * the walker's section, keyed on the protocol point rather than a step),
 * SIM_EV_SCENARIO2 (IPIs to vCPU arg&3 held for 4*(arg>>2) steps).
 *
 * Ground truth: the reference mapping of every vpn with its history, a
 * mapping version per vpn and the versions completed flushes covered, each
 * walker's table references with their generations, pins held by callers.
 */
#include <stdio.h>
#include <string.h>

#include "mm/tlb_harness.h"
#include "oracle/oracle.h"
#include "sim/sim.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define PV_TLB_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define PV_TLB_ASAN 1
#endif
#ifdef PV_TLB_ASAN
#include <sanitizer/asan_interface.h>
#endif

/*
 * The oracles' bookkeeping is not code under test: no coverage edges or
 * comparison tracing in it (its feedback is the near misses below), which
 * keeps libFuzzer's per-access work on the code under test.
 */
#if defined(__clang__) && __clang_major__ >= 13
#define BOOKKEEPING __attribute__((no_sanitize("coverage")))
#else
#define BOOKKEEPING
#endif

#define LOGN 32
#define MAX_REFS 4

struct fiber_state {
	int irqoff, rcu;
	struct { int pfn; u32 gen; } ref[MAX_REFS];
	int nref;
	u32 snap[MM_NR_VPN];     /* versions at the current flush's start */
	u32 sys_snap[MM_NR_VPN]; /* versions at the current munmap/madvise/mprotect's entry */
	/* the current walk's grabs: taken on a page freed since vpn last mapped it? and when */
	bool grab_recycled[MM_NR_VPN];
	u64 grab_step[MM_NR_VPN];
	/* the user access in flight: its translation, checked at its data access */
	bool acc_armed;
	int acc_vpn, acc_pfn;
	u32 acc_ver;
};

struct tlb_world {
	struct mm_struct *mm;
	struct mm_hooks hooks;
	struct fdp *in;
	int nr_cpus, mut_ops, work_ops;
	u8 fail_mask;
	int nbatch, fail_next;
	bool running[MM_MAX_CPUS];
	bool in_host[MM_MAX_CPUS];        /* the vCPU's thread runs host code (on_vcpu_resume) */
	u64 preempted_at[MM_MAX_CPUS];
	u32 preempt_in_walk[MM_MAX_CPUS]; /* armed: steps to preempt for at the next walk */
	u32 preempt_in_insn[MM_MAX_CPUS]; /* armed: ... inside the next user access */
	int mutators, mutators_left;
	u8 prot_ro;                       /* bit per region: mprotect'd read-only */
	/* ground truth */
	int cur_map[MM_NR_VPN];
	bool cur_rw[MM_NR_VPN];
	u32 ver[MM_NR_VPN];
	u32 flushed_ver[MM_NR_VPN];
	struct { u64 step; int pfn; } log[MM_NR_VPN][LOGN];
	int nlog[MM_NR_VPN];
	u64 freed_at[MM_DATA_PAGES]; /* 1 + the step of each data page's last free (0: never) */
	u64 discarded;
	int held[MM_DATA_PAGES];
	struct fiber_state fs[SIM_MAX_FIBERS];
	u32 rf_site[PT_POOL_PAGES * PTRS_PER_TABLE]; /* last writer of each table word */
	u8 rf_fiber[PT_POOL_PAGES * PTRS_PER_TABLE];
	u8 mut_op[2][4];
	u8 work_op[MM_MAX_CPUS][4];
	int cpu_arg[MM_MAX_CPUS];
	int mut_arg[2];
	bool resched[SIM_MAX_FIBERS];
	bool cpumask_fails;
};

static struct tlb_world W;
static struct pt_pool pool;
static struct pt_alloc_ops pool_ops;

static bool table_linked(struct mm_struct *mm, int pfn);

/* near misses of the oracles, as features: the fuzzer is rewarded for
 * getting close (a stale-but-unflushed TLB hit, a walker on an unlinked
 * table, an IPI inside an RCU section, a preemption inside a walk) */
enum { NM_TLB_UNFLUSHED = 0x1000, NM_WALK_UNLINKED = 0x2000, NM_PSC_UNLINKED = 0x3000,
       NM_GRAB_CHANGED = 0x4000, NM_IPI_IN_RCU = 0x5000, NM_PREEMPT_IN_WALK = 0x6000,
       NM_BATCH_FAIL = 0x7000, NM_SYSCALL_OVERLAP = 0x8000,
       NM_SYSCALL_UNFLUSHED = 0x9000, NM_PREEMPT_IN_INSN = 0xa000, NM_ACCESS_CHANGED = 0xb000 };

static BOOKKEEPING void near_miss(u32 kind, u32 detail)
{
	sim_feature((kind | detail) * 0x9E3779B1u);
}


static BOOKKEEPING struct fiber_state *me(void)
{
	return &W.fs[sim_self() < 0 ? 0 : sim_self()];
}

/* ------------------------------------------------------- ground truth -- */

/* the reference mapping of vpn just became m (a store became visible) */
static BOOKKEEPING void truth_set(int vpn, int m, bool rw)
{
	if (m == W.cur_map[vpn] && (m < 0 || rw == W.cur_rw[vpn]))
		return;
	W.cur_map[vpn] = m;
	W.cur_rw[vpn] = rw;
	W.ver[vpn]++;
	int k = W.nlog[vpn]++ % LOGN;
	W.log[vpn][k].step = sim_step();
	W.log[vpn][k].pfn = m;
}

/* mm_ref_lookup() as it reads once the store of v to p is visible */
static BOOKKEEPING int lookup_with(struct mm_struct *mm, int vpn, const volatile void *p, u64 v, bool *rw)
{
	*rw = false;
	u64 *pmdp = pmd_entry_ptr(mm, vpn_pmd_index(vpn));
	u64 pmd = (const volatile void *)pmdp == p ? v : MM_BK_READ(*pmdp);
	if (!pte_present(pmd))
		return -1;
	if (MM_BK_READ(pt_desc(mm, pte_pfn(pmd))->type) != PT_PTE)
		return -2;
	u64 *ptep = &pt_va(mm, pte_pfn(pmd))->e[vpn_pte_index(vpn)];
	u64 pte = (const volatile void *)ptep == p ? v : MM_BK_READ(*ptep);
	*rw = !!(pte & _PAGE_RW);
	return pte_present(pte) ? pte_pfn(pte) : -1;
}

/*
 * Ground truth follows visibility, not issue: with TSO store buffers a
 * page-table store issued by a mutator is seen by other CPUs' walkers and
 * hardware walks only once it leaves the store buffer, which is when the
 * simulator calls this (before the memory changes).
 */
static BOOKKEEPING void on_commit(void *ctx, volatile void *p, unsigned size, u64 v)
{
	struct mm_struct *mm = W.mm;
	int pfn;
	if (!mm || !pt_pool_owns(&pool, p, &pfn))
		return;
	const struct ptdesc *d = &pool.desc[pfn];
	char what[128];
	if (d->type == PT_FREE) {
#ifndef PV_TLB_ASAN
		snprintf(what, sizeof(what), "a store to table pfn %d became visible after the page was freed", pfn);
		oracle_table_uaf(what);
#endif
		return; /* ASan builds: ASan reports the commit's write itself */
	}
	int idx = (int)(((const u8 *)p - (const u8 *)pt_va(mm, pfn)) / sizeof(u64)) % PTRS_PER_TABLE;
	int first = -1;
	if (d->type == PT_PMD) {
		first = idx * PTRS_PER_TABLE;
	} else if (d->type == PT_PTE) {
		for (int r = 0; r < PTRS_PER_TABLE; r++) {
			u64 pmd = MM_BK_READ(*pmd_entry_ptr(mm, r));
			if (pte_present(pmd) && pte_pfn(pmd) == pfn) {
				bool rw;
				int m = lookup_with(mm, r * PTRS_PER_TABLE + idx, p, v, &rw);
				truth_set(r * PTRS_PER_TABLE + idx, m, rw);
			}
		}
		return;
	}
	if (first < 0)
		return;
	for (int vpn = first; vpn < first + PTRS_PER_TABLE; vpn++) {
		bool rw;
		int m = lookup_with(mm, vpn, p, v, &rw);
		if (m == -2) {
			snprintf(what, sizeof(what), "vpn %d: a pmd now points at a page that is not a live pte table", vpn);
			oracle_table_uaf(what);
		}
		truth_set(vpn, m, rw);
	}
}

static BOOKKEEPING u32 h_ref_version(struct mm_struct *mm, int vpn)
{
	return W.ver[vpn];
}

/* was vpn mapped to pfn at some instant in [from, now]? */
static BOOKKEEPING bool mapped_since(int vpn, int pfn, u64 from)
{
	int n = W.nlog[vpn];
	int first = n > LOGN ? n - LOGN : 0;
	for (int k = n - 1; k >= first; k--) {
		const typeof(W.log[0][0]) *e = &W.log[vpn][k % LOGN];
		if (e->pfn == pfn)
			return true;
		if (e->step <= from)
			return false; /* the mapping in force at `from` */
	}
	return n > LOGN; /* history lost: give the benefit of the doubt */
}

/* the step at which vpn last stopped mapping pfn (0: never mapped it, or history lost) */
static BOOKKEEPING u64 unmapped_at(int vpn, int pfn)
{
	int n = W.nlog[vpn];
	int first = n > LOGN ? n - LOGN : 0;
	u64 end = 0;
	for (int k = n - 1; k >= first; k--) {
		const typeof(W.log[0][0]) *e = &W.log[vpn][k % LOGN];
		if (e->pfn == pfn)
			return end;
		end = e->step;
	}
	return 0;
}

static BOOKKEEPING void h_table_ref(struct mm_struct *mm, int pfn)
{
	struct fiber_state *f = me();
	const struct ptdesc *d = pt_desc(mm, pfn);
	if (d->type == PT_FREE) {
		char what[96];
		snprintf(what, sizeof(what), "walker derived a pointer to table pfn %d, already freed", pfn);
		oracle_table_uaf(what);
	}
	if (f->nref < MAX_REFS) {
		f->ref[f->nref].pfn = pfn;
		f->ref[f->nref++].gen = d->gen;
	}
	/* an armed in-walk preemption: the host deschedules this vCPU right
	 * after its walker derived a pte-table pointer */
	int cpu = smp_processor_id();
	if (d->type == PT_PTE && W.preempt_in_walk[cpu]) {
		sim_host_preempt(cpu, W.preempt_in_walk[cpu]);
		W.preempt_in_walk[cpu] = 0;
	}
}

static BOOKKEEPING void h_section(struct mm_struct *mm, enum mm_section kind, bool enter)
{
	struct fiber_state *f = me();
	int *depth = kind == MM_SEC_IRQOFF ? &f->irqoff : &f->rcu;
	*depth += enter ? 1 : -1;
	if (!enter && !f->irqoff && !f->rcu)
		f->nref = 0;
}

static BOOKKEEPING void h_grab(struct mm_struct *mm, int vpn, int pfn)
{
	/*
	 * A grab after the pte changed is harmless while the page is not yet
	 * freed (an IPI flush holds the free off: the walk linearizes at its
	 * pte load); once the page was freed since, the reference pins a
	 * recycled page, and only a re-check that sees vpn map it again may
	 * keep it.
	 */
	struct fiber_state *f = me();
	u64 end = W.cur_map[vpn] == pfn ? 0 : unmapped_at(vpn, pfn);
	f->grab_recycled[vpn] = end && W.freed_at[pfn] > end;
	f->grab_step[vpn] = sim_step();
	if (W.cur_map[vpn] != pfn)
		near_miss(NM_GRAB_CHANGED, 0);
	if (mm->page_free >> pfn & 1) {
		char what[128];
		snprintf(what, sizeof(what), "walker took a reference on page %d (vpn %d) while it was free: "
			 "refcount raised from zero", pfn, vpn);
		oracle_refcount_zero(what);
	}
}

static BOOKKEEPING void h_ipi(struct mm_struct *mm)
{
	struct fiber_state *f = me();
	if (f->rcu)
		near_miss(NM_IPI_IN_RCU, 0);
	if (f->irqoff) {
		char what[96];
		snprintf(what, sizeof(what), "vCPU %d handled an IPI inside an IRQ-off walker section",
			 smp_processor_id());
		oracle_irq_discipline(what);
	}
}

static BOOKKEEPING void h_quiescent(struct mm_struct *mm)
{
	struct fiber_state *f = me();
	if (f->irqoff || f->rcu || mm->cpu[smp_processor_id()].rcu_nesting || sim_in_ipi()) {
		char what[96];
		snprintf(what, sizeof(what), "vCPU %d reported a quiescent state inside a read-side section",
			 smp_processor_id());
		oracle_irq_discipline(what);
	}
}

static BOOKKEEPING void flush_range(int start, int end, int *lo, int *hi)
{
	*lo = start == TLB_FLUSH_ALL ? 0 : start;
	*hi = start == TLB_FLUSH_ALL || end == TLB_FLUSH_ALL ? MM_NR_VPN : end;
	if (*hi > MM_NR_VPN)
		*hi = MM_NR_VPN;
}

static BOOKKEEPING void h_flush_begin(struct mm_struct *mm, int start, int end)
{
	int lo, hi;
	flush_range(start, end, &lo, &hi);
	for (int v = lo; v < hi; v++)
		me()->snap[v] = W.ver[v];
}

static BOOKKEEPING void h_flush_end(struct mm_struct *mm, int start, int end)
{
	int lo, hi;
	flush_range(start, end, &lo, &hi);
	for (int v = lo; v < hi; v++)
		if (me()->snap[v] > W.flushed_ver[v])
			W.flushed_ver[v] = me()->snap[v];
}

static BOOKKEEPING void h_tlb_use(struct mm_struct *mm, int cpu, const struct tlb_entry *e)
{
	char what[160];
	if (e->ver != W.ver[e->vpn])
		near_miss(NM_TLB_UNFLUSHED, (u32)cpu);
	if (mm->page_free >> e->pfn & 1) {
		snprintf(what, sizeof(what), "vCPU %d used its TLB entry vpn %d -> page %d after the page was freed",
			 cpu, e->vpn, e->pfn);
		oracle_stale_tlb(what);
	}
	if (e->ver < W.flushed_ver[e->vpn]) {
		snprintf(what, sizeof(what), "vCPU %d used TLB entry vpn %d -> page %d (mapping v%u) after a flush "
			 "or munmap/madvise/mprotect covering mapping v%u returned", cpu, e->vpn, e->pfn, e->ver, W.flushed_ver[e->vpn]);
		oracle_stale_tlb(what);
	}
}

static BOOKKEEPING void h_psc_use(struct mm_struct *mm, int cpu, int pfn, u32 gen)
{
	const struct ptdesc *d = pt_desc(mm, pfn);
	if (!table_linked(mm, pfn))
		near_miss(NM_PSC_UNLINKED, (u32)cpu);
	if (d->type != PT_PTE || d->gen != gen) {
		char what[160];
		snprintf(what, sizeof(what), "vCPU %d hit a paging-structure-cache entry for table pfn %d gen %u: "
			 "the page is %s", cpu, pfn, gen,
			 d->type == PT_FREE ? "freed" : "reused (new generation)");
		oracle_stale_psc(what);
	}
}

static BOOKKEEPING void h_page_freed(struct mm_struct *mm, int pfn)
{
	W.discarded &= ~(1ULL << pfn);
	W.freed_at[pfn] = sim_step() + 1;
}

static BOOKKEEPING void h_discard(struct mm_struct *mm, int pfn)
{
	if (W.held[pfn]) {
		char what[128];
		snprintf(what, sizeof(what), "collapse discarded page %d (found unpinned) while a walker's "
			 "caller holds it as its result", pfn);
		oracle_walker_linearizable(what);
	}
	W.discarded |= 1ULL << pfn;
}

static BOOKKEEPING bool h_batch_alloc_fails(struct mm_struct *mm)
{
	int k = W.nbatch++;
	if (W.fail_next > 0) {
		W.fail_next--;
		sim_note("batch-alloc-fails", (u64)k);
		return true;
	}
	near_miss(NM_BATCH_FAIL, (u32)k & 7);
	if (k < 8 && (W.fail_mask >> k & 1)) {
		sim_note("batch-alloc-fails", (u64)k);
		return true;
	}
	return false;
}

static BOOKKEEPING bool h_cpumask_alloc_fails(struct mm_struct *mm, int cpu)
{
	return W.cpumask_fails;
}

static BOOKKEEPING bool h_vcpu_running(struct mm_struct *mm, int cpu)
{
	return W.running[cpu];
}

/* a user access translated: its data access (the vCPU's next access) is checked in on_access */
static BOOKKEEPING void h_user_translated(struct mm_struct *mm, int cpu, int vpn, int pfn, u32 ver)
{
	struct fiber_state *f = me();
	f->acc_armed = true;
	f->acc_vpn = vpn;
	f->acc_pfn = pfn;
	f->acc_ver = ver;
	sim_insn_hold(true); /* no interrupt until the data access is done */
	if (W.preempt_in_insn[cpu]) {
		sim_host_preempt(cpu, W.preempt_in_insn[cpu]); /* an exit inside the instruction */
		W.preempt_in_insn[cpu] = 0;
	}
}

/*
 * TO3 at the data access itself: the translation it goes through must not
 * be one a flush that has returned covered, nor lead to a freed page.  A
 * restarted instruction does not access (the hardware retries it).
 */
static BOOKKEEPING void check_data_access(struct mm_struct *mm, struct fiber_state *f)
{
	f->acc_armed = false;
	sim_insn_hold(false); /* the access ends the instruction: interrupts from the next step on */
	int cpu = smp_processor_id();
	if (MM_BK_READ(mm->cpu[cpu].insn) == MM_INSN_RESTART)
		return;
	char what[192];
	if (f->acc_ver != W.ver[f->acc_vpn])
		near_miss(NM_ACCESS_CHANGED, (u32)cpu);
	if (mm->page_free >> f->acc_pfn & 1) {
		snprintf(what, sizeof(what), "vCPU %d's data access to vpn %d went to page %d after the page was "
			 "freed (translated before)", cpu, f->acc_vpn, f->acc_pfn);
		oracle_stale_tlb(what);
	}
	if (f->acc_ver < W.flushed_ver[f->acc_vpn]) {
		snprintf(what, sizeof(what), "vCPU %d's data access to vpn %d -> page %d went through a translation "
			 "(mapping v%u) that a flush or munmap/madvise/mprotect covering v%u removed and returned",
			 cpu, f->acc_vpn, f->acc_pfn, f->acc_ver, W.flushed_ver[f->acc_vpn]);
		oracle_stale_tlb(what);
	}
}

static BOOKKEEPING bool table_linked(struct mm_struct *mm, int pfn)
{
	for (int r = 0; r < PTRS_PER_TABLE; r++) {
		u64 pmd = MM_BK_READ(*pmd_entry_ptr(mm, r));
		if (pte_present(pmd) && pte_pfn(pmd) == pfn)
			return true;
	}
	return pfn == W.mm->pgd || pfn == pte_pfn(MM_BK_READ(pt_va(mm, mm->pgd)->e[0]));
}

/*
 * TO1 at the instant of the access: after the scheduling point, before the
 * memory is touched.  Also the reads-from feedback for table memory, which
 * lives outside the simulator's arena.
 */
static BOOKKEEPING void on_access(void *ctx, u32 site, const volatile void *p, unsigned size, bool write)
{
	int pfn;
	struct fiber_state *fa = me();
	if (fa->acc_armed && p == &W.mm->pages[fa->acc_pfn]._refcount.counter)
		check_data_access(W.mm, fa);
	if ((uintptr_t)p < 4096) {
		char nul[128];
		snprintf(nul, sizeof(nul), "vCPU %d %s through a NULL pointer: per-CPU state the flush backend's "
			 "init never allocated", smp_processor_id(), write ? "stored" : "loaded");
		oracle_backend_init(nul);
	}
	if (!pt_pool_owns(&pool, p, &pfn))
		return;
	const struct ptdesc *d = &pool.desc[pfn];
	char what[160];
	if (d->type == PT_FREE) {
#ifndef PV_TLB_ASAN
		snprintf(what, sizeof(what), "%s of table pfn %d after it was freed", write ? "store" : "load", pfn);
		oracle_table_uaf(what);
#endif
		return; /* ASan builds: ASan reports the access itself */
	}
	size_t word = (size_t)((const u8 *)p - (const u8 *)pool.slab) / 8 % (PT_POOL_PAGES * PTRS_PER_TABLE);
	if (write) {
		W.rf_site[word] = site;
		W.rf_fiber[word] = (u8)(sim_self() + 1);
	} else {
		u32 h = W.rf_site[word] * 0x9E3779B1u ^ site * 0x85EBCA77u;
		h ^= W.rf_fiber[word] == (u8)(sim_self() + 1) ? 0x5bd1e995u : 0;
		sim_feature(h);
	}
	struct fiber_state *f = me();
	for (int i = 0; i < f->nref; i++) {
		if (f->ref[i].pfn != pfn)
			continue;
		if (f->ref[i].gen != d->gen) {
			snprintf(what, sizeof(what), "walker %s table pfn %d through a pointer of generation %u; "
				 "the page was freed and reused (generation %u)", write ? "stored to" : "loaded",
				 pfn, f->ref[i].gen, d->gen);
			oracle_table_uaf(what);
		}
		if (!table_linked(W.mm, pfn))
			near_miss(NM_WALK_UNLINKED, site & 0xff);
	}
}

#ifdef PV_TLB_ASAN
/* ASan's report on a freed table ends the run: still print the trace hash
 * (an error-report callback, so libFuzzer's death callback keeps saving the input) */
static void print_hash_on_report(const char *report)
{
	fprintf(stderr, "==pvfuzz== trace-hash %016llx\n", (unsigned long long)sim_trace_hash());
}
#endif

/* ----------------------------------------------------------- host side -- */

static void on_host_preempt(void *ctx, int cpu, bool preempted)
{
	/* fiber i runs on vCPU i */
	if (preempted && (W.fs[cpu].irqoff || W.fs[cpu].rcu))
		near_miss(NM_PREEMPT_IN_WALK, (u32)cpu);
	W.running[cpu] = !preempted;
	struct kvm_vcpu_st *vst = &W.mm->cpu[cpu].kvm;
	if (preempted) {
		/*
		 * The exit that deschedules a vCPU in guest mode is the host's
		 * interrupt, at an instruction boundary, unless a user access is
		 * in flight: then it is an exit inside the instruction (an EPT
		 * violation, say), which a KVM-like host completes by emulation.
		 * Inside the vCPU thread's host code the last exit's value
		 * stands, as in KVM.
		 */
		u8 *insn = &W.mm->cpu[cpu].insn;
		if (!W.in_host[cpu])
			vst->at_instruction_boundary = MM_BK_READ(*insn) != MM_INSN_INFLIGHT;
		if (MM_BK_READ(*insn) == MM_INSN_INFLIGHT) {
			near_miss(NM_PREEMPT_IN_INSN, (u32)cpu);
			if (W.mm->flush->host_emulates_insn)
				MM_BK_WRITE(*insn, MM_INSN_EMULATED);
		}
		W.preempted_at[cpu] = sim_step();
	} else {
		vst->run_delay += sim_step() - W.preempted_at[cpu]; /* the scheduler's sched_info */
	}
	if (preempted && W.mm->flush->host_vcpu_put)
		W.mm->flush->host_vcpu_put(W.mm, cpu);
	if (!preempted && W.mm->flush->host_vcpu_entry)
		W.mm->flush->host_vcpu_entry(W.mm, cpu);
}

/*
 * The resumed vCPU's thread before VM entry, on its own task with
 * scheduling points (record_steal_time: other vCPUs' flushes can read and
 * cmpxchg the preempted byte between its steps).
 */
static void on_vcpu_resume(void *ctx, int cpu)
{
	if (!W.mm->flush->host_vcpu_run)
		return;
	W.in_host[cpu] = true;
	W.mm->flush->host_vcpu_run(W.mm, cpu);
	W.in_host[cpu] = false;
}

static u64 on_exit(void *ctx, int cpu, enum pv_exit_reason r, u64 a0, u64 a1)
{
	if (r == PV_EXIT_HYPERCALL && W.mm->flush->host_hypercall)
		return W.mm->flush->host_hypercall(W.mm, cpu, a0, a1);
	return (u64)-1;
}

static void on_event(void *ctx, enum sim_event ev, u8 arg)
{
	if (ev == SIM_EV_SCENARIO && (arg & 0x80))
		W.preempt_in_walk[(arg & 3) % W.nr_cpus] = 8u * (((arg >> 2) & 31) + 1);
	else if (ev == SIM_EV_SCENARIO && (arg & 0x40))
		W.preempt_in_insn[(arg & 3) % W.nr_cpus] = 8u * (((arg >> 2) & 15) + 1);
	else if (ev == SIM_EV_SCENARIO)
		W.fail_next += 1 + (arg & 3);
	else if (ev == SIM_EV_SCENARIO2)
		sim_ipi_hold(arg & 3, 4u * (arg >> 2));
}

/* -------------------------------------------------------------- fibers -- */

/*
 * A syscall's contract at its return: every translation superseded by the
 * time it began, and the one in force then if the call changed it, is gone
 * from every TLB (whoever else is mid-flush).  So from the return on, a TLB
 * entry older than that counts as stale, as after a flush.
 */
static BOOKKEEPING void syscall_range(int lo, int hi, bool enter)
{
	struct fiber_state *f = me();
	/* another mmu_gather in flight at entry or return: overlapping mutators */
	int pending = MM_BK_READ(W.mm->tlb_flush_pending.counter);
	if (pending)
		near_miss(NM_SYSCALL_OVERLAP, (u32)(pending << 5 | enter << 4 | (lo / PTRS_PER_TABLE)));
	for (int v = lo; v < hi && v < MM_NR_VPN; v++) {
		if (enter) {
			f->sys_snap[v] = W.ver[v];
			continue;
		}
		u32 gone = W.ver[v] > f->sys_snap[v] ? f->sys_snap[v] + 1 : f->sys_snap[v];
		if (gone > W.flushed_ver[v]) {
			near_miss(NM_SYSCALL_UNFLUSHED, (u32)v);
			W.flushed_ver[v] = gone;
		}
	}
}

/* the op byte's bit 7: the scheduler wants the CPU at the op's cond_resched() points */
static BOOKKEEPING bool h_need_resched(struct mm_struct *mm)
{
	return W.resched[sim_self() < 0 ? 0 : sim_self()];
}

static void mutator_op(struct mm_struct *mm, u8 b)
{
	W.resched[sim_self()] = b >> 7;
	int region = (b >> 3) & 3, vpn = (b >> 3) & 15;
	int lo = region * PTRS_PER_TABLE, hi = lo + PTRS_PER_TABLE;
	int nr = 1 + ((b >> 5) & 1);
	switch (b & 7) {
	case 3:
		W.fail_next++;
		/* fall through */
	case 0:
		syscall_range(lo, lo + nr * PTRS_PER_TABLE, true);
		munmap_regions(mm, region, nr);
		syscall_range(lo, lo + nr * PTRS_PER_TABLE, false);
		for (int r = region; r < region + nr && r < PTRS_PER_TABLE; r++)
			mm_map_region(mm, r);
		break;
	case 1:
		syscall_range(vpn, vpn + 1, true);
		change_pte(mm, vpn);
		syscall_range(vpn, vpn + 1, false);
		break;
	case 2:
		collapse_region(mm, region, (b >> 5) & 3);
		break;
	case 4:
	case 6:
		syscall_range(lo, hi, true);
		madvise_dontneed(mm, region);
		syscall_range(lo, hi, false);
		if ((b & 7) == 6)
			mm_map_region(mm, region); /* the task touches it again */
		break;
	case 5:
	case 7: {
		bool ro = !(W.prot_ro >> region & 1);
		W.prot_ro ^= (u8)(1u << region);
		syscall_range(lo, hi, true);
		mprotect_region(mm, region, !ro);
		syscall_range(lo, hi, false);
		break;
	}
	}
}

static void mutator_fiber(void *arg)
{
	struct mm_struct *mm = W.mm;
	int m = *(int *)arg;
	for (int i = 0; i < W.mut_ops; i++) {
		mutator_op(mm, W.mut_op[m][i]);
		rcu_quiescent_state(mm);
	}
	/*
	 * Let deferred frees happen while the workers still run: wait out a
	 * grace period (its callbacks run), then give way a few times.
	 */
	synchronize_rcu(mm);
	for (int k = 0; k < 4; k++)
		cond_resched();
	W.mutators_left--;
	rcu_idle_enter(mm); /* this vCPU now idles: an extended quiescent state */
}

/* a walk; the caller then uses the pinned pages (I/O: it gives way) for `hold` rounds */
static void walk_op(struct mm_struct *mm, int vpn, int hold)
{
	int pfns[PTRS_PER_TABLE];
	int nr = PTRS_PER_TABLE - vpn_pte_index(vpn); /* to the end of the pte table */
	u64 s0 = sim_step();
	int got = mm->walker->walk(mm, vpn, nr, pfns);
	if (!mm->walker->grabs)
		return;
	for (int i = 0; i < got; i++) {
		char what[192];
		if (!mapped_since(vpn + i, pfns[i], s0)) {
			snprintf(what, sizeof(what), "walker returned page %d for vpn %d: not its mapping at any "
				 "instant since the walk began (step %llu)", pfns[i], vpn + i, (unsigned long long)s0);
			oracle_walker_linearizable(what);
		}
		/* the caller's reference must be on vpn's page, not on a recycled one */
		struct fiber_state *f = me();
		if (f->grab_recycled[vpn + i] && !mapped_since(vpn + i, pfns[i], f->grab_step[vpn + i])) {
			snprintf(what, sizeof(what), "walker returned page %d for vpn %d: its reference was taken "
				 "(step %llu) after the page was freed (step %llu) since vpn %d last mapped it", pfns[i],
				 vpn + i, (unsigned long long)f->grab_step[vpn + i],
				 (unsigned long long)W.freed_at[pfns[i]] - 1, vpn + i);
			oracle_walker_linearizable(what);
		}
		if (W.discarded >> pfns[i] & 1) {
			snprintf(what, sizeof(what), "walker returned page %d for vpn %d, which a collapse found "
				 "unpinned and discarded", pfns[i], vpn + i);
			oracle_walker_linearizable(what);
		}
		W.held[pfns[i]]++;
	}
	for (int k = 0; k < hold; k++)
		cond_resched(); /* the caller does I/O on the pinned pages */
	for (int i = 0; i < got; i++) {
		W.held[pfns[i]]--;
		put_page(mm, pfns[i]);
	}
}

static void worker_op(struct mm_struct *mm, u8 b)
{
	int vpn = (b >> 2) & 15;
	int hold = 1 << (2 * (b >> 6)); /* 1, 4, 16 or 64 rounds */
	switch (b & 3) {
	case 0:
		walk_op(mm, vpn, hold);
		break;
	case 1:
		mm_user_access(mm, vpn, b >> 6 & 1);
		break;
	case 2:
		enter_lazy_tlb(mm);
		for (int k = 0; k <= (vpn & 7); k++) {
			for (int r = 0; r < PTRS_PER_TABLE; r++)
				mm_speculative_walk(mm, r * PTRS_PER_TABLE);
			rcu_quiescent_state(mm);
			cpu_relax();
		}
		switch_mm_back(mm);
		break;
	case 3:
		mm_user_access(mm, vpn, false);
		walk_op(mm, vpn, hold);
		break;
	}
}

static void worker_fiber(void *arg)
{
	struct mm_struct *mm = W.mm;
	int cpu = *(int *)arg;
	u8 last = 0;
	for (int i = 0; i < W.work_ops; i++) {
		last = W.work_op[cpu][i];
		if (i == W.work_ops - 1 && (last & 3) == 2)
			break; /* a final lazy period is the idle loop below */
		worker_op(mm, last);
		rcu_quiescent_state(mm);
	}
	/*
	 * Then the task keeps doing its last access pattern until the mutator
	 * is done (after a lazy period: the idle task, lazy on the old mm,
	 * walking speculatively); every round is an IRQ-enabled point that
	 * takes IPIs and reports a quiescent state.
	 */
	bool idle_lazy = (last & 3) == 2;
	if (idle_lazy)
		enter_lazy_tlb(mm); /* the idle task runs lazily on the old mm */
	while (W.mutators_left) {
		if (idle_lazy)
			for (int r = 0; r < PTRS_PER_TABLE; r++)
				mm_speculative_walk(mm, r * PTRS_PER_TABLE);
		else
			worker_op(mm, last);
		rcu_quiescent_state(mm);
		cpu_relax();
	}
	if (idle_lazy)
		switch_mm_back(mm);
	rcu_quiescent_state(mm);
}

/*
 * TO8, at the end of a run in which every task finished: each data page is
 * referenced exactly once per present pte of a linked table.  Every walker's
 * pin has been put by then (walk_op puts what it was given), so a count
 * above the mappings is a reference someone took and never put (a walker
 * that dropped out after its speculative grab), one below them a put too
 * many.  Read after every store buffer drained (sim_settle).
 */
static BOOKKEEPING void check_page_refs(struct mm_struct *mm)
{
	int maps[MM_DATA_PAGES] = { 0 };
	for (int r = 0; r < PTRS_PER_TABLE; r++) {
		u64 pmd = MM_BK_READ(*pmd_entry_ptr(mm, r));
		if (!pte_present(pmd))
			continue;
		const struct pt_page *t = pt_va(mm, pte_pfn(pmd));
		for (int i = 0; i < PTRS_PER_TABLE; i++) {
			u64 pte = MM_BK_READ(t->e[i]);
			if (pte_present(pte) && pte_pfn(pte) < MM_DATA_PAGES)
				maps[pte_pfn(pte)]++;
		}
	}
	for (int p = 0; p < MM_DATA_PAGES; p++) {
		int ref = MM_BK_READ(mm->pages[p]._refcount.counter);
		if (ref == maps[p])
			continue;
		char what[128];
		snprintf(what, sizeof(what), "page %d has %d references and %d mappings after every task "
			 "finished: a reference %s", p, ref, maps[p], ref > maps[p] ? "never put" : "put twice");
		oracle_page_refs(what);
		return;
	}
}

/* ------------------------------------------------------------ scenario -- */

void tlb_scenario_run(const struct tlb_roles *roles, const char *label, struct fdp *in)
{
	static bool once;
	if (!once) {
		pt_pool_init(&pool);
		pool_ops = pt_pool_ops_of(&pool);
#ifdef PV_TLB_ASAN
		__asan_set_error_report_callback(print_hash_on_report);
#endif
		once = true;
	}
	struct sim_config cfg = { 0 };
	/*
	 * The mode byte picks the schedule kind and x86-TSO store buffers:
	 * ground truth follows a store's visibility (on_commit), so only the
	 * kernel's own fences keep mainline clean.
	 */
	u8 mode = fdp_u8(in, 0);
	cfg.mode = mode & (SIM_MODE_SPARSE | SIM_MODE_TSO);
	u8 shape = fdp_u8(in, 0x15);
	u8 fail = fdp_u8(in, 0);
	cfg.nr_cpus = 2 + (shape & 3) % 3;
	cfg.change_span = 256; /* most runs end within a few hundred steps */
	cfg.on_event = on_event;
	cfg.on_exit = on_exit;
	cfg.on_host_preempt = on_host_preempt;
	/* only hosts with vCPU-thread code take the resume path (others replay as before) */
	cfg.on_vcpu_resume = roles->flush->host_vcpu_run ? on_vcpu_resume : NULL;
	cfg.on_access = on_access;
	cfg.on_commit = on_commit;
	cfg.variant = label;

	memset(&W, 0, sizeof(W));
	W.in = in;
	W.nr_cpus = cfg.nr_cpus;
	W.mut_ops = 1 + ((shape >> 2) & 3);
	W.work_ops = 1 + ((shape >> 4) & 3);
	W.mutators = 1 + ((shape >> 6) & 1);
	W.mutators_left = W.mutators;
	W.fail_mask = fail;
	W.cpumask_fails = mode >> 7;
	for (int c = 0; c < MM_MAX_CPUS; c++)
		W.running[c] = true;
	for (int v = 0; v < MM_NR_VPN; v++)
		W.cur_map[v] = -1;
	/* every op byte at a fixed offset, whatever the schedule */
	for (int m = 0; m < 2; m++)
		for (int i = 0; i < W.mut_ops; i++)
			W.mut_op[m][i] = fdp_u8(in, 0);
	for (int c = 1; c < W.nr_cpus; c++)
		for (int i = 0; i < W.work_ops; i++)
			W.work_op[c][i] = fdp_u8(in, 0);

	sim_reset(&cfg, in);
	pt_pool_reset(&pool);

	W.hooks = (struct mm_hooks){
		.ref_version = h_ref_version, /* the mapping itself: on_commit */
		.table_ref = h_table_ref, .section = h_section, .grab = h_grab, .ipi = h_ipi,
		.quiescent = h_quiescent, .flush_begin = h_flush_begin, .flush_end = h_flush_end,
		.tlb_use = h_tlb_use, .psc_use = h_psc_use, .page_freed = h_page_freed,
		.discard = h_discard, .batch_alloc_fails = h_batch_alloc_fails,
		.vcpu_running = h_vcpu_running, .need_resched = h_need_resched,
		.cpumask_alloc_fails = h_cpumask_alloc_fails, .user_translated = h_user_translated,
	};
	struct mm_struct *mm = sim_shared_alloc(sizeof(*mm), 64);
	W.mm = mm;
	mm->flush = roles->flush;
	mm->free = roles->free;
	mm->walker = roles->walker;
	mm->mut = roles->mutator;
	if (mm_init(mm, cfg.nr_cpus, &pool_ops, &W.hooks) < 0)
		return;
	mm_guest_init(mm); /* boot: the backend installs itself, or native stays */
	for (int r = 0; r < PTRS_PER_TABLE; r++)
		mm_map_region(mm, r);

	/* mutator m on vCPU m, workers on the others */
	static const char *const mnames[] = { "mutator", "mutator1" };
	for (int m = 0; m < W.mutators; m++) {
		W.mut_arg[m] = m;
		sim_pin(sim_spawn(mnames[m], mutator_fiber, &W.mut_arg[m], m, true));
	}
	static const char *const names[] = { "cpu0", "worker1", "worker2", "worker3" };
	for (int c = W.mutators; c < cfg.nr_cpus; c++) {
		W.cpu_arg[c] = c;
		sim_pin(sim_spawn(names[c], worker_fiber, &W.cpu_arg[c], c, true));
	}
	sim_run();
	if (sim_run_completed() && !pv_last_finding.hit) {
		sim_settle();
		check_page_refs(mm);
	}
}
