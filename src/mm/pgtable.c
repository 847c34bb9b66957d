// SPDX-License-Identifier: MIT
/*
 * Page tables, data pages, and the "hardware": guest user accesses through
 * the per-vCPU TLB and paging-structure cache (PSC), hardware walks (atomic:
 * a walk happens inside one instruction), speculative walks of lazy CPUs.
 */
#include "pvfuzz/mm.h"

#define PTE_FLAGS (_PAGE_PRESENT | _PAGE_RW | _PAGE_USER)

u64 *pmd_entry_ptr(struct mm_struct *mm, int pmd_index)
{
	return &mm->pmd_table->e[pmd_index];
}

int pte_alloc_table(struct mm_struct *mm)
{
	return mm->pt->alloc(mm->pt->ctx, PT_PTE);
}

void pte_free(struct mm_struct *mm, int pfn)
{
	mm->pt->free(mm->pt->ctx, pfn);
}

int alloc_data_page(struct mm_struct *mm)
{
	u64 free = MM_BK_READ(mm->page_free);
	if (!free)
		return -1;
	int pfn = __builtin_ctzll(free);
	__atomic_fetch_and(&mm->page_free, ~(1ULL << pfn), __ATOMIC_RELAXED);
	atomic_set(&mm->pages[pfn]._refcount, 1);
	return pfn;
}

void put_page(struct mm_struct *mm, int pfn)
{
	if (atomic_dec_and_test(&mm->pages[pfn]._refcount)) {
		__atomic_fetch_or(&mm->page_free, 1ULL << pfn, __ATOMIC_RELAXED);
		mm_hook(mm, page_freed, pfn);
	}
}

int mm_init(struct mm_struct *mm, int nr_cpus, const struct pt_alloc_ops *pt, const struct mm_hooks *hooks)
{
	mm->pt = pt;
	mm->hooks = hooks;
	mm->nr_cpus = nr_cpus;
	mm->cpumask = (nr_cpus >= 64 ? ~0ULL : (1ULL << nr_cpus) - 1);
	mm->page_free = (1ULL << MM_DATA_PAGES) - 1;
	mm->pgd = pt->alloc(pt->ctx, PT_PGD);
	int pmd = pt->alloc(pt->ctx, PT_PMD);
	if (mm->pgd < 0 || pmd < 0)
		return -1;
	WRITE_ONCE(pt_va(mm, mm->pgd)->e[0], mk_entry(pmd, PTE_FLAGS));
	mm->pmd_table = pt_va(mm, pmd); /* pgd[0]: set up once, never changed or freed */
	for (int c = 0; c < nr_cpus; c++)
		mm->cpu[c].loaded = 1;
	atomic64_set(&mm->tlb_gen, 1);
	for (int c = 0; c < nr_cpus; c++)
		mm->cpu[c].tlb_gen = 1;
	return 0;
}

void mm_guest_init(struct mm_struct *mm)
{
	if (mm->flush && mm->flush->guest_init)
		mm->flush = mm->flush->guest_init(mm);
}

/*
 * mmap + fault-in of a whole region (mmap_lock read, as the fault path):
 * a new pte table published by pmd_populate under the lock (a racing
 * fault's spare table is freed), then every empty pte filled under the PTL
 * (a refault after MADV_DONTNEED).
 */
bool mm_map_region(struct mm_struct *mm, int region)
{
	u64 *pmdp = pmd_entry_ptr(mm, region);
	bool ok = true;
	mmap_read_lock(mm);
	if (!pte_present(READ_ONCE(*pmdp))) {
		int t = pte_alloc_table(mm);
		if (t < 0) {
			mmap_read_unlock(mm);
			return false;
		}
		pte_lock(mm, region); /* pmd_install: the pmd lock */
		if (pte_present(READ_ONCE(*pmdp))) {
			pte_free(mm, t);
		} else {
			smp_wmb(); /* pmd_populate publishes an initialised table */
			WRITE_ONCE(*pmdp, mk_entry(t, PTE_FLAGS));
			mm_hook(mm, mapping_changed, region * PTRS_PER_TABLE, PTRS_PER_TABLE);
		}
		pte_unlock(mm, region);
	}
	u64 pmd = READ_ONCE(*pmdp);
	if (pte_present(pmd)) {
		struct pt_page *pt = pt_va(mm, pte_pfn(pmd));
		pte_lock(mm, region);
		for (int i = 0; i < PTRS_PER_TABLE; i++) {
			if (pte_present(READ_ONCE(pt->e[i])))
				continue;
			int pfn = alloc_data_page(mm);
			if (pfn < 0) {
				ok = false;
				break;
			}
			WRITE_ONCE(pt->e[i], mk_entry(pfn, PTE_FLAGS));
			mm_hook(mm, mapping_changed, region * PTRS_PER_TABLE + i, 1);
		}
		pte_unlock(mm, region);
	}
	mmap_read_unlock(mm);
	return ok;
}

int mm_ref_lookup(struct mm_struct *mm, int vpn)
{
	u64 pmd = MM_BK_READ(*pmd_entry_ptr(mm, vpn_pmd_index(vpn)));
	if (!pte_present(pmd))
		return -1;
	if (MM_BK_READ(pt_desc(mm, pte_pfn(pmd))->type) != PT_PTE)
		return -2; /* a pmd pointing at something that is not a live pte table */
	u64 pte = MM_BK_READ(pt_va(mm, pte_pfn(pmd))->e[vpn_pte_index(vpn)]);
	return pte_present(pte) ? pte_pfn(pte) : -1;
}

/* ------------------------------------------------------ the hardware -- */

static u32 ref_version(struct mm_struct *mm, int vpn)
{
	return mm->hooks && mm->hooks->ref_version ? mm->hooks->ref_version(mm, vpn) : 0;
}

/*
 * A TLB miss: walk through the PSC or from CR3, fill PSC and TLB.  Atomic
 * (no scheduling point): a hardware walk happens inside one instruction, so
 * only a PSC entry can lead it to a table that was freed meanwhile.
 */
static int hw_walk(struct mm_struct *mm, struct mm_cpu *c, int cpu, int vpn, bool fill)
{
	int i = vpn_pmd_index(vpn);
	int t;
	if (MM_BK_READ(c->psc[i].valid)) {
		t = MM_BK_READ(c->psc[i].pfn);
		mm_hook(mm, psc_use, cpu, t, MM_BK_READ(c->psc[i].gen));
	} else {
		u64 pmd = MM_BK_READ(*pmd_entry_ptr(mm, i));
		if (!pte_present(pmd))
			return -1;
		t = pte_pfn(pmd);
		if (fill) {
			MM_BK_WRITE(c->psc[i].pfn, (u8)t);
			MM_BK_WRITE(c->psc[i].gen, MM_BK_READ(pt_desc(mm, t)->gen));
			MM_BK_WRITE(c->psc[i].valid, 1);
		}
	}
	u64 pte = MM_BK_READ(pt_va(mm, t)->e[vpn_pte_index(vpn)]);
	if (!pte_present(pte))
		return -1;
	if (fill) {
		struct tlb_entry *e = &c->tlb[vpn % MM_TLB_ENTRIES];
		MM_BK_WRITE(e->vpn, (u8)vpn);
		MM_BK_WRITE(e->pfn, (u8)pte_pfn(pte));
		MM_BK_WRITE(e->rw, (u8)!!(pte & _PAGE_RW));
		MM_BK_WRITE(e->ver, ref_version(mm, vpn));
		MM_BK_WRITE(e->valid, 1);
	}
	return pte_pfn(pte);
}

/* the translation step of a user access: TLB hit, or a hardware walk that fills it */
static int user_translate(struct mm_struct *mm, struct mm_cpu *c, int cpu, int vpn, bool write)
{
	struct tlb_entry *e = &c->tlb[vpn % MM_TLB_ENTRIES];
	if (MM_BK_READ(e->valid) && MM_BK_READ(e->vpn) == vpn && (!write || MM_BK_READ(e->rw))) {
		mm_hook(mm, tlb_use, cpu, e);
		return MM_BK_READ(e->pfn);
	}
	int pfn = hw_walk(mm, c, cpu, vpn, true);
	if (pfn < 0 || (write && !MM_BK_READ(e->rw)))
		return -1; /* #PF: the fault handler would map it; not modelled */
	return pfn;
}

int mm_user_access(struct mm_struct *mm, int vpn, bool write)
{
	int cpu = smp_processor_id();
	struct mm_cpu *c = &mm->cpu[cpu];
	for (;;) {
		int pfn = user_translate(mm, c, cpu, vpn, write);
		if (pfn < 0)
			return -1;
		const struct tlb_entry *e = &c->tlb[vpn % MM_TLB_ENTRIES];
		MM_BK_WRITE(c->insn_vpn, (u8)vpn);
		MM_BK_WRITE(c->insn, MM_INSN_INFLIGHT);
		mm_hook(mm, user_translated, cpu, vpn, pfn, MM_BK_READ(e->ver));
		/* the data access itself: one scheduling point after the translation */
		(void)atomic_read(&mm->pages[pfn]._refcount);
		u8 st = MM_BK_READ(c->insn);
		MM_BK_WRITE(c->insn, MM_INSN_NONE);
		if (st != MM_INSN_RESTART)
			return pfn;
	}
}

void mm_speculative_walk(struct mm_struct *mm, int vpn)
{
	int cpu = smp_processor_id();
	struct mm_cpu *c = &mm->cpu[cpu];
	if (MM_BK_READ(c->psc[vpn_pmd_index(vpn)].valid))
		(void)hw_walk(mm, c, cpu, vpn, false);
}
