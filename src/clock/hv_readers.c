// SPDX-License-Identifier: MIT
/*
 * Hyper-V reference TSC page readers: the mainline guest reader and the
 * historical / mutated readers of known-bugs.md.  Each reads like the kernel
 * code it models (include/clocksource/hyperv_timer.h).  A reader returns
 * false when the page is invalid; the caller then reads the MSR.
 */
#include "pvfuzz/hv_tscpage.h"

/* ---------------------------------------------------------- mainline -- */

/*
 * hv_read_tsc_page_tsc(): sequence 0 means "the page is invalid, use the
 * MSR"; otherwise the sequence must be the same before and after the data
 * and the TSC.
 */
static bool hv_read_tsc_page_tsc(const struct ms_hyperv_tsc_page *tsc_pg, u64 *cur_tsc, u64 *time)
{
	u64 scale, offset;
	u32 sequence;

	/*
	 * The protocol for reading Hyper-V TSC page is specified in Hypervisor
	 * Top-Level Functional Specification ver. 3.0 and above.  To get the
	 * reference time we must do the following:
	 * - READ ReferenceTscSequence
	 *   A special '0' value indicates the time source is unreliable and we
	 *   need to use something else.
	 * - ReferenceTime = ((RDTSC() * ReferenceTscScale) >> 64) + ReferenceTscOffset
	 * - READ ReferenceTscSequence again.  In case its value has changed
	 *   since our first reading we need to discard ReferenceTime and repeat
	 *   the whole sequence as the hypervisor was updating the page in
	 *   between.
	 */
	do {
		sequence = READ_ONCE(tsc_pg->tsc_sequence);
		if (!sequence)
			return false;
		/*
		 * Make sure we read sequence before we read other values from
		 * TSC page.
		 */
		smp_rmb();

		scale = READ_ONCE(tsc_pg->tsc_scale);
		offset = READ_ONCE(tsc_pg->tsc_offset);
		*cur_tsc = rdtsc_ordered(); /* hv_get_raw_timer() */

		/*
		 * Make sure we read sequence after we read all other values
		 * from TSC page.
		 */
		smp_rmb();
	} while (READ_ONCE(tsc_pg->tsc_sequence) != sequence);

	*time = mul_u64_u64_shr(*cur_tsc, scale, 64) + offset;
	return true;
}

HV_READER(hv_reader_mainline, hv_read_tsc_page_tsc,
	.flags = PV_MAINLINE,
	.expect = "safe",
	.scenario = "any: masterclock updates, KVM_SET_CLOCK, STABLE loss, reenlightenment opt-in, "
		"migration, host preemption",
	.history = "mainline hv_read_tsc_page_tsc(): seq 0 -> MSR, smp_rmb, rdtsc_ordered, seq re-check "
		"(include/clocksource/hyperv_timer.h, v6.17)")

/* -------------------------------------------------------- historical -- */

/*
 * The Feb 2017 v2 vDSO reader ("x86/vdso: Add Hyper-V TSC page clocksource
 * support"): only virt_rmb() and a plain rdtsc().  Andy Lutomirski asked for
 * rdtsc_ordered(); the merged version has it.
 */
static bool hv_read_tsc_page_2017_v2(const struct ms_hyperv_tsc_page *tsc_pg, u64 *cur_tsc, u64 *time)
{
	u64 scale, offset, current_tick;
	u32 sequence;

	do {
		sequence = READ_ONCE(tsc_pg->tsc_sequence);
		if (sequence == 0)
			return false; /* U64_MAX: fall back */
		virt_rmb();

		scale = READ_ONCE(tsc_pg->tsc_scale);
		offset = READ_ONCE(tsc_pg->tsc_offset);
		current_tick = rdtsc(); /* not ordered against the loads above */

		virt_rmb();
	} while (READ_ONCE(tsc_pg->tsc_sequence) != sequence);

	*cur_tsc = current_tick;
	*time = mul_u64_u64_shr(current_tick, scale, 64) + offset;
	return true;
}

HV_READER(hv_reader_2017_v2, hv_read_tsc_page_2017_v2,
	.expect = "linearizable",
	.scenario = "TSC hoisting on (SIM_MODE_HOIST): the plain RDTSC completes before loads issued "
		"since the last serialising instruction - in the model up to 4, here those of the "
		"reader's previous page read - so a read that began after another vCPU's read "
		"returned returns an earlier time.  Within one read it is harmless against KVM: the "
		"formula is absolute (no negative delta) and the TSC is never older than the seq load",
	.history = "[PATCH v2] x86/vdso: Add Hyper-V TSC page clocksource support (Vitaly Kuznetsov, "
		"Feb 2017): virt_rmb() and plain rdtsc(); review: \"You need rdtsc_ordered()\" "
		"(seed 000_9dc584e861d91ce4)")

/*
 * CLK-11: a reader coded to TLFS <= 4.0b, which named 0xFFFFFFFF the invalid
 * sequence: it takes 0 for a valid page and computes with whatever the page
 * holds (zeros before the first update, or the data being rewritten).
 */
static bool hv_read_tsc_page_tlfs40b(const struct ms_hyperv_tsc_page *tsc_pg, u64 *cur_tsc, u64 *time)
{
	u64 scale, offset;
	u32 sequence;

	do {
		sequence = READ_ONCE(tsc_pg->tsc_sequence);
		if (sequence == 0xFFFFFFFF) /* the spec's mistake */
			return false;
		smp_rmb();

		scale = READ_ONCE(tsc_pg->tsc_scale);
		offset = READ_ONCE(tsc_pg->tsc_offset);
		*cur_tsc = rdtsc_ordered();

		smp_rmb();
	} while (READ_ONCE(tsc_pg->tsc_sequence) != sequence);

	*time = mul_u64_u64_shr(*cur_tsc, scale, 64) + offset;
	return true;
}

HV_READER(hv_reader_tlfs_invalid_ffffffff, hv_read_tsc_page_tlfs40b,
	.bug = "CLK-11",
	.expect = "fallback|plausibility",
	.scenario = "KVM invalidates the page with seq 0 while it rewrites it (or leaves it at 0 when "
		"the computation fails); the reader takes 0 for valid and computes from the page",
	.history = "reader coded to TLFS <= 4.0b, which wrongly called 0xFFFFFFFF the invalid "
		"sequence (c35b82ef0294, cited in include/clocksource/hyperv_timer.h)")

/* CLK-S4: the sequence is re-checked, but 0 is not treated as invalid. */
static bool hv_read_tsc_page_no_zero_check(const struct ms_hyperv_tsc_page *tsc_pg, u64 *cur_tsc,
					   u64 *time)
{
	u64 scale, offset;
	u32 sequence;

	do {
		sequence = READ_ONCE(tsc_pg->tsc_sequence); /* the mutation: no "if (!sequence)" */
		smp_rmb();

		scale = READ_ONCE(tsc_pg->tsc_scale);
		offset = READ_ONCE(tsc_pg->tsc_offset);
		*cur_tsc = rdtsc_ordered();

		smp_rmb();
	} while (READ_ONCE(tsc_pg->tsc_sequence) != sequence);

	*time = mul_u64_u64_shr(*cur_tsc, scale, 64) + offset;
	return true;
}

HV_READER(hv_reader_no_zero_check, hv_read_tsc_page_no_zero_check,
	.bug = "CLK-S4",
	.expect = "fallback",
	.scenario = "a read starts and ends while KVM holds the sequence at 0 (rewriting the page, or "
		"BROKEN after a failed computation): the reader computes instead of using the MSR",
	.history = "synthetic mutation of hv_read_tsc_page_tsc(): no seq == 0 bail-out")
