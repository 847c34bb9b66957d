// SPDX-License-Identifier: MIT
/*
 * The named failure points of the clock oracles (CO1-CO15): one noinline
 * function per oracle, so crash buckets are stable.  World-independent:
 * they only format the finding and call pv_oracle_fail(), which the
 * simulator (src/oracle/report.c) and the native stress runner
 * (stress/native_report.c) each provide.
 */
#include <inttypes.h>

#include "oracle/oracle.h"

__noinline void oracle_monotonic(int reader, u64 prev, u64 value)
{
	pv_oracle_fail("monotonic", "reader=%d went backwards: %" PRIu64 " then %" PRIu64
		       " (-%" PRIu64 ") (CO1)", reader, prev, value, prev - value);
}

__noinline void oracle_linearizable(int reader, u64 g0, u64 value)
{
	pv_oracle_fail("linearizable", "reader=%d returned %" PRIu64 " but a read that finished "
		       "before it began returned %" PRIu64 " (-%" PRIu64 ") (CO2)",
		       reader, value, g0, g0 - value);
}

__noinline void oracle_plausibility(int reader, u64 value, u64 lo, u64 hi_)
{
	pv_oracle_fail("plausibility", "reader=%d returned %" PRIu64 " outside the true-time window "
		       "[%" PRIu64 ", %" PRIu64 "] (CO8)", reader, value, lo, hi_);
}

__noinline void oracle_torn_snapshot(const char *what)
{
	pv_oracle_fail("torn_snapshot", "%s (CO3)", what);
}

__noinline void oracle_reference(const char *what, u64 got, u64 want)
{
	pv_oracle_fail("reference", "%s: got %" PRIu64 " (0x%" PRIx64 "), 128-bit reference %" PRIu64
		       " (0x%" PRIx64 ") (CO4)", what, got, got, want, want);
}

__noinline void oracle_continuity(const char *what, u64 before, u64 after)
{
	pv_oracle_fail("continuity", "%s: %" PRIu64 " before the update, %" PRIu64 " after (CO5)",
		       what, before, after);
}

__noinline void oracle_flag_coherence(const char *what)
{
	pv_oracle_fail("flag_coherence", "%s (CO6)", what);
}

__noinline void oracle_fallback(const char *what)
{
	pv_oracle_fail("fallback", "%s (CO9)", what);
}

__noinline void oracle_writer_discipline(const char *what)
{
	pv_oracle_fail("writer_discipline", "%s (CO10)", what);
}

__noinline void oracle_notification(const char *what)
{
	pv_oracle_fail("notification", "%s (CO11)", what);
}

/* CO5 where the kernel's own value is known: a page that claims another. */
__noinline void oracle_continuity_vs(const char *what, u64 kernel, u64 claim)
{
	pv_oracle_fail("continuity", "%s: the kernel's %" PRIu64 ", the page's %" PRIu64 " (CO5)",
		       what, kernel, claim);
}

/* CO8 for a value that is not a clock reading of the simulator's true time. */
__noinline void oracle_plausibility_vs(const char *what, u64 value, u64 lo, u64 hi_)
{
	pv_oracle_fail("plausibility", "%s: %" PRIu64 " outside [%" PRIu64 ", %" PRIu64 "] (CO8)",
		       what, value, lo, hi_);
}

__noinline void oracle_ownership(const char *what)
{
	pv_oracle_fail("ownership", "%s (CO13)", what);
}

__noinline void oracle_postcondition(const char *what, u64 got, u64 lo, u64 hi)
{
	pv_oracle_fail("postcondition", "%s: got %" PRIu64 ", the operation's effect allows [%" PRIu64
		       ", %" PRIu64 "] (CO14)", what, got, lo, hi);
}

__noinline void oracle_flag_contract(const char *what)
{
	pv_oracle_fail("flag_contract", "%s (CO15)", what);
}
