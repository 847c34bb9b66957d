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
static u64 stepped; /* sum of forward steps, widening the window's upper edge */

void clock_oracle_reset(const struct clock_oracle_cfg *c)
{
	cfg = *c;
	if (!cfg.unit_ns)
		cfg.unit_ns = 1;
	for (int i = 0; i < MAX_READERS; i++)
		have_last[i] = false;
	hi = 0;
	stepped = 0;
}

void clock_oracle_step_forward(u64 delta)
{
	stepped += delta;
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
	u64 up = (u64)((s64)hi_true + cfg.base) + cfg.tolerance + stepped;
	if (value < lo || value > up)
		oracle_plausibility(reader, value, lo, up);
	last[reader] = value;
	have_last[reader] = true;
	if (value > hi)
		hi = value;
}
