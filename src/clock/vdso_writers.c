// SPDX-License-Identifier: MIT
/*
 * vDSO data page writers: mainline update_vsyscall() (src/clock/vdso_kernel.c)
 * and the historical and mutated forms of known-bugs.md.
 */
#include "pvfuzz/vdso.h"

/* ---------------------------------------------------------- mainline -- */

static const struct vdso_writer_ops vdso_writer_mainline_ops = { .update_vsyscall = update_vsyscall };

VDSO_WRITER(vdso_writer_mainline, vdso_writer_mainline_ops,
	.flags = PV_MAINLINE,
	.expect = "safe",
	.scenario = "any",
	.history = "mainline update_vsyscall() (kernel/time/vsyscall.c, v6.17): both bases under their "
		   "seq, the coarse bases and hrtimer_res for every clocksource, the high resolution "
		   "bases only for one the vDSO can read")

/* ------------------------------------------------------------ CLK-14 -- */

/*
 * 44f57d788e7d (the generic update_vsyscall(), 2019) until 9f24c540f7f8:
 * the coarse bases and hrtimer_res were written inside the clock_mode test,
 * so a switch to a clocksource without a vDSO mode froze them.
 */
static void update_vsyscall_coarse_inside(struct vdso_time_data *vd, const struct timekeeper *tk,
					  u32 hrtimer_res)
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

	if (clock_mode != VDSO_CLOCKMODE_NONE) { /* __arch_use_vsyscall() */
		update_vdso_time_data(vd, tk);

		vdso_ts = &vc[CS_HRES_COARSE].basetime[CLOCK_REALTIME_COARSE];
		vdso_store(vdso_ts->sec, tk->xtime_sec);
		vdso_store(vdso_ts->nsec, (u64)tk->coarse_nsec);

		vdso_ts = &vc[CS_HRES_COARSE].basetime[CLOCK_MONOTONIC_COARSE];
		sec = tk->xtime_sec + (u64)tk->wall_to_monotonic.tv_sec;
		nsec = tk->coarse_nsec;
		nsec = nsec + (u64)tk->wall_to_monotonic.tv_nsec;
		sec += __iter_div_u64_rem(nsec, NSEC_PER_SEC, &rem);
		vdso_store(vdso_ts->sec, sec);
		vdso_store(vdso_ts->nsec, rem);

		WRITE_ONCE(vd->hrtimer_res, hrtimer_res);
	}

	vdso_write_end(vd);
}

static const struct vdso_writer_ops vdso_writer_coarse_inside_ops = {
	.update_vsyscall = update_vsyscall_coarse_inside,
};

VDSO_WRITER(vdso_writer_coarse_inside_2019, vdso_writer_coarse_inside_ops,
	.bug = "CLK-14",
	.expect = "continuity|plausibility",
	.scenario = "the clocksource changes to one without a vDSO mode (hpet, acpi_pm); then "
		    "CLOCK_*_COARSE and hrtimer_res in the vDSO stand still while the kernel's move on",
	.history = "44f57d788e7d \"timekeeping: Provide a generic update_vsyscall() implementation\" "
		   "before 9f24c540f7f8 \"lib/vdso: Update coarse timekeeper unconditionally\" (2019)")

/* --------------------------------------------------------- synthetic -- */

/* update_vsyscall() without vdso_write_begin()/vdso_write_end(). */
static void update_vsyscall_no_seq(struct vdso_time_data *vd, const struct timekeeper *tk, u32 hrtimer_res)
{
	struct vdso_clock *vc = vd->clock_data;
	struct vdso_timestamp *vdso_ts;
	s32 clock_mode;
	u64 nsec, sec, rem;

	clock_mode = tk->tkr_mono.clock->vdso_clock_mode;
	vdso_store(vc[CS_HRES_COARSE].clock_mode, clock_mode);
	vdso_store(vc[CS_RAW].clock_mode, clock_mode);
	vdso_ts = &vc[CS_HRES_COARSE].basetime[CLOCK_REALTIME];
	vdso_store(vdso_ts->sec, tk->xtime_sec);
	vdso_store(vdso_ts->nsec, tk->tkr_mono.xtime_nsec);
	vdso_ts = &vc[CS_HRES_COARSE].basetime[CLOCK_REALTIME_COARSE];
	vdso_store(vdso_ts->sec, tk->xtime_sec);
	vdso_store(vdso_ts->nsec, (u64)tk->coarse_nsec);
	vdso_ts = &vc[CS_HRES_COARSE].basetime[CLOCK_MONOTONIC_COARSE];
	sec = tk->xtime_sec + (u64)tk->wall_to_monotonic.tv_sec;
	nsec = tk->coarse_nsec;
	nsec = nsec + (u64)tk->wall_to_monotonic.tv_nsec;
	sec += __iter_div_u64_rem(nsec, NSEC_PER_SEC, &rem);
	vdso_store(vdso_ts->sec, sec);
	vdso_store(vdso_ts->nsec, rem);
	WRITE_ONCE(vd->hrtimer_res, hrtimer_res);
	if (clock_mode != VDSO_CLOCKMODE_NONE)
		update_vdso_time_data(vd, tk);
}

static const struct vdso_writer_ops vdso_writer_no_seq_ops = { .update_vsyscall = update_vsyscall_no_seq };

VDSO_WRITER(vdso_writer_no_seq, vdso_writer_no_seq_ops,
	.bug = "CLK-S3",
	.expect = "writer_discipline|torn_snapshot|reference|plausibility|monotonic|linearizable",
	.scenario = "any tick while a reader is between two loads of the page",
	.history = "synthetic mutation of update_vsyscall(): vdso_write_begin()/vdso_write_end() removed")

/*
 * MONOTONIC_RAW taken from tkr_mono: NTP's frequency correction leaks into
 * the clock that must not have it.
 */
static void update_vsyscall_raw_from_mono(struct vdso_time_data *vd, const struct timekeeper *tk,
					  u32 hrtimer_res)
{
	struct vdso_clock *vc = vd->clock_data;

	update_vsyscall(vd, tk, hrtimer_res);
	if (tk->tkr_mono.clock->vdso_clock_mode == VDSO_CLOCKMODE_NONE)
		return;
	/* rewritten in a window of its own, so the page stays well formed */
	vdso_write_begin(vd);
	vdso_store(vc[CS_RAW].mult, tk->tkr_mono.mult); /* the mutation */
	vdso_write_end(vd);
}

static const struct vdso_writer_ops vdso_writer_raw_from_mono_ops = {
	.update_vsyscall = update_vsyscall_raw_from_mono,
};

VDSO_WRITER(vdso_writer_raw_mult_from_mono, vdso_writer_raw_from_mono_ops,
	.expect = "plausibility|monotonic",
	.scenario = "an NTP frequency correction (adjtimex ADJ_FREQUENCY) makes tkr_mono.mult differ "
		    "from the clocksource's; CLOCK_MONOTONIC_RAW in the vDSO then runs at NTP's rate",
	.history = "synthetic: the RAW base's mult from tkr_mono (the shape of CLK-16's wrong-base "
		   "mix-up in KVM's copy, here in the vDSO's)")

/* BOOTTIME without the time spent suspended: equal to MONOTONIC. */
static void update_vsyscall_boot_as_mono(struct vdso_time_data *vd, const struct timekeeper *tk,
					 u32 hrtimer_res)
{
	struct vdso_timestamp *ts = vd->clock_data[CS_HRES_COARSE].basetime;
	u64 sec, nsec;

	update_vsyscall(vd, tk, hrtimer_res);
	if (tk->tkr_mono.clock->vdso_clock_mode == VDSO_CLOCKMODE_NONE)
		return;
	vdso_write_begin(vd);
	/* the mutation: BOOTTIME is MONOTONIC's base */
	sec = READ_ONCE(ts[CLOCK_MONOTONIC].sec);
	nsec = READ_ONCE(ts[CLOCK_MONOTONIC].nsec);
	vdso_store(ts[CLOCK_BOOTTIME].sec, sec);
	vdso_store(ts[CLOCK_BOOTTIME].nsec, nsec);
	vdso_write_end(vd);
}

static const struct vdso_writer_ops vdso_writer_boot_as_mono_ops = {
	.update_vsyscall = update_vsyscall_boot_as_mono,
};

VDSO_WRITER(vdso_writer_boottime_no_sleep, vdso_writer_boot_as_mono_ops,
	.expect = "plausibility",
	.scenario = "the system suspends and resumes (timekeeping_inject_sleeptime64): the kernel's "
		    "BOOTTIME jumps by the sleep, the vDSO's does not",
	.history = "synthetic: the BOOTTIME base without monotonic_to_boot")
