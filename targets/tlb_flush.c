// SPDX-License-Identifier: MIT
/*
 * Fuzz target: TLB flush and page-table freeing.  A mutator (munmap, remap,
 * collapse) on vCPU0 through a flush backend and a table-free path, against
 * lockless walkers, user accesses and lazy-TLB CPUs on the other vCPUs,
 * under host preemption, IPI-delivery timing and batch-allocation failures
 * from the input.  PVFUZZ_VARIANT picks the combination (default: mainline
 * native_ipi + free_rcu + gup_fast, which must be safe).
 */
#include "mm/tlb_harness.h"
#include "fuzz_target.h"

static void run(const struct pv_selection *s, struct fdp *in)
{
	const struct tlb_roles roles = {
		s->role[PV_FLUSH]->ops, s->role[PV_FREE]->ops, s->role[PV_WALKER]->ops, s->role[PV_MUTATOR]->ops,
	};
	tlb_scenario_run(&roles, s->label, in);
}

PV_FUZZ_TARGET(PV_TLB, run)
