// SPDX-License-Identifier: MIT
/*
 * pvfuzz-stress perf_time: the cross-CPU perf mmap page readers of
 * src/clock/perf_readers.c (perf's TSC conversion and its relatives: they
 * read the page of an event on another CPU) against the kernel side of
 * src/clock/perf_kernel.c and the writer variant, on real threads and the
 * real TSC.  The structure follows src/clock/perf_harness.c.
 *
 * The world
 *   - The event CPU (vCPU 0, one thread, never migrated): the event's task
 *     is switched out and in, multiplexed, disabled and enabled, its
 *     sampling period changed, its counter overflows (the PMI); each runs
 *     the writer's perf_event_update_userpage() as the kernel does, with a
 *     PMU counter emulated from the TSC.
 *   - x86 writers: cyc2ns from the calibrated TSC rate.  arm64 writers: the
 *     architected counter is the TSC masked to --counter-bits (default 40,
 *     32..64) with an offset that wraps it a few seconds into the run, and
 *     a clock thread (vCPU 1) moves the generic sched_clock epoch every
 *     ~200 us, as its hrtimer does before each wrap.
 *   - Readers on the other vCPUs (migrated mid-read) convert a counter value
 *     they read to perf time through the reader variant.
 *
 * Oracles (the simulator's names)
 *   reference: the timestamp is the ABI formula (time_zero + the cyc fold
 *     of cap_user_time_short + quot/rem conversion) of one published page
 *     generation at the counter value the reader read (the event CPU appends
 *     each generation it published, with its lock, to a ring).
 *   fallback: a timestamp from a generation without cap_user_time_zero.
 *   plausibility: the timestamp is the kernel's perf clock (x86
 *     local_clock(), arm64 sched_clock() on the current epoch) at that
 *     counter value; arm64 on the epoch in force at that counter value,
 *     allowing 1 ns per epoch between the page's and that one (each epoch
 *     floors its ns), plus 2 for rounding.
 *   monotonic: per reader (same allowance).
 *   liveness (CO7): the framework's watchdog.
 *
 * Not here: the self-monitoring readers (perf_reader_documented, libperf):
 * they read their own event's page, which changes only in interrupts on
 * their own CPU; those interrupts are the simulator's (sim_raise_irq()).
 * x86's clear_sched_clock_stable() is not run: afterwards the page has no
 * time_zero and every read falls back.
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pvfuzz/perf_time.h"
#include "stress.h"

#define RING 1024
#define EPOCHS 4096
#define EPOCH_NS 200000ULL /* the sched_clock epoch thread's period */

struct pslot {
	_Atomic u32 lock; /* the page's even lock; 0 while being written */
	u32 time_mult;
	u16 time_shift;
	u64 time_zero, time_cycles, time_mask, caps;
};

/* arm64: every sched_clock epoch, as update_sched_clock() stored it */
struct eslot {
	_Atomic u64 n; /* its index + 1; 0 while being written */
	_Atomic u64 cyc, ns;
};

static struct {
	const struct perf_reader_ops *rops;
	struct perf_writer_ops wops;
	void (*update_userpage)(struct perf_kernel *k); /* the writer's, wrapped */
	struct perf_kernel k;
	struct perf_event_mmap_page *page;
	struct perf_user_clock uc;
	unsigned counter_bits;
	u32 khz;
	u64 update_ns;
	int nv;
	/* the emulated PMU counter of the event CPU */
	u64 pmc_base, pmc_since, pmc_mask;
	bool pmc_running;
	/* x86: the kernel's perf clock line */
	u32 mul, shift;
	u64 x86_offset;
	/* arm64: sched_clock's conversion (fixed at registration) */
	u32 epoch_mult, epoch_shift;
	struct pslot ring[RING];
	_Atomic u64 head;
	struct eslot epochs_ring[EPOCHS];
	_Atomic u64 epochs;
	_Atomic u64 n_updates, n_sched, n_rotate, n_toggle, n_period, n_pmi;
} P;

/* ------------------------------------------------------------ options -- */

static const char *perf_option(const char *name, const char *val)
{
	if (!strcmp(name, "--counter-bits")) {
		char *end;
		unsigned long v = strtoul(val, &end, 10);
		if (*end || v < 32 || v > 64)
			return "--counter-bits wants 32..64";
		P.counter_bits = (unsigned)v;
		return NULL;
	}
	return "unknown option";
}

static const char *const perf_options[] = { "--counter-bits", NULL };

/* ------------------------------------------------------------ the PMU -- */

static u64 pmc_now(void)
{
	u64 v = P.pmc_base;
	if (P.pmc_running)
		v += native_host_tsc() - P.pmc_since;
	return v & P.pmc_mask;
}

static u64 w_pmc_read(struct perf_kernel *k)
{
	return pmc_now();
}

static void w_pmc_start(struct perf_kernel *k, u64 raw)
{
	P.pmc_base = raw;
	P.pmc_since = native_host_tsc();
	P.pmc_running = true;
}

static void w_pmc_stop(struct perf_kernel *k)
{
	P.pmc_base = pmc_now();
	P.pmc_running = false;
}

static u64 w_rdpmc(const struct perf_user_clock *uc, u32 idx)
{
	return 0; /* cross-CPU readers never rdpmc another CPU's counter */
}

/* ---------------------------------------------------- the event CPU --- */

/* The writer's perf_event_update_userpage(), then the generation it published. */
static void update_userpage_and_record(struct perf_kernel *k)
{
	P.update_userpage(k);
	const struct perf_event_mmap_page *pc = P.page;
	u64 n = atomic_load_explicit(&P.head, memory_order_relaxed);
	struct pslot *s = &P.ring[n % RING];
	atomic_store_explicit(&s->lock, 0, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
	/* only this thread writes the page: plain copies of its own stores */
	__atomic_store_n(&s->time_mult, READ_ONCE(pc->time_mult), __ATOMIC_RELAXED);
	__atomic_store_n(&s->time_shift, READ_ONCE(pc->time_shift), __ATOMIC_RELAXED);
	__atomic_store_n(&s->time_zero, READ_ONCE(pc->time_zero), __ATOMIC_RELAXED);
	__atomic_store_n(&s->time_cycles, READ_ONCE(pc->time_cycles), __ATOMIC_RELAXED);
	__atomic_store_n(&s->time_mask, READ_ONCE(pc->time_mask), __ATOMIC_RELAXED);
	__atomic_store_n(&s->caps, READ_ONCE(pc->capabilities), __ATOMIC_RELAXED);
	atomic_store_explicit(&s->lock, READ_ONCE(pc->lock), memory_order_release);
	atomic_store_explicit(&P.head, n + 1, memory_order_release);
	stress_count(&P.n_updates, 1);
}

static u64 period_of(unsigned sel)
{
	/* 32 to 512 us of cycles, or the largest (no PMIs) */
	return sel ? (u64)P.khz / 1000 * (8ULL << (2 * sel)) : (1ULL << 47) - 1;
}

static void *event_cpu_thread(struct stress_worker *w)
{
	u64 rs = stress_seed(11);
	struct perf_kernel *k = &P.k;

	native_thread_start(&w->nt, 0);
	while (!stress_stop()) {
		stress_host_pause(&rs, P.update_ns);
		u64 r = stress_rand(&rs);
		unsigned long flags;
		local_irq_save(flags);
		switch (r % 8) {
		case 0:
			perf_event_period(k, period_of((unsigned)(r >> 8) % 4));
			stress_count(&P.n_period, 1);
			break;
		case 1:
		case 2:
			perf_event_sched_out(k);
			if (P.pmc_running)
				w_pmc_stop(k);
			for (u64 t = native_host_tsc(); native_host_tsc() - t < (r >> 8) % 20000;)
				__builtin_ia32_pause(); /* off its CPU for a while */
			perf_event_sched_in(k);
			stress_count(&P.n_sched, 1);
			break;
		case 3:
			perf_event_rotate(k);
			stress_count(&P.n_rotate, 1);
			break;
		case 4:
			perf_event_toggle(k);
			stress_count(&P.n_toggle, 1);
			break;
		default:
			/* the PMI, when the counter has passed its period */
			if (P.pmc_running && k->period < (1ULL << 47) - 1 &&
			    native_host_tsc() - P.pmc_since >= k->period) {
				perf_event_overflow(k);
				stress_count(&P.n_pmi, 1);
			}
			break;
		}
		local_irq_restore(flags);
		stress_progress(w);
	}
	return NULL;
}

/* The epoch now in the latch, appended to the epoch ring (its only writer). */
static void record_epoch(void)
{
	u64 n = atomic_load_explicit(&P.epochs, memory_order_relaxed);
	struct eslot *e = &P.epochs_ring[n % EPOCHS];
	atomic_store_explicit(&e->n, 0, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
	atomic_store_explicit(&e->cyc, READ_ONCE(P.k.cd.read_data[0].epoch_cyc), memory_order_relaxed);
	atomic_store_explicit(&e->ns, READ_ONCE(P.k.cd.read_data[0].epoch_ns), memory_order_relaxed);
	atomic_store_explicit(&e->n, n + 1, memory_order_release);
	atomic_store_explicit(&P.epochs, n + 1, memory_order_release);
}

/* arm64: the sched_clock hrtimer moves the epoch, on another CPU */
static void *clock_thread(struct stress_worker *w)
{
	native_thread_start(&w->nt, P.nv > 1 ? 1 : 0);
	u64 next = stress_run_ns();
	while (!stress_stop()) {
		if (stress_run_ns() >= next) {
			update_sched_clock(&P.k);
			record_epoch();
			next = stress_run_ns() + EPOCH_NS;
		}
		struct timespec ts = { 0, 50000 };
		nanosleep(&ts, NULL);
		stress_progress(w);
	}
	return NULL;
}

/* ------------------------------------------------------- the readers --- */

static u64 fold_convert(const struct pslot *s, u64 cyc)
{
	if (s->caps & PERF_CAP_USER_TIME_SHORT)
		cyc = s->time_cycles + ((cyc - s->time_cycles) & s->time_mask);
	return s->time_zero + perf_cyc_to_ns(cyc, s->time_mult, s->time_shift);
}

static bool epoch_at(u64 n, u64 *cyc, u64 *ns)
{
	const struct eslot *e = &P.epochs_ring[n % EPOCHS];
	if (atomic_load_explicit(&e->n, memory_order_acquire) != n + 1)
		return false;
	*cyc = atomic_load_explicit(&e->cyc, memory_order_relaxed);
	*ns = atomic_load_explicit(&e->ns, memory_order_relaxed);
	return atomic_load_explicit(&e->n, memory_order_acquire) == n + 1;
}

/*
 * The kernel's perf clock at counter value cyc, and what the page line of
 * generation g may differ from it by.  x86: local_clock(), exact.  arm64:
 * sched_clock() on the epoch in force at cyc (the latest one at or before
 * it); each epoch between the page's and that one floored its ns by up to
 * 1, plus 2 for the two conversions' rounding.  false: the epochs of
 * interest are no longer in the ring.
 */
static bool kclock_at(const struct pslot *g, u64 cyc, u64 *truth, u64 *slack)
{
	if (P.k.arch == PERF_ARCH_X86) {
		*truth = mul_u64_u32_shr(cyc, P.mul, P.shift) + P.x86_offset;
		*slack = 0;
		return true;
	}
	u64 mask = P.uc.mask;
	u64 head = atomic_load_explicit(&P.epochs, memory_order_acquire);
	u64 lo = head > EPOCHS / 2 ? head - EPOCHS / 2 : 0;
	u64 gi = U64_MAX, ji = U64_MAX, ecyc, ens, jcyc = 0, jns = 0;
	for (u64 n = head; n-- > lo && (gi == U64_MAX || ji == U64_MAX);) {
		if (!epoch_at(n, &ecyc, &ens))
			return false;
		if (gi == U64_MAX && ecyc == g->time_cycles)
			gi = n;
		if (ji == U64_MAX && ((cyc - ecyc) & mask) <= mask >> 1) {
			ji = n;
			jcyc = ecyc;
			jns = ens;
		}
	}
	if (gi == U64_MAX || ji == U64_MAX)
		return false;
	*truth = jns + sched_cyc_to_ns((cyc - jcyc) & mask, P.epoch_mult, P.epoch_shift);
	*slack = (gi > ji ? gi - ji : ji - gi) + 2;
	return true;
}

static u64 absdiff(u64 a, u64 b)
{
	return a > b ? a - b : b - a;
}

/*
 * The generation that explains a timestamp: published from before the read
 * began (the last one) to after it ended; wait for the event CPU's ring to
 * catch up with the page's lock.  Returns the slot, NULL with *none set
 * (only generations without time_zero explain it), NULL (none), or NULL
 * with *lapped.
 */
static const struct pslot *explain(u64 ts, u64 cyc, u64 h0, bool *none, bool *lapped, struct pslot *out)
{
	u32 lock_now = READ_ONCE(P.page->lock) & ~1u;
	u64 h1;
	*none = *lapped = false;
	for (int spin = 0;; spin++) {
		h1 = atomic_load_explicit(&P.head, memory_order_acquire);
		if (h1 && atomic_load_explicit(&P.ring[(h1 - 1) % RING].lock, memory_order_acquire) >= lock_now)
			break;
		if (stress_stop() || spin > 1000000) {
			*lapped = true;
			return NULL;
		}
		__builtin_ia32_pause();
	}
	u64 lo = h0 ? h0 - 1 : 0;
	if (h1 - lo > RING / 2) {
		*lapped = true;
		return NULL;
	}
	for (u64 n = h1; n-- > lo;) {
		const struct pslot *s = &P.ring[n % RING];
		u32 lock = atomic_load_explicit(&s->lock, memory_order_acquire);
		out->time_mult = __atomic_load_n(&s->time_mult, __ATOMIC_RELAXED);
		out->time_shift = __atomic_load_n(&s->time_shift, __ATOMIC_RELAXED);
		out->time_zero = __atomic_load_n(&s->time_zero, __ATOMIC_RELAXED);
		out->time_cycles = __atomic_load_n(&s->time_cycles, __ATOMIC_RELAXED);
		out->time_mask = __atomic_load_n(&s->time_mask, __ATOMIC_RELAXED);
		out->caps = __atomic_load_n(&s->caps, __ATOMIC_RELAXED);
		if (!lock || atomic_load_explicit(&s->lock, memory_order_acquire) != lock)
			continue;
		if (fold_convert(out, cyc) != ts)
			continue;
		if (!(out->caps & PERF_CAP_USER_TIME_ZERO)) {
			*none = true;
			continue;
		}
		return out;
	}
	return NULL;
}

static void *reader_thread(struct stress_worker *w)
{
	int id = *(int *)w->arg;
	u64 last = 0, last_slack = 0;
	bool have_last = false;
	char what[192];

	native_thread_start(&w->nt, P.nv > 1 ? 1 + id % (P.nv - 1) : 0);
	while (!stress_stop()) {
		struct perf_user_read r;
		memset(&r, 0, sizeof(r));
		u64 h0 = atomic_load_explicit(&P.head, memory_order_acquire);
		bool ok = P.rops->read(P.page, &P.uc, &r);
		if (!ok || !(r.flags & PERF_READ_ZERO)) {
			stress_count(&w->fallbacks, 1);
			stress_progress(w);
			continue;
		}
		bool none, lapped;
		struct pslot g;
		if (!explain(r.timestamp, r.cyc, h0, &none, &lapped, &g)) {
			if (lapped) {
				stress_count(&w->unchecked, 1);
			} else if (none) {
				snprintf(what, sizeof(what), "reader=%d converted with a page generation without "
					 "cap_user_time_zero", id);
				oracle_fallback(what);
			} else {
				snprintf(what, sizeof(what), "reader=%d: timestamp %" PRIu64 " is no published "
					 "generation's conversion of the counter value %" PRIu64 " it read",
					 id, r.timestamp, r.cyc);
				oracle_reference(what, r.timestamp, 0);
			}
			stress_progress(w);
			continue;
		}
		u64 truth, slack;
		if (!kclock_at(&g, r.cyc, &truth, &slack)) {
			stress_count(&w->unchecked, 1);
			stress_progress(w);
			continue;
		}
		if (absdiff(r.timestamp, truth) > slack) {
			snprintf(what, sizeof(what), "reader=%d: the page's conversion of counter %" PRIu64
				 " vs the kernel's perf clock there (slack %" PRIu64 " ns)", id, r.cyc, slack);
			oracle_plausibility_vs(what, r.timestamp, truth, truth);
		}
		/* both within their slack of the kernel's clock, which is monotonic */
		if (have_last && r.timestamp + slack + last_slack < last)
			oracle_monotonic(id, last, r.timestamp);
		last = r.timestamp;
		last_slack = slack;
		have_last = true;
		stress_progress(w);
	}
	return NULL;
}

/* --------------------------------------------------------- set-up ---- */

static int reader_ids[64];

static void boot_x86(struct perf_kernel *k)
{
	u32 mul, shift;
	clocks_calc_mult_shift(&mul, &shift, P.khz, 1000000u, 0);
	if (shift == 32) { /* __set_cyc2ns_scale() */
		shift = 31;
		mul >>= 1;
	}
	u64 tsc_now = native_host_tsc();
	P.mul = mul;
	P.shift = shift;
	for (int i = 0; i < 2; i++) {
		k->cyc2ns.data[i].cyc2ns_mul = mul;
		k->cyc2ns.data[i].cyc2ns_shift = shift;
		k->cyc2ns.data[i].cyc2ns_offset = 0 - mul_u64_u32_shr(tsc_now, mul, shift);
	}
	k->sched_clock_offset = 1000000000ULL; /* __sched_clock_offset */
	P.x86_offset = k->cyc2ns.data[0].cyc2ns_offset + k->sched_clock_offset;
	k->native_sched_clock = true;
	k->sched_clock_stable = 1;
	k->cntval_bits = 48;
	P.uc.offset = 0;
	P.uc.mask = U64_MAX;
	P.pmc_mask = (1ULL << 48) - 1;
}

static void boot_arm64(struct perf_kernel *k)
{
	unsigned width = P.counter_bits ? P.counter_bits : 40;
	u64 mask = width >= 64 ? U64_MAX : (1ULL << width) - 1;
	u64 tsc_now = native_host_tsc();
	/* the counter wraps ~3 s into the run (a 64-bit one only after 2^63) */
	u64 start = width >= 64 ? 1ULL << 62 : (mask - 3ULL * P.khz * 1000ULL) & mask;
	P.uc.offset = start - tsc_now;
	P.uc.mask = mask;
	struct clock_read_data rd;
	memset(&rd, 0, sizeof(rd));
	rd.read_sched_clock = SCHED_CLOCK_ARCH_TIMER;
	rd.sched_clock_mask = mask;
	rd.epoch_cyc = perf_read_counter(&P.uc);
	clocks_calc_mult_shift(&rd.mult, &rd.shift, P.khz * 1000u, (u32)NSEC_PER_SEC, 3600);
	rd.epoch_ns = 1000000000ULL;
	k->cd.read_data[0] = rd;
	k->cd.read_data[1] = rd;
	k->cd.rate = P.khz * 1000u;
	P.epoch_mult = rd.mult;
	P.epoch_shift = rd.shift;
	record_epoch();
	k->event.pmc_64bit = true;
	P.pmc_mask = U64_MAX;
}

static bool perf_start(struct stress_opts *o)
{
	struct pv_selection sel;

	if (!stress_select(PV_PERF_TIME, o->variant ? o->variant : "perf_tsc_conversion", &sel))
		return false;
	P.rops = sel.role[PV_READER]->ops;
	if (!P.rops->cross_cpu) {
		fprintf(stderr, "pvfuzz-stress perf_time: %s reads its own event's page, which changes only in "
				"interrupts on its CPU: a simulator scenario (src/clock/perf_harness.c); natively "
				"pick a cross-CPU reader (perf_tsc_conversion, perf_tsc_conversion_2013, ...)\n",
			sel.role[PV_READER]->name);
		return false;
	}
	if (o->skew) {
		fprintf(stderr, "pvfuzz-stress perf_time: --skew is not modelled here (a skewed x86 TSC makes "
				"sched_clock unstable: no time_zero; arm64 has one counter)\n");
		return false;
	}
	perf_writer_ops_resolve(&P.wops, sel.role[PV_WRITER]->ops);
	P.update_userpage = P.wops.update_userpage;
	P.wops.update_userpage = update_userpage_and_record;
	P.update_ns = o->update_ns;
	P.nv = stress_setup_vcpus(8);
	u64 tsc0, raw0;
	stress_calibrate_tsc(&P.khz, &tsc0, &raw0);

	P.page = aligned_alloc(4096, 4096);
	memset(P.page, 0, 4096);
	P.uc.rdpmc = w_rdpmc;
	struct perf_kernel *k = &P.k;
	k->arch = P.wops.arch;
	k->ops = &P.wops;
	k->clock = &P.uc;
	k->pmc_read = w_pmc_read;
	k->pmc_start = w_pmc_start;
	k->pmc_stop = w_pmc_stop;
	k->event.userpg = P.page;
	k->event.idx = 1;
	k->event.user_read = true;
	k->event.state = PERF_EVENT_STATE_INACTIVE;
	if (k->arch == PERF_ARCH_X86)
		boot_x86(k);
	else
		boot_arm64(k);
	k->period = period_of(2);

	/* perf_mmap(): the page's static fields, then the task on its CPU, the event on the PMU */
	P.page->size = (u32)PERF_PAGE_HDR;
	P.page->capabilities = PERF_CAP_BIT0_IS_DEPRECATED;
	unsigned long flags;
	local_irq_save(flags);
	perf_event_sched_in(k);
	local_irq_restore(flags);

	if (!o->readers)
		o->readers = P.nv < 2 ? 2 : P.nv;
	stress_spawn("event-cpu", event_cpu_thread, NULL, true, false);
	if (k->arch == PERF_ARCH_ARM64)
		stress_spawn("sched-clock", clock_thread, NULL, true, false);
	for (int i = 0; i < o->readers && i < 64; i++) {
		static char names[64][16];
		snprintf(names[i], sizeof(names[i]), "perf%d", i);
		reader_ids[i] = i;
		stress_spawn(names[i], reader_thread, &reader_ids[i], false, true);
	}
	return true;
}

static void perf_summary(FILE *f)
{
	fprintf(f, "  event CPU: page updates %" PRIu64 ", context switches %" PRIu64 ", rotations %" PRIu64
		   ", disable/enable %" PRIu64 ", period changes %" PRIu64 ", PMIs %" PRIu64 "\n",
		atomic_load(&P.n_updates), atomic_load(&P.n_sched), atomic_load(&P.n_rotate),
		atomic_load(&P.n_toggle), atomic_load(&P.n_period), atomic_load(&P.n_pmi));
	if (P.k.arch == PERF_ARCH_ARM64)
		fprintf(f, "  arm64: %u-bit counter, sched_clock epochs %" PRIu64 "\n",
			P.counter_bits ? P.counter_bits : 40, atomic_load(&P.epochs));
	fprintf(f, "  tsc_khz %u (calibrated)\n", P.khz);
}

static const struct stress_driver perf_driver = {
	.protocol = "perf_time",
	.summary = "perf mmap page cross-CPU readers (perf's TSC conversion) vs the event CPU's "
		   "perf_event_update_userpage() (src/clock/perf_*.c)",
	.start = perf_start,
	.summary_lines = perf_summary,
	.options = perf_options,
	.options_help = "  --counter-bits N  arm64 writers: the architected counter's width, 32-64 (default 40)\n",
	.option = perf_option,
};
STRESS_DRIVER(perf_driver)
