// SPDX-License-Identifier: MIT
/*
 * Fuzz target: the Hyper-V reference TSC page as KVM emulates it.  A reader
 * variant in guest tasks against a writer variant in the host, under a
 * schedule, page images and events from the input.  PVFUZZ_VARIANT picks the
 * pairing (default: mainline hv_reader_mainline + kvm_hv_writer).
 */
#include "clock/hv_harness.h"
#include "fuzz_target.h"

static void run(const struct pv_selection *s, struct fdp *in)
{
	hv_scenario_run(s->role[PV_READER]->ops, s->role[PV_WRITER]->ops, s->label, in);
}

PV_FUZZ_TARGET(PV_HV_TSCPAGE, run)
