// SPDX-License-Identifier: MIT
/*
 * The fix of examples/my_vdso_reader.c (docs/byo.md): mult and shift are
 * loaded inside the seqcount loop, with cycle_last and the base.
 *
 *   ./pvfuzz fuzz vdso --reader-file examples/my_vdso_reader_fixed.c
 */
#include "pvfuzz/vdso.h"

static bool my_do_hres(const struct vdso_user *u, const struct vdso_clock *vc, clockid_t clk,
		       struct timespec64 *ts)
{
	const struct vdso_timestamp *vdso_ts = &vc->basetime[clk];
	u64 cycles, cycle_last, delta, sec, ns;
	u32 seq, mult, shift;
	s32 mode;

	do {
		seq = vdso_read_begin(vc);
		mode = READ_ONCE(vc->clock_mode);
		if (mode == VDSO_CLOCKMODE_NONE)
			return false;		/* the clocksource has no vDSO mode: syscall */
		cycles = __arch_get_hw_counter(mode, u);
		if (unlikely(!vdso_cycles_ok(cycles)))
			return false;
		cycle_last = READ_ONCE(vc->cycle_last);
		mult = READ_ONCE(vc->mult);	/* the fix: part of the snapshot */
		shift = READ_ONCE(vc->shift);
		ns = READ_ONCE(vdso_ts->nsec);
		sec = READ_ONCE(vdso_ts->sec);
	} while (unlikely(vdso_read_retry(vc, seq)));

	/* x86's negative-motion clamp, then the 128-bit product */
	delta = cycles - cycle_last;
	if (delta & (1ULL << 62))
		delta = 0;
	ns = mul_u64_u32_add_u64_shr(delta & S64_MAX, mult, ns, shift);

	ts->tv_sec = (s64)(sec + __iter_div_u64_rem(ns, NSEC_PER_SEC, &ns));
	ts->tv_nsec = (long)ns;
	return true;
}

static bool my_clock_gettime(const struct vdso_user *u, clockid_t clock, struct timespec64 *ts)
{
	const struct vdso_clock *vc = u->vd->clock_data;
	u32 msk;

	if ((u32)clock >= CLOCK_AUX)
		return false;			/* not a vDSO clock: syscall */
	msk = 1U << clock;
	if (msk & VDSO_COARSE)
		return do_coarse(u, &vc[CS_HRES_COARSE], clock, ts);
	if (msk & VDSO_RAW)
		return my_do_hres(u, &vc[CS_RAW], clock, ts);
	if (msk & VDSO_HRES)
		return my_do_hres(u, &vc[CS_HRES_COARSE], clock, ts);
	return false;
}

/*
 * VDSO_READER(name, clock_gettime function, registry fields): the name is
 * what PVFUZZ_VARIANT and ./pvfuzz list show.
 */
VDSO_READER(my_vdso_reader_fixed, my_clock_gettime,
	.expect = "safe",
	.scenario = "any: ticks, NTP, settimeofday, clocksource changes, suspend, pauses",
	.history = "docs/byo.md worked example, fixed: every page load inside the seqcount loop")
