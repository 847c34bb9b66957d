// SPDX-License-Identifier: MIT
/*
 * KVM's private copy of the host timekeeper, modelled on arch/x86/kvm/x86.c
 * (v6.17): update_pvclock_gtod() and the pvclock_gtod notifier,
 * read_tsc()/vgettsc(), do_kvmclock_base(), do_realtime() and
 * kvm_get_time_and_clockread(), the masterclock's source of
 * (kernel_ns, host TSC).  Built into both worlds; a world without a
 * modelled host kernel (h->gtod == NULL) answers from its own hooks.
 *
 * The copy is written by whichever CPU runs the timekeeping update and read
 * from vCPU threads on other CPUs, so it has its own seqcount, and a reader
 * takes the counter inside the same section as the fields.
 */
#include "pvfuzz/pvclock.h"

void update_pvclock_gtod(struct pvclock_gtod_data *vdata, const struct timekeeper *tk)
{
	write_seqcount_begin(&vdata->seq);

	/* copy pvclock gtod data */
	WRITE_ONCE(vdata->clock.vclock_mode, tk->tkr_mono.clock->vdso_clock_mode);
	WRITE_ONCE(vdata->clock.cycle_last, tk->tkr_mono.cycle_last);
	WRITE_ONCE(vdata->clock.mask, tk->tkr_mono.mask);
	WRITE_ONCE(vdata->clock.mult, tk->tkr_mono.mult);
	WRITE_ONCE(vdata->clock.shift, tk->tkr_mono.shift);
	WRITE_ONCE(vdata->clock.base_cycles, tk->tkr_mono.xtime_nsec);
	WRITE_ONCE(vdata->clock.offset, (u64)tk->tkr_mono.base);

	WRITE_ONCE(vdata->raw_clock.vclock_mode, tk->tkr_raw.clock->vdso_clock_mode);
	WRITE_ONCE(vdata->raw_clock.cycle_last, tk->tkr_raw.cycle_last);
	WRITE_ONCE(vdata->raw_clock.mask, tk->tkr_raw.mask);
	WRITE_ONCE(vdata->raw_clock.mult, tk->tkr_raw.mult);
	WRITE_ONCE(vdata->raw_clock.shift, tk->tkr_raw.shift);
	WRITE_ONCE(vdata->raw_clock.base_cycles, tk->tkr_raw.xtime_nsec);
	WRITE_ONCE(vdata->raw_clock.offset, (u64)tk->tkr_raw.base);

	WRITE_ONCE(vdata->wall_time_sec, tk->xtime_sec);

	WRITE_ONCE(vdata->offs_boot, (u64)tk->offs_boot);

	write_seqcount_end(&vdata->seq);
}

/*
 * The notifier KVM registers with the timekeeper.  If the host no longer
 * uses (or trusts) a TSC-based clocksource, the masterclock must go; the
 * kernel defers that to irq_work (the notifier runs with tk_core.seq held),
 * which requests KVM_REQ_MASTERCLOCK_UPDATE on every vCPU of every VM.
 */
void pvclock_gtod_notify(void *ctx, const struct timekeeper *tk, bool was_set)
{
	struct kvm_clock_host *h = ctx;
	struct pvclock_gtod_data *gtod = h->gtod;

	update_pvclock_gtod(gtod, tk);

	/*
	 * kvm_guest_has_master_clock in the kernel: some VM used it once.  The
	 * model has one VM and asks whether it uses it now.
	 */
	if (!gtod_is_based_on_tsc(tk->tkr_mono.clock->vdso_clock_mode) &&
	    READ_ONCE(h->use_master_clock))
		WRITE_ONCE(h->gtod_masterclock_request, true);
}

/* One clock of the copy, field by field, inside the caller's read section. */
static void gtod_clock_load(const struct kvm_gtod_clock *c, struct kvm_gtod_clock *out)
{
	out->vclock_mode = READ_ONCE(c->vclock_mode);
	out->cycle_last = READ_ONCE(c->cycle_last);
	out->mask = READ_ONCE(c->mask);
	out->mult = READ_ONCE(c->mult);
	out->shift = READ_ONCE(c->shift);
	out->base_cycles = READ_ONCE(c->base_cycles);
	out->offset = READ_ONCE(c->offset);
}

/*
 * read_tsc(): a host TSC behind the copy's cycle_last (another CPU's TSC,
 * read a little earlier) counts as cycle_last, so time never goes back.
 */
static u64 read_tsc(struct kvm_clock_host *h)
{
	u64 ret = h->host_tsc(h); /* rdtsc_ordered() on the host */
	u64 last = READ_ONCE(h->gtod->clock.cycle_last);

	if (likely(ret >= last))
		return ret;
	return last;
}

/*
 * vgettsc(): the counter for a clock of the copy, and the mode it was read
 * in.  The Hyper-V TSC page (VDSO_CLOCKMODE_HVCLOCK, KVM nested on Hyper-V)
 * is a world the host model does not have yet: it reads as invalid.
 */
static int vgettsc(struct kvm_clock_host *h, const struct kvm_gtod_clock *clock, u64 *tsc_timestamp)
{
	int mode;

	switch (clock->vclock_mode) {
	case VDSO_CLOCKMODE_TSC:
		mode = VDSO_CLOCKMODE_TSC;
		*tsc_timestamp = read_tsc(h);
		break;
	default:
		mode = VDSO_CLOCKMODE_NONE;
	}
	if (mode == VDSO_CLOCKMODE_NONE)
		*tsc_timestamp = 0;
	return mode;
}

int kvm_gtod_snapshot(struct kvm_clock_host *h, struct kvm_gtod_data *snap, u64 *tsc_timestamp,
		      unsigned clocks)
{
	struct pvclock_gtod_data *gtod = h->gtod;
	unsigned seq;
	int mode;

	do {
		seq = read_seqcount_begin(&gtod->seq);
		gtod_clock_load(&gtod->raw_clock, &snap->raw_clock);
		if (clocks & KVM_GTOD_MONO)
			gtod_clock_load(&gtod->clock, &snap->clock);
		snap->offs_boot = READ_ONCE(gtod->offs_boot);
		mode = vgettsc(h, &snap->raw_clock, tsc_timestamp);
	} while (unlikely(read_seqcount_retry(&gtod->seq, seq)));

	return mode;
}

/*
 * do_kvmclock_base(): CLOCK_MONOTONIC_RAW + offs_boot at the TSC it reads,
 * i.e. what get_kvmclock_base_ns() says at that instant.  The arithmetic is
 * clock_math.h's do_kvmclock_base() on the section's snapshot.
 */
static int do_kvmclock_base_read(struct kvm_clock_host *h, s64 *t, u64 *tsc_timestamp)
{
	struct kvm_gtod_data snap = { 0 };
	int mode = kvm_gtod_snapshot(h, &snap, tsc_timestamp, KVM_GTOD_RAW);

	*t = (s64)do_kvmclock_base(&snap, mode == VDSO_CLOCKMODE_NONE ? snap.raw_clock.cycle_last
								      : *tsc_timestamp);
	return mode;
}

/* do_realtime(): CLOCK_REALTIME (NTP-steered) at the TSC it reads */
static int do_realtime(struct kvm_clock_host *h, struct timespec64 *ts, u64 *tsc_timestamp)
{
	struct pvclock_gtod_data *gtod = h->gtod;
	struct kvm_gtod_clock c;
	unsigned seq;
	int mode;
	u64 ns;

	do {
		seq = read_seqcount_begin(&gtod->seq);
		ts->tv_sec = (s64)READ_ONCE(gtod->wall_time_sec);
		gtod_clock_load(&gtod->clock, &c);
		mode = vgettsc(h, &c, tsc_timestamp);
		ns = c.base_cycles;
		if (mode != VDSO_CLOCKMODE_NONE)
			ns += ((*tsc_timestamp - c.cycle_last) & c.mask) * c.mult;
		ns >>= c.shift & 63;
	} while (unlikely(read_seqcount_retry(&gtod->seq, seq)));

	ts->tv_sec += (s64)(ns / NSEC_PER_SEC); /* __iter_div_u64_rem(): ns < 2 s here */
	ts->tv_nsec = (long)(ns % NSEC_PER_SEC);

	return mode;
}

bool kvm_get_time_and_clockread(struct kvm_clock_host *h, s64 *kernel_ns, u64 *tsc_timestamp)
{
	u64 ns;

	if (!h->gtod) {
		/* a world whose host is the real kernel: its TSC clocksource, one instant */
		h->host_ns_and_tsc(h, &ns, tsc_timestamp);
		*kernel_ns = (s64)ns;
		return true;
	}

	/* checked again under seqlock below */
	if (!gtod_is_based_on_tsc(READ_ONCE(h->gtod->clock.vclock_mode)))
		return false;

	return gtod_is_based_on_tsc(do_kvmclock_base_read(h, kernel_ns, tsc_timestamp));
}

bool kvm_get_walltime_and_clockread(struct kvm_clock_host *h, struct timespec64 *ts, u64 *tsc_timestamp)
{
	if (!h->gtod || !gtod_is_based_on_tsc(READ_ONCE(h->gtod->clock.vclock_mode)))
		return false;

	return gtod_is_based_on_tsc(do_realtime(h, ts, tsc_timestamp));
}

/* Count up from boot time, but with the frequency of the raw clock. */
u64 get_kvmclock_base_ns(struct kvm_clock_host *h)
{
	if (!h->host_tk)
		return h->host_ns(h); /* the world's own host clock */
	return (u64)ktime_get_raw(h->host_tk) + READ_ONCE(h->gtod->offs_boot);
}
