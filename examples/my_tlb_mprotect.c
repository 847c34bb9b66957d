// SPDX-License-Identifier: MIT
/*
 * docs/byo.md worked example (TLB mutator role): an mprotect() that skips
 * the TLB flush when it only write-protects, on the theory that a CPU
 * still holding a writable translation will fault soon enough.  It does
 * not: after mprotect(PROT_READ) returns, another vCPU keeps using its
 * stale read-write TLB entry.  Only the mprotect member is replaced; the
 * other mutator operations stay mainline (NULL).
 */
#include "pvfuzz/mm.h"

static void my_mprotect(struct mm_struct *mm, int region, bool writable)
{
	struct mmu_gather tlb;

	mmap_write_lock(mm);
	u64 pmd = READ_ONCE(*pmd_entry_ptr(mm, region));
	if (pte_present(pmd)) {
		struct pt_page *pt = pt_va(mm, pte_pfn(pmd));
		tlb_gather_mmu(&tlb, mm);
		pte_lock(mm, region);
		for (int i = 0; i < PTRS_PER_TABLE; i++) {
			u64 old = xchg(&pt->e[i], 0);
			if (!pte_present(old))
				continue;
			WRITE_ONCE(pt->e[i], writable ? old | _PAGE_RW : old & ~_PAGE_RW);
			if (writable) /* THE BUG: write-protecting "needs no flush" */
				tlb_flush_pte_range(&tlb, region * PTRS_PER_TABLE + i,
						    region * PTRS_PER_TABLE + i + 1);
		}
		pte_unlock(mm, region);
		tlb_finish_mmu(&tlb);
	}
	mmap_write_unlock(mm);
}

static const struct mutator_ops my_mprotect_ops = { .mprotect = my_mprotect };
TLB_VARIANT(my_tlb_mprotect, PV_MUTATOR, my_mprotect_ops, .expect = "stale_tlb",
	    .scenario = "mprotect(PROT_READ) of a region another vCPU has cached read-write",
	    .history = "docs/byo.md worked example: mprotect that skips the flush when write-protecting")
