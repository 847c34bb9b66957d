// SPDX-License-Identifier: MIT
/*
 * Fuzz target: the generic vDSO data page.  A clock_gettime() reader variant
 * in user tasks against an update_vsyscall() writer variant run by the guest
 * kernel's timekeeper, on the TSC, kvm-clock (with a KVM host rewriting its
 * records) or a clocksource without a vDSO mode, under a schedule and kernel
 * events from the input.  PVFUZZ_VARIANT picks the pairing (default:
 * mainline vdso_reader_mainline + vdso_writer_mainline).
 */
#include "clock/vdso_harness.h"
#include "pvfuzz/variant.h"

static struct pv_selection sel;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	pv_select_or_exit(PV_VDSO, &sel);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fdp in;
	struct pv_selection s = sel;

	fdp_init(&in, data, size);
	if (s.from_input)
		pv_select_from_input(PV_VDSO, &s, &in);
	vdso_scenario_run(s.role[PV_READER]->ops, s.role[PV_WRITER]->ops, s.label, &in);
	return 0;
}
