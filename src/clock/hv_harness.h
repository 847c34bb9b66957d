/* SPDX-License-Identifier: MIT */
#ifndef PVFUZZ_HV_HARNESS_H
#define PVFUZZ_HV_HARNESS_H

#include "pvfuzz/hv_tscpage.h"
#include "sim/fdp.h"

/* One simulated run of a Hyper-V TSC page reader/writer pairing on the input. */
void hv_scenario_run(const struct hv_reader_ops *rops, const struct hv_writer_ops *wops,
		     const char *label, struct fdp *in);

#endif
