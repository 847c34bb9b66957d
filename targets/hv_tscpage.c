// SPDX-License-Identifier: MIT
/*
 * Fuzz target: the Hyper-V reference TSC page as KVM emulates it.  A reader
 * variant in guest tasks against a writer variant in the host, under a
 * schedule, page images and events from the input.  PVFUZZ_VARIANT picks the
 * pairing (default: mainline hv_reader_mainline + kvm_hv_writer).
 */
#include "clock/hv_harness.h"
#include "pvfuzz/variant.h"

static struct pv_selection sel;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	pv_select_or_exit(PV_HV_TSCPAGE, &sel);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fdp in;
	struct pv_selection s = sel;

	fdp_init(&in, data, size);
	if (s.from_input)
		pv_select_from_input(PV_HV_TSCPAGE, &s, &in);
	hv_scenario_run(s.role[PV_READER]->ops, s.role[PV_WRITER]->ops, s.label, &in);
	return 0;
}
