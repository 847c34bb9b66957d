// SPDX-License-Identifier: MIT
/* Native IPI flush backends: mainline and the historical lazy-TLB variants. */
#include "pvfuzz/mm.h"

static const struct tlb_flush_ops native_ops = {
	.flush_tlb_multi = native_flush_tlb_multi,
	.range_freed_tables = true,
};
const struct tlb_flush_ops *native_tlb_flush_ops(void)
{
	return &native_ops;
}

TLB_VARIANT(native_ipi, PV_FLUSH, native_ops, .flags = PV_MAINLINE, .expect = "safe",
	    .history = "x86 native_flush_tlb_multi: IPI every CPU in mm_cpumask, wait for every ack; "
		       "lazy CPUs skipped unless freed_tables (arch/x86/mm/tlb.c)",
	    .scenario = "any: the IPI wait is a grace period for IRQ-off walkers (guarantee a+b)")

/*
 * 2ff6ddf19c0e and relatives (reverted 2018): lazy CPUs are left out of every
 * shootdown, freed_tables or not; a separate tlb_flush_remove_tables() was
 * to evict them at table-free time and did not reach them in time.
 */
static void native_flush_tlb_multi_lazy_skip(struct mm_struct *mm, pv_cpumask_t cpus,
					     const struct flush_tlb_info *info)
{
	pv_cpumask_t mask = cpus;
	for (int c = 0; c < mm->nr_cpus; c++)
		if ((cpus >> c & 1) && READ_ONCE(mm->cpu[c].is_lazy))
			mask &= ~(1ULL << c);
	smp_call_function_many(mask, flush_tlb_func, (void *)info, true);
}

static const struct tlb_flush_ops native_lazy_skip_ops = {
	.flush_tlb_multi = native_flush_tlb_multi_lazy_skip,
	.range_freed_tables = true,
};
TLB_VARIANT(native_lazy_skip_2018, PV_FLUSH, native_lazy_skip_ops, .bug = "TLB-06",
	    .expect = "stale_psc",
	    .history = "2018 lazy-TLB optimisation (2ff6ddf19c0e, reverted <20180822154046.717610121@infradead.org>): "
		       "lazy CPUs skipped even when page tables are freed",
	    .scenario = "a CPU fills its PSC, goes lazy and walks speculatively while the region's "
			"pte table is unlinked, flushed and freed")

static const struct tlb_flush_ops native_range_no_freed_ops = {
	.flush_tlb_multi = native_flush_tlb_multi,
	.range_freed_tables = false,
};
TLB_VARIANT(native_flush_range_no_freed_tables, PV_FLUSH, native_range_no_freed_ops, .bug = "TLB-13",
	    .expect = "stale_psc",
	    .history = "before 3ef938c3 (2025): flush_tlb_range() used by pmdp_collapse_flush passed "
		       "freed_tables=false, so lazy CPUs were skipped for a PTE-table free",
	    .scenario = "a lazy CPU holds a PSC entry into the pte table a collapse unlinks and frees")
