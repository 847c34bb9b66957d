/* SPDX-License-Identifier: MIT */
/*
 * The stress-ng plugin's counters, shared by every plugin process of one
 * run through a small file ($PVFUZZ_COUNTS) mapped MAP_SHARED: stress-ng
 * kills plugin calls at its timeout, so counts are added after every call
 * instead of printed at exit.  `pvfuzz-check counts FILE` prints them.
 * One block per checker, in checkers[] order; the counter values are in
 * the order of that checker's `counters` array (same build, same order).
 */
#ifndef PVFUZZ_STRESSNG_COUNTS_H
#define PVFUZZ_STRESSNG_COUNTS_H

#include <stdatomic.h>

#include "check.h"

#define STRESSNG_COUNTS_MAGIC 0x31746e6370667670ULL /* "pvfpcnt1" */
#define STRESSNG_MAX_CHECKERS 4

struct stressng_checker_counts {
	_Atomic u64 calls;     /* plugin calls that ran a round */
	_Atomic u64 findings;
	_Atomic u64 round_ns;  /* time spent in rounds */
	_Atomic u64 v[CHECK_MAX_COUNTERS];
	_Atomic int skipped;   /* 0, or 1 once skip_reason is written */
	char skip_reason[240];
};

struct stressng_counts {
	u64 magic;
	struct stressng_checker_counts c[STRESSNG_MAX_CHECKERS];
};

#endif
