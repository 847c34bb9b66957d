// SPDX-License-Identifier: MIT
/*
 * The perf mmap page scenario in the simulator.  One perf event counts
 * cycles for a task pinned to vCPU 0 ("self"); the kernel (the writer
 * variant, in its x86 or arm64 world) rewrites the event's control page from
 * interrupts on vCPU 0: the context switch of the task, multiplexing
 * rotations, PERF_EVENT_IOC_PERIOD, ioctl disable/enable and the PMI when a
 * sampling counter overflows.  Another CPU moves the arm64 sched_clock epoch
 * or marks the x86 TSC unstable.  The task reads its own page with the
 * reader variant; a reader meant for other CPUs' pages (perf's TSC
 * conversion) also runs on vCPUs 1-3.
 *
 * Input head (front), each byte defaulting when the input runs out:
 *   mode     sim mode bits (sim.h); arm64 drops SKEW (the arch timer is
 *            synchronised by the architecture), x86 SKEW means the TSCs
 *            failed the sync check at boot: sched_clock is unstable
 *   shape    vCPUs 1-4 | cross readers 0-3 | reads per reader 1-4 |
 *            use_clockid | paravirt sched_clock (x86) / sched_clock on
 *            jiffies instead of the arch timer (arm64)
 *   kernel   actions 0-15 | period: counting, or sampling with an overflow
 *            every 256/1024/4096 steps | arm64: a chained 64-bit counter
 *   rate     counter ticks per 100 ns step: x86 64-319 (TSC), arm64 1-64
 *   width    arm64 counter width 32-64 bits
 *   phase    arm64 counter start: wraps after phase*48 steps (< 192), else
 *            somewhere in its range
 *   boot     how long before the run the clocks were set up
 *   skew[4]  per-vCPU TSC offsets (x86, SIM_MODE_SKEW only)
 *   then, lazily, per kernel action: an action byte (kind in bits 0-2,
 *   argument in 3-7) and a delay byte.
 *
 * Oracles
 *   at every publication (the even lock store becoming visible), against
 *   the kernel's own state at the instant the writer stored it:
 *     writer_discipline  lock not +1 per store, a field changed while lock is
 *                        even, time_shift > 31, capability bits the clock
 *                        does not allow, index inconsistent with the PMU
 *     continuity         time_enabled/time_running + time_offset + conv(cyc)
 *                        or offset + pmc are not the kernel's values (P3)
 *     reference          time_zero + conv(cyc) is not the kernel's perf clock (P2)
 *   on every accepted read:
 *     torn_snapshot      the fields it used are from no single generation
 *     reference          its results are not the page formula of the
 *                        generation it read, at a counter value it read (CO4)
 *     fallback           it used time_* (count) while cap_user_time(_zero)
 *                        (cap_user_rdpmc) of that generation said no (CO9, P4)
 *     plausibility       its timestamp, enabled/running or count is not the
 *                        kernel's at that instant (P2, P3; the task's own
 *                        reads only, for enabled/running/count)
 *     monotonic, linearizable  timestamps per reader and across readers
 *   liveness (CO7) from the simulator.
 *
 * Not judged: the enabled/running and count of a disabled event.  The
 * kernel leaves the page as it was at PERF_EVENT_IOC_DISABLE (neither
 * __perf_event_disable() nor pmu->del() rewrites it), so the documented
 * formula keeps adding time and index still names the counter, which a
 * rotation may hand to another event.  Nor is time past one counter wrap
 * after the page was written (the ABI cannot express it; a run is shorter
 * than the narrowest counter's wrap).
 */
#include <stdio.h>
#include <string.h>

#include "clock/perf_harness.h"
#include "oracle/oracle.h"
#include "sim/sim.h"

#define MAX_GENS 64
#define MAX_READERS 4
#define MAX_KSTATES 64
#define MAX_ISSUES 16
#define OFF_STEPS_MAX 32

/* One published page generation. */
struct pgen {
	u32 lock, index;
	s64 offset;
	u64 enabled, running, caps;
	u16 pmc_width, shift;
	u32 mult;
	u64 time_offset, zero, cycles, mask;
	u64 from, until; /* visible from this step until that one */
};

/* The PMU counter of vCPU 0: counts TSC ticks while running. */
struct pmc_hw {
	bool running, ours;
	u64 base, since;
	u32 gen;             /* programming count, for PMI bookkeeping */
};

/* The kernel's accounting at one instant (after an interrupt handler). */
struct kstate {
	u64 step;
	struct perf_event_model ev;
	struct perf_event_context ctx;
	struct pmc_hw pmc;
};

/* What the kernel holds true at one instant. */
struct ktruth {
	u64 step, tsc, raw, kclock, enabled, running;
	s64 count;
	bool accruing, active;
	bool time_ok, zero_ok;
};

struct preader {
	int id;
	bool self;
	bool rdpmc_called;
	u64 rdpmc_raw, rdpmc_step;
	bool have_last;
	u64 last_ts;
};

struct kaction {
	u8 kind, arg;
};

/* Boot-time clock constants: the line every later kernel clock stays on. */
struct kclock_boot {
	u32 mul, shift;      /* x86 cyc2ns / arm64 sched_clock */
	u64 cyc2ns_offset, sched_clock_offset;
	u64 epoch_ns, epoch_cyc, mask, which;
};

struct perf_world {
	const struct perf_reader_ops *rops;
	struct perf_writer_ops wops;
	struct perf_kernel *k;
	struct perf_event_mmap_page *page;
	struct perf_user_clock uc;
	struct fdp *in;
	u32 rate;
	u64 pmc_mask;
	u64 max_period;
	struct kclock_boot boot;
	struct pmc_hw pmc;
	int nr_reads, nr_cross, nr_actions;
	int epochs;                /* update_sched_clock()s so far */
	bool running;              /* the run is under way (not boot) */
	bool kernel_done, irq_busy;
	u32 pmi_gen;               /* the counter programming a PMI was raised for */
	struct kaction act;
	struct pgen gens[MAX_GENS];
	int ngens;
	struct kstate ks[MAX_KSTATES];
	int nks;
	struct ktruth issue[MAX_ISSUES];
	u32 nissued, ncommitted;
	struct ktruth open;        /* the kernel when the update in flight began */
	struct preader rd[MAX_READERS];
	int fiber_reader[SIM_MAX_FIBERS];
	u64 ts_hi;
};

static struct perf_world W;

/* ------------------------------------------------------------ clocks -- */

static u64 counter_of(u64 tsc)
{
	return (tsc + W.uc.offset) & W.uc.mask;
}

/* The kernel's perf clock at vCPU 0's TSC value tsc, on the boot epoch's line. */
static u64 kclock_truth(u64 tsc)
{
	const struct kclock_boot *b = &W.boot;

	if (W.k->arch == PERF_ARCH_X86)
		return mul_u64_u32_shr(tsc, b->mul, b->shift) + b->cyc2ns_offset + b->sched_clock_offset;
	u64 cyc = b->which == SCHED_CLOCK_ARCH_TIMER ? counter_of(tsc) : (tsc >> 20) & 0xffffffffULL;
	return b->epoch_ns + (u64)(((u128)((cyc - b->epoch_cyc) & b->mask) * b->mul) >> b->shift);
}

/*
 * x86 conversions are exact.  On arm64 each update_sched_clock() floors the
 * new epoch by up to 1 ns, and the page's conversion of (epoch_cyc + d)
 * minus that of epoch_cyc rounds by 1 more: allow one ns per epoch, plus one.
 */
static u64 slack(void)
{
	return W.k->arch == PERF_ARCH_X86 ? 0 : (u64)W.epochs + 1;
}

static u64 absdiff(u64 a, u64 b)
{
	return a > b ? a - b : b - a;
}

static u64 sext(u64 v, unsigned width)
{
	if (width == 0 || width >= 64)
		return v;
	return (u64)((s64)(v << (64 - width)) >> (64 - width));
}

/* --------------------------------------------------------- the PMU --- */

static u64 pmc_raw(const struct pmc_hw *p, u64 step)
{
	u64 v = p->base;
	if (p->running)
		v += (step - p->since) * W.rate;
	return v & W.pmc_mask;
}

static u64 w_pmc_read(struct perf_kernel *k)
{
	sim_yield("pmu: rdpmc");
	return pmc_raw(&W.pmc, sim_step());
}

static void w_pmc_start(struct perf_kernel *k, u64 raw)
{
	W.pmc.base = raw;
	W.pmc.since = sim_step();
	W.pmc.running = true;
	W.pmc.ours = true;
	W.pmc.gen++;
	if (sim_self() >= 0)
		sim_note("pmu: counter programmed", raw);
}

static void w_pmc_stop(struct perf_kernel *k)
{
	W.pmc.base = pmc_raw(&W.pmc, sim_step());
	W.pmc.running = false;
}

/* Multiplexing: the other event of the task holds the counter, counting from 0. */
static void other_event_takes_counter(void)
{
	W.pmc.base = 0;
	W.pmc.since = sim_step();
	W.pmc.running = true;
	W.pmc.ours = false;
	W.pmc.gen++;
}

/* rdpmc from user space: the counter of the CPU the task is on. */
static u64 w_rdpmc(const struct perf_user_clock *uc, u32 idx)
{
	sim_yield("user: rdpmc");
	u64 raw = 0;
	if (smp_processor_id() == 0 && idx == (u32)W.k->event.idx)
		raw = pmc_raw(&W.pmc, sim_step());
	int r = sim_self() >= 0 ? W.fiber_reader[sim_self()] : -1;
	if (r >= 0) {
		W.rd[r].rdpmc_called = true;
		W.rd[r].rdpmc_raw = raw;
		W.rd[r].rdpmc_step = sim_step();
	}
	sim_note("user: rdpmc returned", raw);
	return raw;
}

/* ------------------------------------------------- kernel ground truth -- */

static void kstate_push(void)
{
	struct kstate *s = &W.ks[W.nks % MAX_KSTATES];
	s->step = sim_step();
	s->ev = W.k->event;
	s->ctx = W.k->ctx;
	s->pmc = W.pmc;
	W.nks++;
}

/* The kernel's accounting in effect at step (the last handler to finish before it). */
static const struct kstate *kstate_at(u64 step)
{
	for (int n = W.nks - 1; n >= 0 && n >= W.nks - MAX_KSTATES; n--)
		if (W.ks[n % MAX_KSTATES].step <= step)
			return &W.ks[n % MAX_KSTATES];
	return &W.ks[(W.nks - 1) % MAX_KSTATES];
}

static void truth_from(const struct perf_event_model *ev, const struct perf_event_context *ctx,
		       const struct pmc_hw *pmc, u64 tsc, u64 step, struct ktruth *t)
{
	u64 now = kclock_truth(tsc);
	u64 ctx_time = ctx->is_active ? ctx->time + (now - ctx->timestamp) : ctx->time;
	u64 delta = ctx_time - ev->tstamp;

	t->step = step;
	t->tsc = tsc;
	t->kclock = now;
	t->accruing = ev->state >= PERF_EVENT_STATE_INACTIVE && ctx->is_active;
	t->active = ev->state == PERF_EVENT_STATE_ACTIVE;
	t->enabled = ev->total_time_enabled + ev->child_total_time_enabled +
		     (ev->state >= PERF_EVENT_STATE_INACTIVE ? delta : 0);
	t->running = ev->total_time_running + ev->child_total_time_running +
		     (ev->state >= PERF_EVENT_STATE_ACTIVE ? delta : 0);
	t->raw = pmc_raw(pmc, step);
	t->count = ev->count;
	if (t->active && pmc->ours)
		t->count = (s64)((u64)t->count + ((t->raw - ev->prev_count) & W.pmc_mask));
	struct perf_kernel *k = W.k;
	if (k->arch == PERF_ARCH_X86)
		t->time_ok = k->native_sched_clock && k->sched_clock_stable;
	else
		t->time_ok = W.boot.which == SCHED_CLOCK_ARCH_TIMER;
	t->zero_ok = t->time_ok && (k->arch != PERF_ARCH_X86 || !ev->use_clockid);
}

/* vCPU 0's TSC at step (it never changes rate in this scenario). */
static u64 tsc0_at(u64 step)
{
	return sim_cpu_tsc(0) - (sim_step() - step) * W.rate;
}

static u64 step_of_tsc0(u64 tsc)
{
	u64 now = sim_cpu_tsc(0);
	return tsc >= now ? sim_step() : sim_step() - (now - tsc) / W.rate;
}

/* ------------------------------------------------------ publications -- */

static void gen_from_page(struct pgen *g)
{
	const struct perf_event_mmap_page *p = W.page;
	g->index = p->index;
	g->offset = p->offset;
	g->enabled = p->time_enabled;
	g->running = p->time_running;
	g->caps = p->capabilities;
	g->pmc_width = p->pmc_width;
	g->shift = p->time_shift;
	g->mult = p->time_mult;
	g->time_offset = p->time_offset;
	g->zero = p->time_zero;
	g->cycles = p->time_cycles;
	g->mask = p->time_mask;
	g->from = sim_step();
	g->until = U64_MAX;
}

static u64 page_delta(const struct pgen *g, u64 base, u64 cyc)
{
	return ref_perf_time(base, cyc, g->mult, g->shift, g->caps & PERF_CAP_USER_TIME_SHORT, g->cycles,
			     g->mask);
}

/* P2/P3 and the capability contract for generation n, against the kernel at its store. */
static void publish_check(int n, const struct pgen *g, const struct ktruth *t)
{
	char what[224];
	bool time = g->caps & PERF_CAP_USER_TIME, zero = g->caps & PERF_CAP_USER_TIME_ZERO;
	u64 cyc = counter_of(t->tsc);

	if ((time || zero) && g->shift > 31) {
		snprintf(what, sizeof(what), "generation %d publishes time_shift %u: the original "
			 "documented conversion shifts a 32-bit value, so writers keep it <= 31", n, g->shift);
		oracle_writer_discipline(what);
	}
	if (time && !t->time_ok) {
		snprintf(what, sizeof(what), "generation %d sets cap_user_time although perf_clock is not "
			 "the counter user space reads (%s)", n,
			 W.k->arch == PERF_ARCH_ARM64 ? "sched_clock is not the arch timer"
			 : !W.k->native_sched_clock ? "paravirt sched_clock" : "sched_clock unstable");
		oracle_writer_discipline(what);
	}
	if (zero && !t->zero_ok) {
		snprintf(what, sizeof(what), "generation %d sets cap_user_time_zero although %s", n,
			 t->time_ok ? "the event's samples use another clock (use_clockid)"
				    : "perf_clock is not the counter user space reads");
		oracle_writer_discipline(what);
	}
	if (g->index && !t->active) {
		snprintf(what, sizeof(what), "generation %d names counter index %u while the event is not "
			 "on the PMU", n, g->index);
		oracle_writer_discipline(what);
	}
	if (!g->index && t->active) {
		snprintf(what, sizeof(what), "generation %d has index 0 while the event counts on a "
			 "user-readable counter", n);
		oracle_writer_discipline(what);
	}
	s64 count = (s64)((u64)g->offset + (g->index ? sext(t->raw, g->pmc_width) : 0));
	if (count != t->count) {
		snprintf(what, sizeof(what), "generation %d: offset%s at its publication is not the "
			 "event's count", n, g->index ? " + sign-extended pmc" : "");
		oracle_continuity_vs(what, (u64)t->count, (u64)count);
	}
	if (time && t->accruing) {
		u64 delta = page_delta(g, g->time_offset, cyc);
		if (absdiff(g->enabled + delta, t->enabled) > slack()) {
			snprintf(what, sizeof(what), "generation %d: time_enabled + time_offset + conv(cyc) at "
				 "its publication is not the event's enabled time", n);
			oracle_continuity_vs(what, t->enabled, g->enabled + delta);
		}
		if (g->index && absdiff(g->running + delta, t->running) > slack()) {
			snprintf(what, sizeof(what), "generation %d: time_running + time_offset + conv(cyc) "
				 "at its publication is not the event's running time", n);
			oracle_continuity_vs(what, t->running, g->running + delta);
		}
	}
	if (zero) {
		u64 ts = page_delta(g, g->zero, cyc);
		if (absdiff(ts, t->kclock) > slack()) {
			snprintf(what, sizeof(what), "generation %d: time_zero + conv(cyc=%#llx) at its "
				 "publication vs the kernel's perf_clock", n, (unsigned long long)cyc);
			oracle_reference(what, ts, t->kclock);
		}
	}
}

/* The writer stores to `lock`: what the kernel holds true at that instant. */
static void on_access(void *ctx, u32 site, const volatile void *p, unsigned size, bool write)
{
	if (!write || p != &W.page->lock || sim_self() < 0)
		return;
	struct ktruth *t = &W.issue[W.nissued++ % MAX_ISSUES];
	truth_from(&W.k->event, &W.k->ctx, &W.pmc, sim_cpu_tsc(0), sim_step(), t);
}

/* CO10 and the generations: every store to the page as it becomes visible. */
static void on_commit(void *ctx, volatile void *p, unsigned size, u64 value)
{
	const u8 *a = (const u8 *)p, *base = (const u8 *)W.page;
	char what[160];

	if (!W.running || a < base || a >= base + PERF_PAGE_HDR)
		return;
	if (a == (const u8 *)&W.page->lock && size == sizeof(W.page->lock)) {
		u32 cur = W.page->lock, v = (u32)value;
		const struct ktruth *t = &W.issue[W.ncommitted++ % MAX_ISSUES];
		if (v != cur + 1) {
			snprintf(what, sizeof(what), "lock moved from %u to %u (one update is +1 to odd, "
				 "+1 to even)", cur, v);
			oracle_writer_discipline(what);
		}
		if (v & 1) {
			if (W.ngens)
				W.gens[(W.ngens - 1) % MAX_GENS].until = sim_step();
			W.open = *t;
			return;
		}
		struct pgen *g = &W.gens[W.ngens % MAX_GENS];
		gen_from_page(g);
		g->lock = v;
		int n = W.ngens++;
		sim_note("publish-page-generation", (u64)n);
		/*
		 * The clock may stop being usable while the update runs (the TSC
		 * marked unstable on another CPU): the writer answers for what
		 * held when it began.
		 */
		struct ktruth at = *t;
		at.time_ok |= W.open.time_ok;
		at.zero_ok |= W.open.zero_ok;
		publish_check(n, g, &at);
		return;
	}
	if (!(W.page->lock & 1)) {
		snprintf(what, sizeof(what), "page byte %zu changed while lock %u is even (outside "
			 "the update window)", (size_t)(a - base), W.page->lock);
		oracle_writer_discipline(what);
	}
}

/* ------------------------------------------------------------ reads --- */

static bool gen_explains(const struct pgen *g, const struct perf_user_read *r, const struct preader *rd)
{
	if (r->flags & PERF_READ_TIME) {
		u64 delta = page_delta(g, g->time_offset, r->cyc);
		if (r->enabled != g->enabled + delta || r->running != g->running + (g->index ? delta : 0))
			return false;
	} else if ((r->flags & PERF_READ_TIMES) && (r->enabled != g->enabled || r->running != g->running)) {
		return false;
	}
	if ((r->flags & PERF_READ_ZERO) && r->timestamp != page_delta(g, g->zero, r->cyc))
		return false;
	if (r->flags & PERF_READ_COUNT) {
		if (g->index && !rd->rdpmc_called)
			return false;
		if (r->count != (u64)g->offset + (g->index ? sext(rd->rdpmc_raw, g->pmc_width) : 0))
			return false;
	}
	return true;
}

/* P4: the generation's capability bits allow what the reader used. */
static bool caps_allow(const struct pgen *g, const struct perf_user_read *r)
{
	if ((r->flags & PERF_READ_TIME) && !(g->caps & PERF_CAP_USER_TIME))
		return false;
	if ((r->flags & PERF_READ_ZERO) && !(g->caps & PERF_CAP_USER_TIME_ZERO))
		return false;
	if ((r->flags & PERF_READ_COUNT) && g->index && !(g->caps & PERF_CAP_USER_RDPMC))
		return false;
	return true;
}

/* Did the loads of the operation see one generation?  (Only to name the failure.) */
static bool loads_are_one_generation(void)
{
	const struct perf_event_mmap_page *p = W.page;
	for (int n = W.ngens - 1; n >= 0 && n >= W.ngens - MAX_GENS; n--) {
		const struct pgen *g = &W.gens[n % MAX_GENS];
		u64 v;
		bool ok = true;
		if (sim_op_seen(&p->time_enabled, 8, &v))
			ok &= v == g->enabled;
		if (sim_op_seen(&p->time_running, 8, &v))
			ok &= v == g->running;
		if (sim_op_seen(&p->time_offset, 8, &v))
			ok &= v == g->time_offset;
		if (sim_op_seen(&p->time_zero, 8, &v))
			ok &= v == g->zero;
		if (sim_op_seen(&p->time_mult, 4, &v))
			ok &= v == g->mult;
		if (sim_op_seen(&p->time_shift, 2, &v))
			ok &= v == g->shift;
		if (sim_op_seen(&p->offset, 8, &v))
			ok &= v == (u64)g->offset;
		if (sim_op_seen(&p->index, 4, &v))
			ok &= v == g->index;
		if (ok)
			return true;
	}
	return false;
}

static void check_read(struct preader *rd, const struct perf_user_read *r, u64 g0)
{
	char what[224];
	u64 start = sim_op_start_step(), now = sim_step();
	u64 tsc = 0;
	bool have_tsc = false;

	if (r->flags & (PERF_READ_TIME | PERF_READ_ZERO)) {
		const u64 *tscs;
		int nt = sim_op_tscs(&tscs);
		for (int i = nt - 1; i >= 0 && !have_tsc; i--)
			if (counter_of(tscs[i]) == r->cyc) {
				tsc = tscs[i];
				have_tsc = true;
			}
		if (!have_tsc) {
			snprintf(what, sizeof(what), "reader=%d converted counter value %#llx, which it never "
				 "read", rd->id, (unsigned long long)r->cyc);
			oracle_reference(what, r->cyc, nt ? counter_of(tscs[nt - 1]) : 0);
		}
	}

	/*
	 * The generation it read: visible at some instant of the operation,
	 * and explaining its results.  Generations can share fields (x86 leaves
	 * time_* as they were when it clears cap_user_time), so one whose
	 * capabilities allow what the reader used comes first.
	 */
	const struct pgen *g = NULL;
	int gn = -1;
	for (int pass = 0; pass < 2 && !g; pass++)
		for (int n = W.ngens - 1; n >= 0 && n >= W.ngens - MAX_GENS && !g; n--) {
			const struct pgen *c = &W.gens[n % MAX_GENS];
			if (c->from <= now && c->until > start && gen_explains(c, r, rd) &&
			    (pass || caps_allow(c, r))) {
				g = c;
				gn = n;
			}
		}
	if (!g) {
		if (!loads_are_one_generation()) {
			snprintf(what, sizeof(what), "reader=%d: the page fields it loaded are from no single "
				 "generation (flags %#x)", rd->id, r->flags);
			oracle_torn_snapshot(what);
		}
		const struct pgen *last = &W.gens[(W.ngens - 1) % MAX_GENS];
		u64 got = r->flags & PERF_READ_COUNT ? (u64)r->count : r->flags & PERF_READ_ZERO ? r->timestamp
											       : r->enabled;
		u64 want = r->flags & PERF_READ_COUNT
				   ? (u64)last->offset + (last->index ? sext(rd->rdpmc_raw, last->pmc_width) : 0)
			   : r->flags & PERF_READ_ZERO ? page_delta(last, last->zero, r->cyc)
						       : last->enabled + page_delta(last, last->time_offset, r->cyc);
		snprintf(what, sizeof(what), "reader=%d: its results (flags %#x) are not the page formula of "
			 "any generation visible during the read (latest shown)", rd->id, r->flags);
		oracle_reference(what, got, want);
		return;
	}

	/* P4: what it used, the generation allowed */
	if ((r->flags & PERF_READ_TIME) && !(g->caps & PERF_CAP_USER_TIME)) {
		snprintf(what, sizeof(what), "reader=%d extrapolated enabled/running with time_* of "
			 "generation %d, whose cap_user_time is 0", rd->id, gn);
		oracle_fallback(what);
	}
	if ((r->flags & PERF_READ_ZERO) && !(g->caps & PERF_CAP_USER_TIME_ZERO)) {
		snprintf(what, sizeof(what), "reader=%d computed a timestamp with time_zero of generation %d, "
			 "whose cap_user_time_zero is 0", rd->id, gn);
		oracle_fallback(what);
	}
	if ((r->flags & PERF_READ_COUNT) && g->index && !(g->caps & PERF_CAP_USER_RDPMC)) {
		snprintf(what, sizeof(what), "reader=%d used rdpmc although generation %d's cap_user_rdpmc "
			 "is 0", rd->id, gn);
		oracle_fallback(what);
	}

	/* P2/P3 against the kernel at the instant it read the counter */
	if (have_tsc && rd->self) {
		u64 s = step_of_tsc0(tsc);
		const struct kstate *ks = kstate_at(s);
		struct ktruth t;
		truth_from(&ks->ev, &ks->ctx, &ks->pmc, tsc, s, &t);
		if ((r->flags & PERF_READ_TIME) && t.accruing && ks->ev.state != PERF_EVENT_STATE_OFF) {
			if (absdiff(r->enabled, t.enabled) > slack()) {
				snprintf(what, sizeof(what), "reader=%d: enabled time at its counter read vs the "
					 "event's", rd->id);
				oracle_plausibility_vs(what, r->enabled, t.enabled - slack(), t.enabled + slack());
			}
			if (absdiff(r->running, t.running) > slack()) {
				snprintf(what, sizeof(what), "reader=%d: running time at its counter read vs the "
					 "event's (%s)", rd->id, t.active ? "on the PMU" : "not on the PMU");
				oracle_plausibility_vs(what, r->running, t.running - slack(), t.running + slack());
			}
		}
	}
	if ((r->flags & PERF_READ_ZERO) && have_tsc) {
		u64 want = kclock_truth(tsc);
		if (absdiff(r->timestamp, want) > slack()) {
			snprintf(what, sizeof(what), "reader=%d: timestamp of counter %#llx vs the kernel's "
				 "perf_clock", rd->id, (unsigned long long)r->cyc);
			oracle_plausibility_vs(what, r->timestamp, want - slack(), want + slack());
		}
		if (rd->have_last && r->timestamp + slack() < rd->last_ts)
			oracle_monotonic(rd->id, rd->last_ts, r->timestamp);
		if (r->timestamp + slack() < g0)
			oracle_linearizable(rd->id, g0, r->timestamp);
		rd->have_last = true;
		rd->last_ts = r->timestamp;
		if (r->timestamp > W.ts_hi)
			W.ts_hi = r->timestamp;
	}
	if ((r->flags & PERF_READ_COUNT) && rd->self) {
		/* the instant the count stands for: its rdpmc, or while g was the page */
		u64 s = g->index ? rd->rdpmc_step : g->from > start ? g->from : start;
		const struct kstate *ks = kstate_at(s);
		struct ktruth t;
		truth_from(&ks->ev, &ks->ctx, &ks->pmc, tsc0_at(s), s, &t);
		if (ks->ev.state != PERF_EVENT_STATE_OFF && r->count != (u64)t.count) {
			snprintf(what, sizeof(what), "reader=%d: count vs the event's at its %s", rd->id,
				 g->index ? "rdpmc" : "read");
			oracle_plausibility_vs(what, r->count, (u64)t.count, (u64)t.count);
		}
	}
}

static void do_read(struct preader *rd)
{
	struct perf_user_read r;
	memset(&r, 0, sizeof(r));
	rd->rdpmc_called = false;
	sim_op_begin(rd->self ? "perf_self_read" : "perf_cross_read");
	u64 g0 = W.ts_hi;
	if (W.rops->read(W.page, &W.uc, &r))
		check_read(rd, &r, g0);
	sim_op_end();
}

static void self_task(void *arg)
{
	struct preader *rd = arg;
	for (int i = 0; i < W.nr_reads; i++) {
		do_read(rd);
		sim_yield("user: between reads");
	}
	/* the task stays on its CPU and takes the interrupts still to come */
	while (!W.kernel_done)
		cpu_relax();
}

static void cross_reader(void *arg)
{
	struct preader *rd = arg;
	for (int i = 0; i < W.nr_reads; i++) {
		do_read(rd);
		sim_yield("user: between reads");
	}
}

/* ----------------------------------------------------------- kernel --- */

static u64 period_of(unsigned sel)
{
	return sel ? (u64)W.rate * (64ULL << (2 * sel)) : W.max_period;
}

/* Interrupt handlers on vCPU 0: the task is interrupted (or switched out) there. */
static void irq_kernel_action(void *info)
{
	const struct kaction *a = info;
	struct perf_kernel *k = W.k;

	switch (a->kind) {
	case 0: /* PERF_EVENT_IOC_PERIOD */
		perf_event_period(k, period_of((a->arg & 3) % 4));
		break;
	case 1: { /* the task is switched out for a while, then back in */
		perf_event_sched_out(k);
		if (W.pmc.running)
			w_pmc_stop(k); /* the other event of the task stops with it */
		kstate_push();
		unsigned off = 2u * (1u + (a->arg & 15));
		for (unsigned i = 0; i < off && i < OFF_STEPS_MAX; i++)
			sim_yield("kernel: task off its CPU");
		perf_event_sched_in(k);
		if (k->no_counter && k->event.state >= PERF_EVENT_STATE_INACTIVE)
			other_event_takes_counter();
		break;
	}
	case 2: /* hrtimer: multiplexing rotation */
		perf_event_rotate(k);
		if (k->no_counter)
			other_event_takes_counter();
		break;
	case 3: /* ioctl DISABLE / ENABLE, run here by event_function_call() */
		perf_event_toggle(k);
		break;
	case 5: /* the PMI */
		if (W.pmc.gen == W.pmi_gen)
			perf_event_overflow(k);
		break;
	}
	kstate_push();
	W.irq_busy = false;
}

/* The PMU raises its interrupt when the counter passes zero. */
static void pmi_check(void)
{
	if (W.irq_busy || !W.pmc.running || !W.pmc.ours || W.pmi_gen == W.pmc.gen ||
	    W.k->period >= W.max_period)
		return;
	if ((sim_step() - W.pmc.since) * W.rate < W.k->period)
		return;
	W.pmi_gen = W.pmc.gen;
	W.irq_busy = true;
	W.act.kind = 5;
	sim_raise_irq(0, irq_kernel_action, &W.act);
}

/* The kernel fiber between its own steps; a wait for vCPU 0 spins (a PCT demotion). */
static void kernel_step(const char *why)
{
	pmi_check();
	sim_yield(why);
}

static void kernel_wait(void)
{
	pmi_check();
	cpu_relax();
}

static void raise_on_cpu0(u8 kind, u8 arg)
{
	while (W.irq_busy)
		kernel_wait();
	W.irq_busy = true;
	W.act.kind = kind;
	W.act.arg = arg;
	sim_raise_irq(0, irq_kernel_action, &W.act);
	while (W.irq_busy)
		kernel_wait();
}

static void kernel_fiber(void *arg)
{
	struct perf_kernel *k = W.k;

	/* perf_mmap()'s page, judged in a fiber so that a finding ends the run */
	publish_check(0, &W.gens[0], &W.open);
	for (int i = 0; i < W.nr_actions; i++) {
		u8 action = fdp_u8(W.in, (u8)(i % 4 == 1 ? 2 : 1));
		u8 delay = fdp_u8(W.in, 8);
		for (int d = 0; d < (delay & 15); d++)
			kernel_step("kernel: idle");
		u8 kind = (u8)((action & 7) % 5), aarg = action >> 3;
		if (kind == 4) {
			/* another CPU: the sched_clock hrtimer, or the TSC watchdog */
			if (k->arch == PERF_ARCH_ARM64) {
				update_sched_clock(k);
				W.epochs++;
			} else {
				clear_sched_clock_stable(k);
			}
			continue;
		}
		raise_on_cpu0(kind, aarg);
	}
	/* overflows still interrupt for a while */
	for (int d = 0; d < 16; d++)
		kernel_step("kernel: idle");
	while (W.irq_busy)
		kernel_wait();
	W.kernel_done = true;
}

/* --------------------------------------------------------- scenario --- */

static void boot_x86(struct perf_kernel *k, u8 shape, u8 boot, bool skew)
{
	u32 khz = W.rate * 10000u; /* rate ticks per 100 ns */
	u32 mul, shift;

	clocks_calc_mult_shift(&mul, &shift, khz, 1000000u, 0);
	if (shift == 32) { /* __set_cyc2ns_scale() */
		shift = 31;
		mul >>= 1;
	}
	u64 tsc_init = SIM_TSC_BASE - (u64)(boot + 1) * 40000u * W.rate;
	W.boot.mul = mul;
	W.boot.shift = shift;
	W.boot.cyc2ns_offset = 0 - mul_u64_u32_shr(tsc_init, mul, shift);
	W.boot.sched_clock_offset = (u64)boot * 1000003ULL;
	for (int i = 0; i < 2; i++) {
		k->cyc2ns.data[i].cyc2ns_mul = mul;
		k->cyc2ns.data[i].cyc2ns_shift = shift;
		k->cyc2ns.data[i].cyc2ns_offset = W.boot.cyc2ns_offset;
	}
	k->sched_clock_offset = W.boot.sched_clock_offset;
	k->native_sched_clock = !(shape & 0x80);
	k->sched_clock_stable = !skew; /* the TSC sync check failed */
	k->cntval_bits = 48;
	W.uc.offset = 0;
	W.uc.mask = U64_MAX;
	W.pmc_mask = (1ULL << 48) - 1;
	W.max_period = (1ULL << 47) - 1;
}

static void boot_arm64(struct perf_kernel *k, u8 shape, u8 width_b, u8 phase, u8 boot)
{
	unsigned width = 32 + width_b % 33;
	u64 mask = width >= 64 ? U64_MAX : (1ULL << width) - 1;
	u64 start;

	if (width == 64)
		/*
		 * A 64-bit counter never wraps, and the ABI could not say so if it
		 * did (time_cycles + the masked delta would wrap the u64 itself).
		 */
		start = ((u64)phase << 55) | (1ULL << 40);
	else if (phase < 192)
		start = (mask - (u64)phase * 48 * W.rate + 1) & mask; /* wraps at step phase*48 */
	else
		start = ((u64)(phase - 192) << (width - 6)) & mask;
	W.uc.offset = start - SIM_TSC_BASE;
	W.uc.mask = mask;

	u64 tsc_reg = SIM_TSC_BASE - (u64)(boot + 1) * 40000u * W.rate;
	u32 rate_hz = W.rate * 10000000u;
	struct clock_read_data rd;
	memset(&rd, 0, sizeof(rd));
	if (!(shape & 0x80)) {
		rd.read_sched_clock = SCHED_CLOCK_ARCH_TIMER;
		rd.sched_clock_mask = mask;
		rd.epoch_cyc = counter_of(tsc_reg);
	} else {
		rd.read_sched_clock = SCHED_CLOCK_JIFFIES;
		rd.sched_clock_mask = 0xffffffffULL;
		rd.epoch_cyc = (tsc_reg >> 20) & 0xffffffffULL;
		rate_hz >>= 20;
	}
	clocks_calc_mult_shift(&rd.mult, &rd.shift, rate_hz, (u32)NSEC_PER_SEC, 3600);
	rd.epoch_ns = (u64)boot * 4000000ULL; /* the jiffies sched_clock before it */
	k->cd.read_data[0] = rd;
	k->cd.read_data[1] = rd;
	k->cd.rate = rate_hz;
	W.boot.mul = rd.mult;
	W.boot.shift = rd.shift;
	W.boot.epoch_ns = rd.epoch_ns;
	W.boot.epoch_cyc = rd.epoch_cyc;
	W.boot.mask = rd.sched_clock_mask;
	W.boot.which = rd.read_sched_clock;
	W.pmc_mask = k->event.pmc_64bit ? U64_MAX : 0xffffffffULL;
	W.max_period = k->event.pmc_64bit ? (1ULL << 63) - 1 : (1ULL << 31) - 1;
}

static struct perf_kernel *setup_kernel(u8 shape, u8 kern, u8 width_b, u8 phase, u8 boot, bool skew)
{
	struct perf_kernel *k = sim_shared_alloc(sizeof(*k), 64);
	k->arch = W.wops.arch;
	k->ops = &W.wops;
	k->clock = &W.uc;
	k->pmc_read = w_pmc_read;
	k->pmc_start = w_pmc_start;
	k->pmc_stop = w_pmc_stop;
	k->event.userpg = W.page;
	k->event.idx = 1;
	k->event.user_read = true;
	k->event.use_clockid = shape & 0x40;
	k->event.pmc_64bit = kern & 0x80;
	k->event.state = PERF_EVENT_STATE_INACTIVE;
	if (k->arch == PERF_ARCH_X86)
		boot_x86(k, shape, boot, skew);
	else
		boot_arm64(k, shape, width_b, phase, boot);
	k->period = period_of((kern >> 4) & 3);
	return k;
}

void perf_scenario_run(const struct perf_reader_ops *rops, const struct perf_writer_ops *wops,
		       const char *label, struct fdp *in)
{
	struct sim_config cfg = { 0 };
	memset(&W, 0, sizeof(W));
	perf_writer_ops_resolve(&W.wops, wops);
	W.rops = rops;
	W.in = in;

	cfg.mode = fdp_u8(in, 0);
	u8 shape = fdp_u8(in, 0x15);
	u8 kern = fdp_u8(in, 0x03);
	u8 rate_b = fdp_u8(in, 0x40);
	u8 width_b = fdp_u8(in, 24);
	u8 phase = fdp_u8(in, 0xc8);
	u8 boot = fdp_u8(in, 0x10);
	bool x86 = W.wops.arch == PERF_ARCH_X86;
	if (!x86)
		cfg.mode &= (u8)~SIM_MODE_SKEW;
	bool skew = cfg.mode & SIM_MODE_SKEW;
	W.rate = x86 ? 64u + rate_b : 1u + rate_b / 4u;
	cfg.tsc_rate = W.rate;
	cfg.nr_cpus = 1 + (shape & 3);
	if (skew)
		for (int c = 0; c < SIM_MAX_CPUS; c++)
			cfg.tsc_skew[c] = (s64)(s8)fdp_u8(in, 0) * 4096;
	W.nr_cross = rops->cross_cpu ? (shape >> 2) & 3 : 0;
	if (W.nr_cross > cfg.nr_cpus - 1)
		W.nr_cross = cfg.nr_cpus - 1;
	W.nr_reads = 1 + ((shape >> 4) & 3);
	W.nr_actions = kern & 15;
	cfg.on_access = on_access;
	cfg.on_commit = on_commit;
	cfg.change_span = 256;
	cfg.variant = label;

	sim_reset(&cfg, in);

	W.page = sim_shared_alloc(sizeof(struct perf_event_mmap_page), 64);
	W.uc.rdpmc = w_rdpmc;
	W.k = setup_kernel(shape, kern, width_b, phase, boot, skew);

	/* perf_mmap(): the page's static fields, then the task on its CPU, the event on the PMU */
	W.page->version = 0;
	W.page->compat_version = 0;
	W.page->size = (u32)PERF_PAGE_HDR;
	W.page->capabilities = PERF_CAP_BIT0_IS_DEPRECATED;
	perf_event_sched_in(W.k);
	struct pgen *g0 = &W.gens[0];
	gen_from_page(g0);
	g0->lock = W.page->lock;
	g0->from = 0;
	W.ngens = 1;
	kstate_push();
	truth_from(&W.k->event, &W.k->ctx, &W.pmc, sim_cpu_tsc(0), 0, &W.open);
	W.running = true;

	for (int i = 0; i < SIM_MAX_FIBERS; i++)
		W.fiber_reader[i] = -1;
	int f = sim_spawn("kernel", kernel_fiber, NULL, SIM_HOST_CPU, false);
	(void)f;
	W.rd[0].id = 0;
	W.rd[0].self = true;
	f = sim_spawn("task", self_task, &W.rd[0], 0, true);
	sim_pin(f);
	W.fiber_reader[f] = 0;
	static const char *const names[] = { "reader1", "reader2", "reader3" };
	for (int i = 0; i < W.nr_cross; i++) {
		W.rd[i + 1].id = i + 1;
		f = sim_spawn(names[i], cross_reader, &W.rd[i + 1], i + 1, true);
		sim_pin(f);
		W.fiber_reader[f] = i + 1;
	}
	sim_run();
	W.running = false;
}
