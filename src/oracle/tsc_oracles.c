// SPDX-License-Identifier: MIT
/*
 * Named failure points of the TSC-frequency, hotplug and nested
 * reenlightenment oracles (src/clock/kvm_tsc_harness.c,
 * src/clock/nested_harness.c).  One noinline function per oracle, so crash
 * buckets are stable in every engine.
 */
#include "oracle/oracle.h"
#include "sim/sim.h"

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

/*
 * CO12 for a kvmclock scale: ns per tick the record assumes (mul * 2^shift /
 * 2^32) times the TSC's ticks per step, against the SIM_NS_PER_STEP ns a
 * step takes.  1 ppm of slack covers the 32-bit quantisation of mul.
 */
bool kvmclock_scale_runs_fast(u32 mul, s8 shift, u32 rate, u64 *ppm)
{
	if (shift > 63 || shift < -63)
		return false;
	unsigned __int128 got = (unsigned __int128)mul * rate, real = (unsigned __int128)SIM_NS_PER_STEP << 32;
	if (shift >= 0)
		got <<= shift;
	else
		real <<= -shift;
	if (got * 1000000 <= real * 1000001)
		return false;
	*ppm = (u64)((got - real) * 1000000 / real);
	return true;
}
