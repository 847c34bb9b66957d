/* SPDX-License-Identifier: MIT */
#ifndef PVFUZZ_PVCLOCK_HARNESS_H
#define PVFUZZ_PVCLOCK_HARNESS_H

#include "pvfuzz/pvclock.h"
#include "sim/fdp.h"

/* One simulated run of a reader/writer pairing on the input. */
void pvclock_scenario_run(const struct pvclock_reader_ops *rops, const struct pvclock_writer_ops *wops,
			  const char *label, struct fdp *in);

#endif
