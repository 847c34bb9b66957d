// SPDX-License-Identifier: MIT
/*
 * ABI layout of the generic vDSO data page (include/vdso/datapage.h as
 * x86-64 builds it, CONFIG_GENERIC_VDSO_OVERFLOW_PROTECT=y), checked at run
 * time as well as by the header's static_asserts, and the clock id masks
 * lib/vdso/gettimeofday.c dispatches on.
 *
 *   gcc -std=gnu11 -Iinclude -Isrc tests/unit/test_abi_vdso.c
 */
#include <stdio.h>
#include <string.h>

#include "pvfuzz/vdso_datapage.h"

#include "check.h"

static struct vdso_time_data vd;

int main(void)
{
	CHECK_EQ(VDSO_BASES, 12);
	CHECK_EQ(CS_BASES, 2);
	CHECK_EQ(sizeof(struct vdso_timestamp), 16);
	CHECK_EQ(offsetof(struct vdso_clock, seq), 0);
	CHECK_EQ(offsetof(struct vdso_clock, clock_mode), 4);
	CHECK_EQ(offsetof(struct vdso_clock, cycle_last), 8);
	CHECK_EQ(offsetof(struct vdso_clock, max_cycles), 16);
	CHECK_EQ(offsetof(struct vdso_clock, mask), 24);
	CHECK_EQ(offsetof(struct vdso_clock, mult), 32);
	CHECK_EQ(offsetof(struct vdso_clock, shift), 36);
	CHECK_EQ(offsetof(struct vdso_clock, basetime), 40);
	CHECK_EQ(offsetof(struct vdso_clock, offset), 40);
	CHECK_EQ(sizeof(struct vdso_clock), 232);
	/* basetime[] is indexed by clock id: MONOTONIC_RAW lives in the RAW base at index 4 */
	CHECK_EQ(offsetof(struct vdso_clock, basetime[CLOCK_MONOTONIC_RAW]), 40 + 4 * 16);
	CHECK_EQ(offsetof(struct vdso_clock, basetime[CLOCK_TAI]), 40 + 11 * 16);
	CHECK_EQ(offsetof(struct vdso_time_data, clock_data[CS_RAW]), 232);
	CHECK_EQ(offsetof(struct vdso_time_data, aux_clock_data), 464);
	CHECK_EQ(offsetof(struct vdso_time_data, tz_minuteswest), 2320);
	CHECK_EQ(offsetof(struct vdso_time_data, tz_dsttime), 2324);
	CHECK_EQ(offsetof(struct vdso_time_data, hrtimer_res), 2328);
	CHECK_EQ(_Alignof(struct vdso_time_data), 64);

	/* stored bytes: little-endian, where the kernel puts them */
	memset(&vd, 0, sizeof(vd));
	vd.clock_data[CS_HRES_COARSE].basetime[CLOCK_MONOTONIC].nsec = 0x0102030405060708ULL;
	const u8 *b = (const u8 *)&vd;
	CHECK(b[40 + 16 + 8] == 0x08 && b[40 + 16 + 15] == 0x01, "basetime[MONOTONIC].nsec bytes");
	vd.clock_data[CS_RAW].seq = 0x11223344u;
	CHECK(b[232] == 0x44 && b[235] == 0x11, "clock_data[CS_RAW].seq bytes");

	/* the dispatch masks of lib/vdso/gettimeofday.c */
	CHECK_EQ(VDSO_HRES, (1u << 0) | (1u << 1) | (1u << 7) | (1u << 11));
	CHECK_EQ(VDSO_COARSE, (1u << 5) | (1u << 6));
	CHECK_EQ(VDSO_RAW, 1u << 4);
	CHECK_EQ(CLOCK_AUX_LAST, 23);

	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
