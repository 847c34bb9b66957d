// SPDX-License-Identifier: MIT
/*
 * A worked bring-your-own example (docs/byo.md): a vDSO-style kvmclock reader
 * as someone might write it for a patch, against include/pvfuzz/pvclock.h
 * only.  Its author believes it is safe, and says so with .expect = "safe".
 *
 *   ./pvfuzz fuzz pvclock --reader-file examples/my_pvclock_reader.c
 *
 * finds the bug within seconds: the retry test asks "is the version even
 * now?" instead of "is it the version I started with?", so a reader on one
 * vCPU can combine fields of two different records the host published while
 * it was reading (a torn snapshot).  The fixed reader is
 * examples/my_pvclock_reader_fixed.c.
 */
#include "pvfuzz/pvclock.h"

static u64 my_vread_pvclock(struct pvclock_guest *g)
{
	/* Like the vDSO: vCPU 0's record is valid for all when STABLE is set. */
	const struct pvclock_vcpu_time_info *pvti = &g->hv_clock[0].pvti;
	u32 version;
	u64 ret;

	do {
		version = READ_ONCE(pvti->version);
		if (version & 1)
			continue;	/* the host is writing: try again */
		virt_rmb();
		if (unlikely(!(READ_ONCE(pvti->flags) & PVCLOCK_TSC_STABLE_BIT)))
			return PVCLOCK_FALLBACK;	/* use the syscall */
		ret = __pvclock_read_cycles(pvti, rdtsc_ordered());
		virt_rmb();
		/*
		 * THE BUG: "no update in progress now" is not "no update since I
		 * read the version".  The mainline test is
		 * pvclock_read_retry(pvti, version): version != READ_ONCE(pvti->version).
		 */
	} while (unlikely(READ_ONCE(pvti->version) & 1) || (version & 1));

	return ret & S64_MAX;
}

/*
 * PVCLOCK_READER(name, read function, runs in user space?, registry fields):
 * the name is what PVFUZZ_VARIANT and ./pvfuzz list show.
 */
PVCLOCK_READER(my_pvclock_reader, my_vread_pvclock, true,
	.expect = "safe",
	.scenario = "any: the vDSO's situation, vCPU 0's record read from every vCPU",
	.history = "docs/byo.md worked example: vread_pvclock() with an even-version retry test")
