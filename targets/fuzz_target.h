/* SPDX-License-Identifier: MIT */
/*
 * The two libFuzzer entry points every protocol target shares.  A target is
 * a protocol and a scenario: PVFUZZ_VARIANT is resolved once at start-up
 * (a bad value exits with a one-line error before any input runs), and with
 * PVFUZZ_VARIANT=input each input's first byte picks the pairing instead, so
 * one binary covers every combination.  Kept in one place so that every
 * target selects, and therefore replays, the same way.
 */
#ifndef PVFUZZ_TARGETS_FUZZ_TARGET_H
#define PVFUZZ_TARGETS_FUZZ_TARGET_H

#include <stddef.h>
#include <stdint.h>

#include "pvfuzz/variant.h"
#include "sim/fdp.h"

/* scenario_(const struct pv_selection *, struct fdp *) runs one input */
#define PV_FUZZ_TARGET(proto_, scenario_)                                     \
	static struct pv_selection pv_target_sel;                             \
                                                                              \
	int LLVMFuzzerInitialize(int *argc, char ***argv)                     \
	{                                                                     \
		pv_select_or_exit(proto_, &pv_target_sel);                    \
		return 0;                                                     \
	}                                                                     \
                                                                              \
	int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)          \
	{                                                                     \
		struct fdp in;                                                \
		struct pv_selection s = pv_target_sel;                        \
                                                                              \
		fdp_init(&in, data, size);                                    \
		if (s.from_input)                                             \
			pv_select_from_input(proto_, &s, &in);                \
		scenario_(&s, &in);                                           \
		return 0;                                                     \
	}

#endif
