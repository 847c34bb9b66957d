// SPDX-License-Identifier: MIT
/*
 * The 2009 KVM TSC-virtualization RFC (Zachary Amsden, "[PATCH RFC: kvm tsc
 * virtualization 15/20] Fix longstanding races", seed 003): every CPU
 * scales its own TSC to a common reference TSC at ref_tsc_khz; a base CPU
 * defines it; after a frequency change of the base every CPU is measured
 * against the base again ("resynchronised"); vCPUs do not enter the guest
 * on an unsynchronised CPU; the guest's RDTSC is trapped and returns the
 * reference TSC; its kvmclock counts reference ticks.
 *
 * The seed's diff shows evict(), resync(), resync_user()/resync_all(), the
 * notifier and the hotplug callbacks before and after the patch, written
 * here as it has them.  The helpers they call come from earlier patches of
 * the series that no stored source has (compute_ref_tsc(),
 * kvm_get_ref_tsc(), kvm_do_sync_tsc(), compute_best_multiplier(),
 * cpu_is_tsc_synchronized()); they are reconstructed minimally from what the
 * seed says they do (docs/kvm_tsc.md lists every reconstruction).
 */
#include "pvfuzz/kvm_tsc.h"

struct rfc_ipi {
	struct kvm_tsc_host *h;
	struct cpufreq_freqs *freq;
};

static struct cpu_tsc_vars *this_cv(struct kvm_tsc_host *h)
{
	return &h->tsc_vars[smp_processor_id()];
}

/* ------------------------------------------- reconstructed helpers ------ */

/* hardware ticks -> reference ticks at ref_tsc_khz */
static void compute_best_multiplier(u32 ref_khz, u32 khz, u32 *mult, s8 *shift)
{
	if (!khz)
		khz = ref_khz;
	kvm_get_time_scale(ref_khz * 1000ULL, khz * 1000ULL, shift, mult);
}

/* This CPU's reference TSC now: the offset plus the scaled ticks since the measurement. */
static u64 compute_ref_tsc(struct kvm_tsc_host *h)
{
	struct cpu_tsc_vars *cv = this_cv(h);
	u64 base = READ_ONCE(cv->tsc_measure_base);
	u64 tsc = rdtsc();
	u32 mult = READ_ONCE(cv->tsc_multiplier);
	s8 shift = READ_ONCE(cv->tsc_shift);

	return READ_ONCE(cv->tsc_offset) + pvclock_scale_delta(tsc - base, mult, shift);
}

/*
 * kvm_get_ref_tsc(): preemption off, and a generation check against the
 * synchronisation updating this CPU's variables meanwhile.
 */
static u64 kvm_get_ref_tsc(struct kvm_tsc_host *h)
{
	struct cpu_tsc_vars *cv;
	u32 gen;
	u64 tsc;

	preempt_disable(); /* get_cpu() */
	cv = this_cv(h);
	do {
		gen = READ_ONCE(cv->tsc_generation);
		smp_rmb();
		tsc = compute_ref_tsc(h);
		smp_rmb();
	} while (unlikely(gen != READ_ONCE(cv->tsc_generation)));
	h->ref_tsc_seen(h, smp_processor_id(), tsc);
	preempt_enable();
	return tsc;
}

static bool cpu_is_tsc_synchronized(struct kvm_tsc_host *h, int cpu)
{
	return atomic_read(&h->tsc_vars[cpu].tsc_synchronized);
}

/*
 * On the CPU being synchronised, in hard-IRQ context: measure the base's
 * reference against this CPU's TSC (the series' two-CPU measurement,
 * modelled as exact: h->measure_base), re-anchor, and say so.
 */
static void sync_slave(void *info)
{
	struct rfc_ipi *ipi = info;
	struct kvm_tsc_host *h = ipi->h;
	struct cpu_tsc_vars *cv = this_cv(h);
	u32 mult;
	s8 shift;
	u64 ref, tsc;

	h->measure_base(h, READ_ONCE(h->tsc_base_cpu), &ref, &tsc);
	compute_best_multiplier(h->ref_tsc_khz, READ_ONCE(cv->tsc_khz), &mult, &shift);
	WRITE_ONCE(cv->tsc_generation, READ_ONCE(cv->tsc_generation) + 1);
	smp_wmb();
	WRITE_ONCE(cv->tsc_measure_base, tsc);
	WRITE_ONCE(cv->tsc_offset, ref);
	WRITE_ONCE(cv->tsc_multiplier, mult);
	WRITE_ONCE(cv->tsc_shift, shift);
	smp_wmb();
	WRITE_ONCE(cv->tsc_generation, READ_ONCE(cv->tsc_generation) + 1);
	atomic_set(&cv->tsc_synchronized, 1);
}

/* Synchronise cpu to the base CPU (one measurement at a time). */
static void kvm_do_sync_tsc(struct kvm_tsc_host *h, int cpu)
{
	struct rfc_ipi ipi = { h, NULL };
	int base;

	kvm_spin_lock(&h->sync_lock);
	base = READ_ONCE(h->tsc_base_cpu);
	if (cpu != base)
		smp_call_function_single(h, cpu, sync_slave, &ipi, true);
	kvm_spin_unlock(&h->sync_lock);
}

/* 2009 kvm_write_guest_time(): the record counts reference ticks. */
static int kvm_write_guest_time_ref(struct kvm_tsc_host *h, int v)
{
	struct kvm_vcpu_clock *vc = &h->clock.vcpu[v];
	struct pvclock_vcpu_time_info hv;
	unsigned long flags;
	u64 ref, ns, hw;

	local_irq_save(flags);
	h->host_tsc_and_ns(h, &hw, &ns);
	ref = kvm_get_ref_tsc(h);
	local_irq_restore(flags);

	if (vc->hw_tsc_khz != h->ref_tsc_khz) {
		kvm_get_time_scale(NSEC_PER_SEC, h->ref_tsc_khz * 1000ULL, &vc->pvclock_tsc_shift,
				   &vc->pvclock_tsc_mul);
		vc->hw_tsc_khz = h->ref_tsc_khz;
	}
	hv = vc->hv_clock;
	hv.tsc_timestamp = ref;
	hv.system_time = ns + (u64)h->clock.kvmclock_offset;
	hv.tsc_to_system_mul = vc->pvclock_tsc_mul;
	hv.tsc_shift = vc->pvclock_tsc_shift;
	hv.flags = 0;
	kvm_setup_guest_pvclock(&h->clock, v, &hv);
	(void)hw;
	return 0;
}

/* a vCPU enters hardware virtualization only on a synchronised CPU */
static bool kvm_tsc_synchronized_entry(struct kvm_tsc_host *h, int v)
{
	return cpu_is_tsc_synchronized(h, smp_processor_id());
}

/* RDTSC exits and returns the reference TSC (host IRQs on in the handler). */
static u64 kvm_trapped_rdtsc(struct kvm_tsc_host *h, int v)
{
	return kvm_get_ref_tsc(h);
}

static void request_updates_on(struct kvm_tsc_host *h, int cpu, int *send_ipi)
{
	kvm_spin_lock(&h->kvm_lock);
	for (int i = 0; i < h->nr_cpus; i++) {
		struct kvm_tsc_vcpu *vcpu = &h->vcpu[i];

		if (READ_ONCE(vcpu->cpu) != cpu)
			continue;
		if (send_ipi && READ_ONCE(vcpu->cpu) != smp_processor_id())
			(*send_ipi)++;
		kvm_make_request(KVM_REQ_CLOCK_UPDATE, vcpu);
	}
	kvm_spin_unlock(&h->kvm_lock);
}

static void cpu_tsc_init(struct kvm_tsc_host *h, int cpu)
{
	u32 khz = h->cpufreq_quick_get(h, cpu);

	WRITE_ONCE(h->tsc_vars[cpu].tsc_khz, khz ? khz : h->tsc_khz);
}

/* ------------------------------------------------ before the patch ------ */

static void evict_old(void *info)
{
	/* nothing: the IPI kicks the CPU out of guest mode */
}

static void resync_user_old(struct kvm_tsc_host *h)
{
	WRITE_ONCE(h->work_scheduled, 0);
	for (int cpu = 0; cpu < h->nr_cpus; cpu++)
		if (cpu_online(h, cpu) && cpu != READ_ONCE(h->tsc_base_cpu))
			kvm_do_sync_tsc(h, cpu);
}

/* on the base CPU, in hard-IRQ context (or at init with preemption off) */
static void resync_old(void *info)
{
	struct rfc_ipi *ipi = info;
	struct kvm_tsc_host *h = ipi->h;
	struct cpu_tsc_vars *cv = this_cv(h);
	u32 mult;
	s8 shift;
	u64 tsc;

	/* Fixup our own values to stay in sync with the reference */
	tsc = compute_ref_tsc(h);
	WRITE_ONCE(cv->tsc_measure_base, rdtsc());
	WRITE_ONCE(cv->tsc_offset, tsc);
	compute_best_multiplier(h->ref_tsc_khz, READ_ONCE(cv->tsc_khz), &mult, &shift);
	WRITE_ONCE(cv->tsc_multiplier, mult);
	WRITE_ONCE(cv->tsc_shift, shift);
	atomic_set(&cv->tsc_synchronized, 1);

	/* Then, get everybody else on board */
	if (!READ_ONCE(h->work_scheduled)) {
		WRITE_ONCE(h->work_scheduled, 1);
		/* execute_in_process_context(): from an interrupt, schedule_work() */
		if (h->in_interrupt(h))
			h->schedule_work(h, resync_user_old);
		else
			resync_user_old(h);
	}
}

static int kvmclock_cpufreq_notifier_old(struct kvm_tsc_host *h, unsigned long val,
					 struct cpufreq_freqs *freq)
{
	struct cpu_tsc_vars *cv = &h->tsc_vars[freq->cpu];
	struct rfc_ipi ipi = { h, freq };
	int send_ipi = 0;

	if (val == CPUFREQ_PRECHANGE) {
		h->get_online_cpus(h);
		atomic_set(&cv->tsc_synchronized, 0);
		request_updates_on(h, freq->cpu, &send_ipi);
		if (send_ipi)
			smp_call_function_single(h, freq->cpu, evict_old, &ipi, true);
		/*
		 * The update of the frequency can't happen while a VM is
		 * running: any CPU writes it, under kvm_tsc_lock.
		 */
		kvm_spin_lock(&h->kvm_tsc_lock);
		WRITE_ONCE(cv->tsc_khz, freq->new);
		kvm_spin_unlock(&h->kvm_tsc_lock);
		return 0;
	}
	if (val == CPUFREQ_POSTCHANGE) {
		if (freq->cpu == READ_ONCE(h->tsc_base_cpu))
			smp_call_function_single(h, freq->cpu, resync_old, &ipi, true);
		else if (cpu_is_tsc_synchronized(h, READ_ONCE(h->tsc_base_cpu)))
			/* Can't do this if base is not yet updated */
			kvm_do_sync_tsc(h, freq->cpu);
		h->put_online_cpus(h);
	}
	return 0;
}

static void kvm_cpu_down_prepare_old(struct kvm_tsc_host *h, int cpu)
{
	if (cpu == READ_ONCE(h->tsc_base_cpu)) {
		int new_cpu = 0;

		kvm_spin_lock(&h->kvm_tsc_lock);
		for (new_cpu = 0; new_cpu < h->nr_cpus; new_cpu++)
			if (cpu_online(h, new_cpu) && new_cpu != cpu)
				break;
		WRITE_ONCE(h->tsc_base_cpu, new_cpu);
		kvm_spin_unlock(&h->kvm_tsc_lock);
	}
}

static void kvm_cpu_dying_old(struct kvm_tsc_host *h, int cpu)
{
	atomic_set(&h->tsc_vars[cpu].tsc_synchronized, 0);
}

static void kvm_cpu_online_rfc(struct kvm_tsc_host *h, int cpu)
{
	cpu_tsc_init(h, cpu);
	kvm_do_sync_tsc(h, cpu);
}

static void kvm_timer_init_old(struct kvm_tsc_host *h)
{
	struct rfc_ipi ipi = { h, NULL };

	for (int cpu = 0; cpu < h->nr_cpus; cpu++) {
		kvm_spin_lock(&h->kvm_tsc_lock);
		cpu_tsc_init(h, cpu);
		kvm_spin_unlock(&h->kvm_tsc_lock);
	}
	preempt_disable(); /* tsc_base_cpu = get_cpu() */
	WRITE_ONCE(h->tsc_base_cpu, smp_processor_id());
	resync_old(&ipi);
	preempt_enable();
}

static const struct kvm_tsc_writer_ops kvm_tsc_2009_rfc_ops = {
	.timer_init = kvm_timer_init_old,
	.cpufreq_notifier = kvmclock_cpufreq_notifier_old,
	.cpu_down_prepare = kvm_cpu_down_prepare_old,
	.cpu_dying = kvm_cpu_dying_old,
	.cpu_online = kvm_cpu_online_rfc,
	.vcpu_can_enter = kvm_tsc_synchronized_entry,
	.guest_time_update = kvm_write_guest_time_ref,
	.guest_rdtsc = kvm_trapped_rdtsc,
};

KVM_TSC_WRITER(kvm_tsc_2009_rfc, kvm_tsc_2009_rfc_ops,
	.bug = "CLK-19",
	.expect = "rate|linearizable|monotonic|plausibility",
	.scenario = "seed 003's three races: rapid frequency updates leave a CPU synchronised with a "
		    "stale kHz; the resync work races CPU hotplug; a resync IPI interrupts a "
		    "reference-clock read on the base CPU",
	.history = "the 2009 TSC-virtualization RFC before \"[PATCH RFC: kvm tsc virtualization 15/20] "
		   "Fix longstanding races\" (Zachary Amsden, Dec 2009; seed 003), reconstructed "
		   "helpers in docs/kvm_tsc.md")

/* ------------------------------------------------------- the patch ------ */

static void evict(void *info)
{
	struct rfc_ipi *ipi = info;
	struct kvm_tsc_host *h = ipi->h;
	struct cpu_tsc_vars *cv = this_cv(h);

	WRITE_ONCE(cv->last_ref, compute_ref_tsc(h));
	if (ipi->freq)
		WRITE_ONCE(cv->tsc_khz, ipi->freq->new);
	atomic_set(&cv->tsc_synchronized, 0);
}

static long resync(struct kvm_tsc_host *h)
{
	struct rfc_ipi ipi = { h, NULL };
	struct cpu_tsc_vars *cv;
	u64 tsc = 0;
	u32 mult;
	s8 shift;
	int cpu;

	/*
	 * Make sure we are on the right CPU: the base could have changed since
	 * the work was scheduled; being in a non-preempt section keeps it.
	 */
	preempt_disable(); /* cpu = get_cpu() */
	cpu = smp_processor_id();
	if (cpu != READ_ONCE(h->tsc_base_cpu))
		return -1; /* as the patch has it: no put_cpu() on this path */
	cv = this_cv(h);

	/* evict all CPUs from VM execution and take the highest reference clock */
	on_each_cpu(h, evict, &ipi, true);
	for (cpu = 0; cpu < h->nr_cpus; cpu++)
		if (cpu_online(h, cpu) && READ_ONCE(h->tsc_vars[cpu].last_ref) > tsc)
			tsc = READ_ONCE(h->tsc_vars[cpu].last_ref);

	/* Fixup our own values to stay in sync with the reference */
	WRITE_ONCE(cv->tsc_measure_base, rdtsc());
	WRITE_ONCE(cv->tsc_offset, tsc);
	WRITE_ONCE(cv->tsc_generation, READ_ONCE(cv->tsc_generation) + 1); /* XXX needed? */
	compute_best_multiplier(h->ref_tsc_khz, READ_ONCE(cv->tsc_khz), &mult, &shift);
	WRITE_ONCE(cv->tsc_multiplier, mult);
	WRITE_ONCE(cv->tsc_shift, shift);
	atomic_set(&cv->tsc_synchronized, 1);

	for (cpu = 0; cpu < h->nr_cpus; cpu++)
		if (cpu_online(h, cpu))
			kvm_do_sync_tsc(h, cpu);

	preempt_enable(); /* put_cpu() */
	return 0;
}

static void resync_all(struct kvm_tsc_host *h)
{
	kvm_mutex_lock(&h->resync_lock);
	while (h->work_on_cpu(h, READ_ONCE(h->tsc_base_cpu), resync) != 0)
		; /* do nothing */
	kvm_mutex_unlock(&h->resync_lock);
}

static int kvmclock_cpufreq_notifier_patch(struct kvm_tsc_host *h, unsigned long val,
					   struct cpufreq_freqs *freq)
{
	struct rfc_ipi ipi = { h, freq };

	if (val == CPUFREQ_PRECHANGE) {
		request_updates_on(h, freq->cpu, NULL);
		/*
		 * Always update the tsc_khz value on the affected processor:
		 * pass the freq data to evict, which also marks it
		 * unsynchronised and kicks it out of guest context.
		 */
		smp_call_function_single(h, freq->cpu, evict, &ipi, true);
		return 0;
	}
	if (val == CPUFREQ_POSTCHANGE) {
		h->get_online_cpus(h);
		if (freq->cpu == READ_ONCE(h->tsc_base_cpu))
			resync_all(h);
		else if (cpu_is_tsc_synchronized(h, READ_ONCE(h->tsc_base_cpu)))
			/* Can't do this if base is not yet updated */
			kvm_do_sync_tsc(h, freq->cpu);
		h->put_online_cpus(h);
	}
	return 0;
}

/* CPU_DYING runs inside stop_machine: nobody is in a get_cpu() section. */
static void kvm_cpu_dying_patch(struct kvm_tsc_host *h, int cpu)
{
	if (cpu == h->tsc_base_cpu) {
		int new_cpu;

		for (new_cpu = 0; new_cpu < h->nr_cpus; new_cpu++)
			if (((h->online >> new_cpu) & 1) && new_cpu != cpu)
				break;
		h->tsc_base_cpu = new_cpu;
	}
}

static void kvm_cpu_down_prepare_patch(struct kvm_tsc_host *h, int cpu)
{
	atomic_set(&h->tsc_vars[cpu].tsc_synchronized, 0);
}

static void kvm_timer_init_patch(struct kvm_tsc_host *h)
{
	unsigned long flags;

	for (int cpu = 0; cpu < h->nr_cpus; cpu++) {
		local_irq_save(flags);
		cpu_tsc_init(h, cpu);
		local_irq_restore(flags);
	}
	preempt_disable(); /* tsc_base_cpu = get_cpu(); put_cpu() */
	WRITE_ONCE(h->tsc_base_cpu, smp_processor_id());
	preempt_enable();
	resync_all(h);
}

static const struct kvm_tsc_writer_ops kvm_tsc_2009_patch_ops = {
	.timer_init = kvm_timer_init_patch,
	.cpufreq_notifier = kvmclock_cpufreq_notifier_patch,
	.cpu_down_prepare = kvm_cpu_down_prepare_patch,
	.cpu_dying = kvm_cpu_dying_patch,
	.cpu_online = kvm_cpu_online_rfc,
	.vcpu_can_enter = kvm_tsc_synchronized_entry,
	.guest_time_update = kvm_write_guest_time_ref,
	.guest_rdtsc = kvm_trapped_rdtsc,
};

KVM_TSC_WRITER(kvm_tsc_2009_patch, kvm_tsc_2009_patch_ops,
	.bug = "CLK-19",
	.expect = "rate|plausibility|linearizable|monotonic",
	.scenario = "the seed's own patch; the fuzzer's verdict and its trace are in docs/kvm_tsc.md",
	.history = "\"[PATCH RFC: kvm tsc virtualization 15/20] Fix longstanding races\" (Zachary "
		   "Amsden, Dec 2009; seed 003): tsc_khz written only on its own CPU by evict(), "
		   "resync_all() through work_on_cpu() under get_online_cpus(), the base moved in "
		   "CPU_DYING")
