/* SPDX-License-Identifier: MIT */
/*
 * The host kernel's timekeeper (kernel/time/timekeeping.c, clocksource.c,
 * ntp.c as of v6.17), written kernel style against compat.h so it runs in
 * every world.  It is the host clock under the paravirtual clocks: KVM's
 * private copy of it (pvclock_gtod_data, pvclock.h) anchors the kvmclock
 * masterclock, and the generic vDSO data page is written from it by
 * update_vsyscall().
 *
 * One `struct timekeeping` is one host kernel's timekeeping: a clocksource
 * with its own mult/shift, the published timekeeper (tkr_mono, tkr_raw,
 * xtime, the wall/boot/TAI offsets) under a seqcount, the writer's shadow
 * copy, a small NTP model (frequency adjustment, tick length) and the
 * notifier chain every update runs.  The caller owns the memory (the
 * simulator's shared arena, a native runner's heap); nothing here is
 * static, so any number of instances can coexist and each run starts
 * from timekeeping_init() with no state left from the previous one.
 *
 * Writers (the tick and everything that sets the clock) hold the
 * timekeeper lock; the model has one writer per instance at a time and
 * leaves the lock to its caller.  Every writer works on the shadow and
 * publishes it with timekeeping_update_from_shadow(): seqcount begin, the
 * notifiers (they see the new state, as update_vsyscall and
 * update_pvclock_gtod do), the copy into the published timekeeper,
 * seqcount end.  Readers (ktime_get*()) take the seqcount.
 *
 * Time is compressed in the simulator: a tick (NTP_INTERVAL_LENGTH) is
 * whatever the caller says, typically a few microseconds instead of 4 ms.
 * The arithmetic does not care; only the NTP frequency's effect per tick
 * scales with it.
 */
#ifndef PVFUZZ_TIMEKEEPING_H
#define PVFUZZ_TIMEKEEPING_H

#include "pvfuzz/compat.h"

typedef s64 ktime_t;

struct timespec64 {
	s64 tv_sec;
	long tv_nsec;
};

/* include/vdso/clocksource.h + arch/x86/include/asm/vdso/clocksource.h */
enum vdso_clock_mode {
	VDSO_CLOCKMODE_NONE = 0,
	VDSO_CLOCKMODE_TSC,
	VDSO_CLOCKMODE_PVCLOCK,
	VDSO_CLOCKMODE_HVCLOCK,
	VDSO_CLOCKMODE_MAX,
	VDSO_CLOCKMODE_TIMENS = 0x7fffffff,
};

#define CLOCKSOURCE_MASK(bits) ((u64)(bits) < 64 ? ((1ULL << (bits)) - 1) : ~0ULL)

/*
 * A clocksource (include/linux/clocksource.h): a free-running counter the
 * world reads, and the conversion clocksource registration computed for
 * its frequency.  Immutable once registered, so readers use plain loads.
 */
struct clocksource {
	u64 (*read)(struct clocksource *cs);
	u64 mask;
	u32 mult;
	u32 shift;
	u64 max_idle_ns;
	u32 maxadj;
	u64 max_cycles;    /* larger deltas overflow delta * (mult + maxadj) */
	u64 max_raw_delta; /* larger deltas are negative motion */
	const char *name;
	int vdso_clock_mode;
	u64 freq_hz;       /* what it was registered with (ground truth) */
	void *priv;        /* the world's */
};

/* clocksource.c: the best (mult, shift) that converts `from` Hz to `to` Hz for maxsec seconds */
void clocks_calc_mult_shift(u32 *mult, u32 *shift, u32 from, u32 to, u32 maxsec);
/* __clocksource_register_scale(cs, 1, hz): mult, shift, maxadj, max_cycles, ... */
void clocksource_register_hz(struct clocksource *cs, u64 hz);

/* include/linux/timekeeper_internal.h: the readout base of one clock */
struct tk_read_base {
	struct clocksource *clock;
	u64 mask;
	u64 cycle_last;
	u32 mult;
	u32 shift;
	u64 xtime_nsec;   /* ns << shift since base */
	ktime_t base;     /* ns at cycle_last, without xtime_nsec */
	u64 base_real;    /* base + offs_real */
};

struct timekeeper {
	/* ---- what readers see (the part timekeeping_update_from_shadow() publishes) ---- */
	struct tk_read_base tkr_mono;
	u64 xtime_sec;
	unsigned long ktime_sec;
	struct timespec64 wall_to_monotonic;
	ktime_t offs_real;
	ktime_t offs_boot;
	ktime_t offs_tai;
	s32 tai_offset;
	u32 coarse_nsec;
	struct tk_read_base tkr_raw;
	u64 raw_sec;
	struct timespec64 monotonic_to_boot;
	unsigned clock_was_set_seq;
	u8 cs_was_changed_seq;
	/* ---- the writer's accumulation state ---- */
	u64 cycle_interval;
	u64 xtime_interval;
	s64 xtime_remainder;
	u64 raw_interval;
	u64 ntp_tick;
	s64 ntp_error;
	u32 ntp_error_shift;
	u32 ntp_err_mult;
	u32 skip_second_overflow;
};

/* The part of struct timekeeper readers load; the writer's state follows it. */
#define TK_PUBLISHED_BYTES offsetof(struct timekeeper, cycle_interval)

/* The notifier chain of timekeeping_update_from_shadow(). */
typedef void (*tk_notifier_fn)(void *ctx, const struct timekeeper *tk, bool was_set);
#define TK_MAX_NOTIFIERS 4

#define NTP_SCALE_SHIFT 32
#define MAXFREQ_PPB 500000 /* MAXFREQ: 500 ppm */

/* What the kernel keeps in struct tk_data, ntp_data and the notifier heads. */
struct timekeeping {
	seqcount_t seq;
	struct timekeeper timekeeper;        /* published: readers, under seq */
	struct timekeeper shadow_timekeeper; /* the writer's working copy */
	/* ntp.c, reduced to the frequency: tick_length = interval * (1 + freq) */
	u64 ntp_interval_ns;                 /* NTP_INTERVAL_LENGTH of this model */
	s64 ntp_freq_ppb;                    /* adjtimex ADJ_FREQUENCY */
	u64 tick_length;                     /* ns << NTP_SCALE_SHIFT per tick */
	bool suspended;
	/*
	 * An adversarial but valid representation: publish tkr_mono with its
	 * mult and xtime_nsec scaled up by 2^k and its shift k larger - the
	 * same clock, read the same by any correct reader - so code that mixes
	 * tkr_mono's and tkr_raw's shift (they are equal in every kernel) is
	 * told apart.  0 in mainline timekeeping.
	 */
	u32 mono_extra_shift;
	/* update_vsyscall(), update_pvclock_gtod(): run inside the write section */
	struct { tk_notifier_fn fn; void *ctx; } notifier[TK_MAX_NOTIFIERS];
	int nr_notifiers;
};

/* Boot state: the clock the timekeeper starts on and what it reads as. */
struct timekeeping_boot {
	struct clocksource *clock;  /* registered */
	struct timespec64 wall_time;    /* CLOCK_REALTIME at boot (persistent clock) */
	struct timespec64 boot_offset;  /* wall_time - boot time, i.e. uptime at init */
	u64 ntp_interval_ns;        /* the tick, in ns (NTP_INTERVAL_LENGTH) */
	s64 ntp_freq_ppb;           /* initial NTP frequency correction */
	s32 tai_offset;
	u32 mono_extra_shift;       /* see struct timekeeping (0: as the kernel publishes) */
};

/* ---- set-up and notifiers ---- */
void timekeeping_init(struct timekeeping *tkd, const struct timekeeping_boot *boot);
/* pvclock_gtod_register_notifier(): register, then run it once with the current state */
void timekeeping_register_notifier(struct timekeeping *tkd, tk_notifier_fn fn, void *ctx);

/* ---- writers (the caller holds the timekeeper lock) ---- */
/* update_wall_time(): the tick; accumulates whole intervals, NTP-adjusts mult */
void timekeeping_tick(struct timekeeping *tkd);
/* adjtimex(ADJ_FREQUENCY): new NTP frequency, applied at once (TK_ADV_FREQ) */
void timekeeping_set_frequency(struct timekeeping *tkd, s64 ppb);
/* do_settimeofday64(): CLOCK_REALTIME := ts (MONOTONIC does not move) */
int do_settimeofday64(struct timekeeping *tkd, const struct timespec64 *ts);
/* timekeeping_inject_offset(): CLOCK_REALTIME += ts (adjtimex ADJ_SETOFFSET) */
int timekeeping_inject_offset(struct timekeeping *tkd, const struct timespec64 *ts);
/* host suspend/resume: the sleep is added to REALTIME and BOOTTIME (offs_boot) */
void timekeeping_inject_sleeptime64(struct timekeeping *tkd, const struct timespec64 *delta);
/* change_clocksource(): forward to now on the old clock, continue on the new one */
void timekeeping_change_clocksource(struct timekeeping *tkd, struct clocksource *cs);

/* ---- readers (any context; seqcount retry loops) ---- */
ktime_t ktime_get(struct timekeeping *tkd);            /* CLOCK_MONOTONIC */
ktime_t ktime_get_raw(struct timekeeping *tkd);        /* CLOCK_MONOTONIC_RAW */
ktime_t ktime_get_boottime(struct timekeeping *tkd);   /* CLOCK_BOOTTIME */
ktime_t ktime_get_real(struct timekeeping *tkd);       /* CLOCK_REALTIME */
ktime_t ktime_get_coarse_boottime(struct timekeeping *tkd); /* tick granularity */
/* ktime_get_snapshot(): one counter read, raw and real and boot of that instant */
struct system_time_snapshot {
	u64 cycles;
	ktime_t real, raw, boot;
};
void ktime_get_snapshot(struct timekeeping *tkd, struct system_time_snapshot *snap);

/* ---- pure helpers (shared with oracles and other harnesses) ---- */
/* timekeeping_cycles_to_ns(): ns since tkr->base at counter value `cycles` */
u64 timekeeping_cycles_to_ns(const struct tk_read_base *tkr, u64 cycles);
/*
 * The 128-bit reference: what tkr says the clock reads at `cycles`,
 * base included (no clamp, no overflow), for judging what a copy of the
 * timekeeper computed from the same state.
 */
static inline u64 tk_ref_ns(const struct tk_read_base *tkr, u64 cycles)
{
	u128 ns = (u128)((cycles - tkr->cycle_last) & tkr->mask) * tkr->mult + tkr->xtime_nsec;
	return (u64)tkr->base + (u64)(ns >> (tkr->shift & 127));
}

#endif
