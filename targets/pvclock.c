// SPDX-License-Identifier: MIT
/*
 * Fuzz target: KVM pvclock.  A reader variant in guest tasks against a writer
 * variant in the host, under a schedule, page images and events from the
 * input.  PVFUZZ_VARIANT picks the pairing (default: mainline).
 */
#include "clock/pvclock_harness.h"
#include "fuzz_target.h"

static void run(const struct pv_selection *s, struct fdp *in)
{
	pvclock_scenario_run(s->role[PV_READER]->ops, s->role[PV_WRITER]->ops, s->label, in);
}

PV_FUZZ_TARGET(PV_PVCLOCK, run)
