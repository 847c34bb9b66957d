// SPDX-License-Identifier: MIT
/*
 * Clock-reader oracles on returned values (CO1, CO2, CO8) and the named
 * failure points of the snapshot oracles (CO3-CO6, CO9-CO11), which the
 * protocol harnesses (src/clock/NAME_harness.c) evaluate.
 */
#include <inttypes.h>

#include "oracle/oracle.h"
#include "sim/sim.h"

#define MAX_READERS SIM_MAX_FIBERS

static struct clock_oracle_cfg cfg;
static u64 last[MAX_READERS];
static bool have_last[MAX_READERS];
static u64 hi; /* max value of all completed reads */

void clock_oracle_reset(const struct clock_oracle_cfg *c)
{
	cfg = *c;
	if (!cfg.unit_ns)
		cfg.unit_ns = 1;
	for (int i = 0; i < MAX_READERS; i++)
		have_last[i] = false;
	hi = 0;
}

void clock_read_begin(struct clock_read *r)
{
	r->g0 = hi;
	r->start_step = sim_step();
}

void clock_read_end(struct clock_read *r, int reader, u64 value)
{
	if (!cfg.check_time)
		return;
	reader %= MAX_READERS;
	if (have_last[reader] && value < last[reader] && last[reader] - value > cfg.slack)
		oracle_monotonic(reader, last[reader], value);
	if (value < r->g0 && r->g0 - value > cfg.slack)
		oracle_linearizable(reader, r->g0, value);
	u64 lo_true = r->start_step * SIM_NS_PER_STEP / cfg.unit_ns;
	u64 hi_true = sim_step() * SIM_NS_PER_STEP / cfg.unit_ns;
	s64 los = (s64)lo_true + cfg.base - (s64)cfg.tolerance;
	u64 lo = los < 0 ? 0 : (u64)los;
	u64 up = (u64)((s64)hi_true + cfg.base) + cfg.tolerance;
	if (value < lo || value > up)
		oracle_plausibility(reader, value, lo, up);
	last[reader] = value;
	have_last[reader] = true;
	if (value > hi)
		hi = value;
}

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
