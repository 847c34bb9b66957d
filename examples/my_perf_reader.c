// SPDX-License-Identifier: MIT
/*
 * A worked bring-your-own example (docs/byo.md): a perf "TSC to perf time"
 * conversion as a tracing tool might write it, against
 * include/pvfuzz/perf_time.h only.  It reads the mmap page of an event on
 * another CPU, like tools/perf/util/tsc.c, but its author moved the load of
 * time_zero after the lock loop ("it only moves when the clock is reset")
 * and believes it is safe: .expect = "safe".  It is meant for arm64, where
 * time_zero moves with every sched_clock epoch update: .partner names the
 * arm64 writer, so the mainline pairing is that one.
 *
 *   ./pvfuzz fuzz perf_time --reader-file examples/my_perf_reader.c
 *
 * finds the bug (libFuzzer seed 1: after 91,690 executions): an epoch
 * update between the loop's last check and the load pairs the new
 * time_zero with the old time_cycles, and the timestamp jumps by a whole
 * epoch.  The fixed reader is
 * examples/my_perf_reader_fixed.c.
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
		time_cycles = READ_ONCE(pc->time_cycles);
		time_mask = READ_ONCE(pc->time_mask);
		caps = READ_ONCE(pc->capabilities);
		rmb();
	} while (READ_ONCE(pc->lock) != seq || (seq & 1));	/* another CPU's page: wait for even */
	/*
	 * THE BUG: time_zero belongs to the snapshot; perf_read_tsc_conversion()
	 * loads it inside the loop.
	 */
	time_zero = READ_ONCE(pc->time_zero);

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
PERF_READER(my_perf_reader, my_perf_time, true,
	.expect = "safe",
	.partner = "perf_writer_arm64",
	.scenario = "the page of an event on another CPU, arm64: sched_clock epoch updates, counter wraps",
	.history = "docs/byo.md worked example: perf's TSC conversion with time_zero loaded after the lock loop")
