// SPDX-License-Identifier: MIT
/*
 * The fixed version of examples/my_pvclock_reader.c (docs/byo.md): the retry
 * test compares with the version the read started from, using the mainline
 * helpers pvclock_read_begin() / pvclock_read_retry() from pvclock.h.
 *
 *   ./pvfuzz fuzz pvclock --reader-file examples/my_pvclock_reader_fixed.c
 *
 * runs its whole budget without a finding and exits 0.
 */
#include "pvfuzz/pvclock.h"

static u64 my_vread_pvclock_fixed(struct pvclock_guest *g)
{
	const struct pvclock_vcpu_time_info *pvti = &g->hv_clock[0].pvti;
	u32 version;
	u64 ret;

	do {
		version = pvclock_read_begin(pvti);	/* version & ~1, then virt_rmb() */
		if (unlikely(!(READ_ONCE(pvti->flags) & PVCLOCK_TSC_STABLE_BIT)))
			return PVCLOCK_FALLBACK;
		ret = __pvclock_read_cycles(pvti, rdtsc_ordered());
	} while (pvclock_read_retry(pvti, version));	/* virt_rmb(), then version changed? */

	return ret & S64_MAX;
}

PVCLOCK_READER(my_pvclock_reader_fixed, my_vread_pvclock_fixed, true,
	.expect = "safe",
	.scenario = "any: the vDSO's situation, vCPU 0's record read from every vCPU",
	.history = "docs/byo.md worked example, fixed: pvclock_read_begin()/pvclock_read_retry()")
