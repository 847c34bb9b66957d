/* SPDX-License-Identifier: MIT */
/*
 * Oracles compare what the code under test did with the simulator's ground
 * truth.  A violation prints one line
 *
 *     SUMMARY: pvfuzz: <oracle> variant=<v> <details>
 *
 * then the last trace steps, and aborts from a noinline function named after
 * the oracle, so crash buckets are the same in every engine.
 */
#ifndef PVFUZZ_ORACLE_H
#define PVFUZZ_ORACLE_H

#include "pvfuzz/types.h"

/* The finding of the last run when sim_fail_mode == SIM_FAIL_RECORD. */
struct pv_finding {
	bool hit;
	char oracle[48];
	char detail[256];
	u64 trace_hash;
	u64 step;
	s64 violation_seq; /* the violating access in the trace (sim.h), or -1 */
};
extern struct pv_finding pv_last_finding;
extern bool pv_report_quiet; /* replays after the first: no report text */
void pv_finding_reset(void);

/* Common tail of every oracle: report, then abort (or record and leave). */
void pv_oracle_fail(const char *oracle, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* ---- generic ---- */
void oracle_liveness(const char *fiber, const char *op, u64 steps);

/* ---- clock readers (src/oracle/clock_oracles.c) ---- */
struct clock_oracle_cfg {
	bool check_time;        /* records come from the simulated clock: mono/lin/plausible */
	u64 unit_ns;            /* 1 for ns clocks, 100 for Hyper-V reference time */
	s64 base;               /* expected value - true_ns/unit at any instant */
	u64 tolerance;          /* plausibility window, in units */
	u64 slack;              /* CO1/CO2: a step back of at most this many units is
				   rounding, not a violation (0: exact; hv: the KVM
				   page derivation's truncations, H4) */
	bool order_only;        /* with check_time: CO1/CO2 only, no CO8 (records
				   from a host that may publish any time: only the
				   order the guest itself guarantees is judged) */
};
void clock_oracle_reset(const struct clock_oracle_cfg *cfg);
/*
 * The clock is stepped forward by delta units (KVM_SET_CLOCK): reads may
 * return either side of the step while it is published, so the window's
 * upper edge moves and its lower edge stays.
 */
void clock_oracle_step_forward(u64 delta);
/*
 * The clock was set (KVM_SET_CLOCK to any value, a migration restoring a
 * saved clock): reads that begin afterwards start a new order - they are
 * not compared with earlier ones - and CO8 expects base_delta more (units)
 * from then on.  A read that straddles the change is judged by neither.
 */
void clock_oracle_restart(s64 base_delta);
/* A clock change begins: reads that overlap it (until the restart) are judged by neither side. */
void clock_oracle_step_begin(void);
/* The same, keeping the order: the clock moved, but no reader could see it step back. */
void clock_oracle_rebase(s64 base_delta);
/* From now on judge only CO1/CO2 (the clock is beyond what CO8 can place). */
void clock_oracle_order_only(bool on);

struct clock_read {
	u64 g0;           /* max value of reads completed before this one began */
	u64 start_step;
	unsigned epoch;   /* clock_oracle_restart()s before it began */
	s64 base0;        /* CO8's base when it began (a rebase may land during the read) */
	/*
	 * CO8 room beyond cfg.tolerance below and above, derived by the
	 * harness from the clock the value follows (0 after clock_read_begin)
	 */
	u64 slack_lo, slack_hi;
};
void clock_read_begin(struct clock_read *r);
/* CO1, CO2, CO8 on a value a reader returned. */
void clock_read_end(struct clock_read *r, int reader, u64 value);
/* CO1, CO2 only: a value the reader's own monotonic fix-up produced (not placeable in time) */
void clock_read_end_order_only(struct clock_read *r, int reader, u64 value);

void oracle_monotonic(int reader, u64 prev, u64 value);
void oracle_linearizable(int reader, u64 g0, u64 value);
void oracle_plausibility(int reader, u64 value, u64 lo, u64 hi);
void oracle_torn_snapshot(const char *what);
void oracle_reference(const char *what, u64 got, u64 want);
void oracle_continuity(const char *what, u64 before, u64 after);
void oracle_flag_coherence(const char *what);
void oracle_fallback(const char *what);
void oracle_writer_discipline(const char *what);
void oracle_notification(const char *what);
/* The same oracles with the kernel's value named (the perf page). */
void oracle_continuity_vs(const char *what, u64 kernel, u64 claim);
void oracle_plausibility_vs(const char *what, u64 value, u64 lo, u64 hi);

/* ---- TSC frequency, hotplug, nesting (src/oracle/tsc_oracles.c) ---- */
/* CO12: a read used parameters made for a slower TSC than the one it read */
void oracle_rate(const char *what);
/* does a kvmclock (mul, shift) run guest time fast on a TSC of rate ticks/step?  *ppm: by how much */
bool kvmclock_scale_runs_fast(u32 mul, s8 shift, u32 rate, u64 *ppm);
/* a guest CPU has no kvmclock record of its own (CLK-21) */
void oracle_layout(const char *what);
/* code under test broke a kernel context rule (sleeping or returning atomic) */
void oracle_kernel_discipline(const char *what);

/* CO13: a store to shared clock memory by a party that does not own it then */
void oracle_ownership(const char *what);
/* CO14: after a host operation returned, a clock read disagrees with its documented effect */
void oracle_postcondition(const char *what, u64 got, u64 lo, u64 hi);
/* CO15: a flag appeared or disappeared where the contract does not let it */
void oracle_flag_contract(const char *what);

/* ---- TLB flush / page-table freeing (src/oracle/tlb_oracles.c) ---- */
void oracle_table_uaf(const char *what);
void oracle_stale_tlb(const char *what);
void oracle_walker_linearizable(const char *what);
void oracle_stale_psc(const char *what);
void oracle_refcount_zero(const char *what);
void oracle_irq_discipline(const char *what);
void oracle_backend_init(const char *what);
void oracle_page_refs(const char *what);

#endif
