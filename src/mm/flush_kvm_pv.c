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
	/* this_cpu_cpumask_var_ptr(__pv_cpu_mask): allocated at boot */
	pv_cpumask_t *flushmask = mm->pv_cpu_mask[smp_processor_id()];
	WRITE_ONCE(*flushmask, cpumask); /* cpumask_copy */
	for (int cpu = 0; cpu < mm->nr_cpus; cpu++) {
		if (!(cpumask >> cpu & 1))
			continue;
		struct kvm_steal_time *src = &mm->cpu[cpu].st;
		u8 state = READ_ONCE(src->preempted);
		if (state & KVM_VCPU_PREEMPTED) {
			if (try_cmpxchg(&src->preempted, &state, (u8)(state | KVM_VCPU_FLUSH_TLB)))
				WRITE_ONCE(*flushmask, READ_ONCE(*flushmask) & ~(1ULL << cpu));
		}
	}
	native_flush_tlb_multi(mm, READ_ONCE(*flushmask), info);
}

/* kvm_alloc_cpumask(): zalloc_cpumask_var_node() for every possible CPU */
static bool kvm_alloc_cpumask(struct mm_struct *mm)
{
	for (int cpu = 0; cpu < mm->nr_cpus; cpu++) {
		if (mm->hooks && mm->hooks->cpumask_alloc_fails && mm->hooks->cpumask_alloc_fails(mm, cpu))
			return false; /* -ENOMEM */
		mm->pv_cpu_mask[cpu] = &mm->pv_cpu_mask_mem[cpu];
	}
	return true;
}

/*
 * Since "KVM: Check the allocation of pv cpu mask" (2020): the PV flush is
 * installed only once every per-CPU mask exists; otherwise native stays.
 */
static const struct tlb_flush_ops kvm_pv_ops;
static const struct tlb_flush_ops *kvm_guest_init(struct mm_struct *mm)
{
	if (!kvm_alloc_cpumask(mm))
		return native_tlb_flush_ops();
	return &kvm_pv_ops; /* pv_ops.mmu.flush_tlb_multi = kvm_flush_tlb_multi */
}

/* vcpu_put: kvm_steal_time_set_preempted() */
void kvm_steal_time_set_preempted(struct mm_struct *mm, int cpu)
{
	WRITE_ONCE(mm->cpu[cpu].st.preempted, KVM_VCPU_PREEMPTED);
}

/* vcpu entry: record_steal_time() */
void kvm_record_steal_time(struct mm_struct *mm, int cpu)
{
	u8 st_preempted = xchg(&mm->cpu[cpu].st.preempted, 0);
	if (st_preempted & KVM_VCPU_FLUSH_TLB)
		mm_tlb_flush_cpu(mm, cpu); /* kvm_vcpu_flush_tlb_guest */
}

static const struct tlb_flush_ops kvm_pv_ops = {
	.flush_tlb_multi = kvm_flush_tlb_multi,
	.range_freed_tables = true,
	.host_vcpu_put = kvm_steal_time_set_preempted,
	.host_vcpu_entry = kvm_record_steal_time,
	.guest_init = kvm_guest_init,
};
TLB_VARIANT(kvm_pv_preempted, PV_FLUSH, kvm_pv_ops, .bug = "TLB-02", .partner = "free_immediate",
	    .safe_with = "free_rcu,free_semi_rcu,free_sync_rcu_2026",
	    .expect = "table_uaf",
	    .history = "f38a7b75267f KVM PV TLB flush (4.16) relies on RCU table free (9e52fc2b50de); "
		       "paired with immediate free it skips a vCPU preempted inside its IRQ-off walk",
	    .scenario = "the host preempts the walker's vCPU between its pmd and pte loads; the flush "
			"marks it FLUSH_TLB and skips it; T is freed; the vCPU resumes on T")

/*
 * Before "KVM: Check the allocation of pv cpu mask" (Haiwei Li, 2020; stable
 * 5.8): kvm_guest_init() set pv_ops.mmu.flush_tlb_others early and
 * kvm_alloc_cpumask() ignored a failed allocation, so the PV flush ran with
 * no mask.
 */
static const struct tlb_flush_ops kvm_pv_unchecked_ops;
static const struct tlb_flush_ops *kvm_guest_init_unchecked(struct mm_struct *mm)
{
	(void)kvm_alloc_cpumask(mm); /* the error is dropped */
	return &kvm_pv_unchecked_ops;
}

static const struct tlb_flush_ops kvm_pv_unchecked_ops = {
	.flush_tlb_multi = kvm_flush_tlb_multi,
	.range_freed_tables = true,
	.host_vcpu_put = kvm_steal_time_set_preempted,
	.host_vcpu_entry = kvm_record_steal_time,
	.guest_init = kvm_guest_init_unchecked,
};
TLB_VARIANT(kvm_pv_mask_unchecked_2020, PV_FLUSH, kvm_pv_unchecked_ops, .bug = "TLB-12",
	    .partner = "free_rcu", .expect = "backend_init",
	    .history = "before \"KVM: Check the allocation of pv cpu mask\" (Haiwei Li, 2020, queued by Paolo "
		       "Bonzini; stable 5.8): the PV flush op was installed even when __pv_cpu_mask failed to "
		       "allocate",
	    .scenario = "the boot-time per-CPU mask allocation fails; the first remote flush writes through "
			"the missing mask")
