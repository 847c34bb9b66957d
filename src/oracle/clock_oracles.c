// SPDX-License-Identifier: MIT
/*
 * Clock-reader oracles on returned values (CO1, CO2, CO8).  The snapshot
 * oracles (CO3-CO6, CO9-CO11) are evaluated by the protocol harnesses
 * (src/clock/NAME_harness.c); their named failure points are in
 * src/oracle/clock_findings.c.
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
static unsigned epoch; /* clock changes begun or ended so far */
static bool stepping;  /* a clock change is under way */

void clock_oracle_reset(const struct clock_oracle_cfg *c)
{
	cfg = *c;
	if (!cfg.unit_ns)
		cfg.unit_ns = 1;
	for (int i = 0; i < MAX_READERS; i++)
		have_last[i] = false;
	hi = 0;
	stepped = 0;
	epoch = 0;
	stepping = false;
}

void clock_oracle_step_begin(void)
{
	epoch++;
	stepping = true;
}

void clock_oracle_order_only(bool on)
{
	cfg.order_only = on;
}

void clock_oracle_rebase(s64 base_delta)
{
	cfg.base = (s64)((u64)cfg.base + (u64)base_delta); /* wraps, as a u64 clock does */
	if (stepping) { /* a change that turned out to keep the order */
		stepping = false;
		epoch++;
	}
}

void clock_oracle_restart(s64 base_delta)
{
	for (int i = 0; i < MAX_READERS; i++)
		have_last[i] = false;
	hi = 0;
	cfg.base = (s64)((u64)cfg.base + (u64)base_delta); /* wraps, as a u64 clock does */
	epoch++;
	stepping = false;
}

void clock_oracle_step_forward(u64 delta)
{
	stepped += delta;
}

void clock_read_begin(struct clock_read *r)
{
	r->g0 = hi;
	r->start_step = sim_step();
	r->epoch = epoch;
	r->base0 = cfg.base;
	r->slack_lo = 0;
	r->slack_hi = 0;
}

static void read_end(struct clock_read *r, int reader, u64 value, bool place)
{
	if (!cfg.check_time || r->epoch != epoch || stepping)
		return;
	reader %= MAX_READERS;
	if (have_last[reader] && value < last[reader] && last[reader] - value > cfg.slack)
		oracle_monotonic(reader, last[reader], value);
	if (value < r->g0 && r->g0 - value > cfg.slack)
		oracle_linearizable(reader, r->g0, value);
	if (place && !cfg.order_only) {
		u64 lo_true = r->start_step * SIM_NS_PER_STEP / cfg.unit_ns;
		u64 hi_true = sim_step() * SIM_NS_PER_STEP / cfg.unit_ns;
		/* a read that spans a rebase may return a value of either side */
		s64 base_lo = r->base0 < cfg.base ? r->base0 : cfg.base;
		s64 base_hi = r->base0 < cfg.base ? cfg.base : r->base0;
		s64 los = (s64)lo_true + base_lo - (s64)cfg.tolerance - (s64)r->slack_lo;
		u64 lo = los < 0 ? 0 : (u64)los;
		u64 up = (u64)((s64)hi_true + base_hi) + cfg.tolerance + r->slack_hi + stepped;
		if (value < lo || value > up)
			oracle_plausibility(reader, value, lo, up);
	}
	last[reader] = value;
	have_last[reader] = true;
	if (value > hi)
		hi = value;
}

void clock_read_end(struct clock_read *r, int reader, u64 value)
{
	read_end(r, reader, value, true);
}

void clock_read_end_order_only(struct clock_read *r, int reader, u64 value)
{
	read_end(r, reader, value, false);
}
