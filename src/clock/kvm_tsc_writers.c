// SPDX-License-Identifier: MIT
/*
 * TSC-frequency writers: the historical and mutated cpufreq notifiers of
 * known-bugs.md CLK-18 and CLK-19(a).  Mainline is kvm_tsc_mainline.c, the
 * 2009 TSC-virtualization RFC is kvm_tsc_2009.c.
 */
#include "pvfuzz/kvm_tsc.h"

/* CLK-18(a): the filter inverted - upscale notified after, downscale before. */
static int kvmclock_cpufreq_notifier_inverted(struct kvm_tsc_host *h, unsigned long val,
					      struct cpufreq_freqs *freq)
{
	if (val == CPUFREQ_PRECHANGE && freq->old < freq->new)
		return 0;
	if (val == CPUFREQ_POSTCHANGE && freq->old > freq->new)
		return 0;
	__kvmclock_cpufreq_notifier(h, freq, freq->cpu);
	return 0;
}

static const struct kvm_tsc_writer_ops kvm_tsc_notifier_inverted_ops = {
	.cpufreq_notifier = kvmclock_cpufreq_notifier_inverted,
};

KVM_TSC_WRITER(kvm_tsc_notifier_inverted, kvm_tsc_notifier_inverted_ops,
	.bug = "CLK-18",
	.expect = "rate|monotonic|plausibility",
	.scenario = "an upscale: the TSC speeds up at the hardware change while vCPUs keep the old "
		    "kvmclock until POSTCHANGE; guest time runs fast, then the re-anchor steps it back",
	.history = "kvmclock_cpufreq_notifier() with the PRECHANGE/POSTCHANGE filter the wrong way "
		   "round (CLK-18 a): against \"notify them before\" on accelerating clocks")

/* CLK-18(b): no second IPI on upscale. */
static void __kvmclock_cpufreq_notifier_no_kick(struct kvm_tsc_host *h, struct cpufreq_freqs *freq,
						int cpu)
{
	struct kvm_tsc_ipi ipi = { h, freq };

	smp_call_function_single(h, cpu, tsc_khz_changed, &ipi, true);
	kvm_mutex_lock(&h->kvm_lock);
	for (int i = 0; i < h->nr_cpus; i++) {
		struct kvm_tsc_vcpu *vcpu = &h->vcpu[i];

		if (READ_ONCE(vcpu->cpu) != cpu)
			continue;
		kvm_make_request(KVM_REQ_CLOCK_UPDATE, vcpu);
	}
	kvm_mutex_unlock(&h->kvm_lock);
	/* the bug: a vCPU that re-entered after the first IPI is never kicked */
}

static int kvmclock_cpufreq_notifier_no_kick(struct kvm_tsc_host *h, unsigned long val,
					     struct cpufreq_freqs *freq)
{
	if (val == CPUFREQ_PRECHANGE && freq->old > freq->new)
		return 0;
	if (val == CPUFREQ_POSTCHANGE && freq->old < freq->new)
		return 0;
	__kvmclock_cpufreq_notifier_no_kick(h, freq, freq->cpu);
	return 0;
}

static const struct kvm_tsc_writer_ops kvm_tsc_notifier_no_kick_ops = {
	.cpufreq_notifier = kvmclock_cpufreq_notifier_no_kick,
};

KVM_TSC_WRITER(kvm_tsc_notifier_no_kick, kvm_tsc_notifier_no_kick_ops,
	.bug = "CLK-18",
	.expect = "rate|monotonic|plausibility",
	.scenario = "an upscale while the vCPU on that CPU is in guest mode: the kHz IPI makes it "
		    "exit before the request is set, it re-enters with the old kvmclock and stays "
		    "there while the TSC speeds up",
	.history = "__kvmclock_cpufreq_notifier() without the second smp_call_function_single() on "
		   "upscale (CLK-18 b); the 2.6.3x notifier already had it (\"Must make the guest "
		   "doesn't see old kvmclock values while running with the new frequency\")")

/*
 * CLK-19(a): the 2.6.3x notifier writes the target CPU's cpu_tsc_khz from
 * whichever CPU it runs on, and kvm_write_guest_time() reads it outside its
 * IRQ-off section (archive copies 41203320742, 18835835244).
 */
static void bounce_off(void *info)
{
	/* nothing: the IPI itself kicks the vCPU out of guest mode */
}

static int kvmclock_cpufreq_notifier_2010(struct kvm_tsc_host *h, unsigned long val,
					  struct cpufreq_freqs *freq)
{
	struct kvm_tsc_ipi ipi = { h, freq };
	int send_ipi = 0;

	if (val == CPUFREQ_PRECHANGE && freq->old > freq->new)
		return 0;
	if (val == CPUFREQ_POSTCHANGE && freq->old < freq->new)
		return 0;
	/* cpufreq_scale(tsc_khz_ref, ref_freq, freq->new): the TSC runs at the core clock */
	WRITE_ONCE(h->cpu_tsc_khz[freq->cpu], freq->new);

	kvm_spin_lock(&h->kvm_lock);
	for (int i = 0; i < h->nr_cpus; i++) {
		struct kvm_tsc_vcpu *vcpu = &h->vcpu[i];

		if (READ_ONCE(vcpu->cpu) != freq->cpu)
			continue;
		/* kvm_request_guest_time_update(): !test_and_set_bit() */
		if (pv_fetch_or(&vcpu->requests, KVM_REQ_CLOCK_UPDATE) & KVM_REQ_CLOCK_UPDATE)
			continue;
		if (READ_ONCE(vcpu->cpu) != smp_processor_id())
			send_ipi++;
	}
	kvm_spin_unlock(&h->kvm_lock);

	if (freq->old < freq->new && send_ipi)
		smp_call_function_single(h, freq->cpu, bounce_off, &ipi, true);
	return 0;
}

/* 2.6.32 kvm_write_guest_time(): the kHz is read before the IRQ-off section. */
static int kvm_write_guest_time_2010(struct kvm_tsc_host *h, int v)
{
	struct kvm_vcpu_clock *vc = &h->clock.vcpu[v];
	struct pvclock_vcpu_time_info hv;
	unsigned long flags;
	u64 host_tsc, kernel_ns;
	u32 this_tsc_khz;

	preempt_disable(); /* get_cpu_var() */
	this_tsc_khz = READ_ONCE(h->cpu_tsc_khz[smp_processor_id()]);
	/*
	 * 2.6.3x never stored 0 in cpu_tsc_khz; the host's hotplug here is
	 * mainline's (tsc_bad() in CPU_DOWN_PREPARE), so the guard that came with
	 * it in 2.6.37 is kept: kvm_get_time_scale(0) would never return.
	 */
	if (unlikely(this_tsc_khz == 0)) {
		preempt_enable();
		kvm_make_request(KVM_REQ_CLOCK_UPDATE, &h->vcpu[v]);
		return 1;
	}
	if (unlikely(vc->hw_tsc_khz != this_tsc_khz)) {
		kvm_get_time_scale(NSEC_PER_SEC, this_tsc_khz * 1000ULL, &vc->pvclock_tsc_shift,
				   &vc->pvclock_tsc_mul);
		vc->hw_tsc_khz = this_tsc_khz;
	}
	preempt_enable(); /* put_cpu_var() */

	/* Keep irq disabled to prevent changes to the clock */
	local_irq_save(flags);
	h->host_tsc_and_ns(h, &host_tsc, &kernel_ns);
	local_irq_restore(flags);

	hv = vc->hv_clock;
	hv.tsc_timestamp = host_tsc + (u64)vc->tsc_offset;
	hv.system_time = kernel_ns + (u64)h->clock.kvmclock_offset;
	hv.tsc_to_system_mul = vc->pvclock_tsc_mul;
	hv.tsc_shift = vc->pvclock_tsc_shift;
	hv.flags = 0;
	kvm_setup_guest_pvclock(&h->clock, v, &hv);
	return 0;
}

static const struct kvm_tsc_writer_ops kvm_tsc_notifier_2010_ops = {
	.cpufreq_notifier = kvmclock_cpufreq_notifier_2010,
	.guest_time_update = kvm_write_guest_time_2010,
};

KVM_TSC_WRITER(kvm_tsc_notifier_2010, kvm_tsc_notifier_2010_ops,
	.bug = "CLK-19",
	.expect = "rate|monotonic|plausibility",
	.scenario = "a downscale sets KVM_REQ_CLOCK_UPDATE without a kick (by design: the vCPU "
		    "stays in guest mode until its next exit); an upscale of the same CPU in that "
		    "stint finds the bit already set, so kvm_request_guest_time_update() says "
		    "false, send_ipi stays 0 and bounce_off is never sent: the guest keeps the "
		    "kvmclock of the frequency before the downscale while the TSC runs faster",
	.history = "2.6.3x kvmclock_cpufreq_notifier(): per_cpu(cpu_tsc_khz, freq->cpu) written from "
		   "the notifier's CPU, bounce_off kick on upscale only when "
		   "!test_and_set_bit(KVM_REQ_KVMCLOCK_UPDATE), kvm_write_guest_time() reading the "
		   "kHz outside its IRQ-off section (archive copies 41203320742, 18835835244); "
		   "mainline's kvm_make_request() + send_ipi = 1 has no such condition")

/*
 * A candidate fix for the CPU_ONLINE race of kvm_tsc_mainline (pvfuzz's, not
 * upstream): while the CPU's policy is in a transition, kvmclock_cpu_online()
 * leaves cpu_tsc_khz to the notifier, which writes the new kHz at PRECHANGE
 * (upscale) or POSTCHANGE (downscale); until then the 0 of
 * kvmclock_cpu_down_prep() holds guest time updates back.  The test and the
 * write run with IRQs off, so a transition that starts after the test has its
 * kHz IPI land after the write.
 */
static void kvmclock_cpu_online_after_transition(struct kvm_tsc_host *h, int cpu)
{
	struct kvm_tsc_ipi ipi = { h, NULL };
	unsigned long flags;

	local_irq_save(flags);
	if (!h->cpufreq_transition_ongoing(h, cpu))
		tsc_khz_changed(&ipi);
	local_irq_restore(flags);
}

static const struct kvm_tsc_writer_ops kvm_tsc_online_after_transition_ops = {
	.cpu_online = kvmclock_cpu_online_after_transition,
};

KVM_TSC_WRITER(kvm_tsc_online_after_transition, kvm_tsc_online_after_transition_ops,
	.expect = "safe",
	.scenario = "any, as kvm_tsc_mainline: in particular a CPU coming online inside an upscale "
		    "or a downscale of its own policy",
	.history = "kvm_tsc_mainline with kvmclock_cpu_online() skipping its cpufreq_quick_get() "
		   "write while policy->transition_ongoing (a pvfuzz proposal for the race it found "
		   "in mainline; not upstream)")
