// SPDX-License-Identifier: MIT
/*
 * Fuzz target: the perf_event mmap page's time and count fields.  A reader
 * variant in the monitored task (and on other CPUs, if it reads other CPUs'
 * pages) against a writer variant in the kernel (x86 or arm64), under a
 * schedule and kernel events from the input.  PVFUZZ_VARIANT picks the
 * pairing (default: mainline perf_reader_documented + perf_writer_x86).
 */
#include "clock/perf_harness.h"
#include "pvfuzz/variant.h"

static struct pv_selection sel;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	pv_select_or_exit(PV_PERF_TIME, &sel);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fdp in;
	struct pv_selection s = sel;

	fdp_init(&in, data, size);
	if (s.from_input)
		pv_select_from_input(PV_PERF_TIME, &s, &in);
	perf_scenario_run(s.role[PV_READER]->ops, s.role[PV_WRITER]->ops, s.label, &in);
	return 0;
}
