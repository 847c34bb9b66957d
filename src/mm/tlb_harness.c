// SPDX-License-Identifier: MIT
/*
 * The TLB-flush / page-table-freeing scenario in the simulator.
 *
 * vCPU0 runs the mutator (munmap+mmap, remap, collapse) through the selected
 * flush backend and free path; vCPUs 1.. run workers (the selected lockless
 * walker, user accesses through the TLB, lazy-TLB periods with speculative
 * walks) and then an idle loop that takes IPIs and reports quiescent states.
 * Every task is pinned to its vCPU (preempt_disable), as per-CPU work is.
 *
 * Input head (front), each byte defaulting when the input runs out:
 *   mode    bit 0: sparse schedule instead of PCT (other sim modes are off)
 *   shape   vCPUs 2-4 | mutator ops 1-4 | worker ops 1-4
 *   fail    bit k: the k-th table-batch page allocation fails (GFP_NOWAIT)
 *   then, lazily, one byte per mutator/worker op:
 *     mutator: kind = b & 3: 0 munmap+mmap region (b>>2)&3, 1 remap vpn
 *              (b>>2)&15, 2 collapse region, 3 munmap+mmap with the batch
 *              allocation failing
 *     worker:  kind = b & 3: 0 walk vpn (b>>2)&15, 1 user access, 2 lazy
 *              period of 1+((b>>2)&7) rounds of speculative walks, 3 access
 *              then walk
 * Tail events: SIM_EV_HOST_PREEMPT (also inside walker sections),
 * SIM_EV_SCENARIO (the next 1+(arg&3) batch allocations fail),
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
#include <sanitizer/common_interface_defs.h>
#endif

#define LOGN 32
#define MAX_REFS 4

struct fiber_state {
	int irqoff, rcu;
	struct { int pfn; u32 gen; } ref[MAX_REFS];
	int nref;
	u32 snap[MM_NR_VPN];
};

struct tlb_world {
	struct mm_struct *mm;
	struct mm_hooks hooks;
	struct fdp *in;
	int nr_cpus, mut_ops, work_ops;
	u8 fail_mask;
	int nbatch, fail_next;
	bool running[MM_MAX_CPUS];
	bool mutator_done;
	/* ground truth */
	int cur_map[MM_NR_VPN];
	u32 ver[MM_NR_VPN];
	u32 flushed_ver[MM_NR_VPN];
	struct { u64 step; int pfn; } log[MM_NR_VPN][LOGN];
	int nlog[MM_NR_VPN];
	u64 discarded;
	int held[MM_DATA_PAGES];
	struct fiber_state fs[SIM_MAX_FIBERS];
	int cpu_arg[MM_MAX_CPUS];
};

static struct tlb_world W;
static struct pt_pool pool;
static struct pt_alloc_ops pool_ops;

static struct fiber_state *me(void)
{
	return &W.fs[sim_self() < 0 ? 0 : sim_self()];
}

/* ------------------------------------------------------- ground truth -- */

static void h_mapping_changed(struct mm_struct *mm, int vpn, int n)
{
	for (int v = vpn; v < vpn + n && v < MM_NR_VPN; v++) {
		int m = mm_ref_lookup(mm, v);
		if (m == -2) {
			char what[96];
			snprintf(what, sizeof(what), "vpn %d: a pmd now points at a page that is not a live pte table", v);
			oracle_table_uaf(what);
		}
		if (m == W.cur_map[v])
			continue;
		W.cur_map[v] = m;
		W.ver[v]++;
		int k = W.nlog[v]++ % LOGN;
		W.log[v][k].step = sim_step();
		W.log[v][k].pfn = m;
	}
}

static u32 h_ref_version(struct mm_struct *mm, int vpn)
{
	return W.ver[vpn];
}

/* was vpn mapped to pfn at some instant in [from, now]? */
static bool mapped_since(int vpn, int pfn, u64 from)
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

static void h_table_ref(struct mm_struct *mm, int pfn)
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
}

static void h_section(struct mm_struct *mm, enum mm_section kind, bool enter)
{
	struct fiber_state *f = me();
	int *depth = kind == MM_SEC_IRQOFF ? &f->irqoff : &f->rcu;
	*depth += enter ? 1 : -1;
	if (!enter && !f->irqoff && !f->rcu)
		f->nref = 0;
}

static void h_grab(struct mm_struct *mm, int vpn, int pfn)
{
	if (mm->page_free >> pfn & 1) {
		char what[128];
		snprintf(what, sizeof(what), "walker took a reference on page %d (vpn %d) while it was free: "
			 "refcount raised from zero", pfn, vpn);
		oracle_refcount_zero(what);
	}
}

static void h_ipi(struct mm_struct *mm)
{
	struct fiber_state *f = me();
	if (f->irqoff) {
		char what[96];
		snprintf(what, sizeof(what), "vCPU %d handled an IPI inside an IRQ-off walker section",
			 smp_processor_id());
		oracle_irq_discipline(what);
	}
}

static void h_quiescent(struct mm_struct *mm)
{
	struct fiber_state *f = me();
	if (f->irqoff || f->rcu || mm->cpu[smp_processor_id()].rcu_nesting || sim_in_ipi()) {
		char what[96];
		snprintf(what, sizeof(what), "vCPU %d reported a quiescent state inside a read-side section",
			 smp_processor_id());
		oracle_irq_discipline(what);
	}
}

static void flush_range(int start, int end, int *lo, int *hi)
{
	*lo = start == TLB_FLUSH_ALL ? 0 : start;
	*hi = start == TLB_FLUSH_ALL || end == TLB_FLUSH_ALL ? MM_NR_VPN : end;
	if (*hi > MM_NR_VPN)
		*hi = MM_NR_VPN;
}

static void h_flush_begin(struct mm_struct *mm, int start, int end)
{
	int lo, hi;
	flush_range(start, end, &lo, &hi);
	for (int v = lo; v < hi; v++)
		me()->snap[v] = W.ver[v];
}

static void h_flush_end(struct mm_struct *mm, int start, int end)
{
	int lo, hi;
	flush_range(start, end, &lo, &hi);
	for (int v = lo; v < hi; v++)
		if (me()->snap[v] > W.flushed_ver[v])
			W.flushed_ver[v] = me()->snap[v];
}

static void h_tlb_use(struct mm_struct *mm, int cpu, const struct tlb_entry *e)
{
	char what[160];
	if (mm->page_free >> e->pfn & 1) {
		snprintf(what, sizeof(what), "vCPU %d used its TLB entry vpn %d -> page %d after the page was freed",
			 cpu, e->vpn, e->pfn);
		oracle_stale_tlb(what);
	}
	if (e->ver < W.flushed_ver[e->vpn]) {
		snprintf(what, sizeof(what), "vCPU %d used TLB entry vpn %d -> page %d (mapping v%u) after a flush "
			 "covering mapping v%u returned", cpu, e->vpn, e->pfn, e->ver, W.flushed_ver[e->vpn]);
		oracle_stale_tlb(what);
	}
}

static void h_psc_use(struct mm_struct *mm, int cpu, int pfn, u32 gen)
{
	const struct ptdesc *d = pt_desc(mm, pfn);
	if (d->type != PT_PTE || d->gen != gen) {
		char what[160];
		snprintf(what, sizeof(what), "vCPU %d hit a paging-structure-cache entry for table pfn %d gen %u: "
			 "the page is %s", cpu, pfn, gen,
			 d->type == PT_FREE ? "freed" : "reused (new generation)");
		oracle_stale_psc(what);
	}
}

static void h_page_freed(struct mm_struct *mm, int pfn)
{
	W.discarded &= ~(1ULL << pfn);
}

static void h_discard(struct mm_struct *mm, int pfn)
{
	if (W.held[pfn]) {
		char what[128];
		snprintf(what, sizeof(what), "collapse discarded page %d (found unpinned) while a walker's "
			 "caller holds it as its result", pfn);
		oracle_walker_linearizable(what);
	}
	W.discarded |= 1ULL << pfn;
}

static bool h_batch_alloc_fails(struct mm_struct *mm)
{
	int k = W.nbatch++;
	if (W.fail_next > 0) {
		W.fail_next--;
		sim_note("batch-alloc-fails", (u64)k);
		return true;
	}
	if (k < 8 && (W.fail_mask >> k & 1)) {
		sim_note("batch-alloc-fails", (u64)k);
		return true;
	}
	return false;
}

static bool h_vcpu_running(struct mm_struct *mm, int cpu)
{
	return W.running[cpu];
}

/* TO1 at the instant of the access: after the scheduling point, before memory */
static void on_access(void *ctx, const volatile void *p, unsigned size, bool write)
{
	int pfn;
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
	struct fiber_state *f = me();
	for (int i = 0; i < f->nref; i++)
		if (f->ref[i].pfn == pfn && f->ref[i].gen != d->gen) {
			snprintf(what, sizeof(what), "walker %s table pfn %d through a pointer of generation %u; "
				 "the page was freed and reused (generation %u)", write ? "stored to" : "loaded",
				 pfn, f->ref[i].gen, d->gen);
			oracle_table_uaf(what);
		}
}

#ifdef PV_TLB_ASAN
static void print_hash_on_death(void)
{
	fprintf(stderr, "==pvfuzz== trace-hash %016llx\n", (unsigned long long)sim_trace_hash());
}
#endif

/* ----------------------------------------------------------- host side -- */

static void on_host_preempt(void *ctx, int cpu, bool preempted)
{
	W.running[cpu] = !preempted;
	if (preempted && W.mm->flush->host_vcpu_put)
		W.mm->flush->host_vcpu_put(W.mm, cpu);
	if (!preempted && W.mm->flush->host_vcpu_entry)
		W.mm->flush->host_vcpu_entry(W.mm, cpu);
}

static u64 on_exit(void *ctx, int cpu, enum pv_exit_reason r, u64 a0, u64 a1)
{
	if (r == PV_EXIT_HYPERCALL && W.mm->flush->host_hypercall)
		return W.mm->flush->host_hypercall(W.mm, cpu, a0, a1);
	return (u64)-1;
}

static void on_event(void *ctx, enum sim_event ev, u8 arg)
{
	if (ev == SIM_EV_SCENARIO)
		W.fail_next += 1 + (arg & 3);
	else if (ev == SIM_EV_SCENARIO2)
		sim_ipi_hold(arg & 3, 4u * (arg >> 2));
}

/* -------------------------------------------------------------- fibers -- */

static void mutator_fiber(void *arg)
{
	struct mm_struct *mm = W.mm;
	preempt_disable();
	for (int i = 0; i < W.mut_ops; i++) {
		u8 b = fdp_u8(W.in, 0);
		int region = (b >> 2) & 3, vpn = (b >> 2) & 15;
		switch (b & 3) {
		case 3:
			W.fail_next++;
			/* fall through */
		case 0:
			unmap_region(mm, region, true);
			mm_map_region(mm, region);
			break;
		case 1:
			change_pte(mm, vpn);
			break;
		case 2:
			collapse_region(mm, region);
			break;
		}
		rcu_quiescent_state(mm);
	}
	W.mutator_done = true;
	preempt_enable();
}

static void walk_op(struct mm_struct *mm, int vpn)
{
	u64 s0 = sim_step();
	int pfn = mm->walker->walk(mm, vpn);
	if (pfn < 0 || !mm->walker->grabs)
		return;
	if (!mapped_since(vpn, pfn, s0)) {
		char what[128];
		snprintf(what, sizeof(what), "walker returned page %d for vpn %d: not its mapping at any instant "
			 "since the walk began (step %llu)", pfn, vpn, (unsigned long long)s0);
		oracle_walker_linearizable(what);
	}
	if (W.discarded >> pfn & 1) {
		char what[128];
		snprintf(what, sizeof(what), "walker returned page %d for vpn %d, which a collapse found unpinned "
			 "and discarded", pfn, vpn);
		oracle_walker_linearizable(what);
	}
	W.held[pfn]++;
	sim_yield("caller uses the pinned page");
	W.held[pfn]--;
	put_page(mm, pfn);
}

static void worker_fiber(void *arg)
{
	struct mm_struct *mm = W.mm;
	preempt_disable();
	for (int i = 0; i < W.work_ops; i++) {
		u8 b = fdp_u8(W.in, 0);
		int vpn = (b >> 2) & 15;
		switch (b & 3) {
		case 0:
			walk_op(mm, vpn);
			break;
		case 1:
			mm_user_access(mm, vpn, false);
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
			walk_op(mm, vpn);
			break;
		}
		rcu_quiescent_state(mm);
	}
	/* the idle loop: takes IPIs, reports quiescent states */
	while (!W.mutator_done) {
		rcu_quiescent_state(mm);
		cpu_relax();
	}
	rcu_quiescent_state(mm);
	preempt_enable();
}

/* ------------------------------------------------------------ scenario -- */

void tlb_scenario_run(const struct tlb_flush_ops *flush, const struct tlb_free_ops *free,
		      const struct walker_ops *walker, const char *label, struct fdp *in)
{
	static bool once;
	if (!once) {
		pt_pool_init(&pool);
		pool_ops = pt_pool_ops;
		pool_ops.ctx = &pool;
#ifdef PV_TLB_ASAN
		__sanitizer_set_death_callback(print_hash_on_death);
#endif
		once = true;
	}
	struct sim_config cfg = { 0 };
	/*
	 * Only the schedule kind comes from the mode byte: ground truth is
	 * taken when a page-table store issues, so TSO store buffers (which
	 * would make it visible later) stay off here (docs/tlb-gaps.md).
	 */
	cfg.mode = fdp_u8(in, 0) & SIM_MODE_SPARSE;
	u8 shape = fdp_u8(in, 0x15);
	u8 fail = fdp_u8(in, 0);
	cfg.nr_cpus = 2 + (shape & 3) % 3;
	cfg.on_event = on_event;
	cfg.on_exit = on_exit;
	cfg.on_host_preempt = on_host_preempt;
	cfg.on_access = on_access;
	cfg.variant = label;

	memset(&W, 0, sizeof(W));
	W.in = in;
	W.nr_cpus = cfg.nr_cpus;
	W.mut_ops = 1 + ((shape >> 2) & 3);
	W.work_ops = 1 + ((shape >> 4) & 3);
	W.fail_mask = fail;
	for (int c = 0; c < MM_MAX_CPUS; c++)
		W.running[c] = true;
	for (int v = 0; v < MM_NR_VPN; v++)
		W.cur_map[v] = -1;

	sim_reset(&cfg, in);
	pt_pool_reset(&pool);

	W.hooks = (struct mm_hooks){
		.mapping_changed = h_mapping_changed, .ref_version = h_ref_version,
		.table_ref = h_table_ref, .section = h_section, .grab = h_grab, .ipi = h_ipi,
		.quiescent = h_quiescent, .flush_begin = h_flush_begin, .flush_end = h_flush_end,
		.tlb_use = h_tlb_use, .psc_use = h_psc_use, .page_freed = h_page_freed,
		.discard = h_discard, .batch_alloc_fails = h_batch_alloc_fails,
		.vcpu_running = h_vcpu_running,
	};
	struct mm_struct *mm = sim_shared_alloc(sizeof(*mm), 64);
	W.mm = mm;
	mm->flush = flush;
	mm->free = free;
	mm->walker = walker;
	if (mm_init(mm, cfg.nr_cpus, &pool_ops, &W.hooks) < 0)
		return;
	for (int r = 0; r < PTRS_PER_TABLE; r++)
		mm_map_region(mm, r);

	sim_spawn("mutator", mutator_fiber, NULL, 0, true);
	static const char *const names[] = { "cpu0", "worker1", "worker2", "worker3" };
	for (int c = 1; c < cfg.nr_cpus; c++) {
		W.cpu_arg[c] = c;
		sim_spawn(names[c], worker_fiber, &W.cpu_arg[c], c, true);
	}
	sim_run();
}
