// SPDX-License-Identifier: MIT
/*
 * docs/byo.md worked example (TLB walker role): a gup_fast-style walker
 * "made cheaper" by dropping local_irq_save() on the theory that the
 * speculative reference and the pmd/pte re-checks already make the walk
 * safe.  They protect the *page*; nothing protects the *page tables*: with
 * neither IRQs off (which holds off the free's IPI) nor rcu_read_lock()
 * (which holds off the RCU free), the pte table can be freed and reused
 * while the walker reads it.
 */
#include "pvfuzz/mm.h"

static int my_gup_walk(struct mm_struct *mm, int vpn, int nr, int *pfns)
{
	int got = 0;

	/* THE BUG: no local_irq_save() / mm_hook(section) around the walk */
	u64 *pmdp = pmd_entry_ptr(mm, vpn_pmd_index(vpn));
	u64 pmd = READ_ONCE(*pmdp); /* pmdp_get_lockless */
	if (!pte_present(pmd))
		return 0;
	int t = pte_pfn(pmd);
	mm_hook(mm, table_ref, t);
	for (; got < nr; got++) {
		u64 *ptep = &pt_va(mm, t)->e[vpn_pte_index(vpn + got)];
		u64 pte = READ_ONCE(*ptep); /* ptep_get_lockless */
		if (!pte_present(pte) || !(pte & _PAGE_USER))
			break;
		int page = pte_pfn(pte);
		if (!atomic_inc_not_zero(&mm->pages[page]._refcount)) /* try_grab_folio_fast */
			break;
		mm_hook(mm, grab, vpn + got, page);
		if (pmd != READ_ONCE(*pmdp) || pte != READ_ONCE(*ptep)) {
			put_page(mm, page);
			break;
		}
		pfns[got] = page;
	}
	return got;
}

static const struct walker_ops my_gup_ops = { my_gup_walk, true };
TLB_VARIANT(my_gup_walker_irqs_on, PV_WALKER, my_gup_ops, .expect = "safe",
	    .scenario = "a munmap frees the pte table while the walker, with IRQs on, is inside it",
	    .history = "docs/byo.md worked example: gup_fast without its IRQ-off section")
