/* SPDX-License-Identifier: MIT */
#ifndef PVFUZZ_PERF_HARNESS_H
#define PVFUZZ_PERF_HARNESS_H

#include "pvfuzz/perf_time.h"
#include "sim/fdp.h"

/* One simulated run of a perf page reader/writer pairing on the input. */
void perf_scenario_run(const struct perf_reader_ops *rops, const struct perf_writer_ops *wops,
		       const char *label, struct fdp *in);

#endif
