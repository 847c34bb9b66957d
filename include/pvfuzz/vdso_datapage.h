/* SPDX-License-Identifier: MIT */
/*
 * The generic vDSO data page (include/vdso/datapage.h, v6.17 naming) as
 * x86-64 builds it: CONFIG_GENERIC_VDSO_OVERFLOW_PROTECT=y (max_cycles is
 * there), an empty arch part, time namespaces and aux clocks laid out but
 * not modelled.  The kernel writes it under each vdso_clock's seq from
 * update_vsyscall(); user space reads it from __cvdso_clock_gettime().
 */
#ifndef PVFUZZ_VDSO_DATAPAGE_H
#define PVFUZZ_VDSO_DATAPAGE_H

#include <assert.h>
#include <stddef.h>

#include "pvfuzz/types.h"

/* include/uapi/linux/time.h */
typedef int clockid_t;
#define CLOCK_REALTIME 0
#define CLOCK_MONOTONIC 1
#define CLOCK_PROCESS_CPUTIME_ID 2
#define CLOCK_THREAD_CPUTIME_ID 3
#define CLOCK_MONOTONIC_RAW 4
#define CLOCK_REALTIME_COARSE 5
#define CLOCK_MONOTONIC_COARSE 6
#define CLOCK_BOOTTIME 7
#define CLOCK_REALTIME_ALARM 8
#define CLOCK_BOOTTIME_ALARM 9
#define CLOCK_TAI 11
#define CLOCK_AUX 16
#define MAX_AUX_CLOCKS 8
#define CLOCK_AUX_LAST (CLOCK_AUX + MAX_AUX_CLOCKS - 1)

/* include/vdso/datapage.h */
#define VDSO_BASES (CLOCK_TAI + 1)
#define VDSO_HRES ((1U << CLOCK_REALTIME) | (1U << CLOCK_MONOTONIC) | (1U << CLOCK_BOOTTIME) | \
		   (1U << CLOCK_TAI))
#define VDSO_COARSE ((1U << CLOCK_REALTIME_COARSE) | (1U << CLOCK_MONOTONIC_COARSE))
#define VDSO_RAW (1U << CLOCK_MONOTONIC_RAW)

#define CS_HRES_COARSE 0
#define CS_RAW 1
#define CS_BASES (CS_RAW + 1)

struct vdso_timestamp {
	u64 sec;
	u64 nsec; /* shifted left by the clock's shift for the hres bases, plain ns for coarse */
};

struct timens_offset {
	s64 sec;
	u64 nsec;
};

struct vdso_clock {
	u32 seq;
	s32 clock_mode;
	u64 cycle_last;
	u64 max_cycles; /* CONFIG_GENERIC_VDSO_OVERFLOW_PROTECT */
	u64 mask;
	u32 mult;
	u32 shift;
	union {
		struct vdso_timestamp basetime[VDSO_BASES];
		struct timens_offset offset[VDSO_BASES];
	};
};

/* x86's struct arch_vdso_time_data is empty */
struct vdso_time_data {
	struct vdso_clock clock_data[CS_BASES];
	struct vdso_clock aux_clock_data[MAX_AUX_CLOCKS];
	s32 tz_minuteswest;
	s32 tz_dsttime;
	u32 hrtimer_res;
	u32 __unused;
} __attribute__((aligned(64)));

static_assert(offsetof(struct vdso_clock, seq) == 0, "vdso ABI");
static_assert(offsetof(struct vdso_clock, clock_mode) == 4, "vdso ABI");
static_assert(offsetof(struct vdso_clock, cycle_last) == 8, "vdso ABI");
static_assert(offsetof(struct vdso_clock, max_cycles) == 16, "vdso ABI");
static_assert(offsetof(struct vdso_clock, mask) == 24, "vdso ABI");
static_assert(offsetof(struct vdso_clock, mult) == 32, "vdso ABI");
static_assert(offsetof(struct vdso_clock, shift) == 36, "vdso ABI");
static_assert(offsetof(struct vdso_clock, basetime) == 40, "vdso ABI");
static_assert(sizeof(struct vdso_timestamp) == 16, "vdso ABI");
static_assert(sizeof(struct vdso_clock) == 40 + VDSO_BASES * 16, "vdso ABI: basetime spans 40-231");
static_assert(offsetof(struct vdso_time_data, aux_clock_data) == 2 * sizeof(struct vdso_clock), "vdso ABI");
static_assert(offsetof(struct vdso_time_data, tz_minuteswest) == 10 * sizeof(struct vdso_clock), "vdso ABI");
static_assert(offsetof(struct vdso_time_data, hrtimer_res) == 10 * sizeof(struct vdso_clock) + 8, "vdso ABI");

#endif
