// SPDX-License-Identifier: MIT
/*
 * perf mmap page writers: mainline x86 and arm64 (src/clock/perf_kernel.c)
 * and the historical and mutated kernels of known-bugs.md.  A writer names
 * its arch and supplies only what its patch changes.
 */
#include "pvfuzz/perf_time.h"

/* ---------------------------------------------------------- mainline -- */

static const struct perf_writer_ops perf_writer_x86_ops = { .arch = PERF_ARCH_X86 };

PERF_WRITER(perf_writer_x86, perf_writer_x86_ops,
	.flags = PV_MAINLINE,
	.expect = "safe",
	.scenario = "any: context switches, multiplexing, PERF_EVENT_IOC_PERIOD, disable/enable, PMIs, "
		    "the TSC marked unstable, a paravirt sched_clock, use_clockid",
	.history = "mainline x86: perf_event_update_userpage() (kernel/events/core.c) and "
		   "arch_perf_update_userpage() (arch/x86/events/core.c, v6.17): cyc2ns under its latch, "
		   "user time only with a stable native sched_clock")

static const struct perf_writer_ops perf_writer_arm64_ops = { .arch = PERF_ARCH_ARM64 };

PERF_WRITER(perf_writer_arm64, perf_writer_arm64_ops,
	.expect = "safe",
	.scenario = "any: counters of 32-64 bits that wrap in the run, sched_clock epoch moves on "
		    "another CPU, 10-640 MHz, a sched_clock that is not the arch timer",
	.history = "mainline arm64: arch_perf_update_userpage() (drivers/perf/arm_pmuv3.c, v6.17): the "
		   "sched_clock epoch under its latch, cap_user_time_short with time_cycles/time_mask "
		   "(950b74ddefc4, 279a811eb520, c8f9eb0d6eba)")

/* ------------------------------------------------------------ CLK-24 -- */

/*
 * The 2021 proposal to skip the time fields once they are set: time_offset
 * is offset - now, a different value at every update, so it goes stale at
 * the second update while time_enabled moves on.
 */
static void x86_arch_update_userpage_cached(struct perf_kernel *k, struct perf_event_mmap_page *userpg,
					    u64 now)
{
	struct cyc2ns_data data;
	u64 offset;

	perf_page_set_cap(userpg, PERF_CAP_USER_RDPMC, k->event.user_read);
	perf_page_store(userpg->pmc_width, k->cntval_bits);

	if (unlikely(!using_native_sched_clock(k) || !sched_clock_stable(k))) {
		perf_page_set_cap(userpg, PERF_CAP_USER_TIME, false);
		perf_page_set_cap(userpg, PERF_CAP_USER_TIME_ZERO, false);
		return;
	}

	/* already set the time fields before */
	if (likely(READ_ONCE(userpg->capabilities) & PERF_CAP_USER_TIME))
		return;

	cyc2ns_read_begin(k, &data);
	offset = data.cyc2ns_offset + READ_ONCE(k->sched_clock_offset);
	perf_page_set_cap(userpg, PERF_CAP_USER_TIME, true);
	perf_page_store(userpg->time_mult, data.cyc2ns_mul);
	perf_page_store(userpg->time_shift, (u16)data.cyc2ns_shift);
	perf_page_store(userpg->time_offset, offset - now);
	if (!k->event.use_clockid) {
		perf_page_set_cap(userpg, PERF_CAP_USER_TIME_ZERO, true);
		perf_page_store(userpg->time_zero, offset);
	}
	cyc2ns_read_end(k);
}

static const struct perf_writer_ops x86_perf_userpage_cached_ops = {
	.arch = PERF_ARCH_X86,
	.arch_update_userpage = x86_arch_update_userpage_cached,
};

PERF_WRITER(x86_perf_userpage_cached_2021, x86_perf_userpage_cached_ops,
	.bug = "CLK-24",
	.expect = "continuity|plausibility",
	.scenario = "two updates of the page with different `now` (any context switch, rotation, "
		    "PMI or IOC_PERIOD after the first): time_offset keeps the first one",
	.history = "2021 proposal to return early from x86 arch_perf_update_userpage() when "
		   "cap_user_time is already set; caught in review and by the kbuild robot, not merged")

/* ------------------------------------------------------------ arm64 -- */

/*
 * 9d2dcc8fc660 "arm64: perf: Add cap_user_time aarch64" (2018): mult/shift
 * recomputed from the timer rate, time_offset = -now as if sched_clock were
 * the counter converted from 0, no time_zero.  Leo Yan's 2020 report: the
 * counter had been running before sched_clock registered, so the two do
 * not meet at 0.  (The rdpmc part is today's.)
 */
static void arm64_arch_update_userpage_2018(struct perf_kernel *k, struct perf_event_mmap_page *userpg,
					    u64 now)
{
	u32 freq, mult, shift;

	perf_page_set_cap(userpg, PERF_CAP_USER_RDPMC, k->event.user_read);
	if (k->event.user_read)
		perf_page_store(userpg->pmc_width, k->event.pmc_64bit ? 64 : 32);

	/* enabled/running are always kept with sched_clock */
	freq = READ_ONCE(k->cd.rate); /* arch_timer_get_rate() */
	perf_page_set_cap(userpg, PERF_CAP_USER_TIME, true);

	clocks_calc_mult_shift(&mult, &shift, freq, (u32)NSEC_PER_SEC, 0);
	/* the original published conversion shifted a 32-bit value: keep shift < 32 */
	if (shift == 32) {
		shift = 31;
		mult >>= 1;
	}
	perf_page_store(userpg->time_mult, mult);
	perf_page_store(userpg->time_shift, (u16)shift);
	perf_page_store(userpg->time_offset, -now);
}

static const struct perf_writer_ops arm64_perf_userpage_2018_ops = {
	.arch = PERF_ARCH_ARM64,
	.arch_update_userpage = arm64_arch_update_userpage_2018,
};

PERF_WRITER(arm64_perf_userpage_2018, arm64_perf_userpage_2018_ops,
	.expect = "continuity|plausibility",
	.scenario = "any update: the arch counter started before sched_clock was registered, so "
		    "conv(cyc) - now is not the sched_clock time since the update",
	.history = "9d2dcc8fc660 \"arm64: perf: Add cap_user_time aarch64\" (Michael O'Farrell, 2018); "
		   "reported by Leo Yan (\"arm64: perf_event: Fix time_offset for arch timer\", 2020), "
		   "replaced by 950b74ddefc4 \"arm64: perf: Implement correct cap_user_time\"")

/*
 * The May 2020 RFC of "arm64: perf: Implement correct cap_user_time":
 * time_zero -= (epoch_cyc * mult) >> shift in 64 bits, which overflows once
 * the counter has run 2^64 / mult cycles; v3 changed it to mul_u64_u32_shr().
 */
static void arm64_arch_update_userpage_rfc(struct perf_kernel *k, struct perf_event_mmap_page *userpg,
					   u64 now)
{
	struct clock_read_data *rd;
	unsigned seq;
	u64 zero = 0;
	u32 mult = 0;
	u16 shift = 0;

	perf_page_set_cap(userpg, PERF_CAP_USER_TIME, false);
	perf_page_set_cap(userpg, PERF_CAP_USER_TIME_ZERO, false);
	perf_page_set_cap(userpg, PERF_CAP_USER_TIME_SHORT, false);
	perf_page_set_cap(userpg, PERF_CAP_USER_RDPMC, k->event.user_read);
	if (k->event.user_read)
		perf_page_store(userpg->pmc_width, k->event.pmc_64bit ? 64 : 32);

	do {
		rd = sched_clock_read_begin(k, &seq);
		if (READ_ONCE(rd->read_sched_clock) != SCHED_CLOCK_ARCH_TIMER)
			return;
		mult = READ_ONCE(rd->mult);
		perf_page_store(userpg->time_mult, mult);
		shift = (u16)READ_ONCE(rd->shift);
		perf_page_store(userpg->time_shift, shift);
		zero = READ_ONCE(rd->epoch_ns);
		u64 epoch_cyc = READ_ONCE(rd->epoch_cyc);
		perf_page_store(userpg->time_cycles, epoch_cyc);
		perf_page_store(userpg->time_mask, READ_ONCE(rd->sched_clock_mask));
		zero -= (epoch_cyc * mult) >> shift; /* the bug: a 64-bit product */
		perf_page_store(userpg->time_zero, zero);
	} while (sched_clock_read_retry(k, seq));

	perf_page_store(userpg->time_offset, zero - now);
	if (shift == 32) {
		perf_page_store(userpg->time_shift, (u16)31);
		perf_page_store(userpg->time_mult, mult >> 1);
	}
	perf_page_set_cap(userpg, PERF_CAP_USER_TIME, true);
	perf_page_set_cap(userpg, PERF_CAP_USER_TIME_ZERO, true);
	perf_page_set_cap(userpg, PERF_CAP_USER_TIME_SHORT, true);
}

static const struct perf_writer_ops arm64_perf_userpage_rfc_ops = {
	.arch = PERF_ARCH_ARM64,
	.arch_update_userpage = arm64_arch_update_userpage_rfc,
};

PERF_WRITER(arm64_perf_userpage_2020_rfc_overflow, arm64_perf_userpage_rfc_ops,
	.expect = "reference|continuity|plausibility",
	.scenario = "the counter's epoch value times mult exceeds 2^64 (a 56-bit counter well into "
		    "its range, or a fast one that has run for days)",
	.history = "[PATCH 2/5] and 5/5 of Peter Zijlstra's May 2020 \"arm64: perf: Implement "
		   "correct cap_user_time\" series: (rd->epoch_cyc * rd->mult) >> rd->shift; v3 "
		   "(Leo Yan, July 2020) \"Changed to use mul_u64_u32_shr()\"")

/*
 * 950b74ddefc4 before c8f9eb0d6eba: the epoch is right, but the page has no
 * time_cycles/time_mask, so no reader can follow the counter past a wrap.
 */
static void arm64_arch_update_userpage_no_short(struct perf_kernel *k, struct perf_event_mmap_page *userpg,
						u64 now)
{
	struct clock_read_data *rd;
	unsigned seq;
	u64 zero = 0;
	u32 mult = 0;
	u16 shift = 0;

	perf_page_set_cap(userpg, PERF_CAP_USER_TIME, false);
	perf_page_set_cap(userpg, PERF_CAP_USER_TIME_ZERO, false);
	perf_page_set_cap(userpg, PERF_CAP_USER_RDPMC, k->event.user_read);
	if (k->event.user_read)
		perf_page_store(userpg->pmc_width, k->event.pmc_64bit ? 64 : 32);

	do {
		rd = sched_clock_read_begin(k, &seq);
		if (READ_ONCE(rd->read_sched_clock) != SCHED_CLOCK_ARCH_TIMER)
			return;
		mult = READ_ONCE(rd->mult);
		perf_page_store(userpg->time_mult, mult);
		shift = (u16)READ_ONCE(rd->shift);
		perf_page_store(userpg->time_shift, shift);
		zero = READ_ONCE(rd->epoch_ns);
		u64 epoch_cyc = READ_ONCE(rd->epoch_cyc);
		/*
		 * This isn't strictly correct, the ARM64 counter can be 'short'
		 * and then we get funnies when it wraps (the patch's own words).
		 */
		zero -= mul_u64_u32_shr(epoch_cyc, mult, shift);
		perf_page_store(userpg->time_zero, zero);
	} while (sched_clock_read_retry(k, seq));

	perf_page_store(userpg->time_offset, zero - now);
	if (shift == 32) {
		perf_page_store(userpg->time_shift, (u16)31);
		perf_page_store(userpg->time_mult, mult >> 1);
	}
	perf_page_set_cap(userpg, PERF_CAP_USER_TIME, true);
	perf_page_set_cap(userpg, PERF_CAP_USER_TIME_ZERO, true);
}

static const struct perf_writer_ops arm64_perf_userpage_no_short_ops = {
	.arch = PERF_ARCH_ARM64,
	.arch_update_userpage = arm64_arch_update_userpage_no_short,
};

PERF_WRITER(arm64_perf_userpage_no_short_2020, arm64_perf_userpage_no_short_ops,
	.expect = "continuity|reference|plausibility",
	.scenario = "a counter narrower than 64 bits wraps after the page was written: cyc is below "
		    "the epoch and the conversion jumps back by 2^width cycles",
	.history = "950b74ddefc4 \"arm64: perf: Implement correct cap_user_time\" alone; "
		   "6c0246a4588d and c8f9eb0d6eba added cap_user_time_short (Peter Zijlstra, 2020)")

/* ------------------------------------------------------------ x86 2015 -- */

/*
 * Between b20112edeadf ("perf/x86: Improve accuracy of perf/sched clock",
 * clocks_calc_mult_shift() for cyc2ns) and the fix that clamps cyc2ns_shift
 * to 31, a TSC above 1 GHz published time_shift 32.  The model's cyc2ns is
 * the clamped one; publishing (mul * 2, 32) is the same conversion.
 */
static void x86_arch_update_userpage_shift32(struct perf_kernel *k, struct perf_event_mmap_page *userpg,
					     u64 now)
{
	x86_arch_perf_update_userpage(k, userpg, now);
	u16 shift = READ_ONCE(userpg->time_shift);
	if ((READ_ONCE(userpg->capabilities) & PERF_CAP_USER_TIME) && shift == 31) {
		u32 mult = READ_ONCE(userpg->time_mult);
		perf_page_store(userpg->time_mult, mult << 1);
		perf_page_store(userpg->time_shift, (u16)32);
	}
}

static const struct perf_writer_ops x86_perf_userpage_shift32_ops = {
	.arch = PERF_ARCH_X86,
	.arch_update_userpage = x86_arch_update_userpage_shift32,
};

PERF_WRITER(x86_perf_userpage_shift32_2015, x86_perf_userpage_shift32_ops,
	.expect = "writer_discipline",
	.scenario = "any TSC above 1 GHz (TSC rate > 100 ticks per step): cyc2ns has shift 32",
	.history = "x86 cyc2ns via clocks_calc_mult_shift() (b20112edeadf, 2015) before the clamp "
		   "\"cyc2ns_shift is exported via arch_perf_update_userpage() where it is not expected "
		   "to be greater than 31\" (arch/x86/kernel/tsc.c)")

/* ---------------------------------------------------------- core 2021 -- */

/* Before f792565326825: nothing rewrites the page of an event left without a counter. */
static void sched_in_inactive_no_update(struct perf_kernel *k)
{
}

static const struct perf_writer_ops perf_core_inactive_ops = {
	.arch = PERF_ARCH_X86,
	.sched_in_inactive = sched_in_inactive_no_update,
};

PERF_WRITER(perf_core_inactive_no_userpage_2021, perf_core_inactive_ops,
	.expect = "plausibility|continuity",
	.scenario = "multiplexing: the event loses its counter at a rotation; the page still names "
		    "the counter and says running keeps growing",
	.history = "perf core before f792565326825 \"perf/core: fix userpage->time_enabled of "
		   "inactive events\" (Song Liu, 2021): the page was only written when the event got "
		   "onto the PMU")

/* --------------------------------------------------------- synthetic -- */

/* perf_event_update_userpage() without the barrier() before the closing ++lock. */
static void perf_event_update_userpage_no_barrier(struct perf_kernel *k)
{
	struct perf_event_mmap_page *userpg = k->event.userpg;
	u64 enabled, running, now;
	u32 index;
	s64 offset;

	calc_timer_values(k, &now, &enabled, &running);
	preempt_disable();
	WRITE_ONCE(userpg->lock, READ_ONCE(userpg->lock) + 1);
	barrier();
	index = perf_event_index(k);
	perf_page_store(userpg->index, index);
	offset = perf_event_count(k);
	if (index)
		offset = (s64)((u64)offset - k->event.prev_count);
	perf_page_store(userpg->offset, offset);
	perf_page_store(userpg->time_enabled, enabled + k->event.child_total_time_enabled);
	perf_page_store(userpg->time_running, running + k->event.child_total_time_running);
	arch_perf_update_userpage(k, userpg, now);
	/* the mutation: no barrier() here */
	WRITE_ONCE(userpg->lock, READ_ONCE(userpg->lock) + 1);
	preempt_enable();
}

static const struct perf_writer_ops perf_writer_no_barrier_ops = {
	.arch = PERF_ARCH_ARM64,
	.update_userpage = perf_event_update_userpage_no_barrier,
};

PERF_WRITER(perf_writer_no_barrier, perf_writer_no_barrier_ops,
	.bug = "CLK-S3",
	.partner = "perf_tsc_conversion",
	.expect = "writer_discipline|torn_snapshot|reference|plausibility",
	.scenario = "compiler reordering on (SIM_MODE_REORDER): the plain field stores sink below "
		    "the even lock; a reader on another CPU sees the new lock with old fields",
	.history = "synthetic mutation of perf_event_update_userpage(): the second barrier() removed")

/* arm64 arch_perf_update_userpage() reading the sched_clock latch once, without the retry. */
static void arm64_arch_update_userpage_no_retry(struct perf_kernel *k, struct perf_event_mmap_page *userpg,
						u64 now)
{
	struct clock_read_data *rd;
	unsigned seq;
	u64 zero;
	u32 mult;
	u16 shift;

	perf_page_set_cap(userpg, PERF_CAP_USER_TIME, false);
	perf_page_set_cap(userpg, PERF_CAP_USER_TIME_ZERO, false);
	perf_page_set_cap(userpg, PERF_CAP_USER_TIME_SHORT, false);
	perf_page_set_cap(userpg, PERF_CAP_USER_RDPMC, k->event.user_read);
	if (k->event.user_read)
		perf_page_store(userpg->pmc_width, k->event.pmc_64bit ? 64 : 32);

	rd = sched_clock_read_begin(k, &seq); /* the mutation: no sched_clock_read_retry() loop */
	if (READ_ONCE(rd->read_sched_clock) != SCHED_CLOCK_ARCH_TIMER)
		return;
	mult = READ_ONCE(rd->mult);
	perf_page_store(userpg->time_mult, mult);
	shift = (u16)READ_ONCE(rd->shift);
	perf_page_store(userpg->time_shift, shift);
	zero = READ_ONCE(rd->epoch_ns);
	u64 epoch_cyc = READ_ONCE(rd->epoch_cyc);
	perf_page_store(userpg->time_cycles, epoch_cyc);
	perf_page_store(userpg->time_mask, READ_ONCE(rd->sched_clock_mask));
	zero -= mul_u64_u32_shr(epoch_cyc, mult, shift);
	perf_page_store(userpg->time_zero, zero);

	perf_page_store(userpg->time_offset, zero - now);
	perf_page_set_cap(userpg, PERF_CAP_USER_TIME, true);
	perf_page_set_cap(userpg, PERF_CAP_USER_TIME_ZERO, true);
	perf_page_set_cap(userpg, PERF_CAP_USER_TIME_SHORT, true);
}

static const struct perf_writer_ops arm64_perf_userpage_no_latch_retry_ops = {
	.arch = PERF_ARCH_ARM64,
	.arch_update_userpage = arm64_arch_update_userpage_no_retry,
};

PERF_WRITER(arm64_perf_userpage_no_latch_retry, arm64_perf_userpage_no_latch_retry_ops,
	.expect = "reference|continuity|plausibility",
	.scenario = "update_sched_clock() on another CPU rewrites the latch copy the update is reading: "
		    "epoch_ns of the new epoch with epoch_cyc of the old",
	.history = "synthetic mutation of arm64 arch_perf_update_userpage(): the "
		   "sched_clock_read_begin()/sched_clock_read_retry() loop reduced to one pass")

/* x86 arch_perf_update_userpage() that only asks using_native_sched_clock(). */
static void x86_arch_update_userpage_ignore_stable(struct perf_kernel *k, struct perf_event_mmap_page *userpg,
						   u64 now)
{
	struct cyc2ns_data data;
	u64 offset;

	perf_page_set_cap(userpg, PERF_CAP_USER_TIME, false);
	perf_page_set_cap(userpg, PERF_CAP_USER_TIME_ZERO, false);
	perf_page_set_cap(userpg, PERF_CAP_USER_RDPMC, k->event.user_read);
	perf_page_store(userpg->pmc_width, k->cntval_bits);

	if (!using_native_sched_clock(k)) /* the mutation: no sched_clock_stable() */
		return;

	cyc2ns_read_begin(k, &data);
	offset = data.cyc2ns_offset + READ_ONCE(k->sched_clock_offset);
	perf_page_set_cap(userpg, PERF_CAP_USER_TIME, true);
	perf_page_store(userpg->time_mult, data.cyc2ns_mul);
	perf_page_store(userpg->time_shift, (u16)data.cyc2ns_shift);
	perf_page_store(userpg->time_offset, offset - now);
	if (!k->event.use_clockid) {
		perf_page_set_cap(userpg, PERF_CAP_USER_TIME_ZERO, true);
		perf_page_store(userpg->time_zero, offset);
	}
	cyc2ns_read_end(k);
}

static const struct perf_writer_ops x86_perf_userpage_ignores_stable_ops = {
	.arch = PERF_ARCH_X86,
	.arch_update_userpage = x86_arch_update_userpage_ignore_stable,
};

PERF_WRITER(x86_perf_userpage_ignores_stable, x86_perf_userpage_ignores_stable_ops,
	.expect = "writer_discipline",
	.scenario = "the TSC is marked unstable (at boot: TSCs out of sync, SIM_MODE_SKEW; or later by "
		    "the watchdog) and the page is rewritten",
	.history = "synthetic mutation of x86 arch_perf_update_userpage(): the sched_clock_stable() "
		   "test removed")
