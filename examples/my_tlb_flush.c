// SPDX-License-Identifier: MIT
/*
 * docs/byo.md worked example (TLB flush-backend role): a KVM-style PV flush
 * that leaves preempted vCPUs out of the IPI mask, but without marking them
 * KVM_VCPU_FLUSH_TLB in their steal-time record.  The host then has no
 * reason to flush them at their next entry, and a vCPU that was preempted
 * while the flush ran resumes with its old translations.  The host side is
 * mainline KVM's (exported by flush_kvm_pv.c).
 */
#include "pvfuzz/mm.h"

static void my_flush_tlb_multi(struct mm_struct *mm, pv_cpumask_t cpus, const struct flush_tlb_info *info)
{
	pv_cpumask_t mask = cpus;

	for (int cpu = 0; cpu < mm->nr_cpus; cpu++) {
		if (!(cpus >> cpu & 1))
			continue;
		if (READ_ONCE(mm->cpu[cpu].st.preempted) & KVM_VCPU_PREEMPTED)
			mask &= ~(1ULL << cpu); /* THE BUG: no KVM_VCPU_FLUSH_TLB */
	}
	native_flush_tlb_multi(mm, mask, info);
}

static const struct tlb_flush_ops my_flush_ops = {
	.flush_tlb_multi = my_flush_tlb_multi,
	.range_freed_tables = true,
	.host_vcpu_put = kvm_steal_time_set_preempted,
	.host_vcpu_run = kvm_record_steal_time,
};
TLB_VARIANT(my_tlb_flush_no_mark, PV_FLUSH, my_flush_ops, .expect = "stale_tlb",
	    .scenario = "a vCPU with the range cached is preempted during a remap's flush, then resumes",
	    .history = "docs/byo.md worked example: PV flush that skips preempted vCPUs without FLUSH_TLB")
