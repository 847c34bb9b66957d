/* SPDX-License-Identifier: MIT */
#ifndef PVFUZZ_VDSO_HARNESS_H
#define PVFUZZ_VDSO_HARNESS_H

#include "pvfuzz/vdso.h"
#include "sim/fdp.h"

/* One simulated run of a vDSO reader/writer pairing on the input. */
void vdso_scenario_run(const struct vdso_reader_ops *rops, const struct vdso_writer_ops *wops,
		       const char *label, struct fdp *in);

#endif
