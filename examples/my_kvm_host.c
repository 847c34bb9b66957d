// SPDX-License-Identifier: MIT
/*
 * docs/byo.md worked example (a host model, part of the flush-backend
 * role): KVM's guest side as mainline has it, with a record_steal_time()
 * of our own that reads the steal-time preempted byte and then clears it
 * with a separate store instead of one xchg.  A guest's PV flush that sets
 * KVM_VCPU_FLUSH_TLB between the two steps is lost: the vCPU is neither
 * IPI'd nor flushed at entry.  Plug it in with
 *   ./pvfuzz fuzz tlb_flush --variant my_kvm_host_split_clear --variant-file examples/my_kvm_host.c
 */
#include "pvfuzz/mm.h"

static void my_record_steal_time(struct mm_struct *mm, int cpu)
{
	struct kvm_steal_time *st = &mm->cpu[cpu].st;
	u8 was = READ_ONCE(st->preempted);
	WRITE_ONCE(st->preempted, 0); /* THE BUG: not one xchg with the read */
	mm->cpu[cpu].kvm.preempted = 0;
	if (was & KVM_VCPU_FLUSH_TLB)
		mm_tlb_flush_cpu(mm, cpu);
}

static const struct tlb_flush_ops my_host_ops;
static const struct tlb_flush_ops *my_guest_init(struct mm_struct *mm)
{
	return kvm_pv_guest_init(mm, &my_host_ops);
}

static const struct tlb_flush_ops my_host_ops = {
	.flush_tlb_multi = kvm_flush_tlb_multi,     /* the guest side: mainline's */
	.range_freed_tables = true,
	.host_vcpu_put = kvm_steal_time_set_preempted, /* mainline's vcpu_put */
	.host_vcpu_run = my_record_steal_time,       /* runs with scheduling points */
	.guest_init = my_guest_init,
	.host_emulates_insn = true,
};
TLB_VARIANT(my_kvm_host_split_clear, PV_FLUSH, my_host_ops, .expect = "stale_tlb|stale_psc",
	    .partner = "free_rcu",
	    .scenario = "a resumed vCPU's thread reads PREEMPTED; a guest flush sets FLUSH_TLB and skips it; "
			"the separate clear drops the flag",
	    .history = "docs/byo.md worked example: a host model that splits record_steal_time's xchg")
