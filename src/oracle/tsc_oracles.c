// SPDX-License-Identifier: MIT
/*
 * Named failure points of the TSC-frequency, hotplug and nested
 * reenlightenment oracles (src/clock/kvm_tsc_harness.c,
 * src/clock/nested_harness.c).  One noinline function per oracle, so crash
 * buckets are stable in every engine.
 */
#include "oracle/oracle.h"

__noinline void oracle_rate(const char *what)
{
	pv_oracle_fail("rate", "%s (CO12)", what);
}

__noinline void oracle_layout(const char *what)
{
	pv_oracle_fail("layout", "%s", what);
}

__noinline void oracle_kernel_discipline(const char *what)
{
	pv_oracle_fail("kernel_discipline", "%s", what);
}
