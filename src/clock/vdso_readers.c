// SPDX-License-Identifier: MIT
/*
 * vDSO clock_gettime() readers: mainline __cvdso_clock_gettime_common()
 * (src/clock/vdso_kernel.c) and the historical and mutated forms of its
 * arithmetic and its seq loop.  Each reads like the kernel code it models.
 */
#include "pvfuzz/vdso.h"

/* ---------------------------------------------------------- mainline -- */

VDSO_READER(vdso_reader_mainline, __cvdso_clock_gettime_common,
	.flags = PV_MAINLINE,
	.expect = "safe",
	.scenario = "any: ticks, NTP frequency changes, settimeofday, suspend, clocksource changes to "
		    "kvm-clock and to clocks without a vDSO mode, a VM paused for hours, per-CPU TSC skew, "
		    "migration in the middle of the read",
	.history = "mainline __cvdso_clock_gettime_common() (lib/vdso/gettimeofday.c, v6.17) with x86's "
		   "__arch_get_hw_counter() and overflow-safe vdso_calc_ns() (7e90ffb716d2)")

/* ------------------------------------------------- the arithmetic -- */

/* The hres read with a caller's vdso_calc_ns(). */
static bool do_hres_with(const struct vdso_user *u, const struct vdso_clock *vc, clockid_t clk,
			 struct timespec64 *ts, u64 (*calc)(const struct vdso_clock *vc, u64 cycles, u64 base))
{
	const struct vdso_timestamp *vdso_ts = &vc->basetime[clk];
	u64 cycles, sec, ns;
	u32 seq;
	s32 mode;

	do {
		seq = vdso_read_begin(vc);
		mode = READ_ONCE(vc->clock_mode);
		if (mode == VDSO_CLOCKMODE_NONE)
			return false;
		cycles = __arch_get_hw_counter(mode, u);
		if (unlikely(!vdso_cycles_ok(cycles)))
			return false;
		ns = READ_ONCE(vdso_ts->nsec);
		ns = calc(vc, cycles, ns);
		sec = READ_ONCE(vdso_ts->sec);
	} while (unlikely(vdso_read_retry(vc, seq)));

	ts->tv_sec = (s64)(sec + __iter_div_u64_rem(ns, NSEC_PER_SEC, &ns));
	ts->tv_nsec = (long)ns;
	return true;
}

/* __cvdso_clock_gettime_common() around a caller's hres read. */
static bool gettime_with(const struct vdso_user *u, clockid_t clock, struct timespec64 *ts,
			 u64 (*calc)(const struct vdso_clock *vc, u64 cycles, u64 base))
{
	const struct vdso_clock *vc = u->vd->clock_data;
	u32 msk;

	if ((u32)clock >= CLOCK_AUX)
		return false;
	msk = 1U << clock;
	if (msk & VDSO_HRES)
		return do_hres_with(u, &vc[CS_HRES_COARSE], clock, ts, calc);
	if (msk & VDSO_COARSE)
		return do_coarse(u, &vc[CS_HRES_COARSE], clock, ts);
	if (msk & VDSO_RAW)
		return do_hres_with(u, &vc[CS_RAW], clock, ts, calc);
	return false;
}

/*
 * CLK-15: before d8bb6f4c1670 ("x86: tsc prevent time going backwards"),
 * nothing kept a TSC that is a little behind cycle_last (another CPU's)
 * from wrapping the delta.
 */
static u64 calc_ns_no_clamp(const struct vdso_clock *vc, u64 cycles, u64 base)
{
	u64 cycle_last = READ_ONCE(vc->cycle_last);
	u32 mult = READ_ONCE(vc->mult);
	u32 shift = READ_ONCE(vc->shift);
	u64 delta = (cycles - cycle_last) & S64_MAX;

	return mul_u64_u32_add_u64_shr(delta, mult, base, shift);
}

static bool gettime_no_clamp(const struct vdso_user *u, clockid_t clock, struct timespec64 *ts)
{
	return gettime_with(u, clock, ts, calc_ns_no_clamp);
}

VDSO_READER(vdso_reader_no_negative_clamp, gettime_no_clamp,
	.bug = "CLK-15",
	.expect = "reference|plausibility|monotonic|linearizable",
	.scenario = "per-CPU TSC skew (SIM_MODE_SKEW): the tick set cycle_last from vCPU 0's TSC; a "
		    "reader on a vCPU whose TSC is a few cycles behind reads before it passes it",
	.history = "vread_tsc() before d8bb6f4c1670 \"x86: tsc prevent time going backwards\" (Thomas "
		   "Gleixner, 2008): no clamp to cycle_last")

/*
 * x86's vdso_calc_delta() of the 2019 generic-vDSO conversion, before
 * 7e90ffb716d2 ("x86/vdso: Make delta calculation overflow safe", 2024):
 * delta * mult in 64 bits, which overflows once a guest has not ticked for
 * max_cycles (a VM paused for hours, a long NOHZ idle).
 */
static u64 calc_ns_2019(const struct vdso_clock *vc, u64 cycles, u64 base)
{
	u64 last = READ_ONCE(vc->cycle_last);
	u32 mult = READ_ONCE(vc->mult);
	u32 shift = READ_ONCE(vc->shift);
	u64 ns;

	if (cycles > last)
		ns = (cycles - last) * mult; /* the bug: 64 bits */
	else
		ns = 0;
	return (ns + base) >> shift;
}

static bool gettime_2019(const struct vdso_user *u, clockid_t clock, struct timespec64 *ts)
{
	return gettime_with(u, clock, ts, calc_ns_2019);
}

VDSO_READER(vdso_reader_delta_overflow_2019, gettime_2019,
	.expect = "plausibility|reference",
	.scenario = "the VM is paused (its TSCs run on, the guest's tick does not) long enough that "
		    "(cycles - cycle_last) * mult exceeds 2^64, then read before the next tick",
	.history = "x86 vdso_calc_delta() from the generic vDSO conversion (2019) until Adrian Hunter's "
		   "7e90ffb716d2 \"x86/vdso: Make delta calculation overflow safe\" (2024)")

/* ------------------------------------------------------ the seq loop -- */

/* The clock mode tested once, before the seq loop: a clocksource change in between goes unseen. */
static bool gettime_mode_outside(const struct vdso_user *u, clockid_t clock, struct timespec64 *ts)
{
	const struct vdso_clock *vc = u->vd->clock_data;
	const struct vdso_timestamp *vdso_ts;
	u64 cycles, sec, ns;
	u32 seq, msk;
	s32 mode;

	if ((u32)clock >= CLOCK_AUX)
		return false;
	msk = 1U << clock;
	if (msk & VDSO_COARSE)
		return do_coarse(u, &vc[CS_HRES_COARSE], clock, ts);
	if (msk & VDSO_RAW)
		vc = &vc[CS_RAW];
	else if (!(msk & VDSO_HRES))
		return false;
	vdso_ts = &vc->basetime[clock];

	mode = READ_ONCE(vc->clock_mode); /* the mutation: outside the window */
	if (mode == VDSO_CLOCKMODE_NONE)
		return false;
	do {
		seq = vdso_read_begin(vc);
		cycles = __arch_get_hw_counter(mode, u);
		if (unlikely(!vdso_cycles_ok(cycles)))
			return false;
		ns = READ_ONCE(vdso_ts->nsec);
		ns = vdso_calc_ns(vc, cycles, ns);
		sec = READ_ONCE(vdso_ts->sec);
	} while (unlikely(vdso_read_retry(vc, seq)));

	ts->tv_sec = (s64)(sec + __iter_div_u64_rem(ns, NSEC_PER_SEC, &ns));
	ts->tv_nsec = (long)ns;
	return true;
}

VDSO_READER(vdso_reader_mode_outside, gettime_mode_outside,
	.expect = "fallback|reference|plausibility|torn_snapshot",
	.scenario = "the clocksource changes (to one without a vDSO mode, or from kvm-clock to the TSC) "
		    "between the reader's mode test and its window",
	.history = "synthetic: vdso_clocksource_ok() hoisted out of the seq loop (the pattern of "
		   "CLK-06's vread_pvclock with STABLE tested outside its window)")

/* The seq loop without vdso_read_retry(): one pass, whatever the writer did meanwhile. */
static bool gettime_no_retry(const struct vdso_user *u, clockid_t clock, struct timespec64 *ts)
{
	const struct vdso_clock *vc = u->vd->clock_data;
	const struct vdso_timestamp *vdso_ts;
	u64 cycles, sec, ns;
	u32 msk;
	s32 mode;

	if ((u32)clock >= CLOCK_AUX)
		return false;
	msk = 1U << clock;
	if (msk & VDSO_RAW)
		vc = &vc[CS_RAW];
	else if (!(msk & (VDSO_HRES | VDSO_COARSE)))
		return false;
	vdso_ts = &vc->basetime[clock];

	(void)vdso_read_begin(vc); /* the mutation: never re-checked */
	if (msk & VDSO_COARSE) {
		ts->tv_sec = (s64)READ_ONCE(vdso_ts->sec);
		ts->tv_nsec = (long)READ_ONCE(vdso_ts->nsec);
		return true;
	}
	mode = READ_ONCE(vc->clock_mode);
	if (mode == VDSO_CLOCKMODE_NONE)
		return false;
	cycles = __arch_get_hw_counter(mode, u);
	if (unlikely(!vdso_cycles_ok(cycles)))
		return false;
	ns = READ_ONCE(vdso_ts->nsec);
	ns = vdso_calc_ns(vc, cycles, ns);
	sec = READ_ONCE(vdso_ts->sec);

	ts->tv_sec = (s64)(sec + __iter_div_u64_rem(ns, NSEC_PER_SEC, &ns));
	ts->tv_nsec = (long)ns;
	return true;
}

VDSO_READER(vdso_reader_no_retry, gettime_no_retry,
	.bug = "CLK-S2",
	.expect = "torn_snapshot|reference|plausibility|monotonic|linearizable",
	.scenario = "a tick rewrites the page between the reader's loads of nsec and sec (or "
		    "cycle_last and the base)",
	.history = "synthetic mutation of do_hres()/do_coarse(): vdso_read_retry() removed")

