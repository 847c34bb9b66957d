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

/* ------------------------------------------------------------- locks -- */

/*
 * mmap_lock as a reader-writer semaphore.  A waiter sleeps in the kernel:
 * here it always gives way and, sleeping, is an RCU quiescent state.
 */
static void rwsem_wait(struct mm_struct *mm)
{
	cond_resched();
	rcu_quiescent_state(mm);
}

void mmap_read_lock(struct mm_struct *mm)
{
	for (;;) {
		int c = atomic_read(&mm->mmap_lock);
		if (c >= 0 && try_cmpxchg(&mm->mmap_lock.counter, &c, c + 1))
			return;
		rwsem_wait(mm);
	}
}

void mmap_read_unlock(struct mm_struct *mm)
{
	(void)pv_fetch_add(&mm->mmap_lock.counter, -1);
}

void mmap_write_lock(struct mm_struct *mm)
{
	for (;;) {
		int c = 0;
		if (try_cmpxchg(&mm->mmap_lock.counter, &c, -1))
			return;
		rwsem_wait(mm);
	}
}

void mmap_write_unlock(struct mm_struct *mm)
{
	(void)xchg(&mm->mmap_lock.counter, 0);
}

/* the split PTL of a pte-table slot: a spinlock (preemption off, IRQs on) */
void pte_lock(struct mm_struct *mm, int region)
{
	preempt_disable();
	for (;;) {
		int c = 0;
		if (try_cmpxchg(&mm->ptl[region].counter, &c, 1))
			return;
		cpu_relax();
	}
}

/* spin_unlock on x86 is a release store, not a locked op */
void pte_unlock(struct mm_struct *mm, int region)
{
	barrier();
	WRITE_ONCE(mm->ptl[region].counter, 0);
	preempt_enable();
}

void mm_cond_resched(struct mm_struct *mm)
{
	if (!mm->hooks || !mm->hooks->need_resched || mm->hooks->need_resched(mm))
		cond_resched();
	else
		barrier();
	rcu_quiescent_state(mm);
}

/* ------------------------------------------------------- mmu_gather -- */

void tlb_gather_mmu(struct mmu_gather *tlb, struct mm_struct *mm)
{
	*tlb = (struct mmu_gather){ .mm = mm, .start = MM_NR_VPN, .end = 0 };
	atomic_inc(&mm->tlb_flush_pending); /* inc_tlb_flush_pending */
}

void dec_tlb_flush_pending(struct mm_struct *mm)
{
	(void)pv_fetch_add(&mm->tlb_flush_pending.counter, -1);
}

/* another mmu_gather of this mm has cleared PTEs it has not flushed yet */
bool mm_tlb_flush_nested(struct mm_struct *mm)
{
	return atomic_read(&mm->tlb_flush_pending) > 1;
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
	if (tlb->fullmm) /* tlb_flush(): flush_tlb_mm() */
		flush_tlb_mm_range(tlb->mm, 0, TLB_FLUSH_ALL, tlb->freed_tables);
	else
		flush_tlb_mm_range(tlb->mm, tlb->start, tlb->end, tlb->freed_tables);
	__tlb_reset_range(tlb);
}

void tlb_flush_pte_range(struct mmu_gather *tlb, int start, int end)
{
	tlb->cleared_ptes = true;
	tlb_adjust_range(tlb, start, end);
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

void tlb_flush_mmu(struct mmu_gather *tlb)
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

/*
 * "If there are parallel threads are doing PTE changes on same range under
 * non-exclusive lock (e.g., mmap_lock read-side) but defer TLB flush by
 * batching, one thread may end up seeing inconsistent PTEs and result in
 * having stale TLB entries": flush everything, tables included (99baac21e458).
 */
void tlb_finish_mmu_mainline(struct mmu_gather *tlb)
{
	if (mm_tlb_flush_nested(tlb->mm)) {
		tlb->fullmm = true;
		__tlb_reset_range(tlb);
		tlb->freed_tables = true;
	}
	tlb_flush_mmu(tlb);
	dec_tlb_flush_pending(tlb->mm);
}

void tlb_finish_mmu(struct mmu_gather *tlb)
{
	const struct mutator_ops *m = tlb->mm->mut;
	if (m && m->tlb_finish_mmu)
		m->tlb_finish_mmu(tlb);
	else
		tlb_finish_mmu_mainline(tlb);
}

static void tlb_remove_page(struct mmu_gather *tlb, int pfn)
{
	tlb->pages[tlb->nr_pages++] = pfn;
	if (tlb->nr_pages == MM_GATHER_PAGES)
		tlb_flush_mmu(tlb);
}

/* ------------------------------------------------------------ callers -- */

/* zap_pte_range under the PTL: clear every pte, gather its page */
int zap_pte_range(struct mmu_gather *tlb, int region)
{
	struct mm_struct *mm = tlb->mm;
	u64 pmd = READ_ONCE(*pmd_entry_ptr(mm, region));
	if (!pte_present(pmd))
		return 0;
	struct pt_page *pt = pt_va(mm, pte_pfn(pmd));
	int base = region * PTRS_PER_TABLE, n = 0;
	pte_lock(mm, region);
	for (int i = 0; i < PTRS_PER_TABLE; i++) {
		u64 pte = xchg(&pt->e[i], 0); /* ptep_get_and_clear_full */
		if (!pte_present(pte))
			continue;
		mm_hook(mm, mapping_changed, base + i, 1);
		tlb_flush_pte_range(tlb, base + i, base + i + 1);
		tlb_remove_page(tlb, pte_pfn(pte));
		n++;
	}
	pte_unlock(mm, region);
	return n;
}

/* free_pgtables -> free_pte_range: pmd_clear + pte_free_tlb */
static void free_pte_range(struct mmu_gather *tlb, int region)
{
	struct mm_struct *mm = tlb->mm;
	u64 *pmdp = pmd_entry_ptr(mm, region);
	u64 pmd = READ_ONCE(*pmdp);
	if (!pte_present(pmd))
		return;
	int base = region * PTRS_PER_TABLE;
	WRITE_ONCE(*pmdp, 0);
	mm_hook(mm, mapping_changed, base, PTRS_PER_TABLE);
	tlb->freed_tables = true;
	tlb_adjust_range(tlb, base, base + PTRS_PER_TABLE);
	mm->free->remove_table(tlb, pte_pfn(pmd));
}

/*
 * munmap of nr regions: unmap_vmas (a cond_resched after each pmd's ptes,
 * as zap_pmd_range does), then free_pgtables, then one tlb_finish_mmu.
 */
void munmap_regions(struct mm_struct *mm, int region, int nr)
{
	struct mmu_gather tlb;
	if (region + nr > PTRS_PER_TABLE)
		nr = PTRS_PER_TABLE - region;
	mmap_write_lock(mm);
	tlb_gather_mmu(&tlb, mm);
	for (int r = region; r < region + nr; r++) {
		zap_pte_range(&tlb, r);
		mm_cond_resched(mm);
	}
	for (int r = region; r < region + nr; r++)
		free_pte_range(&tlb, r);
	tlb_finish_mmu(&tlb);
	mmap_write_unlock(mm);
}

void madvise_dontneed_mainline(struct mm_struct *mm, int region)
{
	struct mmu_gather tlb;
	mmap_read_lock(mm); /* MADV_DONTNEED runs under the read side */
	tlb_gather_mmu(&tlb, mm);
	zap_pte_range(&tlb, region);
	mm_cond_resched(mm);
	tlb_finish_mmu(&tlb);
	mmap_read_unlock(mm);
}

void madvise_dontneed(struct mm_struct *mm, int region)
{
	if (mm->mut && mm->mut->madvise_dontneed)
		mm->mut->madvise_dontneed(mm, region);
	else
		madvise_dontneed_mainline(mm, region);
}

/* change_protection() through an mmu_gather (as since 4a18419f71cd) */
void mprotect_region_mainline(struct mm_struct *mm, int region, bool writable)
{
	struct mmu_gather tlb;
	mmap_write_lock(mm);
	u64 pmd = READ_ONCE(*pmd_entry_ptr(mm, region));
	if (pte_present(pmd)) {
		struct pt_page *pt = pt_va(mm, pte_pfn(pmd));
		int base = region * PTRS_PER_TABLE;
		tlb_gather_mmu(&tlb, mm);
		pte_lock(mm, region);
		for (int i = 0; i < PTRS_PER_TABLE; i++) {
			u64 old = xchg(&pt->e[i], 0); /* ptep_modify_prot_start */
			if (!pte_present(old))
				continue;
			u64 pte = writable ? old | _PAGE_RW : old & ~_PAGE_RW;
			WRITE_ONCE(pt->e[i], pte); /* ptep_modify_prot_commit */
			mm_hook(mm, mapping_changed, base + i, 1);
			tlb_flush_pte_range(&tlb, base + i, base + i + 1);
		}
		pte_unlock(mm, region);
		mm_cond_resched(mm); /* change_pmd_range's cond_resched */
		tlb_finish_mmu(&tlb);
	}
	mmap_write_unlock(mm);
}

void mprotect_region(struct mm_struct *mm, int region, bool writable)
{
	if (mm->mut && mm->mut->mprotect)
		mm->mut->mprotect(mm, region, writable);
	else
		mprotect_region_mainline(mm, region, writable);
}

void unmap_region(struct mm_struct *mm, int region, bool free_tables)
{
	if (free_tables)
		munmap_regions(mm, region, 1);
	else
		madvise_dontneed(mm, region);
}

/* mprotect/mremap-like: the PTE now maps another page; flush, then release the old one */
void change_pte(struct mm_struct *mm, int vpn)
{
	mmap_write_lock(mm);
	u64 pmd = READ_ONCE(*pmd_entry_ptr(mm, vpn_pmd_index(vpn)));
	int newpfn = pte_present(pmd) ? alloc_data_page(mm) : -1;
	if (newpfn < 0) {
		mmap_write_unlock(mm);
		return;
	}
	pte_lock(mm, vpn_pmd_index(vpn));
	u64 old = xchg(&pt_va(mm, pte_pfn(pmd))->e[vpn_pte_index(vpn)], mk_entry(newpfn, PTE_FLAGS));
	pte_unlock(mm, vpn_pmd_index(vpn));
	mm_hook(mm, mapping_changed, vpn, 1);
	if (pte_present(old) && mm->free->pages_before_flush)
		put_page(mm, pte_pfn(old)); /* CVE-2018-18281: the page goes before the flush */
	flush_tlb_mm_range(mm, vpn, vpn + 1, false);
	if (pte_present(old) && !mm->free->pages_before_flush)
		put_page(mm, pte_pfn(old));
	mmap_write_unlock(mm);
}

/*
 * collapse_huge_page(), reduced: pmdp_collapse_flush, isolate (every page
 * unpinned, else undo), copy into a new table + pages, clear the old PTEs,
 * install, discard the old pages, dispose of the old table.  The first
 * slow_copies page copies are slow (the workload's copy cost): each ends in
 * a voluntary preemption point.
 */
static void __collapse_huge_page(struct mm_struct *mm, int region, int slow_copies)
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

/* khugepaged's collapse_huge_page() holds mmap_lock for write */
void collapse_region(struct mm_struct *mm, int region, int slow_copies)
{
	mmap_write_lock(mm);
	__collapse_huge_page(mm, region, slow_copies);
	mmap_write_unlock(mm);
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

/* --------------------------------------------------- mutator variants -- */

static const struct mutator_ops mutator_mainline_ops = { 0 };
TLB_VARIANT(mmu_gather_mainline, PV_MUTATOR, mutator_mainline_ops, .flags = PV_MAINLINE, .expect = "safe",
	    .history = "mm/mmu_gather.c tlb_finish_mmu with mm_tlb_flush_nested (99baac21e458), MADV_DONTNEED "
		       "under mmap_lock read, change_protection through an mmu_gather",
	    .scenario = "two mutators zap the same range under mmap_lock read; each returns with the "
			"range flushed everywhere")

/* before 99baac21e458: a zap that found the PTEs already cleared by a
 * concurrent zap has nothing to flush and returns before the other flushes */
static void tlb_finish_mmu_no_nested(struct mmu_gather *tlb)
{
	tlb_flush_mmu(tlb);
	dec_tlb_flush_pending(tlb->mm);
}

static const struct mutator_ops mutator_no_nested_ops = { .tlb_finish_mmu = tlb_finish_mmu_no_nested };
TLB_VARIANT(tlb_finish_mmu_no_nested_2017, PV_MUTATOR, mutator_no_nested_ops, .expect = "stale_tlb",
	    .history = "before 99baac21e458 (Minchan Kim, 2017-08, \"mm: fix MADV_[FREE|DONTNEED] TLB flush miss "
		       "problem\", reported by Nadav Amit): tlb_finish_mmu ignored a concurrent mmu_gather's "
		       "pending flush",
	    .scenario = "mutator A clears the ptes under mmap_lock read and has not flushed; mutator B's "
			"MADV_DONTNEED finds them clear, flushes nothing and returns; a vCPU still uses its "
			"TLB entry for the range")
