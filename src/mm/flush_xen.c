// SPDX-License-Identifier: MIT
/*
 * Xen PV flush (arch/x86/xen/mmu_pv.c: xen_flush_tlb_multi): MMUEXT_TLB_FLUSH_MULTI;
 * Xen flushes running vCPUs now (an IPI between physical CPUs, invisible to
 * the guest) and flags non-running ones to flush when next scheduled.
 * Guarantee (a), never (b).
 */
#include "pvfuzz/mm.h"

#define __HYPERVISOR_mmuext_op 26

static void xen_flush_tlb_multi(struct mm_struct *mm, pv_cpumask_t cpus, const struct flush_tlb_info *info)
{
	if (!cpus)
		return;
	pv_cpumask_t vcpumask = cpus & mm->cpumask; /* & cpu_online_mask */
	(void)pv_vm_exit(PV_EXIT_HYPERCALL, __HYPERVISOR_mmuext_op, vcpumask);
}

static u64 xen_host_hypercall(struct mm_struct *mm, int cpu, u64 nr, u64 arg)
{
	if (nr != __HYPERVISOR_mmuext_op)
		return (u64)-38; /* -ENOSYS */
	for (int c = 0; c < mm->nr_cpus; c++) {
		if (!(arg >> c & 1))
			continue;
		if (!mm->hooks->vcpu_running || mm->hooks->vcpu_running(mm, c))
			mm_tlb_flush_cpu(mm, c);
		else
			MM_BK_WRITE(mm->cpu[c].xen_flush_pending, 1);
	}
	return 0;
}

static void xen_host_vcpu_entry(struct mm_struct *mm, int cpu)
{
	if (MM_BK_READ(mm->cpu[cpu].xen_flush_pending)) {
		MM_BK_WRITE(mm->cpu[cpu].xen_flush_pending, 0);
		mm_tlb_flush_cpu(mm, cpu);
	}
}

static const struct tlb_flush_ops xen_ops = {
	.flush_tlb_multi = xen_flush_tlb_multi,
	.range_freed_tables = true,
	.host_hypercall = xen_host_hypercall,
	.host_vcpu_entry = xen_host_vcpu_entry,
};
TLB_VARIANT(xen_mmuext, PV_FLUSH, xen_ops, .bug = "TLB-01", .partner = "free_immediate",
	    .safe_with = "free_rcu,free_semi_rcu,free_sync_rcu_2026",
	    .expect = "table_uaf",
	    .history = "xen_flush_tlb_multi (MMUEXT_TLB_FLUSH_MULTI) with immediate table free; Xen PV set "
		       "pv_ops.mmu.tlb_remove_table = tlb_remove_table until f2c5c2105827",
	    .scenario = "as hyperv_hypercall: the host flushes the walker's TLB without an interrupt; "
			"the table is freed under the IRQ-off walker")
