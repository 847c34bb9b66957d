// SPDX-License-Identifier: MIT
/*
 * Lockless page-table walkers (mm/gup.c gup_fast, pte_offset_map users).
 *
 * gup_fast: IRQs off; each level read once (pmdp_get_lockless,
 * ptep_get_lockless); the next level derived from the live parent pointer
 * and the snapshot; speculative reference (try_grab_folio_fast: fails on a
 * zero refcount); re-check pmd and pte, drop the reference if either changed.
 * The historical variants differ in exactly one of those steps.
 */
#include "pvfuzz/mm.h"

struct gup_flavour {
	bool speculative;       /* try_grab_folio_fast vs get_page (TLB-03) */
	bool recheck_pte;       /* pte re-check after the grab (TLB-03 fix) */
	bool recheck_pmd;       /* pmd re-check after the grab (TLB-07a fix, 70cbc3cc78a9) */
	bool offset_from_copy;  /* pXd_offset(&copy) instead of pXd_offset_lockless (TLB-11) */
};

/* gup_fast_pgd_range -> gup_fast_pmd_range -> gup_fast_pte_range, for one pte table */
static int gup_fast_walk(struct mm_struct *mm, int vpn, int nr, int *pfns, const struct gup_flavour *fl)
{
	unsigned long flags;
	int got = 0;

	/*
	 * IRQs off, not rcu_read_lock(): a table free that waits for an IPI
	 * round (tlb_remove_table_sync_one(), the IPI-based flushes) cannot
	 * complete while this CPU ignores interrupts, and an RCU read section
	 * would not hold that IPI off.
	 */
	local_irq_save(flags);
	mm_hook(mm, section, MM_SEC_IRQOFF, true);

	struct pt_page *pgd = pt_va(mm, mm->pgd);
	u64 pgdv = READ_ONCE(pgd->e[0]); /* pgdp_get */
	if (!pte_present(pgdv))
		goto out;
	mm_hook(mm, table_ref, pte_pfn(pgdv));
	u64 *pmdp = &pt_va(mm, pte_pfn(pgdv))->e[vpn_pmd_index(vpn)]; /* pmd_offset_lockless */
	u64 pmd = READ_ONCE(*pmdp); /* pmdp_get_lockless */
	if (!pte_present(pmd))
		goto out;
	if (fl->offset_from_copy)
		pmdp = &pmd; /* the folded level's "table" is the walker's own stack copy */
	int t = pte_pfn(pmd);
	mm_hook(mm, table_ref, t);
	/* gup_fast_pte_range */
	for (; got < nr; got++) {
		u64 *ptep = &pt_va(mm, t)->e[vpn_pte_index(vpn + got)]; /* pte_offset_map(&pmd, addr) */
		u64 pte = READ_ONCE(*ptep); /* ptep_get_lockless */
		if (!pte_present(pte) || !(pte & _PAGE_USER))
			break;
		int page = pte_pfn(pte);
		if (fl->speculative) {
			if (!atomic_inc_not_zero(&mm->pages[page]._refcount)) /* try_grab_folio_fast */
				break;
		} else {
			atomic_inc(&mm->pages[page]._refcount); /* get_page(): "we hold off the free" */
		}
		mm_hook(mm, grab, vpn + got, page);
		if (fl->recheck_pmd && pmd != READ_ONCE(*pmdp)) {
			put_page(mm, page);
			break;
		}
		if (fl->recheck_pte && pte != READ_ONCE(*ptep)) {
			put_page(mm, page);
			break;
		}
		pfns[got] = page;
	}
out:
	mm_hook(mm, section, MM_SEC_IRQOFF, false);
	local_irq_restore(flags);
	return got;
}

static int gup_fast_mainline(struct mm_struct *mm, int vpn, int nr, int *pfns)
{
	static const struct gup_flavour fl = { .speculative = true, .recheck_pte = true, .recheck_pmd = true };
	return gup_fast_walk(mm, vpn, nr, pfns, &fl);
}

static const struct walker_ops gup_fast_ops = { gup_fast_mainline, true };
TLB_VARIANT(gup_fast, PV_WALKER, gup_fast_ops, .flags = PV_MAINLINE, .expect = "safe",
	    .history = "mm/gup.c gup_fast(): IRQ-off walk, speculative folio ref, pmd+pte re-check",
	    .scenario = "against every mainline free path and backend")

static int gup_fast_no_pmd_recheck_walk(struct mm_struct *mm, int vpn, int nr, int *pfns)
{
	static const struct gup_flavour fl = { .speculative = true, .recheck_pte = true };
	return gup_fast_walk(mm, vpn, nr, pfns, &fl);
}

static const struct walker_ops gup_fast_no_pmd_recheck_ops = { gup_fast_no_pmd_recheck_walk, true };
TLB_VARIANT(gup_fast_no_pmd_recheck, PV_WALKER, gup_fast_no_pmd_recheck_ops, .bug = "TLB-07a",
	    .partner = "hyperv_hypercall", .expect = "walker_linearizable",
	    .history = "before 70cbc3cc78a9 (2022-09): gup_fast re-checked only the PTE, not the PMD, "
		       "racing THP collapse",
	    .scenario = "collapse clears the pmd and checks for pins before the walker's grab; the pte "
			"is still unchanged at the walker's re-check; the walker returns the discarded page")

static int gup_fast_get_page_walk(struct mm_struct *mm, int vpn, int nr, int *pfns)
{
	static const struct gup_flavour fl = { .recheck_pmd = false };
	return gup_fast_walk(mm, vpn, nr, pfns, &fl);
}

static const struct walker_ops gup_fast_get_page_ops = { gup_fast_get_page_walk, true };
TLB_VARIANT(gup_fast_get_page, PV_WALKER, gup_fast_get_page_ops, .bug = "TLB-03",
	    .partner = "xen_mmuext", .expect = "refcount_zero|walker_linearizable",
	    .history = "old x86 gup_pte_range: get_page(pte_page(pte)) with no re-check, relying on IRQs "
		       "off to hold off the munmap (fixed in stable: page_cache_get_speculative + re-check)",
	    .scenario = "the walker reads the pte; munmap clears it, the Xen flush returns without an "
			"interrupt, the page is freed; get_page() raises a free page from zero (without "
			"any re-check the walker can also return a page a collapse discarded: TO2)")

static int gup_fast_folded_offset_walk(struct mm_struct *mm, int vpn, int nr, int *pfns)
{
	static const struct gup_flavour fl = { .speculative = true, .recheck_pte = true, .recheck_pmd = true,
					       .offset_from_copy = true };
	return gup_fast_walk(mm, vpn, nr, pfns, &fl);
}

static const struct walker_ops gup_fast_folded_offset_ops = { gup_fast_folded_offset_walk, true };
TLB_VARIANT(gup_fast_folded_offset, PV_WALKER, gup_fast_folded_offset_ops, .bug = "TLB-11",
	    .partner = "hyperv_hypercall", .expect = "walker_linearizable",
	    .history = "before d3f7b1bb2040 (2020): with dynamic folding, pXd_offset(&copy, addr) computed "
		       "the folded level's entry address from the walker's stack copy; the re-check "
		       "compares the copy with itself",
	    .scenario = "as gup_fast_no_pmd_recheck: the pmd re-check cannot see the collapse's pmd clear")

/*
 * pte_offset_map() users (2023+): rcu_read_lock() only, IRQs on.  Readers of
 * real RCU; the semi-RCU sync IPI does not wait for them (TLB-14).
 */
static int pte_offset_map_walk(struct mm_struct *mm, int vpn, int nr, int *pfns)
{
	int got = 0;
	rcu_read_lock(mm);
	mm_hook(mm, section, MM_SEC_RCU, true);
	u64 *pmdp = pmd_entry_ptr(mm, vpn_pmd_index(vpn));
	u64 pmd = READ_ONCE(*pmdp); /* pmdp_get_lockless */
	if (pte_present(pmd)) {
		int t = pte_pfn(pmd);
		mm_hook(mm, table_ref, t);
		for (; got < nr; got++) {
			u64 pte = READ_ONCE(pt_va(mm, t)->e[vpn_pte_index(vpn + got)]);
			if (!pte_present(pte))
				break;
			pfns[got] = pte_pfn(pte);
		}
		/* pte_offset_map_lock: pmd_same() and a fresh look at the first pte */
		if (pmd != READ_ONCE(*pmdp) || !pte_present(READ_ONCE(pt_va(mm, t)->e[vpn_pte_index(vpn)])))
			got = 0;
	}
	mm_hook(mm, section, MM_SEC_RCU, false);
	rcu_read_unlock(mm);
	return got;
}

static const struct walker_ops pte_offset_map_ops = { pte_offset_map_walk, false };
TLB_VARIANT(pte_offset_map_rcu, PV_WALKER, pte_offset_map_ops, .bug = "TLB-14", .partner = "free_semi_rcu",
	    .safe_with = "free_rcu,free_sync_rcu_2026",
	    .expect = "table_uaf",
	    .history = "PT_RECLAIM hazard (Qi Zheng, 2024-26): pte_offset_map() walkers hold only "
		       "rcu_read_lock(); the semi-RCU sync IPI is taken with IRQs on and does not wait",
	    .scenario = "a batch allocation fails; tlb_remove_table_one() IPIs (the walker's vCPU acks "
			"inside its RCU section) and frees T under the walker; safe with free_rcu")
