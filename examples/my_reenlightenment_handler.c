// SPDX-License-Identifier: MIT
/*
 * docs/byo.md worked example: an L1 reenlightenment callback that rewrites
 * the L2 records for the new frequency first and tells L0 to stop emulating
 * last, "so the guests are ready when the new TSC arrives".  Build it in with
 * ./pvfuzz fuzz nested --writer-file examples/my_reenlightenment_handler.c
 */
#include "pvfuzz/nested.h"    /* the only include you need */

static void my_tsc_notifier(struct nested_l1 *l1)
{
	struct kvm_clock_host *h = &l1->kvm;

	/* the new frequency is known before emulation stops */
	u64 freq = nested_rdmsr(l1, HV_X64_MSR_TSC_FREQUENCY);

	kvm_start_pvclock_update(h);            /* no L2 entries from here */
	h->tsc_khz = (u32)(freq / 1000);
	pvclock_update_vm_gtod_copy(h);
	for (int v = 0; v < h->nr_vcpus; v++) {
		kvm_guest_time_update(h, v);
		h->vcpu_in_host(h, v, false);   /* this L2 vCPU may run again */
	}
	kvm_end_pvclock_update(h);

	hyperv_stop_tsc_emulation(l1);          /* last: L0 switches to the new TSC */
}

static const struct nested_l1_ops my_reenlightenment_ops = {
	.tsc_notifier = my_tsc_notifier,
};

NESTED_L1(my_reenlightenment_handler, my_reenlightenment_ops,
	.expect = "safe",
	.scenario = "L1 migrated to another TSC frequency",
	.history = "docs/byo.md worked example: records rewritten before the emulation stops")
