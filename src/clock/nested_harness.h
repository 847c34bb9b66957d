/* SPDX-License-Identifier: MIT */
#ifndef PVFUZZ_NESTED_HARNESS_H
#define PVFUZZ_NESTED_HARNESS_H

#include "pvfuzz/nested.h"
#include "sim/fdp.h"

/* One simulated run of an L1 reenlightenment handler / L0 pairing. */
void nested_scenario_run(const struct nested_l1_ops *l1ops, const struct nested_l0_ops *l0ops,
			 const char *label, struct fdp *in);

#endif
