// SPDX-License-Identifier: MIT
/*
 * The generic vDSO, mainline v6.17, in the shape of the code it models:
 * update_vsyscall() (kernel/time/vsyscall.c), the readers do_hres(),
 * do_coarse() and __cvdso_clock_gettime_common() (lib/vdso/gettimeofday.c)
 * with x86's vdso_calc_ns() (arch/x86/include/asm/vdso/gettimeofday.h), and
 * the system call they fall back to (the posix clocks of the timekeeper).
 */
#include "pvfuzz/vdso.h"

/* ------------------------------------------------------------ writer -- */

/* The high resolution bases: only for a clocksource the vDSO can read. */
void update_vdso_time_data(struct vdso_time_data *vd, const struct timekeeper *tk)
{
	struct vdso_clock *vc = vd->clock_data;
	struct vdso_timestamp *vdso_ts;
	u64 nsec, sec;

	/* fill_clock_configuration() for both bases */
	vdso_store(vc[CS_HRES_COARSE].cycle_last, tk->tkr_mono.cycle_last);
	vdso_store(vc[CS_HRES_COARSE].max_cycles, tk->tkr_mono.clock->max_cycles);
	vdso_store(vc[CS_HRES_COARSE].mask, tk->tkr_mono.mask);
	vdso_store(vc[CS_HRES_COARSE].mult, tk->tkr_mono.mult);
	vdso_store(vc[CS_HRES_COARSE].shift, tk->tkr_mono.shift);
	vdso_store(vc[CS_RAW].cycle_last, tk->tkr_raw.cycle_last);
	vdso_store(vc[CS_RAW].max_cycles, tk->tkr_raw.clock->max_cycles);
	vdso_store(vc[CS_RAW].mask, tk->tkr_raw.mask);
	vdso_store(vc[CS_RAW].mult, tk->tkr_raw.mult);
	vdso_store(vc[CS_RAW].shift, tk->tkr_raw.shift);

	/* CLOCK_MONOTONIC: xtime + wall_to_monotonic, nsec kept shifted and below a second */
	vdso_ts = &vc[CS_HRES_COARSE].basetime[CLOCK_MONOTONIC];
	sec = tk->xtime_sec + (u64)tk->wall_to_monotonic.tv_sec;
	nsec = tk->tkr_mono.xtime_nsec;
	nsec += ((u64)tk->wall_to_monotonic.tv_nsec << tk->tkr_mono.shift);
	while (nsec >= (((u64)NSEC_PER_SEC) << tk->tkr_mono.shift)) {
		nsec -= (((u64)NSEC_PER_SEC) << tk->tkr_mono.shift);
		sec++;
	}
	vdso_store(vdso_ts->sec, sec);
	vdso_store(vdso_ts->nsec, nsec);

	/* CLOCK_BOOTTIME: MONOTONIC plus the time spent suspended */
	sec += (u64)tk->monotonic_to_boot.tv_sec;
	nsec += (u64)tk->monotonic_to_boot.tv_nsec << tk->tkr_mono.shift;
	while (nsec >= (((u64)NSEC_PER_SEC) << tk->tkr_mono.shift)) {
		nsec -= (((u64)NSEC_PER_SEC) << tk->tkr_mono.shift);
		sec++;
	}
	vdso_ts = &vc[CS_HRES_COARSE].basetime[CLOCK_BOOTTIME];
	vdso_store(vdso_ts->sec, sec);
	vdso_store(vdso_ts->nsec, nsec);

	/* CLOCK_MONOTONIC_RAW, in the RAW base */
	vdso_ts = &vc[CS_RAW].basetime[CLOCK_MONOTONIC_RAW];
	vdso_store(vdso_ts->sec, tk->raw_sec);
	vdso_store(vdso_ts->nsec, tk->tkr_raw.xtime_nsec);

	/* CLOCK_TAI */
	vdso_ts = &vc[CS_HRES_COARSE].basetime[CLOCK_TAI];
	vdso_store(vdso_ts->sec, tk->xtime_sec + (u64)(s64)tk->tai_offset);
	vdso_store(vdso_ts->nsec, tk->tkr_mono.xtime_nsec);
}

/*
 * update_vsyscall(): under both bases' seq; CLOCK_REALTIME, the coarse bases
 * and hrtimer_res whatever the clocksource (9f24c540f7f8), the high
 * resolution part only when the vDSO can read the clocksource.
 */
void update_vsyscall(struct vdso_time_data *vd, const struct timekeeper *tk, u32 hrtimer_res)
{
	struct vdso_clock *vc = vd->clock_data;
	struct vdso_timestamp *vdso_ts;
	s32 clock_mode;
	u64 nsec, sec, rem;

	vdso_write_begin(vd);

	clock_mode = tk->tkr_mono.clock->vdso_clock_mode;
	vdso_store(vc[CS_HRES_COARSE].clock_mode, clock_mode);
	vdso_store(vc[CS_RAW].clock_mode, clock_mode);

	/* CLOCK_REALTIME also required for time() */
	vdso_ts = &vc[CS_HRES_COARSE].basetime[CLOCK_REALTIME];
	vdso_store(vdso_ts->sec, tk->xtime_sec);
	vdso_store(vdso_ts->nsec, tk->tkr_mono.xtime_nsec);

	/* CLOCK_REALTIME_COARSE */
	vdso_ts = &vc[CS_HRES_COARSE].basetime[CLOCK_REALTIME_COARSE];
	vdso_store(vdso_ts->sec, tk->xtime_sec);
	vdso_store(vdso_ts->nsec, (u64)tk->coarse_nsec);

	/* CLOCK_MONOTONIC_COARSE */
	vdso_ts = &vc[CS_HRES_COARSE].basetime[CLOCK_MONOTONIC_COARSE];
	sec = tk->xtime_sec + (u64)tk->wall_to_monotonic.tv_sec;
	nsec = tk->coarse_nsec;
	nsec = nsec + (u64)tk->wall_to_monotonic.tv_nsec;
	sec += __iter_div_u64_rem(nsec, NSEC_PER_SEC, &rem);
	vdso_store(vdso_ts->sec, sec);
	vdso_store(vdso_ts->nsec, rem);

	/* clock_getres() reads it without the seq */
	WRITE_ONCE(vd->hrtimer_res, hrtimer_res);

	/* a clocksource the vDSO cannot read: spare the high resolution parts */
	if (clock_mode != VDSO_CLOCKMODE_NONE)
		update_vdso_time_data(vd, tk);

	vdso_write_end(vd);
}

/* ------------------------------------------------------------ reader -- */

u64 vdso_calc_ns(const struct vdso_clock *vc, u64 cycles, u64 base)
{
	u64 cycle_last = READ_ONCE(vc->cycle_last);
	u64 max_cycles = READ_ONCE(vc->max_cycles);
	u32 mult = READ_ONCE(vc->mult);
	u32 shift = READ_ONCE(vc->shift);
	u64 delta = cycles - cycle_last;

	/*
	 * Negative motion and deltas for which the product would overflow are
	 * both above max_cycles.  TSC values are masked to 63 bits, so bit 62
	 * is the sign: a TSC slightly behind cycle_last (another CPU's) is
	 * clamped to cycle_last's time.
	 */
	if (unlikely(delta > max_cycles)) {
		if (delta & (1ULL << 62))
			return base >> shift;
		return mul_u64_u32_add_u64_shr(delta & S64_MAX, mult, base, shift);
	}
	return ((delta * mult) + base) >> shift;
}

bool do_hres(const struct vdso_user *u, const struct vdso_clock *vc, clockid_t clk, struct timespec64 *ts)
{
	const struct vdso_timestamp *vdso_ts = &vc->basetime[clk];
	u64 cycles, sec, ns;
	u32 seq;
	s32 mode;

	do {
		/* vdso_read_begin() open-coded (time namespaces are not modelled) */
		while (unlikely((seq = READ_ONCE(vc->seq)) & 1))
			cpu_relax();
		smp_rmb();

		/* vdso_get_timestamp() */
		mode = READ_ONCE(vc->clock_mode);
		if (mode == VDSO_CLOCKMODE_NONE) /* !vdso_clocksource_ok() */
			return false;
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

bool do_coarse(const struct vdso_user *u, const struct vdso_clock *vc, clockid_t clk, struct timespec64 *ts)
{
	const struct vdso_timestamp *vdso_ts = &vc->basetime[clk];
	u32 seq;

	do {
		while (unlikely((seq = READ_ONCE(vc->seq)) & 1))
			cpu_relax();
		smp_rmb();

		ts->tv_sec = (s64)READ_ONCE(vdso_ts->sec);
		ts->tv_nsec = (long)READ_ONCE(vdso_ts->nsec);
	} while (unlikely(vdso_read_retry(vc, seq)));
	return true;
}

bool __cvdso_clock_gettime_common(const struct vdso_user *u, clockid_t clock, struct timespec64 *ts)
{
	const struct vdso_clock *vc = u->vd->clock_data;
	u32 msk;

	/* vdso_clockid_valid(): anything else is the syscall's -EINVAL */
	if (!((u32)clock <= CLOCK_AUX_LAST))
		return false;
	/* aux clocks (CLOCK_AUX..) are not modelled: their syscall answers */
	if ((u32)clock >= CLOCK_AUX)
		return false;

	msk = 1U << clock;
	if (likely(msk & VDSO_HRES))
		vc = &vc[CS_HRES_COARSE];
	else if (msk & VDSO_COARSE)
		return do_coarse(u, &vc[CS_HRES_COARSE], clock, ts);
	else if (msk & VDSO_RAW)
		vc = &vc[CS_RAW];
	else
		return false;

	return do_hres(u, vc, clock, ts);
}

/* ------------------------------------------------------------ syscall -- */

/* ktime_get_coarse_real_ts64() / ktime_get_coarse_ts64(): the tick's values */
static void kernel_coarse(struct timekeeping *tkd, bool mono, struct timespec64 *ts)
{
	const struct timekeeper *tk = &tkd->timekeeper;
	s64 sec, nsec, wsec, wnsec;
	unsigned seq;

	do {
		seq = read_seqcount_begin(&tkd->seq);
		sec = (s64)READ_ONCE(tk->xtime_sec);
		nsec = READ_ONCE(tk->coarse_nsec);
		wsec = READ_ONCE(tk->wall_to_monotonic.tv_sec);
		wnsec = READ_ONCE(tk->wall_to_monotonic.tv_nsec);
	} while (read_seqcount_retry(&tkd->seq, seq));

	if (mono) {
		sec += wsec;
		nsec += wnsec;
	}
	while (nsec >= (s64)NSEC_PER_SEC) {
		nsec -= (s64)NSEC_PER_SEC;
		sec++;
	}
	ts->tv_sec = sec;
	ts->tv_nsec = (long)nsec;
}

static void ns_to_ts(ktime_t ns, struct timespec64 *ts)
{
	ts->tv_sec = ns / (s64)NSEC_PER_SEC;
	ts->tv_nsec = (long)(ns % (s64)NSEC_PER_SEC);
	if (ts->tv_nsec < 0) {
		ts->tv_nsec += (long)NSEC_PER_SEC;
		ts->tv_sec--;
	}
}

bool kernel_clock_gettime(struct timekeeping *tkd, clockid_t clock, struct timespec64 *ts)
{
	switch (clock) {
	case CLOCK_REALTIME:
		ns_to_ts(ktime_get_real(tkd), ts);
		return true;
	case CLOCK_MONOTONIC:
		ns_to_ts(ktime_get(tkd), ts);
		return true;
	case CLOCK_MONOTONIC_RAW:
		ns_to_ts(ktime_get_raw(tkd), ts);
		return true;
	case CLOCK_BOOTTIME:
		ns_to_ts(ktime_get_boottime(tkd), ts);
		return true;
	case CLOCK_TAI: {
		ktime_t real = ktime_get_real(tkd);
		s32 tai = READ_ONCE(tkd->timekeeper.tai_offset); /* only settai moves it, not modelled */
		ns_to_ts(real + (ktime_t)tai * (ktime_t)NSEC_PER_SEC, ts);
		return true;
	}
	case CLOCK_REALTIME_COARSE:
		kernel_coarse(tkd, false, ts);
		return true;
	case CLOCK_MONOTONIC_COARSE:
		kernel_coarse(tkd, true, ts);
		return true;
	default:
		return false; /* -EINVAL (the CPU-time and alarm clocks are not modelled) */
	}
}
