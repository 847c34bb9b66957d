// SPDX-License-Identifier: MIT
/*
 * mm/mmu_gather.c and its callers, reduced: unmap (zap_pte_range +
 * free_pgtables) through an mmu_gather, a PTE change + flush (mprotect /
 * remap), and a khugepaged-style collapse.  The table-free paths are the
 * registered PV_FREE variants below.
 *
 * Ordering contract (asm-generic/tlb.h): "1) unhook page 2) TLB invalidate
 * page 3) free page".
 */
#include "pvfuzz/mm.h"

#define PTE_FLAGS (_PAGE_PRESENT | _PAGE_RW | _PAGE_USER)

void tlb_gather_mmu(struct mmu_gather *tlb, struct mm_struct *mm)
{
	*tlb = (struct mmu_gather){ .mm = mm, .start = MM_NR_VPN, .end = 0 };
}

static void tlb_adjust_range(struct mmu_gather *tlb, int start, int end)
{
	if (start < tlb->start)
		tlb->start = start;
	if (end > tlb->end)
		tlb->end = end;
}

static void __tlb_reset_range(struct mmu_gather *tlb)
{
	tlb->start = MM_NR_VPN;
	tlb->end = 0;
	tlb->freed_tables = false;
	tlb->cleared_ptes = false;
}

static void tlb_flush_mmu_tlbonly(struct mmu_gather *tlb)
{
	if (!(tlb->freed_tables || tlb->cleared_ptes))
		return;
	flush_tlb_mm_range(tlb->mm, tlb->start, tlb->end, tlb->freed_tables);
	__tlb_reset_range(tlb);
}

/* tlb_needs_table_invalidate() is true on x86 */
void tlb_table_invalidate(struct mmu_gather *tlb)
{
	tlb_flush_mmu_tlbonly(tlb);
}

static void tlb_batch_pages_flush(struct mmu_gather *tlb)
{
	for (int i = 0; i < tlb->nr_pages; i++)
		put_page(tlb->mm, tlb->pages[i]);
	tlb->nr_pages = 0;
	/* without MMU_GATHER_TABLE_FREE a table is just a page in the batch */
	for (int i = 0; i < tlb->nr_tables; i++)
		pte_free(tlb->mm, tlb->tables[i]);
	tlb->nr_tables = 0;
}

static void tlb_flush_mmu(struct mmu_gather *tlb)
{
	const struct tlb_free_ops *f = tlb->mm->free;
	if (f->tables_before_flush)
		f->table_flush(tlb);
	if (f->pages_before_flush)
		tlb_batch_pages_flush(tlb);
	tlb_flush_mmu_tlbonly(tlb);
	if (!f->tables_before_flush)
		f->table_flush(tlb);
	if (!f->pages_before_flush)
		tlb_batch_pages_flush(tlb);
}

void tlb_finish_mmu(struct mmu_gather *tlb)
{
	tlb_flush_mmu(tlb);
}

static void tlb_remove_page(struct mmu_gather *tlb, int pfn)
{
	tlb->pages[tlb->nr_pages++] = pfn;
	if (tlb->nr_pages == MM_GATHER_PAGES)
		tlb_flush_mmu(tlb);
}

/* ------------------------------------------------------------ callers -- */

void unmap_region(struct mm_struct *mm, int region, bool free_tables)
{
	struct mmu_gather tlb;
	tlb_gather_mmu(&tlb, mm);
	u64 *pmdp = pmd_entry_ptr(mm, region);
	u64 pmd = READ_ONCE(*pmdp);
	if (!pte_present(pmd))
		return;
	int t = pte_pfn(pmd);
	struct pt_page *pt = pt_va(mm, t);
	int base = region * PTRS_PER_TABLE;
	/* zap_pte_range */
	for (int i = 0; i < PTRS_PER_TABLE; i++) {
		u64 pte = xchg(&pt->e[i], 0); /* ptep_get_and_clear_full */
		if (!pte_present(pte))
			continue;
		mm_hook(mm, mapping_changed, base + i, 1);
		tlb.cleared_ptes = true;
		tlb_adjust_range(&tlb, base + i, base + i + 1);
		tlb_remove_page(&tlb, pte_pfn(pte));
	}
	if (free_tables) {
		/* free_pgtables -> free_pte_range: pmd_clear + pte_free_tlb */
		WRITE_ONCE(*pmdp, 0);
		mm_hook(mm, mapping_changed, base, PTRS_PER_TABLE);
		tlb.freed_tables = true;
		tlb_adjust_range(&tlb, base, base + PTRS_PER_TABLE);
		mm->free->remove_table(&tlb, t);
	}
	tlb_finish_mmu(&tlb);
}

/* mprotect/mremap-like: the PTE now maps another page; flush, then release the old one */
void change_pte(struct mm_struct *mm, int vpn)
{
	u64 pmd = READ_ONCE(*pmd_entry_ptr(mm, vpn_pmd_index(vpn)));
	if (!pte_present(pmd))
		return;
	int newpfn = alloc_data_page(mm);
	if (newpfn < 0)
		return;
	u64 old = xchg(&pt_va(mm, pte_pfn(pmd))->e[vpn_pte_index(vpn)], mk_entry(newpfn, PTE_FLAGS));
	mm_hook(mm, mapping_changed, vpn, 1);
	if (pte_present(old) && mm->free->pages_before_flush)
		put_page(mm, pte_pfn(old)); /* CVE-2018-18281: the page goes before the flush */
	flush_tlb_mm_range(mm, vpn, vpn + 1, false);
	if (pte_present(old) && !mm->free->pages_before_flush)
		put_page(mm, pte_pfn(old));
}

/*
 * collapse_huge_page(), reduced: pmdp_collapse_flush, isolate (every page
 * unpinned, else undo), copy into a new table + pages, clear the old PTEs,
 * install, discard the old pages, dispose of the old table.  The first
 * slow_copies page copies are slow (the workload's copy cost): each ends in
 * a voluntary preemption point.
 */
void collapse_region(struct mm_struct *mm, int region, int slow_copies)
{
	u64 *pmdp = pmd_entry_ptr(mm, region);
	u64 pmd = READ_ONCE(*pmdp);
	if (!pte_present(pmd))
		return;
	int t = pte_pfn(pmd);
	struct pt_page *pt = pt_va(mm, t);
	int base = region * PTRS_PER_TABLE;

	/* pmdp_collapse_flush */
	u64 _pmd = xchg(pmdp, 0);
	mm_hook(mm, mapping_changed, base, PTRS_PER_TABLE);
	flush_tlb_range(mm, base, base + PTRS_PER_TABLE);

	/* __collapse_huge_page_isolate: refcount must be the mapping's alone */
	int old[PTRS_PER_TABLE];
	for (int i = 0; i < PTRS_PER_TABLE; i++) {
		u64 pte = READ_ONCE(pt->e[i]);
		old[i] = pte_present(pte) ? pte_pfn(pte) : -1;
		if (old[i] >= 0 && atomic_read(&mm->pages[old[i]]._refcount) != 1) {
			/* pinned: put the pmd back (pmd_populate of the same table) */
			smp_wmb();
			WRITE_ONCE(*pmdp, _pmd);
			mm_hook(mm, mapping_changed, base, PTRS_PER_TABLE);
			return;
		}
	}
	int nt = pte_alloc_table(mm);
	if (nt < 0) {
		WRITE_ONCE(*pmdp, _pmd);
		mm_hook(mm, mapping_changed, base, PTRS_PER_TABLE);
		return;
	}
	/* __collapse_huge_page_copy into new pages, then clear the old PTEs */
	struct pt_page *npt = pt_va(mm, nt);
	for (int i = 0; i < PTRS_PER_TABLE; i++) {
		if (old[i] < 0)
			continue;
		int np = alloc_data_page(mm);
		if (np >= 0)
			WRITE_ONCE(npt->e[i], mk_entry(np, PTE_FLAGS));
		if (i < slow_copies)
			cond_resched(); /* a slow copy: other CPUs get ahead meanwhile */
	}
	for (int i = 0; i < PTRS_PER_TABLE; i++)
		if (old[i] >= 0)
			WRITE_ONCE(pt->e[i], 0); /* ptep_clear */
	smp_wmb();
	WRITE_ONCE(*pmdp, mk_entry(nt, PTE_FLAGS)); /* set_pmd_at(huge) */
	mm_hook(mm, mapping_changed, base, PTRS_PER_TABLE);
	for (int i = 0; i < PTRS_PER_TABLE; i++) {
		if (old[i] < 0)
			continue;
		mm_hook(mm, discard, old[i]);
		put_page(mm, old[i]); /* the copied-from page is discarded */
	}
	mm->free->collapse_free(mm, t);
}

/* --------------------------------------------------- table-free paths -- */

void tlb_remove_table_rcu_cb(struct mm_struct *mm, int pfn)
{
	pte_free(mm, pfn); /* __tlb_remove_table */
}

static void tlb_remove_table_free(struct mmu_gather *tlb)
{
	for (int i = 0; i < tlb->batch.nr; i++)
		call_rcu(tlb->mm, tlb_remove_table_rcu_cb, tlb->batch.tables[i]);
	tlb->batch.nr = 0;
	tlb->have_batch = false;
}

/* tlb_table_flush: invalidate, then free the batch after a grace period */
static void tlb_table_flush(struct mmu_gather *tlb)
{
	if (!tlb->have_batch)
		return;
	tlb_table_invalidate(tlb);
	tlb_remove_table_free(tlb);
}

static void tlb_table_flush_noinv(struct mmu_gather *tlb)
{
	if (!tlb->have_batch)
		return;
	tlb_remove_table_free(tlb);
}

static bool tlb_get_batch(struct mmu_gather *tlb)
{
	if (tlb->have_batch)
		return true;
	/* __get_free_page(GFP_NOWAIT | __GFP_NOWARN) */
	if (tlb->mm->hooks && tlb->mm->hooks->batch_alloc_fails &&
	    tlb->mm->hooks->batch_alloc_fails(tlb->mm))
		return false;
	tlb->have_batch = true;
	tlb->batch.nr = 0;
	return true;
}

/* tlb_remove_table() with a given fallback for a failed batch allocation */
static void tlb_remove_table_with(struct mmu_gather *tlb, int pfn, bool invalidate,
				  void (*one)(struct mm_struct *mm, int pfn),
				  void (*flush)(struct mmu_gather *tlb))
{
	if (!tlb_get_batch(tlb)) {
		if (invalidate)
			tlb_table_invalidate(tlb);
		one(tlb->mm, pfn); /* tlb_remove_table_one */
		return;
	}
	tlb->batch.tables[tlb->batch.nr++] = pfn;
	if (tlb->batch.nr == MAX_TABLE_BATCH)
		flush(tlb);
}

/* PT_RECLAIM: __tlb_remove_table_one_rcu */
static void table_one_rcu(struct mm_struct *mm, int pfn)
{
	call_rcu(mm, tlb_remove_table_rcu_cb, pfn);
}

/* v5.x-v6.13: tlb_remove_table_sync_one(); __tlb_remove_table(table); */
static void table_one_sync_ipi(struct mm_struct *mm, int pfn)
{
	tlb_remove_table_sync_one(mm);
	pte_free(mm, pfn);
}

/* 2026 !PT_RECLAIM: synchronize_rcu(); __tlb_remove_table(table); */
static void table_one_sync_rcu(struct mm_struct *mm, int pfn)
{
	synchronize_rcu(mm);
	pte_free(mm, pfn);
}

/* --- mainline: RCU table free, PT_RECLAIM fallback --- */
static void rcu_remove_table(struct mmu_gather *tlb, int pfn)
{
	tlb_remove_table_with(tlb, pfn, true, table_one_rcu, tlb_table_flush);
}

/* khugepaged: tlb_remove_table_sync_one() after pmdp_collapse_flush, then
 * the old table goes as pte_free_defer() does: after a grace period */
static void collapse_free_rcu(struct mm_struct *mm, int pfn)
{
	tlb_remove_table_sync_one(mm);
	call_rcu(mm, tlb_remove_table_rcu_cb, pfn);
}

static const struct tlb_free_ops free_rcu_ops = {
	.remove_table = rcu_remove_table,
	.table_flush = tlb_table_flush,
	.collapse_free = collapse_free_rcu,
};
TLB_VARIANT(free_rcu, PV_FREE, free_rcu_ops, .flags = PV_MAINLINE, .expect = "safe",
	    .history = "MMU_GATHER_RCU_TABLE_FREE (unconditional on x86 since a37259732a7d) with PT_RECLAIM: "
		       "batch via call_rcu, batch-alloc failure -> invalidate + call_rcu",
	    .scenario = "any backend, any walker kind: IRQ-off and rcu_read_lock sections both hold "
			"the grace period")

/* --- x86 <= 6.14 bare metal: no MMU_GATHER_TABLE_FREE, tables freed as pages --- */
static void immediate_remove_table(struct mmu_gather *tlb, int pfn)
{
	tlb->tables[tlb->nr_tables++] = pfn; /* tlb_remove_page(tlb, table) */
}

static void table_flush_none(struct mmu_gather *tlb)
{
}

/* tlb_remove_table_sync_one() is an empty stub without RCU_TABLE_FREE */
static void collapse_free_immediate(struct mm_struct *mm, int pfn)
{
	pte_free(mm, pfn);
}

static const struct tlb_free_ops free_immediate_ops = {
	.remove_table = immediate_remove_table,
	.table_flush = table_flush_none,
	.collapse_free = collapse_free_immediate,
};
TLB_VARIANT(free_immediate, PV_FREE, free_immediate_ops, .expect = "safe",
	    .history = "x86 bare metal before a37259732a7d (v6.15): no RCU table free; the table is freed "
		       "right after the flush, relying on the IPI wait",
	    .scenario = "safe with native_ipi; table_uaf with every backend that does not interrupt "
			"the targets (hyperv_hypercall, xen_mmuext, kvm_pv_preempted)")

/* --- semi-RCU (v5.x - v6.13) --- */
static void semi_rcu_remove_table(struct mmu_gather *tlb, int pfn)
{
	tlb_remove_table_with(tlb, pfn, true, table_one_sync_ipi, tlb_table_flush);
}

static void collapse_free_sync_ipi(struct mm_struct *mm, int pfn)
{
	tlb_remove_table_sync_one(mm);
	pte_free(mm, pfn);
}

static const struct tlb_free_ops free_semi_rcu_ops = {
	.remove_table = semi_rcu_remove_table,
	.table_flush = tlb_table_flush,
	.collapse_free = collapse_free_sync_ipi,
};
TLB_VARIANT(free_semi_rcu, PV_FREE, free_semi_rcu_ops, .expect = "safe",
	    .history = "tlb_remove_table_one() v5.x-v6.13: on batch-page allocation failure, invalidate, "
		       "tlb_remove_table_sync_one() (IPI barrier), free at once",
	    .scenario = "safe for IRQ-off walkers on every backend (the sync IPI waits for them); "
			"unsafe for rcu-only walkers (see pte_offset_map_rcu, TLB-14)")

/* --- 2026 mm tree: synchronize_rcu fallback --- */
static void sync_rcu_remove_table(struct mmu_gather *tlb, int pfn)
{
	tlb_remove_table_with(tlb, pfn, true, table_one_sync_rcu, tlb_table_flush);
}

static const struct tlb_free_ops free_sync_rcu_ops = {
	.remove_table = sync_rcu_remove_table,
	.table_flush = tlb_table_flush,
	.collapse_free = collapse_free_rcu,
};
TLB_VARIANT(free_sync_rcu_2026, PV_FREE, free_sync_rcu_ops, .expect = "safe",
	    .history = "2026 mm tree, !PT_RECLAIM: batch failure -> synchronize_rcu(); __tlb_remove_table() "
		       "(Lance Yang, replace IPI with synchronize_rcu)",
	    .scenario = "any backend, any walker kind")

/* --- TLB-05: the failure path without the TLB/PSC invalidate (before 0ed1325967ab) --- */
static void semi_rcu_noinv_remove_table(struct mmu_gather *tlb, int pfn)
{
	tlb_remove_table_with(tlb, pfn, false, table_one_sync_ipi, tlb_table_flush);
}

static const struct tlb_free_ops free_semi_rcu_noinv_ops = {
	.remove_table = semi_rcu_noinv_remove_table,
	.table_flush = tlb_table_flush,
	.collapse_free = collapse_free_sync_ipi,
};
TLB_VARIANT(free_batch_fail_no_invalidate, PV_FREE, free_semi_rcu_noinv_ops, .bug = "TLB-05",
	    .expect = "stale_psc",
	    .history = "before 0ed1325967ab (2019-12): tlb_remove_table_one() on batch-allocation failure "
		       "IPI'd and freed without tlb_table_invalidate()",
	    .scenario = "a batch-page allocation fails while another vCPU holds a PSC entry into the "
			"table; the empty sync IPI does not drop it; the next access walks the freed table")

/* --- TLB-04: RCU_TABLE_FREE without any table invalidate (before d86564a2f085) --- */
static void rcu_noinv_remove_table(struct mmu_gather *tlb, int pfn)
{
	tlb_remove_table_with(tlb, pfn, false, table_one_sync_ipi, tlb_table_flush_noinv);
}

static const struct tlb_free_ops free_rcu_no_invalidate_ops = {
	.remove_table = rcu_noinv_remove_table,
	.table_flush = tlb_table_flush_noinv,
	.collapse_free = collapse_free_sync_ipi,
	.tables_before_flush = true,
};
TLB_VARIANT(free_rcu_table_no_invalidate_2018, PV_FREE, free_rcu_no_invalidate_ops, .bug = "TLB-04",
	    .expect = "stale_psc",
	    .history = "before d86564a2f085 (2018): RCU_TABLE_FREE provided no TLB/PSC invalidate; "
		       "tlb_table_flush ran before the TLB flush and the failure path freed after an empty IPI",
	    .scenario = "a vCPU keeps a PSC entry into an unlinked table across the grace period (or "
			"the sync IPI) and walks it after the free, before the TLB flush")

/* --- TLB-09: pages freed before the TLB flush (CVE-2018-18281) --- */
static const struct tlb_free_ops free_pages_before_flush_ops = {
	.remove_table = rcu_remove_table,
	.table_flush = tlb_table_flush,
	.collapse_free = collapse_free_rcu,
	.pages_before_flush = true,
};
TLB_VARIANT(free_pages_before_flush_2018, PV_FREE, free_pages_before_flush_ops, .bug = "TLB-09",
	    .expect = "stale_tlb",
	    .history = "before eb66ae030829 (CVE-2018-18281): move_ptes dropped the PTL before the flush and "
		       "the page was freed while other CPUs still had the old translation",
	    .scenario = "a vCPU caches vpn -> P; the PTE moves to another page; P is freed before the "
			"flush; the vCPU's access hits its TLB entry for the freed page")

/* --- TLB-07b: collapse frees the old table without tlb_remove_table_sync_one() --- */
static void collapse_free_no_sync(struct mm_struct *mm, int pfn)
{
	pte_free(mm, pfn);
}

static const struct tlb_free_ops free_collapse_no_sync_ops = {
	.remove_table = rcu_remove_table,
	.table_flush = tlb_table_flush,
	.collapse_free = collapse_free_no_sync,
};
TLB_VARIANT(free_collapse_no_sync_2022, PV_FREE, free_collapse_no_sync_ops, .bug = "TLB-07b",
	    .partner = "hyperv_hypercall", .expect = "table_uaf",
	    .history = "before 2ba99c5e0881 (2022-11): khugepaged freed/reused the old pte table after "
		       "pmdp_collapse_flush without tlb_remove_table_sync_one()",
	    .scenario = "collapse unlinks T and flushes by hypercall; T is freed and reused while "
			"gup_fast still walks it with IRQs off")
