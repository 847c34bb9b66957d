// SPDX-License-Identifier: MIT
/*
 * KVM PV flush (arch/x86/kernel/kvm.c: kvm_flush_tlb_multi) and its host side
 * (arch/x86/kvm/x86.c: kvm_steal_time_set_preempted at vcpu_put,
 * record_steal_time's xchg at entry).  vCPUs seen preempted are marked
 * FLUSH_TLB and dropped from the IPI mask; the host flushes them at their
 * next entry.  Guarantee (a) always, (b) only for running vCPUs.
 */
#include "pvfuzz/mm.h"

static void kvm_flush_tlb_multi(struct mm_struct *mm, pv_cpumask_t cpumask, const struct flush_tlb_info *info)
{
	pv_cpumask_t flushmask = cpumask; /* per-CPU __pv_cpu_mask */
	for (int cpu = 0; cpu < mm->nr_cpus; cpu++) {
		if (!(flushmask >> cpu & 1))
			continue;
		struct kvm_steal_time *src = &mm->cpu[cpu].st;
		u8 state = READ_ONCE(src->preempted);
		if (state & KVM_VCPU_PREEMPTED) {
			if (try_cmpxchg(&src->preempted, &state, (u8)(state | KVM_VCPU_FLUSH_TLB)))
				flushmask &= ~(1ULL << cpu);
		}
	}
	native_flush_tlb_multi(mm, flushmask, info);
}

/* vcpu_put: kvm_steal_time_set_preempted() */
static void kvm_host_vcpu_put(struct mm_struct *mm, int cpu)
{
	WRITE_ONCE(mm->cpu[cpu].st.preempted, KVM_VCPU_PREEMPTED);
}

/* vcpu entry: record_steal_time() */
static void kvm_host_vcpu_entry(struct mm_struct *mm, int cpu)
{
	u8 st_preempted = xchg(&mm->cpu[cpu].st.preempted, 0);
	if (st_preempted & KVM_VCPU_FLUSH_TLB)
		mm_tlb_flush_cpu(mm, cpu); /* kvm_vcpu_flush_tlb_guest */
}

static const struct tlb_flush_ops kvm_pv_ops = {
	.flush_tlb_multi = kvm_flush_tlb_multi,
	.range_freed_tables = true,
	.host_vcpu_put = kvm_host_vcpu_put,
	.host_vcpu_entry = kvm_host_vcpu_entry,
};
TLB_VARIANT(kvm_pv_preempted, PV_FLUSH, kvm_pv_ops, .bug = "TLB-02", .partner = "free_immediate",
	    .safe_with = "free_rcu,free_semi_rcu,free_sync_rcu_2026",
	    .expect = "table_uaf",
	    .history = "f38a7b75267f KVM PV TLB flush (4.16) relies on RCU table free (9e52fc2b50de); "
		       "paired with immediate free it skips a vCPU preempted inside its IRQ-off walk",
	    .scenario = "the host preempts the walker's vCPU between its pmd and pte loads; the flush "
			"marks it FLUSH_TLB and skips it; T is freed; the vCPU resumes on T")
