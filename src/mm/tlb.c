// SPDX-License-Identifier: MIT
/*
 * arch/x86/mm/tlb.c, reduced: flush_tlb_mm_range, flush_tlb_func (the IPI
 * handler, with the tlb_gen catch-up and lazy-CPU switch to init_mm),
 * native_flush_tlb_multi (lazy CPUs skipped unless freed_tables),
 * switch_mm_irqs_off for a lazy CPU coming back, and the semi-RCU barrier
 * tlb_remove_table_sync_one (mm/mmu_gather.c).
 */
#include "pvfuzz/mm.h"

/* the in-flight instruction's translation of vpn is gone: the hardware retries it */
static void insn_translation_flushed(struct mm_cpu *c, int start, int end)
{
	int vpn = MM_BK_READ(c->insn_vpn);
	if (MM_BK_READ(c->insn) == MM_INSN_INFLIGHT && vpn >= start && vpn < end)
		MM_BK_WRITE(c->insn, MM_INSN_RESTART);
}

void mm_tlb_flush_cpu(struct mm_struct *mm, int cpu)
{
	struct mm_cpu *c = &mm->cpu[cpu];
	insn_translation_flushed(c, 0, MM_NR_VPN);
	for (int i = 0; i < MM_TLB_ENTRIES; i++)
		MM_BK_WRITE(c->tlb[i].valid, 0);
	for (int i = 0; i < PTRS_PER_TABLE; i++)
		MM_BK_WRITE(c->psc[i].valid, 0);
}

/* INVLPG per page: drops the page's TLB entry and every PSC entry (SDM 4.10.4.1) */
void mm_tlb_flush_cpu_range(struct mm_struct *mm, int cpu, int start, int end)
{
	struct mm_cpu *c = &mm->cpu[cpu];
	insn_translation_flushed(c, start, end);
	for (int i = 0; i < MM_TLB_ENTRIES; i++) {
		int vpn = MM_BK_READ(c->tlb[i].vpn);
		if (vpn >= start && vpn < end)
			MM_BK_WRITE(c->tlb[i].valid, 0);
	}
	for (int i = 0; i < PTRS_PER_TABLE; i++)
		MM_BK_WRITE(c->psc[i].valid, 0);
}

void flush_tlb_func(void *info)
{
	const struct flush_tlb_info *f = info;
	struct mm_struct *mm = f->mm;
	int cpu = smp_processor_id();
	struct mm_cpu *c = &mm->cpu[cpu];

	mm_hook(mm, ipi);
	if (!READ_ONCE(c->loaded))
		return; /* loaded_mm != f->mm */
	if (READ_ONCE(c->is_lazy)) {
		/*
		 * "flush our paging-structure cache to avoid speculatively
		 * reading garbage": switch_mm_irqs_off(NULL, &init_mm, NULL)
		 */
		WRITE_ONCE(c->loaded, 0);
		mm_tlb_flush_cpu(mm, cpu);
		return;
	}
	u64 local_tlb_gen = MM_BK_READ(c->tlb_gen);
	if (f->new_tlb_gen <= local_tlb_gen)
		return;
	u64 mm_tlb_gen = (u64)atomic64_read(&mm->tlb_gen);
	if (f->end != TLB_FLUSH_ALL && f->new_tlb_gen == local_tlb_gen + 1 && f->new_tlb_gen == mm_tlb_gen)
		mm_tlb_flush_cpu_range(mm, cpu, f->start, f->end);
	else
		mm_tlb_flush_cpu(mm, cpu);
	MM_BK_WRITE(c->tlb_gen, mm_tlb_gen);
}

void native_flush_tlb_multi(struct mm_struct *mm, pv_cpumask_t cpus, const struct flush_tlb_info *info)
{
	pv_cpumask_t mask = cpus;
	/*
	 * "if page tables are getting freed, we need to send the IPI
	 * everywhere, to prevent CPUs in lazy TLB mode from tripping up on
	 * the new contents of what used to be page tables"
	 */
	if (!info->freed_tables)
		for (int c = 0; c < mm->nr_cpus; c++)
			if ((cpus >> c & 1) && READ_ONCE(mm->cpu[c].is_lazy))
				mask &= ~(1ULL << c); /* should_flush_tlb() */
	smp_call_function_many(mask, flush_tlb_func, (void *)info, true);
}

void flush_tlb_mm_range(struct mm_struct *mm, int start, int end, bool freed_tables)
{
	unsigned long flags;
	preempt_disable(); /* get_cpu() */
	int cpu = smp_processor_id();
	struct flush_tlb_info info = {
		.mm = mm, .start = start, .end = end, .freed_tables = freed_tables,
		.initiating_cpu = cpu,
	};
	info.new_tlb_gen = (u64)atomic_add_return(1, &mm->tlb_gen); /* inc_mm_tlb_gen */
	/* what this flush must remove: every change visible before the
	 * increment (a locked op: the initiator's own stores are visible) */
	mm_hook(mm, flush_begin, start, end);
	pv_cpumask_t others = mm->cpumask & ~(1ULL << cpu);
	if (others)
		mm->flush->flush_tlb_multi(mm, others, &info);
	if (READ_ONCE(mm->cpu[cpu].loaded)) {
		local_irq_save(flags);
		flush_tlb_func(&info);
		local_irq_restore(flags);
	}
	mm_hook(mm, flush_end, start, end);
	preempt_enable();
}

/* flush_tlb_range() of a VMA: used by pmdp_collapse_flush for a PMD */
void flush_tlb_range(struct mm_struct *mm, int start, int end)
{
	flush_tlb_mm_range(mm, start, end, mm->flush->range_freed_tables);
}

void enter_lazy_tlb(struct mm_struct *mm)
{
	WRITE_ONCE(mm->cpu[smp_processor_id()].is_lazy, 1);
}

/* switch_mm_irqs_off(prev = next = mm) after a kernel thread ran lazily */
void switch_mm_back(struct mm_struct *mm)
{
	unsigned long flags;
	local_irq_save(flags);
	int cpu = smp_processor_id();
	struct mm_cpu *c = &mm->cpu[cpu];
	if (!READ_ONCE(c->loaded)) {
		/* a different mm (init_mm) was loaded: load_new_mm_cr3, full flush */
		WRITE_ONCE(c->loaded, 1);
		WRITE_ONCE(c->is_lazy, 0);
		smp_mb();
		MM_BK_WRITE(c->tlb_gen, (u64)atomic64_read(&mm->tlb_gen));
		mm_tlb_flush_cpu(mm, cpu);
	} else if (READ_ONCE(c->is_lazy)) {
		WRITE_ONCE(c->is_lazy, 0);
		smp_mb(); /* is_lazy=false before reading tlb_gen, against should_flush_tlb */
		u64 next_tlb_gen = (u64)atomic64_read(&mm->tlb_gen);
		if (MM_BK_READ(c->tlb_gen) != next_tlb_gen) {
			mm_tlb_flush_cpu(mm, cpu);
			MM_BK_WRITE(c->tlb_gen, next_tlb_gen);
		}
	}
	local_irq_restore(flags);
}

static void tlb_remove_table_smp_sync(void *arg)
{
	/* Simply deliver the interrupt */
	mm_hook((struct mm_struct *)arg, ipi);
}

/*
 * "This isn't an RCU grace period ... It is however sufficient for software
 * page-table walkers that rely on IRQ disabling."
 */
void tlb_remove_table_sync_one(struct mm_struct *mm)
{
	smp_call_function_many(mm->cpumask, tlb_remove_table_smp_sync, mm, true);
}
