// SPDX-License-Identifier: MIT
/*
 * Failure points of the oracles only the real-kernel checkers have (the
 * shared ones - monotonic, linearizable, reference, plausibility,
 * stale_tlb, walker_linearizable - are src/oracle/'s).  One noinline
 * function per oracle, as everywhere, so crash buckets and greps agree.
 */
#include "check.h"

/* vDSO vs syscall: syscall, vDSO, syscall for one clock id must be ordered */
__noinline void oracle_sandwich(const char *what)
{
	pv_oracle_fail("sandwich", "%s", what);
}

/* a relation the clocks' definitions impose (BOOTTIME = MONOTONIC + sleep, ...) */
__noinline void oracle_clock_relation(const char *what)
{
	pv_oracle_fail("clock_relation", "%s", what);
}

/* the vDSO's getcpu against the CPU sched_setaffinity pinned the thread to */
__noinline void oracle_getcpu(const char *what)
{
	pv_oracle_fail("getcpu", "%s", what);
}

/* MADV_DONTNEED on private anonymous memory: later reads see zeroes */
__noinline void oracle_fresh_zero(const char *what)
{
	pv_oracle_fail("fresh_zero", "%s", what);
}

/*
 * oracle.h's liveness point (CO7).  The simulator defines it beside its
 * reporter (it counts fair-schedule steps); here it counts retries of a
 * real reader loop.
 */
__noinline void oracle_liveness(const char *fiber, const char *op, u64 steps)
{
	pv_oracle_fail("liveness", "reader=%s op=%s still retrying after %llu attempts (CO7)", fiber, op,
		       (unsigned long long)steps);
}
