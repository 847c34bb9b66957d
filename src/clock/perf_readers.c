// SPDX-License-Identifier: MIT
/*
 * perf mmap page readers: the self-monitoring read documented in
 * include/uapi/linux/perf_event.h, libperf's perf_mmap__read_self()
 * (tools/lib/perf/mmap.c), perf's TSC conversion (tools/perf/util/tsc.c),
 * and their historical and mutated forms.  A page field is one READ_ONCE per
 * statement; the capability bitfields are one load of `capabilities`.
 */
#include "pvfuzz/perf_time.h"

/* The documented sign extension of a pmc_width-bit counter value. */
static inline u64 pmc_sign_extend(u64 pmc, u16 width)
{
	if (width == 0 || width >= 64) /* 64: nothing to extend; 0: never written with rdpmc */
		return pmc;
	return (u64)((s64)(pmc << (64 - width)) >> (64 - width));
}

/* ---------------------------------------------------------- mainline -- */

/*
 * The read of the perf_event.h comment: the lock loop around everything,
 * the time fields only when cap_usr_time says they mean something and the
 * event was not on the PMU all along (then no scaling is needed), the cyc
 * fold of cap_user_time_short, rdpmc when the event sits on a counter.  The
 * comment leaves the arithmetic after the loop; it uses what the final pass
 * read, so every value here is that pass's.
 */
static bool perf_read_documented(const struct perf_event_mmap_page *pc, const struct perf_user_clock *uc,
				 struct perf_user_read *r)
{
	u32 seq, time_mult = 0, index;
	u16 time_shift = 0, width = 0;
	u64 enabled, running, caps, cyc = 0, time_offset = 0, time_zero = 0;
	u64 time_cycles = 0, time_mask = 0, pmc = 0;
	s64 count;
	bool use_time, use_zero, use_short;

	do {
		seq = READ_ONCE(pc->lock);
		barrier();

		enabled = READ_ONCE(pc->time_enabled);
		running = READ_ONCE(pc->time_running);
		caps = READ_ONCE(pc->capabilities);
		use_time = (caps & PERF_CAP_USER_TIME) && enabled != running;
		use_zero = caps & PERF_CAP_USER_TIME_ZERO;
		use_short = caps & PERF_CAP_USER_TIME_SHORT;
		if (use_time || use_zero) {
			cyc = perf_read_counter(uc);
			time_offset = READ_ONCE(pc->time_offset);
			time_mult = READ_ONCE(pc->time_mult);
			time_shift = READ_ONCE(pc->time_shift);
			if (use_zero)
				time_zero = READ_ONCE(pc->time_zero);
			if (use_short) {
				time_cycles = READ_ONCE(pc->time_cycles);
				time_mask = READ_ONCE(pc->time_mask);
			}
		}

		index = READ_ONCE(pc->index);
		count = READ_ONCE(pc->offset);
		if ((caps & PERF_CAP_USER_RDPMC) && index) {
			width = READ_ONCE(pc->pmc_width);
			pmc = perf_rdpmc(uc, index - 1);
		}
		barrier();
	} while (READ_ONCE(pc->lock) != seq);

	r->flags = PERF_READ_TIMES | PERF_READ_COUNT;
	r->cyc = cyc;
	if (use_short)
		cyc = time_cycles + ((cyc - time_cycles) & time_mask);
	if (use_time) {
		u64 delta = time_offset + perf_cyc_to_ns(cyc, time_mult, time_shift);
		enabled += delta;
		if (index)
			running += delta;
		r->flags |= PERF_READ_TIME;
	}
	if (use_zero) {
		r->timestamp = time_zero + perf_cyc_to_ns(cyc, time_mult, time_shift);
		r->flags |= PERF_READ_ZERO;
	}
	if ((caps & PERF_CAP_USER_RDPMC) && index)
		count = (s64)((u64)count + pmc_sign_extend(pmc, width));
	r->enabled = enabled;
	r->running = running;
	r->count = (u64)count;
	return true;
}

PERF_READER(perf_reader_documented, perf_read_documented, false,
	.flags = PV_MAINLINE,
	.expect = "safe",
	.scenario = "any: context switches, multiplexing, PERF_EVENT_IOC_PERIOD, disable/enable, PMIs, "
		    "sched_clock epoch moves, counter wraps, an unstable TSC",
	.history = "the self-monitoring read in the comment of struct perf_event_mmap_page "
		   "(include/uapi/linux/perf_event.h, v6.17): lock loop, cap_usr_time, "
		   "cap_user_time_short fold, time_zero, rdpmc with pmc_width sign extension")

/*
 * perf's TSC conversion (tools/perf/util/tsc.c perf_read_tsc_conversion()
 * and tsc_to_perf_time()): it reads another CPU's page, so it waits for an
 * even lock, and gives up after 10000 tries; then converts a counter value.
 */
static bool perf_read_tsc_conversion(const struct perf_event_mmap_page *pc, const struct perf_user_clock *uc,
				     struct perf_user_read *r)
{
	u32 seq, time_mult;
	u16 time_shift;
	u64 time_zero, time_cycles, time_mask, caps, cyc, quot, rem;
	int i = 0;

	while (1) {
		seq = READ_ONCE(pc->lock);
		rmb();
		time_mult = READ_ONCE(pc->time_mult);
		time_shift = READ_ONCE(pc->time_shift);
		time_zero = READ_ONCE(pc->time_zero);
		time_cycles = READ_ONCE(pc->time_cycles);
		time_mask = READ_ONCE(pc->time_mask);
		caps = READ_ONCE(pc->capabilities);
		rmb();
		if (READ_ONCE(pc->lock) == seq && !(seq & 1))
			break;
		if (++i > 10000)
			return false; /* -EINVAL: failed to get perf_event_mmap_page lock */
	}
	if (!(caps & PERF_CAP_USER_TIME_ZERO))
		return false; /* -EOPNOTSUPP */

	cyc = perf_read_counter(uc);
	r->cyc = cyc;
	if (caps & PERF_CAP_USER_TIME_SHORT)
		cyc = time_cycles + ((cyc - time_cycles) & time_mask);
	quot = cyc >> time_shift;
	rem = cyc & (((u64)1 << time_shift) - 1);
	r->timestamp = time_zero + quot * time_mult + ((rem * time_mult) >> time_shift);
	r->flags = PERF_READ_ZERO;
	return true;
}

PERF_READER(perf_tsc_conversion, perf_read_tsc_conversion, true,
	.expect = "safe",
	.scenario = "the page of an event on another CPU: updates in flight, sched_clock epoch moves, "
		    "counter wraps",
	.history = "perf's perf_read_tsc_conversion() + tsc_to_perf_time() (tools/perf/util/tsc.c) "
		   "after \"perf tools: Support cap_user_time_short for event TIME_CONV\" (Leo Yan, 2020)")

/*
 * libperf perf_mmap__read_self() (tools/lib/perf/mmap.c, v6.17): the time
 * variables live across passes of the loop and are only assigned when the
 * pass saw cap_user_time, but the extrapolation after the loop runs whenever
 * the final pass saw enabled != running.  A pass that saw cap_user_time set,
 * then an update clearing it (the x86 TSC marked unstable) before the
 * retried pass, extrapolates the new pass's times with the old pass's
 * cyc and time_* fields.
 */
static bool libperf_mmap_read_self(const struct perf_event_mmap_page *pc, const struct perf_user_clock *uc,
				   struct perf_user_read *r)
{
	u32 seq, idx, time_mult = 0;
	u16 time_shift = 0;
	u64 cnt, cyc = 0, time_offset = 0, time_cycles = 0, time_mask = ~0ULL, ena, run, caps;
	bool loaded = false;

	caps = READ_ONCE(pc->capabilities);
	if (!(caps & PERF_CAP_USER_RDPMC))
		return false;

	do {
		seq = READ_ONCE(pc->lock);
		barrier();

		ena = READ_ONCE(pc->time_enabled);
		run = READ_ONCE(pc->time_running);

		caps = READ_ONCE(pc->capabilities);
		if ((caps & PERF_CAP_USER_TIME) && ena != run) {
			cyc = perf_read_counter(uc);
			time_mult = READ_ONCE(pc->time_mult);
			time_shift = READ_ONCE(pc->time_shift);
			time_offset = READ_ONCE(pc->time_offset);
			loaded = true;

			caps = READ_ONCE(pc->capabilities);
			if (caps & PERF_CAP_USER_TIME_SHORT) {
				time_cycles = READ_ONCE(pc->time_cycles);
				time_mask = READ_ONCE(pc->time_mask);
			}
		}

		idx = READ_ONCE(pc->index);
		cnt = READ_ONCE(pc->offset);
		caps = READ_ONCE(pc->capabilities);
		if ((caps & PERF_CAP_USER_RDPMC) && idx) {
			s64 evcnt = (s64)perf_rdpmc(uc, idx - 1);
			u16 width = READ_ONCE(pc->pmc_width);

			evcnt = (s64)pmc_sign_extend((u64)evcnt, width);
			cnt += (u64)evcnt;
		} else {
			return false;
		}

		barrier();
	} while (READ_ONCE(pc->lock) != seq);

	r->flags = PERF_READ_TIMES | PERF_READ_COUNT;
	r->cyc = cyc;
	if (ena != run) {
		u64 delta;

		/* Adjust for cap_usr_time_short, a nop if not */
		cyc = time_cycles + ((cyc - time_cycles) & time_mask);
		delta = time_offset + mul_u64_u32_shr(cyc, time_mult, time_shift);
		ena += delta;
		if (idx)
			run += delta;
		if (loaded) /* without any pass's time fields delta is 0: nothing used */
			r->flags |= PERF_READ_TIME;
	}
	r->enabled = ena;
	r->running = run;
	r->count = cnt;
	return true;
}

/*
 * torn_snapshot too: the time_* it extrapolates with come from an earlier
 * pass than the count and times of the accepted one, which is a mix of two
 * generations of the page (scratch seed 2 reports it first).
 */
PERF_READER(libperf_read_self, libperf_mmap_read_self, false,
	.expect = "fallback|plausibility|torn_snapshot",
	.scenario = "x86: the event is multiplexed (enabled != running); a pass reads cap_user_time "
		    "set, the TSC is marked unstable and the page rewritten (cap_user_time 0) before "
		    "the retried pass; the result extrapolates with time_* the accepted pass was told "
		    "not to use",
	.history = "libperf perf_mmap__read_self() (tools/lib/perf/mmap.c, Rob Herring 2021, as in "
		   "v6.17): time variables assigned under cap_user_time, used after the loop when "
		   "enabled != running; found by pvfuzz's model")

/*
 * The same with the counter value in a u64, as "libperf mmap: Avoid
 * undefined behavior" (perf-tools-next, Sep 2025) changed it: the right
 * shift no longer sign-extends, so a counter programmed to -period (any
 * counting event) is read 2^pmc_width too high.
 */
static bool libperf_mmap_read_self_u64(const struct perf_event_mmap_page *pc, const struct perf_user_clock *uc,
				       struct perf_user_read *r)
{
	u32 seq, idx;
	u64 cnt, ena, run, caps;

	caps = READ_ONCE(pc->capabilities);
	if (!(caps & PERF_CAP_USER_RDPMC))
		return false;

	do {
		seq = READ_ONCE(pc->lock);
		barrier();

		ena = READ_ONCE(pc->time_enabled);
		run = READ_ONCE(pc->time_running);

		idx = READ_ONCE(pc->index);
		cnt = READ_ONCE(pc->offset);
		caps = READ_ONCE(pc->capabilities);
		if ((caps & PERF_CAP_USER_RDPMC) && idx) {
			u64 evcnt = perf_rdpmc(uc, idx - 1);
			u16 width = READ_ONCE(pc->pmc_width);

			evcnt <<= 64 - width;
			evcnt >>= 64 - width;
			cnt += evcnt;
		} else {
			return false;
		}

		barrier();
	} while (READ_ONCE(pc->lock) != seq);

	r->flags = PERF_READ_TIMES | PERF_READ_COUNT;
	r->enabled = ena;
	r->running = run;
	r->count = cnt;
	return true;
}

PERF_READER(libperf_read_self_u64_evcnt, libperf_mmap_read_self_u64, false,
	.expect = "reference|plausibility",
	.scenario = "any counting event on a counter narrower than 64 bits: the kernel programs it "
		    "to -period, so its top bit is set",
	.history = "perf_mmap__read_self() with \"u64 evcnt\" (\"libperf mmap: Avoid undefined "
		   "behavior\", Ian Rogers, applied to perf-tools-next Sep 2025): a logical shift "
		   "where sign extension is meant (time part left out)")

/* -------------------------------------------------------- historical -- */

/*
 * perf_read_tsc_conversion() before cap_user_time_short (2013-2020): no
 * fold, so a counter that wrapped since time_cycles is converted as if it
 * had gone back to zero.
 */
static bool perf_read_tsc_conversion_2013(const struct perf_event_mmap_page *pc,
					  const struct perf_user_clock *uc, struct perf_user_read *r)
{
	u32 seq, time_mult;
	u16 time_shift;
	u64 time_zero, caps, cyc, quot, rem;
	int i = 0;

	while (1) {
		seq = READ_ONCE(pc->lock);
		rmb();
		time_mult = READ_ONCE(pc->time_mult);
		time_shift = READ_ONCE(pc->time_shift);
		time_zero = READ_ONCE(pc->time_zero);
		caps = READ_ONCE(pc->capabilities);
		rmb();
		if (READ_ONCE(pc->lock) == seq && !(seq & 1))
			break;
		if (++i > 10000)
			return false;
	}
	if (!(caps & PERF_CAP_USER_TIME_ZERO))
		return false;

	cyc = perf_read_counter(uc);
	r->cyc = cyc;
	quot = cyc >> time_shift;
	rem = cyc & (((u64)1 << time_shift) - 1);
	r->timestamp = time_zero + quot * time_mult + ((rem * time_mult) >> time_shift);
	r->flags = PERF_READ_ZERO;
	return true;
}

PERF_READER(perf_tsc_conversion_2013, perf_read_tsc_conversion_2013, true,
	.fixed = "perf_tsc_conversion",
	.partner = "perf_writer_arm64",
	.safe_with = "perf_writer_x86",
	.expect = "reference|plausibility",
	.scenario = "arm64: the counter wraps past its width after the page was written "
		    "(cap_user_time_short set, time_cycles near the top of time_mask)",
	.history = "perf_read_tsc_conversion() of 2013 (Adrian Hunter, for PERF_RECORD_TIME_CONV) "
		   "until Leo Yan's 2020 cap_user_time_short support: time_cycles/time_mask not read")

/*
 * The documented conversion before 2015: rem = cyc & ((1 << time_shift) - 1)
 * on an int.  On x86 SHL takes its count modulo 32, so time_shift 32 makes
 * the mask 0 and drops the low 32 bits of cyc; written here with the
 * masking explicit so the model itself stays defined C.
 */
static inline u64 cyc_to_ns_int_mask(u64 cyc, u32 time_mult, u16 time_shift)
{
	u64 quot = cyc >> time_shift;
	u64 rem = cyc & (u64)((1U << (time_shift & 31)) - 1);
	return quot * time_mult + ((rem * time_mult) >> time_shift);
}

static bool perf_read_2011_int_mask(const struct perf_event_mmap_page *pc, const struct perf_user_clock *uc,
				    struct perf_user_read *r)
{
	u32 seq, time_mult = 0, index;
	u16 time_shift = 0, width = 0;
	u64 enabled, running, caps, cyc = 0, time_offset = 0, time_zero = 0, pmc = 0;
	s64 count;
	bool use_time, use_zero;

	do {
		seq = READ_ONCE(pc->lock);
		barrier();
		enabled = READ_ONCE(pc->time_enabled);
		running = READ_ONCE(pc->time_running);
		caps = READ_ONCE(pc->capabilities);
		use_time = (caps & PERF_CAP_USER_TIME) && enabled != running;
		use_zero = caps & PERF_CAP_USER_TIME_ZERO;
		if (use_time || use_zero) {
			cyc = perf_read_counter(uc);
			time_offset = READ_ONCE(pc->time_offset);
			time_mult = READ_ONCE(pc->time_mult);
			time_shift = READ_ONCE(pc->time_shift);
			if (use_zero)
				time_zero = READ_ONCE(pc->time_zero);
		}
		index = READ_ONCE(pc->index);
		count = READ_ONCE(pc->offset);
		if ((caps & PERF_CAP_USER_RDPMC) && index) {
			width = READ_ONCE(pc->pmc_width);
			pmc = perf_rdpmc(uc, index - 1);
		}
		barrier();
	} while (READ_ONCE(pc->lock) != seq);

	r->flags = PERF_READ_TIMES | PERF_READ_COUNT;
	r->cyc = cyc;
	if (use_time) {
		u64 delta = time_offset + cyc_to_ns_int_mask(cyc, time_mult, time_shift);
		enabled += delta;
		if (index)
			running += delta;
		r->flags |= PERF_READ_TIME;
	}
	if (use_zero) {
		r->timestamp = time_zero + cyc_to_ns_int_mask(cyc, time_mult, time_shift);
		r->flags |= PERF_READ_ZERO;
	}
	if ((caps & PERF_CAP_USER_RDPMC) && index)
		count = (s64)((u64)count + pmc_sign_extend(pmc, width));
	r->enabled = enabled;
	r->running = running;
	r->count = (u64)count;
	return true;
}

PERF_READER(perf_reader_2011_int_mask, perf_read_2011_int_mask, false,
	.partner = "x86_perf_userpage_shift32_2015",
	.safe_with = "perf_writer_x86",
	.expect = "reference|writer_discipline",
	.scenario = "a TSC above 1 GHz, so cyc2ns takes time_shift 32, published as is: the int mask "
		    "is 0 and the low 32 bits of cyc are lost",
	.history = "the perf_event.h conversion from 2011 (c7206205d00a) to the 2015 fix that made "
		   "the mask a u64 and clamped x86's shift to 31 (the comment in __set_cyc2ns_scale())")

/* --------------------------------------------------------- synthetic -- */

/* CLK-S2 for the perf page: one pass, no second look at the lock. */
static bool perf_read_no_retry(const struct perf_event_mmap_page *pc, const struct perf_user_clock *uc,
			       struct perf_user_read *r)
{
	u32 time_mult = 0, index;
	u16 time_shift = 0, width = 0;
	u64 enabled, running, caps, cyc = 0, time_offset = 0, time_cycles = 0, time_mask = 0, pmc = 0;
	s64 count;
	bool use_time;

	(void)READ_ONCE(pc->lock); /* the mutation: read once, never re-checked */
	barrier();
	enabled = READ_ONCE(pc->time_enabled);
	running = READ_ONCE(pc->time_running);
	caps = READ_ONCE(pc->capabilities);
	use_time = (caps & PERF_CAP_USER_TIME) && enabled != running;
	if (use_time) {
		cyc = perf_read_counter(uc);
		time_offset = READ_ONCE(pc->time_offset);
		time_mult = READ_ONCE(pc->time_mult);
		time_shift = READ_ONCE(pc->time_shift);
		if (caps & PERF_CAP_USER_TIME_SHORT) {
			time_cycles = READ_ONCE(pc->time_cycles);
			time_mask = READ_ONCE(pc->time_mask);
		}
	}
	index = READ_ONCE(pc->index);
	count = READ_ONCE(pc->offset);
	if ((caps & PERF_CAP_USER_RDPMC) && index) {
		width = READ_ONCE(pc->pmc_width);
		pmc = perf_rdpmc(uc, index - 1);
	}

	r->flags = PERF_READ_TIMES | PERF_READ_COUNT;
	r->cyc = cyc;
	if (caps & PERF_CAP_USER_TIME_SHORT)
		cyc = time_cycles + ((cyc - time_cycles) & time_mask);
	if (use_time) {
		u64 delta = time_offset + perf_cyc_to_ns(cyc, time_mult, time_shift);
		enabled += delta;
		if (index)
			running += delta;
		r->flags |= PERF_READ_TIME;
	}
	if ((caps & PERF_CAP_USER_RDPMC) && index)
		count = (s64)((u64)count + pmc_sign_extend(pmc, width));
	r->enabled = enabled;
	r->running = running;
	r->count = (u64)count;
	return true;
}

PERF_READER(perf_reader_no_retry, perf_read_no_retry, false,
	.bug = "CLK-S2",
	.expect = "torn_snapshot|reference|plausibility",
	.scenario = "an interrupt on the task's CPU (PMI, rotation, context switch) rewrites the page "
		    "between two of the reader's loads",
	.history = "synthetic mutation of the documented read: the `while (pc->lock != seq)` retry removed")

/* perf's TSC conversion without `!(seq & 1)`: an update in flight on another CPU passes. */
static bool perf_read_tsc_conversion_no_odd(const struct perf_event_mmap_page *pc,
					    const struct perf_user_clock *uc, struct perf_user_read *r)
{
	u32 seq, time_mult;
	u16 time_shift;
	u64 time_zero, time_cycles, time_mask, caps, cyc;
	int i = 0;

	while (1) {
		seq = READ_ONCE(pc->lock);
		rmb();
		time_mult = READ_ONCE(pc->time_mult);
		time_shift = READ_ONCE(pc->time_shift);
		time_zero = READ_ONCE(pc->time_zero);
		time_cycles = READ_ONCE(pc->time_cycles);
		time_mask = READ_ONCE(pc->time_mask);
		caps = READ_ONCE(pc->capabilities);
		rmb();
		if (READ_ONCE(pc->lock) == seq) /* the mutation */
			break;
		if (++i > 10000)
			return false;
	}
	if (!(caps & PERF_CAP_USER_TIME_ZERO))
		return false;

	cyc = perf_read_counter(uc);
	r->cyc = cyc;
	if (caps & PERF_CAP_USER_TIME_SHORT)
		cyc = time_cycles + ((cyc - time_cycles) & time_mask);
	r->timestamp = time_zero + perf_cyc_to_ns(cyc, time_mult, time_shift);
	r->flags = PERF_READ_ZERO;
	return true;
}

PERF_READER(perf_tsc_conversion_no_odd_check, perf_read_tsc_conversion_no_odd, true,
	.fixed = "perf_tsc_conversion",
	.partner = "perf_writer_arm64",
	.expect = "torn_snapshot|reference|plausibility",
	.scenario = "a reader on another CPU reads the whole page while the event's CPU is inside "
		    "its update (odd lock, unchanged at both loads): time_zero already new, time_cycles "
		    "still old",
	.history = "synthetic mutation of perf_read_tsc_conversion(): the odd test dropped from the "
		   "retry condition")

/* The short fold applied whether or not cap_user_time_short says the fields are valid. */
static bool perf_read_fold_always(const struct perf_event_mmap_page *pc, const struct perf_user_clock *uc,
				  struct perf_user_read *r)
{
	u32 seq, time_mult = 0;
	u16 time_shift = 0;
	u64 caps, cyc = 0, time_zero = 0, time_cycles = 0, time_mask = 0;

	do {
		seq = READ_ONCE(pc->lock);
		barrier();
		caps = READ_ONCE(pc->capabilities);
		if (caps & PERF_CAP_USER_TIME_ZERO) {
			cyc = perf_read_counter(uc);
			time_mult = READ_ONCE(pc->time_mult);
			time_shift = READ_ONCE(pc->time_shift);
			time_zero = READ_ONCE(pc->time_zero);
			time_cycles = READ_ONCE(pc->time_cycles); /* the mutation: not under the cap */
			time_mask = READ_ONCE(pc->time_mask);
		}
		barrier();
	} while (READ_ONCE(pc->lock) != seq);

	if (!(caps & PERF_CAP_USER_TIME_ZERO))
		return false;
	r->cyc = cyc;
	cyc = time_cycles + ((cyc - time_cycles) & time_mask);
	r->timestamp = time_zero + perf_cyc_to_ns(cyc, time_mult, time_shift);
	r->flags = PERF_READ_ZERO;
	return true;
}

PERF_READER(perf_reader_fold_always, perf_read_fold_always, false,
	.expect = "reference|plausibility",
	.scenario = "x86: cap_user_time_short is 0 and time_cycles/time_mask are 0, so the fold "
		    "turns every counter value into 0",
	.history = "synthetic: the libperf-style unconditional fold without libperf's ~0 default for "
		   "time_mask")

/* Time fields used whatever the capability bits say. */
static bool perf_read_ignore_caps(const struct perf_event_mmap_page *pc, const struct perf_user_clock *uc,
				  struct perf_user_read *r)
{
	u32 seq, time_mult, index;
	u16 time_shift;
	u64 enabled, running, cyc, time_offset, time_zero;

	do {
		seq = READ_ONCE(pc->lock);
		barrier();
		enabled = READ_ONCE(pc->time_enabled);
		running = READ_ONCE(pc->time_running);
		cyc = perf_read_counter(uc); /* the mutation: no cap_usr_time / cap_user_time_zero test */
		time_offset = READ_ONCE(pc->time_offset);
		time_mult = READ_ONCE(pc->time_mult);
		time_shift = READ_ONCE(pc->time_shift);
		time_zero = READ_ONCE(pc->time_zero);
		index = READ_ONCE(pc->index);
		barrier();
	} while (READ_ONCE(pc->lock) != seq);

	r->cyc = cyc;
	r->flags = PERF_READ_TIMES | PERF_READ_ZERO;
	if (enabled != running) {
		u64 delta = time_offset + perf_cyc_to_ns(cyc, time_mult, time_shift);
		enabled += delta;
		if (index)
			running += delta;
		r->flags |= PERF_READ_TIME;
	}
	r->enabled = enabled;
	r->running = running;
	r->timestamp = time_zero + perf_cyc_to_ns(cyc, time_mult, time_shift);
	return true;
}

PERF_READER(perf_reader_ignores_caps, perf_read_ignore_caps, false,
	.expect = "fallback|reference|plausibility",
	.scenario = "x86 with a paravirt (kvmclock) sched_clock, an unstable TSC or a use_clockid "
		    "event: the kernel clears cap_user_time(_zero) and the reader converts anyway",
	.history = "synthetic mutation of the documented read: cap_usr_time and cap_user_time_zero "
		   "not tested (P4)")
