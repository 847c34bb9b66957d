/* SPDX-License-Identifier: MIT */
#ifndef PVFUZZ_TLB_HARNESS_H
#define PVFUZZ_TLB_HARNESS_H

#include "pvfuzz/mm.h"
#include "sim/fdp.h"

/* The selected implementation of every role. */
struct tlb_roles {
	const struct tlb_flush_ops *flush;
	const struct tlb_free_ops *free;
	const struct walker_ops *walker;
	const struct mutator_ops *mutator;
};

/* One input: the scenario, schedule and events decoded from `in`. */
void tlb_scenario_run(const struct tlb_roles *roles, const char *label, struct fdp *in);

#endif
