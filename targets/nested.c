// SPDX-License-Identifier: MIT
/*
 * Fuzz target: nested reenlightenment (seed 002).  L1 KVM's reenlightenment
 * handler against an L0 model, with L1 migrated to another TSC frequency at
 * a moment the input picks while L2 guests read kvmclock.  PVFUZZ_VARIANT
 * picks the pairing (default: mainline Hyper-V and KVM).
 */
#include "clock/nested_harness.h"
#include "pvfuzz/variant.h"

static struct pv_selection sel;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	pv_select_or_exit(PV_NESTED, &sel);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fdp in;
	struct pv_selection s = sel;

	fdp_init(&in, data, size);
	if (s.from_input)
		pv_select_from_input(PV_NESTED, &s, &in);
	nested_scenario_run(s.role[PV_WRITER]->ops, s.role[PV_HOST]->ops, s.label, &in);
	return 0;
}
