// SPDX-License-Identifier: MIT
/*
 * Fuzz target: nested reenlightenment (seed 002).  L1 KVM's reenlightenment
 * handler against an L0 model, with L1 migrated to another TSC frequency at
 * a moment the input picks while L2 guests read kvmclock.  PVFUZZ_VARIANT
 * picks the pairing (default: mainline Hyper-V and KVM).
 */
#include "clock/nested_harness.h"
#include "fuzz_target.h"

static void run(const struct pv_selection *s, struct fdp *in)
{
	nested_scenario_run(s->role[PV_WRITER]->ops, s->role[PV_HOST]->ops, s->label, in);
}

PV_FUZZ_TARGET(PV_NESTED, run)
