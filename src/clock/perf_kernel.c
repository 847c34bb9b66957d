// SPDX-License-Identifier: MIT
/*
 * The kernel side of the perf mmap page, mainline v6.17, in the shape of the
 * code it models: perf_event_update_userpage() and the event time accounting
 * (kernel/events/core.c), the x86 and arm64 arch_perf_update_userpage()
 * (arch/x86/events/core.c, drivers/perf/arm_pmuv3.c), the clocks they read
 * (x86 cyc2ns in arch/x86/kernel/tsc.c, the generic sched_clock of
 * kernel/time/sched_clock.c) and the PMU's counter handling
 * (x86_perf_event_update / x86_perf_event_set_period).
 *
 * The event belongs to one task on one CPU; everything that changes the
 * event runs there with interrupts off.  Only the sched_clock latch and the
 * sched_clock_stable key are written by other CPUs.
 */
#include "pvfuzz/perf_time.h"

/* ------------------------------------------------------------ clocks -- */

/*
 * The per-CPU cyc2ns latch.  Only its own CPU writes it, and in this model
 * only at boot (no cpufreq rescale, no refined calibration), so its loads
 * are plain this_cpu_read()s rather than scheduling points.
 */
void cyc2ns_read_begin(struct perf_kernel *k, struct cyc2ns_data *data)
{
	unsigned seq, idx;

	preempt_disable();
	do {
		seq = k->cyc2ns.seq.sequence;
		idx = seq & 1;
		data->cyc2ns_offset = k->cyc2ns.data[idx].cyc2ns_offset;
		data->cyc2ns_mul = k->cyc2ns.data[idx].cyc2ns_mul;
		data->cyc2ns_shift = k->cyc2ns.data[idx].cyc2ns_shift;
	} while (unlikely(seq != k->cyc2ns.seq.sequence));
}

void cyc2ns_read_end(struct perf_kernel *k)
{
	preempt_enable();
}

bool using_native_sched_clock(struct perf_kernel *k)
{
	return k->native_sched_clock;
}

bool sched_clock_stable(struct perf_kernel *k)
{
	return READ_ONCE(k->sched_clock_stable) != 0;
}

/*
 * x86 local_clock(): native_sched_clock() plus __sched_clock_offset.  Once
 * the TSC is marked unstable the kernel's local_clock() becomes the
 * tick-filtered sched_clock_cpu(), which __sched_clock_gtod_offset keeps
 * continuous with this; the model keeps the two equal.
 */
static u64 x86_local_clock(struct perf_kernel *k)
{
	struct cyc2ns_data data;
	u64 tsc_now = rdtsc();
	u64 ns;

	cyc2ns_read_begin(k, &data);
	ns = data.cyc2ns_offset + mul_u64_u32_shr(tsc_now, data.cyc2ns_mul, data.cyc2ns_shift);
	cyc2ns_read_end(k);
	return ns + k->sched_clock_offset; /* __sched_clock_offset: set at boot here */
}

/* raw_read_seqcount_latch(): even -> read_data[0], odd -> read_data[1] */
struct clock_read_data *sched_clock_read_begin(struct perf_kernel *k, unsigned *seq)
{
	*seq = READ_ONCE(k->cd.seq.sequence);
	return &k->cd.read_data[*seq & 1];
}

bool sched_clock_read_retry(struct perf_kernel *k, unsigned seq)
{
	smp_rmb();
	return unlikely(READ_ONCE(k->cd.seq.sequence) != seq);
}

/* rd->read_sched_clock(): the architected counter, or jiffies before it registered */
static u64 read_sched_clock(struct perf_kernel *k, u64 which)
{
	if (which == SCHED_CLOCK_ARCH_TIMER)
		return perf_read_counter(k->clock);
	return (rdtsc() >> 20) & 0xffffffffULL; /* a clock user space cannot read */
}

/* sched_clock() of kernel/time/sched_clock.c */
static u64 generic_sched_clock(struct perf_kernel *k)
{
	struct clock_read_data *rd;
	unsigned seq;
	u64 cyc, res;

	do {
		rd = sched_clock_read_begin(k, &seq);
		u64 which = READ_ONCE(rd->read_sched_clock);
		u64 epoch_cyc = READ_ONCE(rd->epoch_cyc);
		u64 mask = READ_ONCE(rd->sched_clock_mask);
		u32 mult = READ_ONCE(rd->mult);
		u32 shift = READ_ONCE(rd->shift);
		cyc = (read_sched_clock(k, which) - epoch_cyc) & mask;
		res = READ_ONCE(rd->epoch_ns) + sched_cyc_to_ns(cyc, mult, shift);
	} while (sched_clock_read_retry(k, seq));
	return res;
}

u64 perf_clock(struct perf_kernel *k)
{
	return k->arch == PERF_ARCH_X86 ? x86_local_clock(k) : generic_sched_clock(k);
}

/* raw_write_seqcount_latch() */
static void write_seqcount_latch(seqcount_t *s)
{
	smp_wmb();
	WRITE_ONCE(s->sequence, READ_ONCE(s->sequence) + 1);
	smp_wmb();
}

/* update_clock_read_data(): the even copy while readers use the odd one, then the odd */
static void update_clock_read_data(struct perf_kernel *k, const struct clock_read_data *rd)
{
	write_seqcount_latch(&k->cd.seq);
	pv_memcpy(&k->cd.read_data[0], rd, sizeof(*rd));
	write_seqcount_latch(&k->cd.seq);
	pv_memcpy(&k->cd.read_data[1], rd, sizeof(*rd));
}

/*
 * update_sched_clock(): the epoch moves to now, before the counter can wrap
 * (the kernel's hrtimer fires every wrap_kt).  Readers keep converting with
 * whichever copy the latch points them at.
 */
void update_sched_clock(struct perf_kernel *k)
{
	struct clock_read_data rd;
	unsigned long flags;
	u64 cyc, ns;

	local_irq_save(flags);
	rd.epoch_ns = READ_ONCE(k->cd.read_data[0].epoch_ns);
	rd.epoch_cyc = READ_ONCE(k->cd.read_data[0].epoch_cyc);
	rd.sched_clock_mask = READ_ONCE(k->cd.read_data[0].sched_clock_mask);
	rd.read_sched_clock = READ_ONCE(k->cd.read_data[0].read_sched_clock);
	rd.mult = READ_ONCE(k->cd.read_data[0].mult);
	rd.shift = READ_ONCE(k->cd.read_data[0].shift);

	cyc = read_sched_clock(k, rd.read_sched_clock);
	ns = rd.epoch_ns + sched_cyc_to_ns((cyc - rd.epoch_cyc) & rd.sched_clock_mask, rd.mult, rd.shift);
	rd.epoch_ns = ns;
	rd.epoch_cyc = cyc;
	update_clock_read_data(k, &rd);
	local_irq_restore(flags);
}

/* clear_sched_clock_stable(): the TSC watchdog or a cpufreq change on SMP */
void clear_sched_clock_stable(struct perf_kernel *k)
{
	WRITE_ONCE(k->sched_clock_stable, 0);
}

/* ----------------------------------------------------- time accounting -- */

/* perf_event_time_now(): context time at now (it stands still while the task is off) */
static u64 perf_event_time_now(struct perf_kernel *k, u64 now)
{
	if (!k->ctx.is_active)
		return k->ctx.time;
	return k->ctx.time + (now - k->ctx.timestamp);
}

/* __perf_update_times(): enabled runs while the event is on, running while on the PMU */
static void __perf_update_times(struct perf_kernel *k, u64 ctx_time, u64 *enabled, u64 *running)
{
	struct perf_event_model *event = &k->event;
	u64 delta = ctx_time - event->tstamp;

	*enabled = event->total_time_enabled;
	if (event->state >= PERF_EVENT_STATE_INACTIVE)
		*enabled += delta;
	*running = event->total_time_running;
	if (event->state >= PERF_EVENT_STATE_ACTIVE)
		*running += delta;
}

void calc_timer_values(struct perf_kernel *k, u64 *now, u64 *enabled, u64 *running)
{
	u64 ctx_time;

	*now = perf_clock(k);
	ctx_time = perf_event_time_now(k, *now);
	__perf_update_times(k, ctx_time, enabled, running);
}

/* update_context_time(): bring the task context's time up to now */
static void update_context_time(struct perf_kernel *k)
{
	u64 now = perf_clock(k);

	if (k->ctx.is_active)
		k->ctx.time += now - k->ctx.timestamp;
	k->ctx.timestamp = now;
}

void perf_event_update_time(struct perf_kernel *k)
{
	struct perf_event_model *event = &k->event;
	u64 now = k->ctx.time;

	__perf_update_times(k, now, &event->total_time_enabled, &event->total_time_running);
	event->tstamp = now;
}

/* perf_event_set_state(): fold the times of the old state, then switch */
static void perf_event_set_state(struct perf_kernel *k, int state)
{
	if (k->event.state == state)
		return;
	perf_event_update_time(k);
	k->event.state = state;
}

/* ----------------------------------------------------------- the page -- */

u32 perf_event_index(struct perf_kernel *k)
{
	if (k->event.state != PERF_EVENT_STATE_ACTIVE)
		return 0;
	if (!k->event.user_read)
		return 0;
	return (u32)k->event.idx + 1;
}

s64 perf_event_count(struct perf_kernel *k)
{
	return k->event.count;
}

void arch_perf_update_userpage(struct perf_kernel *k, struct perf_event_mmap_page *userpg, u64 now)
{
	k->ops->arch_update_userpage(k, userpg, now);
}

/*
 * perf_event_update_userpage(): an odd lock around the fields.  The event's
 * own CPU is the only writer and, for a self-monitoring reader, the reader's
 * CPU, so compiler barriers order it; the kernel bumps `lock` with ++ and
 * reads back what it just wrote, here through the locals.
 */
void perf_event_update_userpage(struct perf_kernel *k)
{
	struct perf_event_mmap_page *userpg = k->event.userpg;
	u64 enabled, running, now;
	u32 index;
	s64 offset;

	calc_timer_values(k, &now, &enabled, &running);

	/* preemption off: the time stamps stored below must be one update's */
	preempt_disable();
	WRITE_ONCE(userpg->lock, READ_ONCE(userpg->lock) + 1);
	barrier();
	index = perf_event_index(k);
	perf_page_store(userpg->index, index);
	offset = perf_event_count(k);
	if (index) /* the kernel builds with -fno-strict-overflow: this wraps */
		offset = (s64)((u64)offset - k->event.prev_count);
	perf_page_store(userpg->offset, offset);
	perf_page_store(userpg->time_enabled, enabled + k->event.child_total_time_enabled);
	perf_page_store(userpg->time_running, running + k->event.child_total_time_running);

	arch_perf_update_userpage(k, userpg, now);

	barrier();
	WRITE_ONCE(userpg->lock, READ_ONCE(userpg->lock) + 1);
	preempt_enable();
}

/* event_update_userpage(): an event that is enabled but has no counter */
void event_update_userpage(struct perf_kernel *k)
{
	perf_event_update_time(k);
	k->ops->update_userpage(k);
}

/*
 * x86 arch_perf_update_userpage(): user time only with the native TSC
 * sched_clock while it is stable; time_zero only for events in perf_clock's
 * time base.
 */
void x86_arch_perf_update_userpage(struct perf_kernel *k, struct perf_event_mmap_page *userpg, u64 now)
{
	struct cyc2ns_data data;
	u64 offset;

	/* adjacent bitfield stores: one read-modify-write of the word */
	const u64 time_caps = PERF_CAP_USER_TIME | PERF_CAP_USER_TIME_ZERO | PERF_CAP_USER_RDPMC;
	perf_page_set_caps(userpg, time_caps, k->event.user_read ? PERF_CAP_USER_RDPMC : 0);
	perf_page_store(userpg->pmc_width, k->cntval_bits);

	if (!using_native_sched_clock(k) || !sched_clock_stable(k))
		return;

	cyc2ns_read_begin(k, &data);

	offset = data.cyc2ns_offset + k->sched_clock_offset;

	/* enabled/running are kept in the local_clock domain */
	perf_page_set_cap(userpg, PERF_CAP_USER_TIME, true);
	perf_page_store(userpg->time_mult, data.cyc2ns_mul);
	perf_page_store(userpg->time_shift, (u16)data.cyc2ns_shift);
	perf_page_store(userpg->time_offset, offset - now);

	/* samples of a use_clockid event are in another clock: no time_zero */
	if (!k->event.use_clockid) {
		perf_page_set_cap(userpg, PERF_CAP_USER_TIME_ZERO, true);
		perf_page_store(userpg->time_zero, offset);
	}

	cyc2ns_read_end(k);
}

/*
 * arm64 arch_perf_update_userpage() (drivers/perf/arm_pmuv3.c): the
 * sched_clock's epoch, read under its latch, and only when sched_clock is
 * the counter user space reads.  time_zero has the epoch's cycles taken off
 * so that readers without cap_user_time_short work until the first wrap.
 */
void arm64_arch_perf_update_userpage(struct perf_kernel *k, struct perf_event_mmap_page *userpg, u64 now)
{
	struct clock_read_data *rd;
	unsigned seq;
	u64 ns, zero = 0;
	u32 mult = 0;
	u16 shift = 0;

	const u64 all_caps = PERF_CAP_USER_TIME | PERF_CAP_USER_TIME_ZERO | PERF_CAP_USER_TIME_SHORT |
			     PERF_CAP_USER_RDPMC;
	perf_page_set_caps(userpg, all_caps, k->event.user_read ? PERF_CAP_USER_RDPMC : 0);
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

		ns = mul_u64_u32_shr(epoch_cyc, mult, shift);
		zero -= ns;
		perf_page_store(userpg->time_zero, zero);
	} while (sched_clock_read_retry(k, seq));

	perf_page_store(userpg->time_offset, zero - now);

	/* the original published conversion shifted a 32-bit value: keep shift < 32 */
	if (shift == 32) {
		perf_page_store(userpg->time_shift, (u16)31);
		perf_page_store(userpg->time_mult, mult >> 1);
	}

	/* enabled/running are always kept with sched_clock */
	perf_page_set_caps(userpg, 0, PERF_CAP_USER_TIME | PERF_CAP_USER_TIME_ZERO | PERF_CAP_USER_TIME_SHORT);
}

/* ---------------------------------------------------------- the PMU -- */

unsigned perf_pmc_bits(const struct perf_kernel *k)
{
	return k->arch == PERF_ARCH_X86 ? k->cntval_bits : k->event.pmc_64bit ? 64 : 32;
}

static u64 pmc_mask(struct perf_kernel *k)
{
	unsigned bits = perf_pmc_bits(k);
	return bits >= 64 ? U64_MAX : (1ULL << bits) - 1;
}

/* x86_perf_event_update(): fold what the counter counted since prev_count */
static void pmu_event_update(struct perf_kernel *k)
{
	unsigned shift = 64 - perf_pmc_bits(k);
	u64 prev_raw_count = k->event.prev_count;
	u64 new_raw_count = k->pmc_read(k);
	u64 delta = (new_raw_count << shift) - (prev_raw_count << shift);

	delta >>= shift;
	k->event.prev_count = new_raw_count;
	k->event.count = (s64)((u64)k->event.count + delta); /* local64_add() */
}

/* x86_perf_event_set_period(): the counter starts at -left, overflowing after left */
static void pmu_event_set_period(struct perf_kernel *k)
{
	u64 left = k->period;

	k->event.prev_count = (u64)-left;
	k->pmc_start(k, (u64)-left & pmc_mask(k));
	k->ops->update_userpage(k);
}

/* event_sched_in(): onto the PMU, or INACTIVE when there is no counter for it */
static void event_sched_in(struct perf_kernel *k)
{
	if (k->event.state != PERF_EVENT_STATE_INACTIVE)
		return;
	if (k->no_counter) {
		k->ops->sched_in_inactive(k);
		return;
	}
	perf_event_set_state(k, PERF_EVENT_STATE_ACTIVE);
	pmu_event_set_period(k); /* pmu->add(PERF_EF_START) */
}

/* event_sched_out(): pmu->del() drains the counter; the page is not rewritten */
static void event_sched_out(struct perf_kernel *k, int state)
{
	if (k->event.state == PERF_EVENT_STATE_ACTIVE) {
		pmu_event_update(k);
		k->pmc_stop(k);
	}
	perf_event_set_state(k, state);
}

void perf_event_sched_out(struct perf_kernel *k)
{
	update_context_time(k);
	event_sched_out(k, k->event.state == PERF_EVENT_STATE_OFF ? PERF_EVENT_STATE_OFF
								  : PERF_EVENT_STATE_INACTIVE);
	k->ctx.is_active = false;
}

void perf_event_sched_in(struct perf_kernel *k)
{
	k->ctx.timestamp = perf_clock(k);
	k->ctx.is_active = true;
	event_sched_in(k);
}

/* perf_rotate_context(): the flexible events swap the counter */
void perf_event_rotate(struct perf_kernel *k)
{
	update_context_time(k);
	if (k->event.state == PERF_EVENT_STATE_ACTIVE)
		event_sched_out(k, PERF_EVENT_STATE_INACTIVE);
	k->no_counter = !k->no_counter;
	event_sched_in(k);
}

/* __perf_event_disable() / __perf_event_enable() on the event's CPU */
void perf_event_toggle(struct perf_kernel *k)
{
	update_context_time(k);
	if (k->event.state >= PERF_EVENT_STATE_INACTIVE) {
		event_sched_out(k, PERF_EVENT_STATE_OFF);
		return;
	}
	perf_event_set_state(k, PERF_EVENT_STATE_INACTIVE);
	if (k->ctx.is_active)
		event_sched_in(k);
}

/* PERF_EVENT_IOC_PERIOD: stop, take the new period, start again (the page is rewritten) */
void perf_event_period(struct perf_kernel *k, u64 period)
{
	if (k->event.state != PERF_EVENT_STATE_ACTIVE) {
		k->period = period;
		return;
	}
	update_context_time(k);
	pmu_event_update(k);
	k->pmc_stop(k);
	k->period = period;
	pmu_event_set_period(k);
}

/* x86_pmu_handle_irq(): the counter overflowed */
void perf_event_overflow(struct perf_kernel *k)
{
	if (k->event.state != PERF_EVENT_STATE_ACTIVE)
		return;
	update_context_time(k);
	pmu_event_update(k);
	pmu_event_set_period(k);
}

/* ------------------------------------------------------------ writers -- */

void perf_writer_ops_resolve(struct perf_writer_ops *out, const struct perf_writer_ops *ops)
{
	*out = *ops;
	if (!out->update_userpage)
		out->update_userpage = perf_event_update_userpage;
	if (!out->arch_update_userpage)
		out->arch_update_userpage = out->arch == PERF_ARCH_X86 ? x86_arch_perf_update_userpage
								       : arm64_arch_perf_update_userpage;
	if (!out->sched_in_inactive)
		out->sched_in_inactive = event_update_userpage;
}
