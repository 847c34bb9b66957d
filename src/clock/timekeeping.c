// SPDX-License-Identifier: MIT
/*
 * The host kernel's timekeeper, modelled on kernel/time/timekeeping.c,
 * clocksource.c and the frequency part of ntp.c (v6.17).  See
 * include/pvfuzz/timekeeping.h for what is modelled and how it is used.
 * Built into both worlds.
 *
 * Readers load the published timekeeper with READ_ONCE inside the
 * seqcount; the writer works on its private shadow with plain C and
 * publishes it with one bulk copy, as timekeeping_update_from_shadow()
 * does since v6.13.
 */
#include "pvfuzz/timekeeping.h"

/* ------------------------------------------------------ clocksource -- */

void clocks_calc_mult_shift(u32 *mult, u32 *shift, u32 from, u32 to, u32 maxsec)
{
	u64 tmp;
	u32 sft, sftacc = 32;

	/* The conversion range limits how many bits the multiplier may have. */
	tmp = ((u64)maxsec * from) >> 32;
	while (tmp) {
		tmp >>= 1;
		sftacc--;
	}

	/* The largest shift (best accuracy) whose multiplier still fits. */
	for (sft = 32; sft > 0; sft--) {
		tmp = (u64)to << sft;
		tmp += from / 2;
		tmp /= from;
		if ((tmp >> sftacc) == 0)
			break;
	}
	*mult = (u32)tmp;
	*shift = sft;
}

/* 11% of mult: the most NTP may steer the clock (clocksource_max_adjustment) */
static u32 clocksource_max_adjustment(const struct clocksource *cs)
{
	return (u32)((u64)cs->mult * 11 / 100);
}

void clocksource_register_hz(struct clocksource *cs, u64 hz)
{
	u64 sec;

	/*
	 * The longest idle the conversion must cover, capped at 10 minutes for
	 * wide counters so the shift stays large (good NTP granularity).
	 */
	sec = cs->mask / hz;
	if (!sec)
		sec = 1;
	else if (sec > 600 && cs->mask > U32_MAX)
		sec = 600;
	clocks_calc_mult_shift(&cs->mult, &cs->shift, (u32)hz, (u32)NSEC_PER_SEC, (u32)sec);

	/* a large mult must survive +-maxadj without wrapping */
	cs->maxadj = clocksource_max_adjustment(cs);
	while (cs->mult + cs->maxadj < cs->mult || cs->mult - cs->maxadj > cs->mult) {
		cs->mult >>= 1;
		cs->shift--;
		cs->maxadj = clocksource_max_adjustment(cs);
	}

	/* clocks_calc_max_nsecs(): the delta beyond which delta * mult overflows */
	cs->max_cycles = U64_MAX / (cs->mult + cs->maxadj);
	if (cs->max_cycles > cs->mask)
		cs->max_cycles = cs->mask;
	cs->max_idle_ns = (u64)(((u128)cs->max_cycles * (cs->mult - cs->maxadj)) >> cs->shift) / 2;
	/* beyond 7/8 of the mask a delta is negative motion (clocksource_update_max_deferment) */
	cs->max_raw_delta = (cs->mask >> 1) + (cs->mask >> 2) + (cs->mask >> 3);
	cs->freq_hz = hz;
}

/* clocksource_delta(): negative motion (or a delta beyond max) counts as none */
static inline u64 clocksource_delta(u64 now, u64 last, u64 mask, u64 max_delta)
{
	u64 ret = (now - last) & mask;

	return ret > max_delta ? 0 : ret;
}

/* ------------------------------------------------------- timespec64 -- */

static inline s64 timespec64_to_ns(const struct timespec64 *ts)
{
	return ts->tv_sec * (s64)NSEC_PER_SEC + ts->tv_nsec;
}

static void set_normalized_timespec64(struct timespec64 *ts, s64 sec, s64 nsec)
{
	while (nsec >= (s64)NSEC_PER_SEC) {
		nsec -= (s64)NSEC_PER_SEC;
		++sec;
	}
	while (nsec < 0) {
		nsec += (s64)NSEC_PER_SEC;
		--sec;
	}
	ts->tv_sec = sec;
	ts->tv_nsec = (long)nsec;
}

static struct timespec64 timespec64_sub(struct timespec64 a, struct timespec64 b)
{
	struct timespec64 r;

	set_normalized_timespec64(&r, a.tv_sec - b.tv_sec, (s64)a.tv_nsec - b.tv_nsec);
	return r;
}

static struct timespec64 ns_to_timespec64(s64 ns)
{
	struct timespec64 ts;

	set_normalized_timespec64(&ts, ns / (s64)NSEC_PER_SEC, ns % (s64)NSEC_PER_SEC);
	return ts;
}

static int timespec64_compare(const struct timespec64 *a, const struct timespec64 *b)
{
	if (a->tv_sec != b->tv_sec)
		return a->tv_sec < b->tv_sec ? -1 : 1;
	return a->tv_nsec < b->tv_nsec ? -1 : a->tv_nsec > b->tv_nsec;
}

/* ------------------------------------------------------------- ntp --- */

/* ntp_update_frequency(): the length of one tick, ns << NTP_SCALE_SHIFT */
static void ntp_update_frequency(struct timekeeping *tkd)
{
	u128 base = (u128)tkd->ntp_interval_ns << NTP_SCALE_SHIFT;
	s128 adj = (s128)base * tkd->ntp_freq_ppb / (s64)NSEC_PER_SEC;

	tkd->tick_length = (u64)((s128)base + adj);
}

static inline u64 ntp_tick_length(const struct timekeeping *tkd)
{
	return tkd->tick_length;
}

/* ---------------------------------------------------- the shadow side -- */

static inline u64 tk_clock_read(const struct tk_read_base *tkr)
{
	struct clocksource *clock = tkr->clock;

	return clock->read(clock);
}

static inline void tk_normalize_xtime(struct timekeeper *tk)
{
	while (tk->tkr_mono.xtime_nsec >= ((u64)NSEC_PER_SEC << tk->tkr_mono.shift)) {
		tk->tkr_mono.xtime_nsec -= (u64)NSEC_PER_SEC << tk->tkr_mono.shift;
		tk->xtime_sec++;
	}
	while (tk->tkr_raw.xtime_nsec >= ((u64)NSEC_PER_SEC << tk->tkr_raw.shift)) {
		tk->tkr_raw.xtime_nsec -= (u64)NSEC_PER_SEC << tk->tkr_raw.shift;
		tk->raw_sec++;
	}
}

static inline struct timespec64 tk_xtime(const struct timekeeper *tk)
{
	struct timespec64 ts;

	ts.tv_sec = (s64)tk->xtime_sec;
	ts.tv_nsec = (long)(tk->tkr_mono.xtime_nsec >> tk->tkr_mono.shift);
	return ts;
}

/*
 * The coarse clocks have their own nanoseconds: xtime_nsec may step back a
 * little when NTP changes mult (timekeeping_apply_adjustment()), and a
 * coarse clock must not.
 */
static inline void tk_update_coarse_nsecs(struct timekeeper *tk)
{
	tk->coarse_nsec = (u32)(tk->tkr_mono.xtime_nsec >> tk->tkr_mono.shift);
}

static void tk_set_xtime(struct timekeeper *tk, const struct timespec64 *ts)
{
	tk->xtime_sec = (u64)ts->tv_sec;
	tk->tkr_mono.xtime_nsec = (u64)ts->tv_nsec << tk->tkr_mono.shift;
	tk_update_coarse_nsecs(tk);
}

static void tk_xtime_add(struct timekeeper *tk, const struct timespec64 *ts)
{
	tk->xtime_sec += (u64)ts->tv_sec;
	tk->tkr_mono.xtime_nsec += (u64)ts->tv_nsec << tk->tkr_mono.shift;
	tk_normalize_xtime(tk);
	tk_update_coarse_nsecs(tk);
}

/* offs_real is -wall_to_monotonic; offs_tai follows offs_real */
static void tk_set_wall_to_mono(struct timekeeper *tk, struct timespec64 wtm)
{
	struct timespec64 tmp;

	tk->wall_to_monotonic = wtm;
	set_normalized_timespec64(&tmp, -wtm.tv_sec, -(s64)wtm.tv_nsec);
	tk->offs_real = timespec64_to_ns(&tmp);
	tk->offs_tai = tk->offs_real + (s64)tk->tai_offset * (s64)NSEC_PER_SEC;
}

static inline void tk_update_sleep_time(struct timekeeper *tk, ktime_t delta)
{
	tk->offs_boot += delta;
	tk->monotonic_to_boot = ns_to_timespec64(tk->offs_boot);
}

/*
 * tk_setup_internals(): take clock as the timekeeper's clocksource; the
 * tick interval in cycles and its exact ns value, and the NTP error scale.
 */
static void tk_setup_internals(struct timekeeper *tk, struct clocksource *clock, u64 ntp_interval_ns)
{
	struct clocksource *old_clock = tk->tkr_mono.clock;
	u64 interval, tmp, ntpinterval;

	++tk->cs_was_changed_seq;
	tk->tkr_mono.clock = clock;
	tk->tkr_mono.mask = clock->mask;
	tk->tkr_mono.cycle_last = tk_clock_read(&tk->tkr_mono);

	tk->tkr_raw.clock = clock;
	tk->tkr_raw.mask = clock->mask;
	tk->tkr_raw.cycle_last = tk->tkr_mono.cycle_last;

	/* ns -> cycles with the clock's own mult, rounded */
	tmp = ntp_interval_ns;
	tmp <<= clock->shift;
	ntpinterval = tmp;
	tmp += clock->mult / 2;
	tmp /= clock->mult;
	if (tmp == 0)
		tmp = 1;

	interval = tmp;
	tk->cycle_interval = interval;
	/* and back to shifted ns: what one interval is worth, and what that misses */
	tk->xtime_interval = interval * clock->mult;
	tk->xtime_remainder = (s64)(ntpinterval - tk->xtime_interval);
	tk->raw_interval = interval * clock->mult;

	/* a new clock with another shift: rescale the accumulated shifted ns */
	if (old_clock) {
		int shift_change = (int)clock->shift - (int)old_clock->shift;

		if (shift_change < 0) {
			tk->tkr_mono.xtime_nsec >>= -shift_change;
			tk->tkr_raw.xtime_nsec >>= -shift_change;
		} else {
			tk->tkr_mono.xtime_nsec <<= shift_change;
			tk->tkr_raw.xtime_nsec <<= shift_change;
		}
	}

	tk->tkr_mono.shift = clock->shift;
	tk->tkr_raw.shift = clock->shift;

	tk->ntp_error = 0;
	tk->ntp_error_shift = NTP_SCALE_SHIFT - clock->shift;
	tk->ntp_tick = ntpinterval << tk->ntp_error_shift;

	/* NTP steers tkr_mono.mult; tkr_raw.mult stays the clocksource's */
	tk->tkr_mono.mult = clock->mult;
	tk->tkr_raw.mult = clock->mult;
	tk->ntp_err_mult = 0;
	tk->skip_second_overflow = 0;
}

/* tk_update_ktime_data(): the ktime bases readers add to the counter ns */
static inline void tk_update_ktime_data(struct timekeeper *tk)
{
	u64 seconds;
	u32 nsec;

	/* base_mono = (xtime_sec + wtm_sec) * 1e9 + wtm_nsec */
	seconds = tk->xtime_sec + (u64)tk->wall_to_monotonic.tv_sec;
	nsec = (u32)tk->wall_to_monotonic.tv_nsec;
	tk->tkr_mono.base = (ktime_t)(seconds * NSEC_PER_SEC + nsec);

	/* xtime's and wtm's ns together may make another second */
	nsec += (u32)(tk->tkr_mono.xtime_nsec >> tk->tkr_mono.shift);
	if (nsec >= NSEC_PER_SEC)
		seconds++;
	tk->ktime_sec = (unsigned long)seconds;

	tk->tkr_raw.base = (ktime_t)(tk->raw_sec * NSEC_PER_SEC);
}

#define TK_CLEAR_NTP (1 << 0)
#define TK_CLOCK_WAS_SET (1 << 1)
#define TK_UPDATE_ALL (TK_CLEAR_NTP | TK_CLOCK_WAS_SET)

/*
 * timekeeping_update_from_shadow(): readers are kept out while the
 * notifiers (vDSO page, KVM's copy) and the published timekeeper change, so
 * nobody reads a vDSO value newer than the kernel's own clock.
 */

/*
 * The published part, inside the write section: the clocksource pointers
 * with untraced stores (their values are addresses, which differ between
 * builds and must not reach the trace), everything else as the kernel's
 * memcpy.  Readers load the pointers untraced too; the seqcount covers both.
 */
static void tk_publish(struct timekeeper *dst, const struct timekeeper *src)
{
	const size_t m = offsetof(struct timekeeper, tkr_mono) + sizeof(struct clocksource *);
	const size_t r = offsetof(struct timekeeper, tkr_raw);
	const size_t r2 = r + sizeof(struct clocksource *);
	u8 *d = (u8 *)dst;
	const u8 *s = (const u8 *)src;

	WRITE_ONCE_NOTRACE(dst->tkr_mono.clock, src->tkr_mono.clock);
	WRITE_ONCE_NOTRACE(dst->tkr_raw.clock, src->tkr_raw.clock);
	/* one line per call: the trace names the call's line, the same in every compiler */
	pv_memcpy(d + m, s + m, r - m);
	pv_memcpy(d + r2, s + r2, TK_PUBLISHED_BYTES - r2);
}

/*
 * What readers are given of the shadow: the shadow itself, or with
 * mono_extra_shift its tkr_mono re-expressed at a finer shift (the same
 * clock; only as many extra bits as mult has room for).
 */
static const struct timekeeper *tk_published_view(const struct timekeeping *tkd,
						  const struct timekeeper *tk, struct timekeeper *buf)
{
	u32 k = tkd->mono_extra_shift;

	while (k && (tk->tkr_mono.mult >> (32 - k)))
		k--;
	if (!k)
		return tk;
	*buf = *tk;
	buf->tkr_mono.mult <<= k;
	buf->tkr_mono.shift += k;
	buf->tkr_mono.xtime_nsec <<= k;
	return buf;
}

static void timekeeping_update_from_shadow(struct timekeeping *tkd, unsigned action)
{
	struct timekeeper *tk = &tkd->shadow_timekeeper;
	struct timekeeper view_buf;
	const struct timekeeper *view;

	write_seqcount_begin(&tkd->seq);

	if (action & TK_CLEAR_NTP)
		tk->ntp_error = 0;

	tk_update_ktime_data(tk);
	tk->tkr_mono.base_real = (u64)(tk->tkr_mono.base + tk->offs_real);
	if (action & TK_CLOCK_WAS_SET)
		tk->clock_was_set_seq++;
	view = tk_published_view(tkd, tk, &view_buf);

	for (int i = 0; i < tkd->nr_notifiers; i++)
		tkd->notifier[i].fn(tkd->notifier[i].ctx, view, action & TK_CLOCK_WAS_SET);

	tk_publish(&tkd->timekeeper, view);
	write_seqcount_end(&tkd->seq);
}

/*
 * timekeeping_restore_shadow(): undo a refused change.  Only the published
 * part can differ (forward_now touches nothing else), and only this writer
 * ever stores to the published timekeeper, so plain loads are enough.
 */
static void timekeeping_restore_shadow(struct timekeeping *tkd)
{
	struct tk_read_base mono = tkd->shadow_timekeeper.tkr_mono;
	u32 k;

	memcpy(&tkd->shadow_timekeeper, (const void *)&tkd->timekeeper, TK_PUBLISHED_BYTES);
	/* the published tkr_mono may be the finer representation: back to the shadow's own */
	k = tkd->shadow_timekeeper.tkr_mono.shift - mono.shift;
	tkd->shadow_timekeeper.tkr_mono.mult >>= k;
	tkd->shadow_timekeeper.tkr_mono.shift -= k;
	tkd->shadow_timekeeper.tkr_mono.xtime_nsec >>= k;
}

/* timekeeping_forward_now(): accumulate everything up to this instant */
static void timekeeping_forward_now(struct timekeeper *tk)
{
	u64 cycle_now, delta;

	cycle_now = tk_clock_read(&tk->tkr_mono);
	delta = clocksource_delta(cycle_now, tk->tkr_mono.cycle_last, tk->tkr_mono.mask,
				  tk->tkr_mono.clock->max_raw_delta);
	tk->tkr_mono.cycle_last = cycle_now;
	tk->tkr_raw.cycle_last = cycle_now;

	while (delta > 0) {
		u64 max = tk->tkr_mono.clock->max_cycles;
		u64 incr = delta < max ? delta : max;

		tk->tkr_mono.xtime_nsec += incr * tk->tkr_mono.mult;
		tk->tkr_raw.xtime_nsec += incr * tk->tkr_raw.mult;
		tk_normalize_xtime(tk);
		delta -= incr;
	}
	tk_update_coarse_nsecs(tk);
}

/*
 * timekeeping_apply_adjustment(): change mult by mult_adj without a jump -
 * the not yet accumulated `offset` cycles are worth the same before and
 * after, so xtime_nsec takes back offset * mult_adj.
 */
static void timekeeping_apply_adjustment(struct timekeeper *tk, s64 offset, s32 mult_adj)
{
	s64 interval = (s64)tk->cycle_interval;

	if (mult_adj == 0)
		return;
	if (mult_adj == -1) {
		interval = -interval;
		offset = -offset;
	} else if (mult_adj != 1) {
		interval *= mult_adj;
		offset *= mult_adj;
	}

	/* an adjustment that would wrap mult is refused (the kernel WARNs) */
	if (mult_adj > 0 && tk->tkr_mono.mult + (u32)mult_adj < (u32)mult_adj)
		return;

	tk->tkr_mono.mult += (u32)mult_adj;
	tk->xtime_interval += (u64)interval;
	tk->tkr_mono.xtime_nsec -= (u64)offset;
}

/* timekeeping_adjust(): mult for the NTP tick length, +1 while behind NTP time */
static void timekeeping_adjust(struct timekeeping *tkd, struct timekeeper *tk, s64 offset)
{
	u64 ntp_tl = ntp_tick_length(tkd);
	u32 mult;

	if (likely(tk->ntp_tick == ntp_tl)) {
		mult = tk->tkr_mono.mult - tk->ntp_err_mult;
	} else {
		tk->ntp_tick = ntp_tl;
		mult = (u32)(((tk->ntp_tick >> tk->ntp_error_shift) - (u64)tk->xtime_remainder) /
			     tk->cycle_interval);
	}

	tk->ntp_err_mult = tk->ntp_error > 0 ? 1 : 0;
	mult += tk->ntp_err_mult;

	timekeeping_apply_adjustment(tk, offset, (s32)(mult - tk->tkr_mono.mult));

	/*
	 * Speeding the clock up may take more from xtime_nsec than it holds:
	 * borrow the second back (it was already accounted to NTP).
	 */
	if (unlikely((s64)tk->tkr_mono.xtime_nsec < 0)) {
		tk->tkr_mono.xtime_nsec += (u64)NSEC_PER_SEC << tk->tkr_mono.shift;
		tk->xtime_sec--;
		tk->skip_second_overflow = 1;
	}
}

/* accumulate_nsecs_to_secs(); no leap seconds in the model (second_overflow() is 0) */
static inline void accumulate_nsecs_to_secs(struct timekeeper *tk)
{
	u64 nsecps = (u64)NSEC_PER_SEC << tk->tkr_mono.shift;

	while (tk->tkr_mono.xtime_nsec >= nsecps) {
		tk->tkr_mono.xtime_nsec -= nsecps;
		tk->xtime_sec++;
		tk->skip_second_overflow = 0;
	}
}

/* logarithmic_accumulation(): accumulate cycle_interval << shift cycles at once */
static u64 logarithmic_accumulation(struct timekeeper *tk, u64 offset, u32 shift)
{
	u64 interval = tk->cycle_interval << shift;
	u64 snsec_per_sec;

	if (offset < interval)
		return offset;

	offset -= interval;
	tk->tkr_mono.cycle_last += interval;
	tk->tkr_raw.cycle_last += interval;

	tk->tkr_mono.xtime_nsec += tk->xtime_interval << shift;
	accumulate_nsecs_to_secs(tk);

	tk->tkr_raw.xtime_nsec += tk->raw_interval << shift;
	snsec_per_sec = (u64)NSEC_PER_SEC << tk->tkr_raw.shift;
	while (tk->tkr_raw.xtime_nsec >= snsec_per_sec) {
		tk->tkr_raw.xtime_nsec -= snsec_per_sec;
		tk->raw_sec++;
	}

	/* the error between what NTP wants per interval and what the clock gave */
	tk->ntp_error += (s64)(tk->ntp_tick << shift);
	tk->ntp_error -= (s64)((tk->xtime_interval + (u64)tk->xtime_remainder)
			       << (tk->ntp_error_shift + shift));
	return offset;
}

static inline int ilog2_u64(u64 v)
{
	return v ? 63 - __builtin_clzll(v) : 0;
}

enum timekeeping_adv_mode { TK_ADV_TICK, TK_ADV_FREQ };

/* __timekeeping_advance(): the tick (or a direct frequency change) */
static void timekeeping_advance(struct timekeeping *tkd, enum timekeeping_adv_mode mode)
{
	struct timekeeper *tk = &tkd->shadow_timekeeper;
	u64 offset, orig_offset;
	int shift, maxshift;

	if (unlikely(tkd->suspended))
		return;

	offset = clocksource_delta(tk_clock_read(&tk->tkr_mono), tk->tkr_mono.cycle_last,
				   tk->tkr_mono.mask, tk->tkr_mono.clock->max_raw_delta);
	orig_offset = offset;
	if (offset < tk->cycle_interval && mode == TK_ADV_TICK)
		return;

	/* with NO_HZ many intervals may have passed: accumulate them in doubling chunks */
	shift = ilog2_u64(offset) - ilog2_u64(tk->cycle_interval);
	if (shift < 0)
		shift = 0;
	maxshift = (64 - (ilog2_u64(ntp_tick_length(tkd)) + 1)) - 1;
	if (shift > maxshift)
		shift = maxshift;
	while (offset >= tk->cycle_interval) {
		offset = logarithmic_accumulation(tk, offset, (u32)shift);
		if (shift > 0 && offset < tk->cycle_interval << shift)
			shift--;
	}

	timekeeping_adjust(tkd, tk, (s64)offset);
	accumulate_nsecs_to_secs(tk);

	/* coarse time only moves when time was accumulated */
	if (orig_offset != offset)
		tk_update_coarse_nsecs(tk);

	timekeeping_update_from_shadow(tkd, 0);
}

/* ------------------------------------------------------------ writers -- */

void timekeeping_init(struct timekeeping *tkd, const struct timekeeping_boot *boot)
{
	struct timekeeper *tks = &tkd->shadow_timekeeper;
	struct timespec64 wall_time = boot->wall_time, boot_offset = boot->boot_offset;
	struct timespec64 wall_to_mono;

	memset(tks, 0, sizeof(*tks));
	tkd->ntp_interval_ns = boot->ntp_interval_ns ? boot->ntp_interval_ns : 1;
	tkd->ntp_freq_ppb = boot->ntp_freq_ppb;
	tkd->suspended = false;
	tkd->mono_extra_shift = boot->mono_extra_shift;
	ntp_update_frequency(tkd);

	/* boot time must not be before the epoch: wall time + wall_to_mono = uptime */
	if (timespec64_compare(&wall_time, &boot_offset) < 0)
		boot_offset = (struct timespec64){ 0, 0 };
	wall_to_mono = timespec64_sub(boot_offset, wall_time);

	tk_setup_internals(tks, boot->clock, tkd->ntp_interval_ns);
	tks->tai_offset = boot->tai_offset;
	tk_set_xtime(tks, &wall_time);
	tks->raw_sec = 0;
	tk_set_wall_to_mono(tks, wall_to_mono);
	/* the kernel boots with offs_boot 0; uptime before init is in wall_to_mono */
	tks->offs_boot = 0;
	tks->monotonic_to_boot = (struct timespec64){ 0, 0 };

	timekeeping_update_from_shadow(tkd, TK_CLOCK_WAS_SET);
}

void timekeeping_register_notifier(struct timekeeping *tkd, tk_notifier_fn fn, void *ctx)
{
	if (tkd->nr_notifiers == TK_MAX_NOTIFIERS)
		__builtin_trap(); /* a harness bug: more listeners than any kernel has here */
	tkd->notifier[tkd->nr_notifiers].fn = fn;
	tkd->notifier[tkd->nr_notifiers].ctx = ctx;
	tkd->nr_notifiers++;
	/* pvclock_gtod_register_notifier(): the listener gets the current state now */
	struct timekeeper view_buf;
	write_seqcount_begin(&tkd->seq);
	fn(ctx, tk_published_view(tkd, &tkd->shadow_timekeeper, &view_buf), true);
	write_seqcount_end(&tkd->seq);
}

void timekeeping_tick(struct timekeeping *tkd)
{
	timekeeping_advance(tkd, TK_ADV_TICK);
}

void timekeeping_set_frequency(struct timekeeping *tkd, s64 ppb)
{
	if (ppb > MAXFREQ_PPB)
		ppb = MAXFREQ_PPB;
	if (ppb < -MAXFREQ_PPB)
		ppb = -MAXFREQ_PPB;
	tkd->ntp_freq_ppb = ppb;
	ntp_update_frequency(tkd);
	/* do_adjtimex(): a direct frequency change updates the multiplier at once */
	timekeeping_advance(tkd, TK_ADV_FREQ);
}

int do_settimeofday64(struct timekeeping *tkd, const struct timespec64 *ts)
{
	struct timekeeper *tks = &tkd->shadow_timekeeper;
	struct timespec64 ts_delta, xt;

	if (ts->tv_nsec < 0 || ts->tv_nsec >= (long)NSEC_PER_SEC || ts->tv_sec < 0)
		return -22; /* -EINVAL */

	timekeeping_forward_now(tks);
	xt = tk_xtime(tks);
	ts_delta = timespec64_sub(*ts, xt);

	/* REALTIME before boot would make MONOTONIC negative */
	if (timespec64_compare(&tks->wall_to_monotonic, &ts_delta) > 0) {
		timekeeping_restore_shadow(tkd);
		return -22;
	}

	tk_set_wall_to_mono(tks, timespec64_sub(tks->wall_to_monotonic, ts_delta));
	tk_set_xtime(tks, ts);
	timekeeping_update_from_shadow(tkd, TK_UPDATE_ALL);
	return 0;
}

int timekeeping_inject_offset(struct timekeeping *tkd, const struct timespec64 *ts)
{
	struct timekeeper *tks = &tkd->shadow_timekeeper;

	if (ts->tv_nsec < 0 || ts->tv_nsec >= (long)NSEC_PER_SEC)
		return -22;

	timekeeping_forward_now(tks);
	/* the new REALTIME must not be before boot */
	if (timespec64_compare(&tks->wall_to_monotonic, ts) > 0) {
		timekeeping_restore_shadow(tkd);
		return -22;
	}
	tk_xtime_add(tks, ts);
	tk_set_wall_to_mono(tks, timespec64_sub(tks->wall_to_monotonic, *ts));
	timekeeping_update_from_shadow(tkd, TK_UPDATE_ALL);
	return 0;
}

void timekeeping_inject_sleeptime64(struct timekeeping *tkd, const struct timespec64 *delta)
{
	struct timekeeper *tks = &tkd->shadow_timekeeper;

	if (delta->tv_sec < 0 || delta->tv_nsec < 0 || delta->tv_nsec >= (long)NSEC_PER_SEC)
		return;
	timekeeping_forward_now(tks);
	tk_xtime_add(tks, delta);
	tk_set_wall_to_mono(tks, timespec64_sub(tks->wall_to_monotonic, *delta));
	tk_update_sleep_time(tks, timespec64_to_ns(delta));
	timekeeping_update_from_shadow(tkd, TK_UPDATE_ALL);
}

void timekeeping_change_clocksource(struct timekeeping *tkd, struct clocksource *cs)
{
	struct timekeeper *tks = &tkd->shadow_timekeeper;

	if (tks->tkr_mono.clock == cs)
		return;
	timekeeping_forward_now(tks);
	tk_setup_internals(tks, cs, tkd->ntp_interval_ns);
	timekeeping_update_from_shadow(tkd, TK_UPDATE_ALL);
}

/* ------------------------------------------------------------ readers -- */

u64 timekeeping_cycles_to_ns(const struct tk_read_base *tkr, u64 cycles)
{
	u64 mask = tkr->mask, delta = (cycles - tkr->cycle_last) & mask;

	/* negative motion, or a delta whose product with mult would overflow */
	if (unlikely(delta > tkr->clock->max_cycles)) {
		/* the counter is behind cycle_last (another CPU's): no time passed */
		if (delta & ~(mask >> 1))
			return tkr->xtime_nsec >> tkr->shift;
		return (u64)((((u128)delta * tkr->mult) + tkr->xtime_nsec) >> tkr->shift);
	}
	return ((delta * tkr->mult) + tkr->xtime_nsec) >> tkr->shift;
}

/*
 * One published readout base, field by field, inside the caller's seqcount
 * section; then the counter.  Each load is its own statement (compat.h).
 */
static void tk_read_base_load(const struct tk_read_base *tkr, struct tk_read_base *out)
{
	/*
	 * An untraced load: the value is an address, which differs between builds
	 * and would make the trace (and its hash) differ too.  The stores
	 * become visible in order, so the seqcount retry covers it as well.
	 */
	out->clock = READ_ONCE_NOTRACE(tkr->clock);
	out->mask = READ_ONCE(tkr->mask);
	out->cycle_last = READ_ONCE(tkr->cycle_last);
	out->mult = READ_ONCE(tkr->mult);
	out->shift = READ_ONCE(tkr->shift);
	out->xtime_nsec = READ_ONCE(tkr->xtime_nsec);
	out->base = READ_ONCE(tkr->base);
}

/* ktime_get() / ktime_get_raw() with an offset read in the same section */
static ktime_t tk_get(struct timekeeping *tkd, bool raw, const ktime_t *offset)
{
	const struct timekeeper *tk = &tkd->timekeeper;
	struct tk_read_base b;
	ktime_t offs;
	unsigned seq;
	u64 nsecs;

	do {
		seq = read_seqcount_begin(&tkd->seq);
		tk_read_base_load(raw ? &tk->tkr_raw : &tk->tkr_mono, &b);
		offs = offset ? READ_ONCE(*offset) : 0;
		nsecs = timekeeping_cycles_to_ns(&b, b.clock->read(b.clock));
	} while (read_seqcount_retry(&tkd->seq, seq));

	return b.base + offs + (ktime_t)nsecs;
}

ktime_t ktime_get(struct timekeeping *tkd)
{
	return tk_get(tkd, false, NULL);
}

ktime_t ktime_get_raw(struct timekeeping *tkd)
{
	return tk_get(tkd, true, NULL);
}

ktime_t ktime_get_boottime(struct timekeeping *tkd)
{
	return tk_get(tkd, false, &tkd->timekeeper.offs_boot);
}

ktime_t ktime_get_real(struct timekeeping *tkd)
{
	return tk_get(tkd, false, &tkd->timekeeper.offs_real);
}

/* ktime_get_coarse_with_offset(TK_OFFS_BOOT): advances only at ticks */
ktime_t ktime_get_coarse_boottime(struct timekeeping *tkd)
{
	const struct timekeeper *tk = &tkd->timekeeper;
	ktime_t base, offs;
	unsigned seq;
	u32 nsecs;

	do {
		seq = read_seqcount_begin(&tkd->seq);
		base = READ_ONCE(tk->tkr_mono.base);
		offs = READ_ONCE(tk->offs_boot);
		nsecs = READ_ONCE(tk->coarse_nsec);
	} while (read_seqcount_retry(&tkd->seq, seq));

	return base + offs + nsecs;
}

void ktime_get_snapshot(struct timekeeping *tkd, struct system_time_snapshot *snap)
{
	const struct timekeeper *tk = &tkd->timekeeper;
	struct tk_read_base mono, raw;
	ktime_t offs_real, offs_boot;
	unsigned seq;
	u64 now;

	do {
		seq = read_seqcount_begin(&tkd->seq);
		tk_read_base_load(&tk->tkr_mono, &mono);
		tk_read_base_load(&tk->tkr_raw, &raw);
		offs_real = READ_ONCE(tk->offs_real);
		offs_boot = READ_ONCE(tk->offs_boot);
		now = mono.clock->read(mono.clock);
	} while (read_seqcount_retry(&tkd->seq, seq));

	snap->cycles = now;
	snap->real = mono.base + offs_real + (ktime_t)timekeeping_cycles_to_ns(&mono, now);
	snap->boot = mono.base + offs_boot + (ktime_t)timekeeping_cycles_to_ns(&mono, now);
	snap->raw = raw.base + (ktime_t)timekeeping_cycles_to_ns(&raw, now);
}
