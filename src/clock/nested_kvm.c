// SPDX-License-Identifier: MIT
/*
 * Nested reenlightenment: L1 KVM's callback kvm_hyperv_tsc_notifier()
 * (arch/x86/kvm/x86.c, v6.17) with hyperv_stop_tsc_emulation() and
 * set_hv_tscchange_cb() (arch/x86/hyperv/hv_init.c), the historical or
 * proposed orders of CLK-20, and L0 models: Hyper-V as the TLFS describes
 * it, KVM emulating Hyper-V without TSC scaling (CLK-23), and KVM-on-KVM.
 * Built into both worlds.
 */
#include "pvfuzz/nested.h"

/* ------------------------------------------------------- L1's MSR exits -- */

u64 nested_rdmsr(struct nested_l1 *l1, u32 msr)
{
	struct nested_l0 *l0 = l1->l0;

	switch (msr) {
	case HV_X64_MSR_TSC_EMULATION_STATUS:
		return READ_ONCE(l0->tsc_emulation_status);
	case HV_X64_MSR_TSC_EMULATION_CONTROL:
		return READ_ONCE(l0->tsc_emulation_control);
	case HV_X64_MSR_REENLIGHTENMENT_CONTROL:
		return READ_ONCE(l0->reenlightenment_control);
	case HV_X64_MSR_TSC_FREQUENCY: {
		/* the frequency of the TSC L1 runs on once emulation stops, in Hz */
		u64 rate = READ_ONCE(l0->dest_rate);
		return rate * 1000000000ULL / 100; /* ticks per 100 ns step */
	}
	default:
		return 0;
	}
}

void nested_wrmsr(struct nested_l1 *l1, u32 msr, u64 data)
{
	struct nested_l0 *l0 = l1->l0;

	switch (msr) {
	case HV_X64_MSR_TSC_EMULATION_STATUS:
		l0->ops->set_emulation_status(l0, data);
		break;
	case HV_X64_MSR_TSC_EMULATION_CONTROL:
		WRITE_ONCE(l0->tsc_emulation_control, data);
		break;
	case HV_X64_MSR_REENLIGHTENMENT_CONTROL:
		WRITE_ONCE(l0->reenlightenment_control, data);
		break;
	default:
		break;
	}
}

/* ---------------------------------------------------------------- L1 ---- */

void set_hv_tscchange_cb(struct nested_l1 *l1)
{
	/* {vector, enabled = 1, target_vp}, then TSC_EMULATION_CONTROL.enabled */
	nested_wrmsr(l1, HV_X64_MSR_REENLIGHTENMENT_CONTROL, HV_REENLIGHTENMENT_ENABLED);
	nested_wrmsr(l1, HV_X64_MSR_TSC_EMULATION_CONTROL, HV_TSC_EMULATION_ENABLED);
}

void hyperv_stop_tsc_emulation(struct nested_l1 *l1)
{
	u64 emu_status, freq;

	emu_status = nested_rdmsr(l1, HV_X64_MSR_TSC_EMULATION_STATUS);
	emu_status &= ~HV_TSC_EMULATION_INPROGRESS;
	nested_wrmsr(l1, HV_X64_MSR_TSC_EMULATION_STATUS, emu_status);

	freq = nested_rdmsr(l1, HV_X64_MSR_TSC_FREQUENCY);
	WRITE_ONCE(l1->tsc_khz, (u32)(freq / 1000));
}

/* The VM's vCPUs rewrite their records, each before it may run L2 code again. */
static void update_all_vcpus(struct kvm_clock_host *h)
{
	for (int k = 0; k < h->nr_vcpus; k++) {
		int v = h->vcpu_order(h, k);
		kvm_guest_time_update(h, v);
		h->vcpu_in_host(h, v, false);
	}
}

void kvm_hyperv_tsc_notifier(struct nested_l1 *l1)
{
	struct kvm_clock_host *h = &l1->kvm;

	/* kvm_make_mclock_inprogress_request(): no guest entries from this point */
	kvm_start_pvclock_update(h);

	hyperv_stop_tsc_emulation(l1);

	/* TSC frequency always matches when on Hyper-V */
	h->tsc_khz = READ_ONCE(l1->tsc_khz); /* host-private, like per_cpu(cpu_tsc_khz) */

	/* __kvm_start_pvclock_update; pvclock_update_vm_gtod_copy; kvm_end_pvclock_update */
	pvclock_update_vm_gtod_copy(h);
	update_all_vcpus(h);
	kvm_end_pvclock_update(h);
}

static const struct nested_l1_ops kvm_hyperv_tsc_notifier_ops = {
	.tsc_notifier = kvm_hyperv_tsc_notifier,
};

NESTED_L1(kvm_hyperv_tsc_notifier_mainline, kvm_hyperv_tsc_notifier_ops,
	.flags = PV_MAINLINE,
	.expect = "safe",
	.scenario = "any: L1 migrated to a faster or slower TSC at any moment, the interrupt taken "
		    "late, L2 vCPUs reading throughout",
	.history = "mainline kvm_hyperv_tsc_notifier(): freeze every L2 vCPU, stop TSC emulation, "
		   "recompute the masterclock, CLOCK_UPDATE on every vCPU before it re-enters "
		   "(arch/x86/kvm/x86.c, v6.17; 0092e4346f49 \"x86/kvm: Support Hyper-V reenlightenment\")")

/* CLK-20: emulation stopped while the L2 vCPUs still run, then the freeze. */
static void kvm_hyperv_tsc_notifier_stop_first(struct nested_l1 *l1)
{
	struct kvm_clock_host *h = &l1->kvm;

	hyperv_stop_tsc_emulation(l1);
	kvm_start_pvclock_update(h);
	h->tsc_khz = READ_ONCE(l1->tsc_khz); /* host-private, like per_cpu(cpu_tsc_khz) */
	pvclock_update_vm_gtod_copy(h);
	update_all_vcpus(h);
	kvm_end_pvclock_update(h);
}

static const struct nested_l1_ops kvm_hyperv_tsc_notifier_stop_first_ops = {
	.tsc_notifier = kvm_hyperv_tsc_notifier_stop_first,
};

NESTED_L1(kvm_hyperv_tsc_stop_first, kvm_hyperv_tsc_notifier_stop_first_ops,
	.bug = "CLK-20",
	.expect = "rate|plausibility|monotonic|linearizable",
	.scenario = "an L2 vCPU reads kvmclock between L1's TSC_EMULATION_STATUS write and the "
		    "freeze: the TSC already runs at the new rate, the record still has the old mul",
	.history = "kvm_hyperv_tsc_notifier() with hyperv_stop_tsc_emulation() before "
		   "kvm_make_mclock_inprogress_request() (CLK-20): against \"no L2 instruction may run "
		   "on the un-emulated TSC with pre-migration kvmclock parameters\"")

/*
 * CLK-20, the 2021 proposal (ML id 22493364461): stop emulation with the
 * guests running, then update one vCPU at a time while the others run.
 */
static void kvm_hyperv_tsc_notifier_unfrozen(struct nested_l1 *l1)
{
	struct kvm_clock_host *h = &l1->kvm;

	hyperv_stop_tsc_emulation(l1);
	h->tsc_khz = READ_ONCE(l1->tsc_khz); /* host-private, like per_cpu(cpu_tsc_khz) */
	pvclock_update_vm_gtod_copy(h);
	for (int k = 0; k < h->nr_vcpus; k++)
		kvm_vcpu_run_request(h, h->vcpu_order(h, k), kvm_guest_time_update);
}

static const struct nested_l1_ops kvm_hyperv_tsc_notifier_unfrozen_ops = {
	.tsc_notifier = kvm_hyperv_tsc_notifier_unfrozen,
};

NESTED_L1(kvm_hyperv_tsc_unfrozen, kvm_hyperv_tsc_notifier_unfrozen_ops,
	.bug = "CLK-20",
	.expect = "rate|plausibility|monotonic|linearizable",
	.scenario = "emulation stopped with every L2 vCPU running, records rewritten one vCPU at a "
		    "time: the others run on the new TSC with the old mul meanwhile",
	.history = "\"KVM: KVM-on-hyperv: shorten no-entry section on reenlightenment\" (2021 "
		   "proposal, ML id 22493364461; review: \"Is this safe with a running guest? Why?\", "
		   "ML id 22438755761); mainline keeps the freeze-first order")

/* ---------------------------------------------------------------- L0 ---- */

void hyperv_l0_migrate(struct nested_l0 *l0)
{
	if (READ_ONCE(l0->tsc_emulation_control) & HV_TSC_EMULATION_ENABLED) {
		/* every TSC access is emulated at the old frequency until L1 says so */
		WRITE_ONCE(l0->tsc_emulation_status, HV_TSC_EMULATION_INPROGRESS);
		if (READ_ONCE(l0->reenlightenment_control) & HV_REENLIGHTENMENT_ENABLED)
			WRITE_ONCE(l0->interrupt_pending, 1);
		return;
	}
	/* no emulation: the new rate at once, and the page that goes with it */
	l0->tsc_rate = l0->dest_rate;
	l0->set_tsc_rate(l0, l0->tsc_rate);
	l0->update_tsc_page(l0);
}

void hyperv_l0_set_emulation_status(struct nested_l0 *l0, u64 data)
{
	bool was = READ_ONCE(l0->tsc_emulation_status) & HV_TSC_EMULATION_INPROGRESS;

	WRITE_ONCE(l0->tsc_emulation_status, data);
	if (was && !(data & HV_TSC_EMULATION_INPROGRESS)) {
		/* the exit returns with the real TSC and the page for it */
		l0->tsc_rate = l0->dest_rate;
		l0->set_tsc_rate(l0, l0->tsc_rate);
		l0->update_tsc_page(l0);
	}
}

static const struct nested_l0_ops hyperv_l0_ops = {
	.migrate = hyperv_l0_migrate,
	.set_emulation_status = hyperv_l0_set_emulation_status,
};

NESTED_L0(hyperv_l0, hyperv_l0_ops,
	.flags = PV_MAINLINE,
	.expect = "safe",
	.scenario = "any migration of L1 to another TSC frequency",
	.history = "Hyper-V as the TLFS describes reenlightenment: TSC accesses emulated at the old "
		   "frequency (TSC_EMULATION_STATUS.inprogress) and the interrupt raised until L1 "
		   "clears the status; then the new TSC and its reference page")

/* CLK-23: KVM as L0 without TSC scaling neither emulates nor notifies. */
static void kvm_l0_migrate_unscaled(struct nested_l0 *l0)
{
	/* the destination's TSC at once; tsc_page_update_unsafe(): the page stays */
	l0->tsc_rate = l0->dest_rate;
	l0->set_tsc_rate(l0, l0->tsc_rate);
}

static void kvm_l0_set_emulation_status(struct nested_l0 *l0, u64 data)
{
	/* d2547cf59793: the guest may only clear it */
	if (!data)
		WRITE_ONCE(l0->tsc_emulation_status, data);
}

static const struct nested_l0_ops kvm_l0_unscaled_ops = {
	.migrate = kvm_l0_migrate_unscaled,
	.set_emulation_status = kvm_l0_set_emulation_status,
};

NESTED_L0(kvm_l0_unscaled, kvm_l0_unscaled_ops,
	.bug = "CLK-23",
	.expect = "rate|plausibility",
	.scenario = "L1 (hv-reenlightenment on a KVM host) migrated to a host with another TSC "
		    "frequency and no TSC scaling: no emulation, no interrupt, the old page",
	.history = "KVM/QEMU before tsc-frequency= + TSC scaling were required for migratable "
		   "hv-reenlightenment: \"it doesn't support emulating TSC frequency of the source "
		   "host by trapping all TSC accesses\" (Vitaly Kuznetsov, 2021, ML ids 16454955545, "
		   "16006953730)")

/* KVM-on-KVM: L0 KVM keeps L1's frequency with TSC scaling; L1 runs on kvmclock. */
static void kvm_l0_migrate_scaled(struct nested_l0 *l0)
{
	/* KVM_SET_TSC_KHZ on the destination: the TSC L1 sees keeps its rate */
	l0->dest_rate = l0->tsc_rate;
}

static const struct nested_l0_ops kvm_l0_kvmclock_ops = {
	.migrate = kvm_l0_migrate_scaled,
	.set_emulation_status = kvm_l0_set_emulation_status,
	.l1_clocksource_kvmclock = true,
};

NESTED_L0(kvm_l0_kvmclock, kvm_l0_kvmclock_ops,
	.expect = "safe",
	.scenario = "documented limitation: L1's clocksource is kvmclock, so L1 KVM has no "
		    "masterclock and L2 never gets PVCLOCK_TSC_STABLE_BIT (checked); L0 keeps the "
		    "frequency with TSC scaling, so L2 time stays right",
	.history = "KVM-on-KVM: \"when L1's clocksource is 'kvmclock' L2s won't get a stable kvmclock "
		   "clocksource\" (Vitaly Kuznetsov, seed 002); no reenlightenment exists for it")
