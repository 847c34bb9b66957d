// SPDX-License-Identifier: MIT
/*
 * Hyper-V enlightened flush (arch/x86/hyperv/mmu.c: hyperv_flush_tlb_multi):
 * one hypercall; the host flushes every target vCPU's TLB at once, whatever
 * its IRQ state, and returns.  Guarantee (a) for the targets, never (b).
 */
#include "pvfuzz/mm.h"

#define HVCALL_FLUSH_VIRTUAL_ADDRESS_SPACE 0x0002
#define HV_STATUS_SUCCESS 0

static void hyperv_flush_tlb_multi(struct mm_struct *mm, pv_cpumask_t cpus, const struct flush_tlb_info *info)
{
	unsigned long flags;
	u64 processor_mask = 0;
	local_irq_save(flags);
	for (int c = 0; c < mm->nr_cpus; c++) {
		if (!(cpus >> c & 1))
			continue;
		/* cpumask_to_vpset_skip(): lazy CPUs skipped unless tables are freed (2023+) */
		if (!info->freed_tables && READ_ONCE(mm->cpu[c].is_lazy))
			continue;
		processor_mask |= 1ULL << c; /* hv_cpu_number_to_vp_number(c) == c */
	}
	u64 status = HV_STATUS_SUCCESS;
	if (processor_mask)
		status = pv_vm_exit(PV_EXIT_HYPERCALL, HVCALL_FLUSH_VIRTUAL_ADDRESS_SPACE, processor_mask);
	local_irq_restore(flags);
	if (status != HV_STATUS_SUCCESS)
		native_flush_tlb_multi(mm, cpus, info);
}

/* The host: KVM's/Hyper-V's emulation flushes the target vCPUs' TLBs now. */
static u64 hyperv_host_hypercall(struct mm_struct *mm, int cpu, u64 nr, u64 arg)
{
	if (nr != HVCALL_FLUSH_VIRTUAL_ADDRESS_SPACE)
		return 2; /* HV_STATUS_INVALID_HYPERCALL_CODE */
	for (int c = 0; c < mm->nr_cpus; c++)
		if (arg >> c & 1)
			mm_tlb_flush_cpu(mm, c);
	return HV_STATUS_SUCCESS;
}

static const struct tlb_flush_ops hyperv_ops = {
	.flush_tlb_multi = hyperv_flush_tlb_multi,
	.range_freed_tables = true,
	.host_hypercall = hyperv_host_hypercall,
};
TLB_VARIANT(hyperv_hypercall, PV_FLUSH, hyperv_ops, .bug = "TLB-01", .partner = "free_immediate",
	    .safe_with = "free_rcu,free_semi_rcu,free_sync_rcu_2026",
	    .expect = "table_uaf",
	    .history = "2ffd9e33ce4a x86/hyper-v: Use hypercall for remote TLB flush, with immediate table "
		       "free (fixed by 9e52fc2b50de: RCU table free when PARAVIRT)",
	    .scenario = "gup_fast on vCPU1 reads pmd -> T with IRQs off; vCPU0 unlinks T, the hypercall "
			"flush returns without interrupting vCPU1, T is freed; vCPU1 reads T")
