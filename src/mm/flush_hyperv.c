// SPDX-License-Identifier: MIT
/*
 * Hyper-V enlightened flush (arch/x86/hyperv/mmu.c: hyperv_flush_tlb_multi):
 * one hypercall with the processor mask and either the whole address space
 * (TLB_FLUSH_ALL, or a range longer than one input page can list) or
 * HVCALL_FLUSH_VIRTUAL_ADDRESS_LIST with the range's pages as GVA-list
 * entries.  The host flushes every target vCPU's TLB at once, whatever its
 * IRQ state, and returns.  Guarantee (a) for the targets, never (b).
 */
#include "pvfuzz/mm.h"

#define HVCALL_FLUSH_VIRTUAL_ADDRESS_SPACE 0x0002
#define HVCALL_FLUSH_VIRTUAL_ADDRESS_LIST 0x0003
#define HV_HYPERCALL_REP_COMP_OFFSET 32
#define HV_FLUSH_NON_GLOBAL_MAPPINGS_ONLY (1ULL << 2)
#define HV_STATUS_SUCCESS 0
#define HV_STATUS_INVALID_HYPERCALL_CODE 2
#define HV_STATUS_INVALID_PARAMETER 5
/* one GVA-list entry covers up to 4096 pages: the page count - 1 sits in the low 12 bits */
#define HV_TLB_FLUSH_UNIT (4096ULL << PAGE_SHIFT)
#define HV_PAGE_MASK (~((1ULL << PAGE_SHIFT) - 1))
#define HV_MAX_GVAS ((int)ARRAY_SIZE(((struct hv_tlb_flush *)0)->gva_list))

/* fill_gva_list(): the range [start, end) of virtual addresses as list entries */
static int hv_fill_gva_list(u64 *gva_list, u64 start, u64 end)
{
	int n = 0;
	u64 cur = start;
	do {
		u64 left = end - cur;
		gva_list[n] = cur & HV_PAGE_MASK;
		if (left >= HV_TLB_FLUSH_UNIT) {
			gva_list[n] |= ~HV_PAGE_MASK; /* 4095 more pages */
			cur += HV_TLB_FLUSH_UNIT;
		} else {
			gva_list[n] |= (left - 1) >> PAGE_SHIFT;
			cur = end;
		}
		n++;
	} while (cur < end && n < HV_MAX_GVAS);
	return n;
}

static void hyperv_flush_tlb_multi(struct mm_struct *mm, pv_cpumask_t cpus, const struct flush_tlb_info *info)
{
	unsigned long flags;
	u64 status = HV_STATUS_SUCCESS;
	local_irq_save(flags);
	struct hv_tlb_flush *flush = &mm->hv_input[smp_processor_id()]; /* this CPU's input page */
	flush->address_space = (u64)mm->pgd << PAGE_SHIFT; /* virt_to_phys(mm->pgd) */
	flush->flags = 0;
	flush->processor_mask = 0;
	for (int c = 0; c < mm->nr_cpus; c++) {
		if (!(cpus >> c & 1))
			continue;
		/* cpumask_to_vpset_skip(): lazy CPUs skipped unless tables are freed (2023+) */
		if (!info->freed_tables && READ_ONCE(mm->cpu[c].is_lazy))
			continue;
		flush->processor_mask |= 1ULL << c; /* hv_cpu_number_to_vp_number(c) == c */
	}
	if (!flush->processor_mask)
		goto out; /* nothing to flush */
	/* a range too long for one input page becomes a whole-space flush */
	if (info->end == TLB_FLUSH_ALL ||
	    (u64)(info->end - info->start) << PAGE_SHIFT > (u64)HV_MAX_GVAS * HV_TLB_FLUSH_UNIT) {
		flush->flags |= HV_FLUSH_NON_GLOBAL_MAPPINGS_ONLY;
		status = pv_vm_exit(PV_EXIT_HYPERCALL, HVCALL_FLUSH_VIRTUAL_ADDRESS_SPACE, (u64)(uintptr_t)flush);
	} else {
		int gva_n = hv_fill_gva_list(flush->gva_list, (u64)info->start << PAGE_SHIFT,
					     (u64)info->end << PAGE_SHIFT);
		u64 code = HVCALL_FLUSH_VIRTUAL_ADDRESS_LIST | (u64)gva_n << HV_HYPERCALL_REP_COMP_OFFSET;
		/* one line: the call site's line number is part of the trace in every build */
		status = pv_vm_exit(PV_EXIT_HYPERCALL, code, (u64)(uintptr_t)flush);
	}
out:
	local_irq_restore(flags);
	if (status != HV_STATUS_SUCCESS)
		native_flush_tlb_multi(mm, cpus, info);
}

/*
 * The host: KVM's / Hyper-V's emulation flushes the target vCPUs' TLBs now,
 * the whole space or the listed pages (each entry: page address, count - 1
 * in the low 12 bits).
 */
static u64 hyperv_host_hypercall(struct mm_struct *mm, int cpu, u64 nr, u64 arg)
{
	const struct hv_tlb_flush *flush = (const struct hv_tlb_flush *)(uintptr_t)arg;
	u64 code = nr & 0xffff, reps = nr >> HV_HYPERCALL_REP_COMP_OFFSET & 0xfff;
	if (code != HVCALL_FLUSH_VIRTUAL_ADDRESS_SPACE && code != HVCALL_FLUSH_VIRTUAL_ADDRESS_LIST)
		return HV_STATUS_INVALID_HYPERCALL_CODE;
	if (code == HVCALL_FLUSH_VIRTUAL_ADDRESS_LIST && (reps == 0 || reps > (u64)HV_MAX_GVAS))
		return HV_STATUS_INVALID_PARAMETER;
	for (int c = 0; c < mm->nr_cpus; c++) {
		if (!(flush->processor_mask >> c & 1))
			continue;
		if (code == HVCALL_FLUSH_VIRTUAL_ADDRESS_SPACE) {
			mm_tlb_flush_cpu(mm, c);
			continue;
		}
		for (u64 i = 0; i < reps; i++) {
			u64 gva = flush->gva_list[i];
			u64 first = gva >> PAGE_SHIFT, pages = (gva & ~HV_PAGE_MASK) + 1;
			u64 last = first + pages > (u64)MM_NR_VPN ? (u64)MM_NR_VPN : first + pages;
			if (first < (u64)MM_NR_VPN)
				mm_tlb_flush_cpu_range(mm, c, (int)first, (int)last);
		}
	}
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
