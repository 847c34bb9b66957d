// SPDX-License-Identifier: MIT
/*
 * KVM PV flush (arch/x86/kernel/kvm.c: kvm_flush_tlb_multi) and its host side
 * (arch/x86/kvm/x86.c: kvm_steal_time_set_preempted at vcpu_put,
 * record_steal_time's xchg at entry).  vCPUs seen preempted are marked
 * FLUSH_TLB and dropped from the IPI mask; the host flushes them at their
 * next entry.  Guarantee (a) always, (b) only for running vCPUs.
 */
#include "pvfuzz/mm.h"

void kvm_flush_tlb_multi(struct mm_struct *mm, pv_cpumask_t cpumask, const struct flush_tlb_info *info)
{
	/* this_cpu_cpumask_var_ptr(__pv_cpu_mask): allocated at boot */
	pv_cpumask_t *flushmask = mm->pv_cpu_mask[smp_processor_id()];
	WRITE_ONCE(*flushmask, cpumask); /* cpumask_copy */
	for (int cpu = 0; cpu < mm->nr_cpus; cpu++) {
		if (!(cpumask >> cpu & 1))
			continue;
		struct kvm_steal_time *src = &mm->cpu[cpu].st;
		u8 state = READ_ONCE(src->preempted);
		if (state & KVM_VCPU_PREEMPTED) {
			if (try_cmpxchg(&src->preempted, &state, (u8)(state | KVM_VCPU_FLUSH_TLB)))
				WRITE_ONCE(*flushmask, READ_ONCE(*flushmask) & ~(1ULL << cpu));
		}
	}
	native_flush_tlb_multi(mm, READ_ONCE(*flushmask), info);
}

/* kvm_alloc_cpumask(): zalloc_cpumask_var_node() for every possible CPU */
static bool kvm_alloc_cpumask(struct mm_struct *mm)
{
	for (int cpu = 0; cpu < mm->nr_cpus; cpu++) {
		if (mm->hooks && mm->hooks->cpumask_alloc_fails && mm->hooks->cpumask_alloc_fails(mm, cpu))
			return false; /* -ENOMEM */
		mm->pv_cpu_mask[cpu] = &mm->pv_cpu_mask_mem[cpu];
	}
	return true;
}

/*
 * Since "KVM: Check the allocation of pv cpu mask" (2020): the PV flush is
 * installed only once every per-CPU mask exists; otherwise native stays.
 */
const struct tlb_flush_ops *kvm_pv_guest_init(struct mm_struct *mm, const struct tlb_flush_ops *pv)
{
	if (!kvm_alloc_cpumask(mm))
		return native_tlb_flush_ops();
	return pv; /* pv_ops.mmu.flush_tlb_multi = kvm_flush_tlb_multi */
}

static const struct tlb_flush_ops kvm_pv_ops;
static const struct tlb_flush_ops *kvm_guest_init(struct mm_struct *mm)
{
	return kvm_pv_guest_init(mm, &kvm_pv_ops);
}

/*
 * vcpu_put of a preempted vCPU: kvm_steal_time_set_preempted().  Since
 * 6cd88243c7e0 (2022) only when the exit that descheduled it came at an
 * instruction boundary (an external interrupt); the host remembers what it
 * wrote and does not write it twice before the next record_steal_time.
 */
void kvm_steal_time_set_preempted(struct mm_struct *mm, int cpu)
{
	struct kvm_vcpu_st *vst = &mm->cpu[cpu].kvm;
	if (!vst->at_instruction_boundary) {
		vst->preemption_other++;
		return;
	}
	vst->preemption_reported++;
	if (vst->preempted)
		return;
	WRITE_ONCE(mm->cpu[cpu].st.preempted, KVM_VCPU_PREEMPTED); /* copy_to_user_nofault */
	vst->preempted = KVM_VCPU_PREEMPTED;
}

/* steal += run_delay - last_steal (the vCPU thread's wait on the runqueue) */
static u64 kvm_steal_delta(struct kvm_vcpu_st *vst)
{
	u64 d = vst->run_delay - vst->last_steal;
	vst->last_steal = vst->run_delay;
	return d;
}

/*
 * Before VM entry, KVM_REQ_STEAL_UPDATE: record_steal_time() as mainline
 * has it since 7e2175ebd695 (2021): one xchg on the guest's byte reads
 * FLUSH_TLB and clears PREEMPTED together (b043138246a4, the CVE-2019-3016
 * fix, first did so), then the deferred flush, then the steal update inside
 * an odd version.  Each access to the record is a step other vCPUs' guest
 * code interleaves with.
 */
void kvm_record_steal_time(struct mm_struct *mm, int cpu)
{
	struct kvm_steal_time *st = &mm->cpu[cpu].st;
	struct kvm_vcpu_st *vst = &mm->cpu[cpu].kvm;
	u8 st_preempted = xchg(&st->preempted, 0);
	vst->preempted = 0;
	if (st_preempted & KVM_VCPU_FLUSH_TLB)
		mm_tlb_flush_cpu(mm, cpu); /* kvm_vcpu_flush_tlb_guest */

	u32 version = READ_ONCE(st->version);
	if (version & 1)
		version += 1; /* first write: whatever the guest left there */
	version += 1;
	WRITE_ONCE(st->version, version);
	smp_wmb();
	u64 steal = READ_ONCE(st->steal);
	WRITE_ONCE(st->steal, steal + kvm_steal_delta(vst));
	version += 1;
	WRITE_ONCE(st->version, version);
}

static const struct tlb_flush_ops kvm_pv_ops = {
	.flush_tlb_multi = kvm_flush_tlb_multi,
	.range_freed_tables = true,
	.host_vcpu_put = kvm_steal_time_set_preempted,
	.host_vcpu_run = kvm_record_steal_time,
	.guest_init = kvm_guest_init,
	.host_emulates_insn = true,
};
TLB_VARIANT(kvm_pv_preempted, PV_FLUSH, kvm_pv_ops, .bug = "TLB-02", .partner = "free_immediate",
	    .safe_with = "free_rcu,free_semi_rcu,free_sync_rcu_2026",
	    .expect = "table_uaf",
	    .history = "f38a7b75267f KVM PV TLB flush (4.16) relies on RCU table free (9e52fc2b50de); "
		       "paired with immediate free it skips a vCPU preempted inside its IRQ-off walk",
	    .scenario = "the host preempts the walker's vCPU between its pmd and pte loads; the flush "
			"marks it FLUSH_TLB and skips it; T is freed; the vCPU resumes on T")

/*
 * Before "KVM: Check the allocation of pv cpu mask" (Haiwei Li, 2020; stable
 * 5.8): kvm_guest_init() set pv_ops.mmu.flush_tlb_others early and
 * kvm_alloc_cpumask() ignored a failed allocation, so the PV flush ran with
 * no mask.
 */
static const struct tlb_flush_ops kvm_pv_unchecked_ops;
static const struct tlb_flush_ops *kvm_guest_init_unchecked(struct mm_struct *mm)
{
	(void)kvm_alloc_cpumask(mm); /* the error is dropped */
	return &kvm_pv_unchecked_ops;
}

static const struct tlb_flush_ops kvm_pv_unchecked_ops = {
	.flush_tlb_multi = kvm_flush_tlb_multi,
	.range_freed_tables = true,
	.host_vcpu_put = kvm_steal_time_set_preempted,
	.host_vcpu_run = kvm_record_steal_time,
	.guest_init = kvm_guest_init_unchecked,
	.host_emulates_insn = true,
};
TLB_VARIANT(kvm_pv_mask_unchecked_2020, PV_FLUSH, kvm_pv_unchecked_ops, .bug = "TLB-12",
	    .partner = "free_rcu", .expect = "backend_init",
	    .history = "before \"KVM: Check the allocation of pv cpu mask\" (Haiwei Li, 2020, queued by Paolo "
		       "Bonzini; stable 5.8): the PV flush op was installed even when __pv_cpu_mask failed to "
		       "allocate",
	    .scenario = "the boot-time per-CPU mask allocation fails; the first remote flush writes through "
			"the missing mask")

/*
 * The host side before b043138246a4 "x86/KVM: Make sure KVM_VCPU_FLUSH_TLB
 * flag is not missed" (Boris Ostrovsky, 2019; CVE-2019-3016; the host half
 * of the PV TLB flush since f38a7b75267f, 4.16): record_steal_time() read
 * the whole record into the host's copy (kvm_read_guest_cached), cleared
 * preempted in that copy and wrote the whole copy back, three times
 * (kvm_write_guest_cached).  A FLUSH_TLB a guest's kvm_flush_tlb_multi()
 * sets between the read and the last write-back is overwritten with 0: that
 * vCPU is neither interrupted nor flushed at entry.  vcpu_put wrote the byte
 * with no instruction-boundary check.
 */
static void kvm_write_steal_time_copy(struct kvm_steal_time *st, const struct kvm_steal_time *copy)
{
	WRITE_ONCE(st->steal, copy->steal);
	WRITE_ONCE(st->version, copy->version);
	WRITE_ONCE(st->flags, copy->flags);
	WRITE_ONCE(st->preempted, copy->preempted);
}

static void kvm_record_steal_time_copy(struct mm_struct *mm, int cpu)
{
	struct kvm_steal_time *st = &mm->cpu[cpu].st;
	struct kvm_vcpu_st *vst = &mm->cpu[cpu].kvm;
	struct kvm_steal_time copy = {
		.steal = READ_ONCE(st->steal),
		.version = READ_ONCE(st->version),
		.flags = READ_ONCE(st->flags),
		.preempted = READ_ONCE(st->preempted),
	};
	u8 was = copy.preempted; /* xchg on the host's copy, not on the guest's byte */
	copy.preempted = 0;
	if (was & KVM_VCPU_FLUSH_TLB)
		mm_tlb_flush_cpu(mm, cpu);
	if (copy.version & 1)
		copy.version += 1;
	copy.version += 1;
	kvm_write_steal_time_copy(st, &copy);
	smp_wmb();
	copy.steal += kvm_steal_delta(vst);
	kvm_write_steal_time_copy(st, &copy);
	smp_wmb();
	copy.version += 1;
	kvm_write_steal_time_copy(st, &copy);
}

static void kvm_steal_time_set_preempted_copy(struct mm_struct *mm, int cpu)
{
	WRITE_ONCE(mm->cpu[cpu].st.preempted, KVM_VCPU_PREEMPTED); /* kvm_write_guest_offset_cached */
}

static const struct tlb_flush_ops kvm_pv_steal_copy_ops;
static const struct tlb_flush_ops *kvm_guest_init_steal_copy(struct mm_struct *mm)
{
	return kvm_pv_guest_init(mm, &kvm_pv_steal_copy_ops);
}

static const struct tlb_flush_ops kvm_pv_steal_copy_ops = {
	.flush_tlb_multi = kvm_flush_tlb_multi,
	.range_freed_tables = true,
	.host_vcpu_put = kvm_steal_time_set_preempted_copy,
	.host_vcpu_run = kvm_record_steal_time_copy,
	.guest_init = kvm_guest_init_steal_copy,
	.host_emulates_insn = true,
};
TLB_VARIANT(kvm_steal_time_copy_2019, PV_FLUSH, kvm_pv_steal_copy_ops, .bug = "CVE-2019-3016",
	    .partner = "free_rcu", .expect = "stale_tlb|stale_psc",
	    .history = "record_steal_time() before b043138246a4 \"x86/KVM: Make sure KVM_VCPU_FLUSH_TLB flag is "
		       "not missed\" (Boris Ostrovsky, 2019, CVE-2019-3016): read the record, clear preempted in "
		       "the host's copy, write the copy back; mainline xchg()s the guest's byte (7e2175ebd695)",
	    .scenario = "vCPU1 is preempted with a translation cached; while its thread runs record_steal_time "
			"after the resume, vCPU0 remaps the page and its flush finds vCPU1 still PREEMPTED, sets "
			"FLUSH_TLB and skips it; the write-back clears the flag; vCPU1 enters and uses the old "
			"translation after the flush returned")

/*
 * Before 6cd88243c7e0 "KVM: x86: do not report a vCPU as preempted outside
 * instruction boundaries" (Paolo Bonzini, 2022, CVE-2022-39189): vcpu_put
 * marked the vCPU PREEMPTED whatever exit descheduled it.  A vCPU
 * descheduled inside an instruction KVM completes by emulation (its
 * translation already made) is then skipped by a guest's PV flush; the
 * flush at entry comes too late for that instruction, which performs its
 * access through the translation the flush was to remove.
 */
static void kvm_steal_time_set_preempted_any_exit(struct mm_struct *mm, int cpu)
{
	struct kvm_vcpu_st *vst = &mm->cpu[cpu].kvm;
	if (vst->preempted)
		return;
	WRITE_ONCE(mm->cpu[cpu].st.preempted, KVM_VCPU_PREEMPTED);
	vst->preempted = KVM_VCPU_PREEMPTED;
}

static const struct tlb_flush_ops kvm_pv_any_exit_ops;
static const struct tlb_flush_ops *kvm_guest_init_any_exit(struct mm_struct *mm)
{
	return kvm_pv_guest_init(mm, &kvm_pv_any_exit_ops);
}

static const struct tlb_flush_ops kvm_pv_any_exit_ops = {
	.flush_tlb_multi = kvm_flush_tlb_multi,
	.range_freed_tables = true,
	.host_vcpu_put = kvm_steal_time_set_preempted_any_exit,
	.host_vcpu_run = kvm_record_steal_time,
	.guest_init = kvm_guest_init_any_exit,
	.host_emulates_insn = true,
};
TLB_VARIANT(kvm_preempted_any_exit_2022, PV_FLUSH, kvm_pv_any_exit_ops, .bug = "CVE-2022-39189",
	    .partner = "free_rcu", .expect = "stale_tlb",
	    .history = "kvm_steal_time_set_preempted() before 6cd88243c7e0 \"KVM: x86: do not report a vCPU as "
		       "preempted outside instruction boundaries\" (Paolo Bonzini, 2022, CVE-2022-39189): "
		       "PREEMPTED was reported for any exit, also one inside an instruction KVM emulates",
	    .scenario = "a worker's user access has translated its address when the host deschedules its "
			"vCPU (an exit inside the instruction); vCPU0 remaps the page, its PV flush sees "
			"PREEMPTED, sets FLUSH_TLB and returns; the vCPU resumes, flushes at entry and "
			"completes the access through the old translation")
