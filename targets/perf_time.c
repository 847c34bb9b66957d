// SPDX-License-Identifier: MIT
/*
 * Fuzz target: the perf_event mmap page's time and count fields.  A reader
 * variant in the monitored task (and on other CPUs, if it reads other CPUs'
 * pages) against a writer variant in the kernel (x86 or arm64), under a
 * schedule and kernel events from the input.  PVFUZZ_VARIANT picks the
 * pairing (default: mainline perf_reader_documented + perf_writer_x86).
 */
#include "clock/perf_harness.h"
#include "fuzz_target.h"

static void run(const struct pv_selection *s, struct fdp *in)
{
	perf_scenario_run(s->role[PV_READER]->ops, s->role[PV_WRITER]->ops, s->label, in);
}

PV_FUZZ_TARGET(PV_PERF_TIME, run)
