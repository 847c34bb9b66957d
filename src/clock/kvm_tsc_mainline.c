// SPDX-License-Identifier: MIT
/*
 * KVM's TSC-frequency handling on a !CONSTANT_TSC host, modelled on
 * arch/x86/kvm/x86.c (v6.17): per-CPU cpu_tsc_khz written only on its own
 * CPU (tsc_khz_changed() by IPI), kvmclock_cpufreq_notifier() with its
 * "upscale before, downscale after" filter and the second kick,
 * kvmclock_cpu_down_prep()/kvmclock_cpu_online(), and
 * kvm_guest_time_update() reading the kHz with IRQs off.  Also the kernel
 * helpers the writers share (IPIs, locks, vcpu_enter_guest()).  Built into
 * both worlds.
 */
#include "pvfuzz/kvm_tsc.h"

/* ------------------------------------------------------- kernel helpers -- */

int smp_call_function_single(struct kvm_tsc_host *h, int cpu, smp_call_func_t func, void *info, bool wait)
{
	unsigned long flags;
	int err = 0;

	preempt_disable(); /* get_cpu(): no migration between the test and the send */
	if (!cpu_online(h, cpu)) {
		err = -6; /* -ENXIO */
	} else if (cpu == smp_processor_id()) {
		local_irq_save(flags);
		func(info);
		local_irq_restore(flags);
	} else {
		smp_call_function_many(1ULL << cpu, func, info, wait);
	}
	preempt_enable();
	return err;
}

void on_each_cpu(struct kvm_tsc_host *h, smp_call_func_t func, void *info, bool wait)
{
	unsigned long flags;

	preempt_disable();
	smp_call_function_many(READ_ONCE(h->online), func, info, wait);
	local_irq_save(flags);
	func(info);
	local_irq_restore(flags);
	preempt_enable();
}

void kvm_spin_lock(int *lock)
{
	preempt_disable();
	while (xchg(lock, 1))
		cpu_relax();
}

void kvm_spin_unlock(int *lock)
{
	smp_mb();
	WRITE_ONCE(*lock, 0);
	preempt_enable();
}

void kvm_mutex_lock(int *lock)
{
	while (xchg(lock, 1))
		cond_resched();
}

void kvm_mutex_unlock(int *lock)
{
	smp_mb();
	WRITE_ONCE(*lock, 0);
}

/* ------------------------------------------------------------ mainline -- */

u32 get_cpu_tsc_khz(struct kvm_tsc_host *h)
{
	/* static_cpu_has(X86_FEATURE_CONSTANT_TSC) is false on this host */
	return READ_ONCE(h->cpu_tsc_khz[smp_processor_id()]);
}

void tsc_khz_changed(void *info)
{
	struct kvm_tsc_ipi *ipi = info;
	struct kvm_tsc_host *h = ipi->h;
	u32 khz;

	if (ipi->freq)
		khz = ipi->freq->new;
	else
		khz = h->cpufreq_quick_get(h, smp_processor_id());
	if (!khz)
		khz = h->tsc_khz;
	WRITE_ONCE(h->cpu_tsc_khz[smp_processor_id()], khz);
}

void __kvmclock_cpufreq_notifier(struct kvm_tsc_host *h, struct cpufreq_freqs *freq, int cpu)
{
	struct kvm_tsc_ipi ipi = { h, freq };
	int send_ipi = 0;

	/*
	 * The new frequency reaches cpu_tsc_khz on its own CPU, by IPI, before
	 * the request: a guest time update may run any time after the request
	 * is set, so the kHz it reads must already be the new one.
	 */
	smp_call_function_single(h, cpu, tsc_khz_changed, &ipi, true);

	kvm_mutex_lock(&h->kvm_lock);
	for (int i = 0; i < h->nr_cpus; i++) {
		struct kvm_tsc_vcpu *vcpu = &h->vcpu[i];

		if (READ_ONCE(vcpu->cpu) != cpu)
			continue;
		kvm_make_request(KVM_REQ_CLOCK_UPDATE, vcpu);
		if (READ_ONCE(vcpu->cpu) != smp_processor_id())
			send_ipi = 1;
	}
	kvm_mutex_unlock(&h->kvm_lock);

	if (freq->old < freq->new && send_ipi) {
		/*
		 * We upscale the frequency: a vCPU that entered the guest
		 * between the kHz update and the request must be kicked out,
		 * or it would run on the faster TSC with the old kvmclock.
		 */
		smp_call_function_single(h, cpu, tsc_khz_changed, &ipi, true);
	}
}

int kvmclock_cpufreq_notifier_call(struct kvm_tsc_host *h, unsigned long val, struct cpufreq_freqs *freq)
{
	/*
	 * We allow guests to temporarily run on slowing clocks, provided we
	 * notify them after, or to run on accelerating clocks, provided we
	 * notify them before: time never goes backwards.
	 */
	if (val == CPUFREQ_PRECHANGE && freq->old > freq->new)
		return 0;
	if (val == CPUFREQ_POSTCHANGE && freq->old < freq->new)
		return 0;
	/* for_each_cpu(cpu, freq->policy->cpus): one CPU per policy here */
	__kvmclock_cpufreq_notifier(h, freq, freq->cpu);
	return 0;
}

/* CPUHP_AP_X86_KVM_CLK_ONLINE teardown: 0 makes kvm_guest_time_update() wait. */
void kvmclock_cpu_down_prep(struct kvm_tsc_host *h, int cpu)
{
	WRITE_ONCE(h->cpu_tsc_khz[cpu], 0);
}

void kvmclock_cpu_online(struct kvm_tsc_host *h, int cpu)
{
	struct kvm_tsc_ipi ipi = { h, NULL };

	tsc_khz_changed(&ipi);
}

/* cpuhp_setup_state() runs the startup callback on every online CPU. */
void kvm_timer_init(struct kvm_tsc_host *h)
{
	struct kvm_tsc_ipi ipi = { h, NULL };

	for (int cpu = 0; cpu < h->nr_cpus; cpu++)
		smp_call_function_single(h, cpu, tsc_khz_changed, &ipi, true);
}

/*
 * kvm_guest_time_update() without the masterclock (a !CONSTANT_TSC host's
 * clocksource is not the TSC): the record is anchored at (host TSC, host
 * time) read with IRQs off, scaled for this CPU's kHz.
 */
int kvm_guest_time_update_khz(struct kvm_tsc_host *h, int v)
{
	struct kvm_vcpu_clock *vc = &h->clock.vcpu[v];
	struct pvclock_vcpu_time_info hv;
	unsigned long flags;
	u64 host_tsc, kernel_ns;
	u32 tgt_tsc_khz;

	/* Keep irq disabled to prevent changes to the clock */
	local_irq_save(flags);
	tgt_tsc_khz = get_cpu_tsc_khz(h);
	if (unlikely(tgt_tsc_khz == 0)) {
		local_irq_restore(flags);
		kvm_make_request(KVM_REQ_CLOCK_UPDATE, &h->vcpu[v]);
		return 1;
	}
	h->host_tsc_and_ns(h, &host_tsc, &kernel_ns);
	local_irq_restore(flags);

	if (unlikely(vc->hw_tsc_khz != tgt_tsc_khz)) {
		kvm_get_time_scale(NSEC_PER_SEC, tgt_tsc_khz * 1000ULL, &vc->pvclock_tsc_shift,
				   &vc->pvclock_tsc_mul);
		vc->hw_tsc_khz = tgt_tsc_khz;
	}
	hv = vc->hv_clock;
	hv.tsc_timestamp = host_tsc + (u64)vc->tsc_offset; /* kvm_read_l1_tsc() */
	hv.system_time = kernel_ns + (u64)h->clock.kvmclock_offset;
	hv.tsc_to_system_mul = vc->pvclock_tsc_mul;
	hv.tsc_shift = vc->pvclock_tsc_shift;
	hv.flags = 0; /* no masterclock: never PVCLOCK_TSC_STABLE_BIT */
	kvm_setup_guest_pvclock(&h->clock, v, &hv);
	return 0;
}

static bool kvm_tsc_can_enter(struct kvm_tsc_host *h, int v)
{
	return true;
}

/*
 * kvm_arch_vcpu_load() on a new CPU (sched-in after a migration) requests a
 * clock update: KVM_REQ_GLOBAL_CLOCK_UPDATE updates this vCPU at once.
 */
void kvm_tsc_vcpu_load(struct kvm_tsc_host *h, int v)
{
	struct kvm_tsc_vcpu *vcpu = &h->vcpu[v];
	int cpu;

	preempt_disable(); /* preempt notifiers run with preemption off */
	cpu = smp_processor_id();
	if (READ_ONCE(vcpu->cpu) != cpu) {
		kvm_make_request(KVM_REQ_CLOCK_UPDATE, vcpu);
		WRITE_ONCE(vcpu->cpu, cpu);
	}
	preempt_enable();
}

/*
 * vcpu_enter_guest() up to VM entry: requests run on the vCPU's own thread,
 * and the last request check happens with IRQs off after vcpu->mode =
 * IN_GUEST_MODE, so a request made later comes with a kick the guest cannot
 * miss.
 */
bool kvm_tsc_vcpu_enter(struct kvm_tsc_host *h, int v)
{
	struct kvm_tsc_vcpu *vcpu = &h->vcpu[v];
	unsigned long flags;

	kvm_tsc_vcpu_load(h, v);
	/* a design that holds vCPUs out (2009: an unsynchronised CPU) waits first */
	if (!h->ops->vcpu_can_enter(h, v))
		return false;
	if (kvm_check_request(KVM_REQ_CLOCK_UPDATE, vcpu)) {
		if (h->ops->guest_time_update(h, v))
			return false;
	}

	local_irq_save(flags);
	WRITE_ONCE(vcpu->mode, IN_GUEST_MODE);
	smp_mb();
	if (READ_ONCE(vcpu->requests)) {
		WRITE_ONCE(vcpu->mode, OUTSIDE_GUEST_MODE);
		local_irq_restore(flags);
		return false;
	}
	/* VM entry: from here an interrupt is a VM exit */
	local_irq_restore(flags);
	return true;
}

void kvm_tsc_vcpu_exit(struct kvm_tsc_host *h, int v)
{
	WRITE_ONCE(h->vcpu[v].mode, OUTSIDE_GUEST_MODE);
}

static void kvm_tsc_nop(struct kvm_tsc_host *h, int cpu)
{
}

void kvm_tsc_writer_ops_resolve(struct kvm_tsc_writer_ops *out, const struct kvm_tsc_writer_ops *ops)
{
	*out = *ops;
	if (!out->timer_init)
		out->timer_init = kvm_timer_init;
	if (!out->cpufreq_notifier)
		out->cpufreq_notifier = kvmclock_cpufreq_notifier_call;
	if (!out->cpu_down_prepare)
		out->cpu_down_prepare = kvmclock_cpu_down_prep;
	if (!out->cpu_dying)
		out->cpu_dying = kvm_tsc_nop;
	if (!out->cpu_online)
		out->cpu_online = kvmclock_cpu_online;
	if (!out->vcpu_can_enter)
		out->vcpu_can_enter = kvm_tsc_can_enter;
	if (!out->guest_time_update)
		out->guest_time_update = kvm_guest_time_update_khz;
	/* guest_rdtsc stays NULL: the guest reads the hardware TSC */
}

static const struct kvm_tsc_writer_ops kvm_tsc_mainline_ops = { 0 };

/*
 * Not safe: found by pvfuzz (clean.kvm_tsc.mainline, docs/kvm_tsc.md).
 * CPUHP_AP_X86_KVM_CLK_ONLINE runs after cpufreq's CPUHP_AP_ONLINE_DYN, so
 * the new CPU's policy can be in an upscale whose PRECHANGE already set
 * cpu_tsc_khz to the new kHz by IPI; kvmclock_cpu_online() then writes
 * cpufreq_quick_get(), which is policy->cur, still the old kHz until the
 * POSTCHANGE - and an upscale's POSTCHANGE does nothing.  The CPU keeps the
 * old kHz while its TSC runs at the new rate.
 */
KVM_TSC_WRITER(kvm_tsc_mainline, kvm_tsc_mainline_ops,
	.flags = PV_MAINLINE,
	.expect = "rate",
	.fixed = "kvm_tsc_online_after_transition",
	.scenario = "a CPU comes online while an upscale of its policy is between PRECHANGE (which "
		    "set the new kHz there) and POSTCHANGE: kvmclock_cpu_online() writes back the old "
		    "kHz and nothing corrects it; vCPUs on that CPU run fast",
	.history = "mainline KVM on a !CONSTANT_TSC host: cpu_tsc_khz written on its own CPU by "
		   "tsc_khz_changed() IPI, upscale notified before and downscale after the change, "
		   "a second kick on upscale, cpu_tsc_khz = 0 while a CPU goes down "
		   "(arch/x86/kvm/x86.c, v6.17)")
