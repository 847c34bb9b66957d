// SPDX-License-Identifier: MIT
/*
 * The fix of examples/my_perf_reader.c (docs/byo.md): time_zero is loaded
 * inside the lock loop with the rest of the conversion, as
 * perf_read_tsc_conversion() (tools/perf/util/tsc.c) does.
 *
 *   ./pvfuzz fuzz perf_time --reader-file examples/my_perf_reader_fixed.c
 */
#include "pvfuzz/perf_time.h"

static bool my_perf_time(const struct perf_event_mmap_page *pc, const struct perf_user_clock *uc,
			 struct perf_user_read *r)
{
	u32 seq, time_mult;
	u16 time_shift;
	u64 time_zero, time_cycles, time_mask, caps, cyc;

	do {
		seq = READ_ONCE(pc->lock);
		rmb();
		time_mult = READ_ONCE(pc->time_mult);
		time_shift = READ_ONCE(pc->time_shift);
		time_zero = READ_ONCE(pc->time_zero);	/* the fix: part of the snapshot */
		time_cycles = READ_ONCE(pc->time_cycles);
		time_mask = READ_ONCE(pc->time_mask);
		caps = READ_ONCE(pc->capabilities);
		rmb();
	} while (READ_ONCE(pc->lock) != seq || (seq & 1));	/* another CPU's page: wait for even */

	if (!(caps & PERF_CAP_USER_TIME_ZERO))
		return false;			/* no conversion offered: give up */
	cyc = perf_read_counter(uc);
	r->cyc = cyc;
	if (caps & PERF_CAP_USER_TIME_SHORT)
		cyc = time_cycles + ((cyc - time_cycles) & time_mask);
	r->timestamp = time_zero + perf_cyc_to_ns(cyc, time_mult, time_shift);
	r->flags = PERF_READ_ZERO;		/* what it computed: a perf-clock timestamp */
	return true;
}

/*
 * PERF_READER(name, read function, reads another CPU's page?, registry
 * fields): the name is what PVFUZZ_VARIANT and ./pvfuzz list show.
 */
PERF_READER(my_perf_reader_fixed, my_perf_time, true,
	.expect = "safe",
	.partner = "perf_writer_arm64",
	.scenario = "the page of an event on another CPU, arm64: sched_clock epoch updates, counter wraps",
	.history = "docs/byo.md worked example, fixed: perf's TSC conversion with every load inside the lock loop")
