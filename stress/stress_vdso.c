// SPDX-License-Identifier: MIT
/*
 * pvfuzz-stress vdso: the vDSO readers and update_vsyscall() writers of
 * src/clock/vdso_*.c on real threads and the real TSC, with the timekeeper
 * of src/clock/timekeeping.c.  The structure mirrors src/clock/vdso_harness.c.
 *
 * The world
 *   - The guest kernel's timekeeper on the TSC (calibrated once against
 *     CLOCK_MONOTONIC_RAW), or on a 32-bit HPET-like counter driven by the
 *     host TSC (one device for every CPU, no vDSO mode).  One kernel thread is its only writer: the tick
 *     every --update-ns (default: a busy loop with short random pauses),
 *     adjtimex frequency changes, settimeofday steps, clocksource changes
 *     and suspend/resume, each running the writer variant's
 *     update_vsyscall() from the timekeeper's notifier.
 *   - Reader threads on every CPU (migrated mid-read by the framework's
 *     migrator) call clock_gettime() through the reader variant for
 *     MONOTONIC, REALTIME, MONOTONIC_RAW, BOOTTIME, TAI and the coarse
 *     clocks, bracketed by the model's system call (kernel_clock_gettime()).
 *
 * Oracles (the simulator's names)
 *   V1/CO4 reference: the result must be the vDSO formula of one published
 *     generation (the writer appends each base it published to a ring, with
 *     its seq) at the TSC the read took.
 *   V3 plausibility: between the syscall before and after, with an
 *     allowance for --skew and for what the updates published meanwhile
 *     opened between an old line and a new one (an NTP mult step times the
 *     update's span from its counter read to its publication, the whole
 *     span for a clocksource change: measured, since this kernel thread
 *     can be preempted where the kernel runs with interrupts off); a wall
 *     clock whose read overlapped a settimeofday is not judged.
 *   V2 monotonic: MONOTONIC, BOOTTIME, MONOTONIC_RAW, MONOTONIC_COARSE per
 *     thread.
 *   V5 fallback: a time computed from a generation whose clock mode is NONE.
 *   CO7 liveness: the framework's watchdog.
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pvfuzz/vdso.h"
#include "stress.h"

#define RING 1024
#define TICK_NS 1000000ULL

struct vslot {
	_Atomic u32 seq; /* the base's even seq; 0 while being written */
	struct vdso_clock c;
	_Atomic u64 cs_ns, ntp_ns; /* what the update's span can put between the old and the new line */
};

static struct {
	const struct vdso_reader_ops *rops;
	const struct vdso_writer_ops *wops;
	struct timekeeping tkd;
	struct clocksource tsc, hpet;
	struct vdso_time_data *vd;
	struct vdso_user user;
	u32 khz;
	u64 tsc0, raw0;
	u64 update_ns;
	s64 skew;
	int nv;
	_Atomic u32 clock_sets;
	_Atomic u32 max_dmult;
	_Atomic u64 max_cs_ns, max_ntp_ns;
	u32 last_mult;
	const struct clocksource *last_clock;
	u64 k_first_read; /* the kernel thread's first counter read of the update in progress */
	struct vslot ring[CS_BASES][RING];
	_Atomic u64 head[CS_BASES];
	_Atomic u64 n_ticks, n_freq, n_set, n_cs, n_sleep;
} V;

/* ------------------------------------------------------- the kernel --- */

static __thread bool in_kernel;

/* The kernel thread's update begins at its first counter read. */
static void kernel_counter_read(void)
{
	if (in_kernel && !V.k_first_read)
		V.k_first_read = native_host_tsc();
}

static u64 read_tsc(struct clocksource *cs)
{
	kernel_counter_read();
	return (u64)rdtsc_ordered();
}

/* one device for every CPU: the host's TSC, without --skew (see read_scaled() in vdso_harness.c) */
static u64 read_hpet(struct clocksource *cs)
{
	kernel_counter_read();
	u64 tsc = native_host_tsc();
	return (u64)(((u128)tsc * cs->freq_hz) / ((u64)V.khz * 1000)) & cs->mask;
}

static void store_max(_Atomic u64 *p, u64 v)
{
	if (v > atomic_load_explicit(p, memory_order_relaxed))
		atomic_store_explicit(p, v, memory_order_relaxed);
}

/*
 * update_vsyscall() from the timekeeper's notifier; then the generations it
 * published, each with what its update's span allows.  The kernel's update
 * runs with interrupts off for a few hundred ns; this kernel thread can be
 * preempted for milliseconds between its counter read and the publication.
 * A reader meanwhile on the old generation runs on the old line, and the
 * new one meets it only at the counter read: an NTP mult step opens
 * span * step / mult between them, a clocksource change (read of the old
 * counter, then of the new one) the whole span.
 */
static void vsyscall_notifier(void *ctx, const struct timekeeper *tk, bool was_set)
{
	u32 m = tk->tkr_mono.mult, d = m > V.last_mult ? m - V.last_mult : V.last_mult - m;
	bool same_clock = tk->tkr_mono.clock == V.last_clock;
	if (V.last_mult && same_clock && d > atomic_load_explicit(&V.max_dmult, memory_order_relaxed))
		atomic_store_explicit(&V.max_dmult, d, memory_order_relaxed);
	u64 span_ns = V.k_first_read ? (native_host_tsc() - V.k_first_read) * 1000000ULL / V.khz + 1 : 0;
	u64 cs_ns = V.last_clock && !same_clock ? span_ns : 0;
	u64 ntp_ns = V.last_mult && same_clock ? span_ns * d / m + 1 : 0;
	store_max(&V.max_cs_ns, cs_ns);
	store_max(&V.max_ntp_ns, ntp_ns);
	V.last_mult = m;
	V.last_clock = tk->tkr_mono.clock;
	V.wops->update_vsyscall(V.vd, tk, 1);
	for (int b = 0; b < CS_BASES; b++) {
		u64 n = atomic_load_explicit(&V.head[b], memory_order_relaxed);
		struct vslot *s = &V.ring[b][n % RING];
		atomic_store_explicit(&s->seq, 0, memory_order_relaxed);
		atomic_thread_fence(memory_order_release);
		pv_native_memcpy(&s->c, V.vd->clock_data + b, sizeof(s->c)); /* relaxed byte copy */
		atomic_store_explicit(&s->cs_ns, cs_ns, memory_order_relaxed);
		/* MONOTONIC_RAW is not steered */
		atomic_store_explicit(&s->ntp_ns, b == CS_RAW ? 0 : ntp_ns, memory_order_relaxed);
		atomic_store_explicit(&s->seq, __atomic_load_n(&V.vd->clock_data[b].seq, __ATOMIC_RELAXED),
				      memory_order_release);
		atomic_store_explicit(&V.head[b], n + 1, memory_order_release);
	}
}

static void *kernel_thread(struct stress_worker *w)
{
	u64 rs = stress_seed(7);
	struct timekeeping *tkd = &V.tkd;
	u64 next_tick = stress_run_ns();

	/* the tick on the last vCPU: with --skew its TSC is ahead, readers elsewhere are behind */
	native_thread_start(&w->nt, V.nv - 1);
	in_kernel = true;
	while (!stress_stop()) {
		stress_host_pause(&rs, V.update_ns);
		V.k_first_read = 0;
		u64 r = stress_rand(&rs);
		/* the tick is due, or something else happens now and then */
		if (tkd->timekeeper.tkr_mono.clock == &V.hpet) {
			/* the HPET only for a moment: the readers fall back meanwhile */
			timekeeping_change_clocksource(tkd, &V.tsc);
			stress_count(&V.n_cs, 1);
		} else if (stress_run_ns() >= next_tick || r % 64 > 5) {
			timekeeping_tick(tkd);
			next_tick = stress_run_ns() + TICK_NS / 4;
			stress_count(&V.n_ticks, 1);
		} else if (r % 64 == 0) {
			timekeeping_set_frequency(tkd, (s64)((r >> 8) % (2 * MAXFREQ_PPB)) - MAXFREQ_PPB);
			stress_count(&V.n_freq, 1);
		} else if (r % 64 == 1) {
			struct timespec64 now;
			kernel_clock_gettime(tkd, CLOCK_REALTIME, &now);
			now.tv_sec += (s64)((r >> 8) % 33) - 16;
			atomic_fetch_add(&V.clock_sets, 1);
			do_settimeofday64(tkd, &now);
			atomic_fetch_add(&V.clock_sets, 1);
			stress_count(&V.n_set, 1);
		} else if (r % 64 == 2 && (r >> 8) % 16 == 0) {
			timekeeping_change_clocksource(tkd, &V.hpet);
			stress_count(&V.n_cs, 1);
		} else if (r % 64 == 3) {
			struct timespec64 sleep = { 0, (long)((r >> 8) % NSEC_PER_SEC) };
			timekeeping_inject_sleeptime64(tkd, &sleep);
			stress_count(&V.n_sleep, 1);
		}
		stress_progress(w);
	}
	return NULL;
}

/* ------------------------------------------------------- the readers --- */

static u64 ts_ns(const struct timespec64 *ts)
{
	return (u64)ts->tv_sec * NSEC_PER_SEC + (u64)ts->tv_nsec;
}

static bool coarse_clock(clockid_t clk)
{
	return clk == CLOCK_REALTIME_COARSE || clk == CLOCK_MONOTONIC_COARSE;
}

/* a slot the writer may be rewriting: relaxed byte loads, checked by its seq after */
static void copy_relaxed(void *dst, const void *src, size_t n)
{
	const u8 *s = src;
	u8 *d = dst;
	for (size_t i = 0; i < n; i++)
		d[i] = __atomic_load_n(&s[i], __ATOMIC_RELAXED);
}

/* the vDSO formula (x86 vdso_calc_ns, 128-bit) of one base at cycles */
static u64 formula(const struct vdso_clock *c, clockid_t clk, u64 cycles)
{
	if (coarse_clock(clk))
		return c->basetime[clk].sec * NSEC_PER_SEC + c->basetime[clk].nsec;
	u64 base = c->basetime[clk].nsec, delta = cycles - c->cycle_last, ns;
	if (delta > c->max_cycles && (delta & (1ULL << 62)))
		ns = base >> (c->shift & 63);
	else
		ns = (u64)((((u128)(delta & S64_MAX) * c->mult) + base) >> (c->shift & 127));
	return c->basetime[clk].sec * NSEC_PER_SEC + ns;
}

/*
 * V1: one generation published from before the read began (the last one) to
 * after it ended explains the result at the read's TSC.  The writer appends
 * after it published, so wait for it to catch up with what the page says.
 */
static int check_generation(int id, clockid_t clk, u64 v, u64 tsc, u64 h0)
{
	int b = clk == CLOCK_MONOTONIC_RAW ? CS_RAW : CS_HRES_COARSE;
	u32 seq_now = __atomic_load_n(&V.vd->clock_data[b].seq, __ATOMIC_ACQUIRE) & ~1u;
	u64 h1;
	for (int spin = 0;; spin++) {
		h1 = atomic_load_explicit(&V.head[b], memory_order_acquire);
		if (h1 && atomic_load_explicit(&V.ring[b][(h1 - 1) % RING].seq, memory_order_acquire) >= seq_now)
			break;
		if (stress_stop() || spin > 1000000)
			return -1;
		__builtin_ia32_pause();
	}
	u64 lo = h0 ? h0 - 1 : 0;
	if (h1 - lo > RING / 2)
		return -1; /* lapped */
	bool none = false;
	for (u64 n = lo; n < h1; n++) {
		struct vslot *s = &V.ring[b][n % RING];
		u32 seq = atomic_load_explicit(&s->seq, memory_order_acquire);
		struct vdso_clock c;
		copy_relaxed(&c, &s->c, sizeof(c));
		if (!seq || atomic_load_explicit(&s->seq, memory_order_acquire) != seq)
			continue;
		if (formula(&c, clk, tsc & S64_MAX) == v) {
			if (c.clock_mode == VDSO_CLOCKMODE_NONE && !coarse_clock(clk)) {
				none = true;
				continue;
			}
			return 1;
		}
	}
	char what[160];
	if (none) {
		snprintf(what, sizeof(what), "reader=%d clock %d computed a time from a generation whose "
			 "clock mode is NONE", id, clk);
		oracle_fallback(what);
	} else {
		snprintf(what, sizeof(what), "reader=%d clock %d: %" PRIu64 " is no published generation's "
			 "vDSO formula at the TSC it read", id, clk, v);
		oracle_reference(what, v, 0);
	}
	return 0;
}

/*
 * V2/V3's allowance: --skew between the vCPUs, and what the updates
 * published since generation lo (the one current when the reader's
 * previous read began) can open between an old line and a new one.
 */
static u64 allowance(clockid_t clk, int b, u64 lo)
{
	if (coarse_clock(clk))
		return 0;
	u64 skew_ns = (u64)llabs(V.skew) * (u64)(V.nv > 0 ? V.nv : 1) * 1000000ULL / V.khz + 1;
	u64 hi = atomic_load_explicit(&V.head[b], memory_order_acquire), span = 0;
	lo = lo ? lo - 1 : 0;
	if (hi - lo > RING / 2) {
		span = atomic_load(&V.max_cs_ns) + (b == CS_RAW ? 0 : atomic_load(&V.max_ntp_ns));
	} else {
		for (u64 n = lo; n < hi; n++) {
			struct vslot *s = &V.ring[b][n % RING];
			u64 e = atomic_load_explicit(&s->cs_ns, memory_order_relaxed) +
				atomic_load_explicit(&s->ntp_ns, memory_order_relaxed);
			if (e > span)
				span = e;
		}
	}
	return skew_ns + span;
}

static void *reader_thread(struct stress_worker *w)
{
	int id = *(int *)w->arg;
	u64 rs = stress_seed(100 + (u64)id);
	static const clockid_t clocks[] = { CLOCK_MONOTONIC, CLOCK_REALTIME, CLOCK_MONOTONIC_RAW,
					    CLOCK_BOOTTIME, CLOCK_TAI, CLOCK_MONOTONIC_COARSE,
					    CLOCK_REALTIME_COARSE };
	u64 last[VDSO_BASES] = { 0 };
	bool have_last[VDSO_BASES] = { false };
	u64 hlast[VDSO_BASES] = { 0 }; /* per clock: the generation current when last[] was read */

	native_thread_start(&w->nt, id % V.nv);
	while (!stress_stop()) {
		clockid_t clk = clocks[stress_rand(&rs) % ARRAY_SIZE(clocks)];
		struct timespec64 before, after, ts;
		u32 sets = atomic_load(&V.clock_sets);
		int b = clk == CLOCK_MONOTONIC_RAW ? CS_RAW : CS_HRES_COARSE;
		u64 h0 = atomic_load_explicit(&V.head[b], memory_order_acquire);

		kernel_clock_gettime(&V.tkd, clk, &before);
		bool ok = V.rops->clock_gettime(&V.user, clk, &ts);
		u64 tsc = pv_native_last_tsc;
		kernel_clock_gettime(&V.tkd, clk, &after);
		if (!ok) {
			stress_count(&w->fallbacks, 1);
			stress_progress(w);
			continue;
		}
		u64 v = ts_ns(&ts);
		if (check_generation(id, clk, v, tsc, h0) < 0)
			stress_count(&w->unchecked, 1);
		bool wall = clk == CLOCK_REALTIME || clk == CLOCK_TAI || clk == CLOCK_REALTIME_COARSE;
		u64 tol = allowance(clk, b, have_last[clk] && hlast[clk] < h0 ? hlast[clk] : h0);
		u64 lo = ts_ns(&before), hi = ts_ns(&after);
		if (!(wall && atomic_load(&V.clock_sets) != sets) && (v + tol < lo || v > hi + tol)) {
			char what[128];
			snprintf(what, sizeof(what), "reader=%d clock %d vs clock_gettime(2) before and after "
				 "(allowance %" PRIu64 " ns)", id, clk, tol);
			oracle_plausibility_vs(what, v, lo, hi);
		}
		if (!wall) {
			if (have_last[clk] && v + tol < last[clk])
				oracle_monotonic(id, last[clk], v);
			last[clk] = v;
			hlast[clk] = h0;
			have_last[clk] = true;
		}
		stress_progress(w);
	}
	return NULL;
}

/* --------------------------------------------------------- set-up ---- */

static int reader_ids[64];

static bool vdso_start(struct stress_opts *o)
{
	struct pv_selection sel;

	if (!stress_select(PV_VDSO, o->variant, &sel))
		return false;
	V.rops = sel.role[PV_READER]->ops;
	V.wops = sel.role[PV_WRITER]->ops;
	V.update_ns = o->update_ns;
	V.skew = o->skew;
	V.nv = stress_setup_vcpus(PV_MAX_VCPUS);
	for (int v = 0; v < V.nv; v++)
		native_set_skew(v, V.skew * v);
	stress_calibrate_tsc(&V.khz, &V.tsc0, &V.raw0);

	V.tsc.name = "tsc";
	V.tsc.read = read_tsc;
	V.tsc.mask = CLOCKSOURCE_MASK(64);
	V.tsc.vdso_clock_mode = VDSO_CLOCKMODE_TSC;
	clocksource_register_hz(&V.tsc, (u64)V.khz * 1000);
	V.hpet.name = "hpet";
	V.hpet.read = read_hpet;
	V.hpet.mask = CLOCKSOURCE_MASK(32);
	V.hpet.vdso_clock_mode = VDSO_CLOCKMODE_NONE;
	clocksource_register_hz(&V.hpet, 14318180);

	V.vd = aligned_alloc(64, sizeof(*V.vd));
	memset(V.vd, 0, sizeof(*V.vd));
	V.user.vd = V.vd;
	struct timekeeping_boot boot = {
		.clock = &V.tsc,
		.wall_time = { 1700000000, 123456789 },
		.boot_offset = { 1, 0 },
		.ntp_interval_ns = TICK_NS,
		.tai_offset = 37,
	};
	timekeeping_init(&V.tkd, &boot);
	timekeeping_register_notifier(&V.tkd, vsyscall_notifier, NULL);

	if (!o->readers)
		o->readers = V.nv < 2 ? 2 : V.nv;
	stress_spawn("kernel", kernel_thread, NULL, true, false);
	for (int i = 0; i < o->readers && i < 64; i++) {
		static char names[64][16];
		snprintf(names[i], sizeof(names[i]), "vdso%d", i);
		reader_ids[i] = i;
		stress_spawn(names[i], reader_thread, &reader_ids[i], false, true);
	}
	return true;
}

static void vdso_summary(FILE *f)
{
	fprintf(f, "  kernel: ticks %" PRIu64 ", adjtimex %" PRIu64 ", settimeofday %" PRIu64
		   ", clocksource changes %" PRIu64 ", suspends %" PRIu64 "; largest NTP mult step %u\n",
		atomic_load(&V.n_ticks), atomic_load(&V.n_freq), atomic_load(&V.n_set), atomic_load(&V.n_cs),
		atomic_load(&V.n_sleep), atomic_load(&V.max_dmult));
	fprintf(f, "  tsc_khz %u (calibrated)\n", V.khz);
}

static const struct stress_driver vdso_driver = {
	.protocol = "vdso",
	.summary = "vDSO clock_gettime() readers vs the timekeeper's update_vsyscall() (src/clock/vdso_*.c)",
	.start = vdso_start,
	.summary_lines = vdso_summary,
};
STRESS_DRIVER(vdso_driver)
