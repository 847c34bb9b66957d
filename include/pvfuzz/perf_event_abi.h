/* SPDX-License-Identifier: MIT */
/*
 * The perf_event mmap control page (include/uapi/linux/perf_event.h, v6.17):
 * the first page of a perf event's mmap, which the kernel rewrites under the
 * `lock` sequence count and user space reads without a system call.  Only the
 * header up to __reserved[] is the time/count protocol; the ring-buffer
 * pointers after it are laid out for completeness (offsets asserted).
 */
#ifndef PVFUZZ_PERF_EVENT_ABI_H
#define PVFUZZ_PERF_EVENT_ABI_H

#include <assert.h>
#include <stddef.h>

#include "pvfuzz/types.h"

struct perf_event_mmap_page {
	u32 version;        /* version number of this structure */
	u32 compat_version; /* lowest version this is compatible with */
	u32 lock;           /* seqcount for the fields below */
	u32 index;          /* hardware event identifier (rdpmc index + 1), 0: none */
	s64 offset;         /* add to the hardware counter value */
	u64 time_enabled;   /* time the event was enabled */
	u64 time_running;   /* time the event was on the PMU */
	union {
		u64 capabilities;
		struct {
			u64 cap_bit0 : 1,               /* always 0, deprecated */
			    cap_bit0_is_deprecated : 1, /* always 1: bit 0 is meaningless */
			    cap_user_rdpmc : 1,         /* rdpmc may be used to read the count */
			    cap_user_time : 1,          /* time_{shift,mult,offset} are valid */
			    cap_user_time_zero : 1,     /* time_zero is valid */
			    cap_user_time_short : 1,    /* time_{cycles,mask} are valid */
			    cap_____res : 58;
		};
	};
	u16 pmc_width;      /* bits of the value rdpmc returns */
	u16 time_shift;
	u32 time_mult;
	u64 time_offset;
	u64 time_zero;
	u32 size;           /* header size up to __reserved[] */
	u32 __reserved_1;
	u64 time_cycles;    /* cap_user_time_short: the counter value time_zero refers to */
	u64 time_mask;      /* cap_user_time_short: the counter's width mask */
	u8 __reserved[116 * 8];
	u64 data_head;
	u64 data_tail;
	u64 data_offset;
	u64 data_size;
	u64 aux_head;
	u64 aux_tail;
	u64 aux_offset;
	u64 aux_size;
};

/*
 * The capability bits as masks of `capabilities`: protocol code reads the
 * word once with READ_ONCE and tests bits, since a bitfield has no address
 * to load from atomically.  tests/unit/test_abi.c checks they match the
 * bitfields above (the x86-64 ABI allocates bitfields from bit 0).
 */
#define PERF_CAP_BIT0_IS_DEPRECATED (1ULL << 1)
#define PERF_CAP_USER_RDPMC (1ULL << 2)
#define PERF_CAP_USER_TIME (1ULL << 3)
#define PERF_CAP_USER_TIME_ZERO (1ULL << 4)
#define PERF_CAP_USER_TIME_SHORT (1ULL << 5)

/* The protocol's part of the page: what a writer rewrites and a generation is. */
#define PERF_PAGE_HDR offsetof(struct perf_event_mmap_page, __reserved)

static_assert(offsetof(struct perf_event_mmap_page, version) == 0, "perf ABI");
static_assert(offsetof(struct perf_event_mmap_page, compat_version) == 4, "perf ABI");
static_assert(offsetof(struct perf_event_mmap_page, lock) == 8, "perf ABI");
static_assert(offsetof(struct perf_event_mmap_page, index) == 12, "perf ABI");
static_assert(offsetof(struct perf_event_mmap_page, offset) == 16, "perf ABI");
static_assert(offsetof(struct perf_event_mmap_page, time_enabled) == 24, "perf ABI");
static_assert(offsetof(struct perf_event_mmap_page, time_running) == 32, "perf ABI");
static_assert(offsetof(struct perf_event_mmap_page, capabilities) == 40, "perf ABI");
static_assert(offsetof(struct perf_event_mmap_page, pmc_width) == 48, "perf ABI");
static_assert(offsetof(struct perf_event_mmap_page, time_shift) == 50, "perf ABI");
static_assert(offsetof(struct perf_event_mmap_page, time_mult) == 52, "perf ABI");
static_assert(offsetof(struct perf_event_mmap_page, time_offset) == 56, "perf ABI");
static_assert(offsetof(struct perf_event_mmap_page, time_zero) == 64, "perf ABI");
static_assert(offsetof(struct perf_event_mmap_page, size) == 72, "perf ABI");
static_assert(offsetof(struct perf_event_mmap_page, time_cycles) == 80, "perf ABI");
static_assert(offsetof(struct perf_event_mmap_page, time_mask) == 88, "perf ABI");
static_assert(offsetof(struct perf_event_mmap_page, __reserved) == 96, "perf ABI");
static_assert(offsetof(struct perf_event_mmap_page, data_head) == 1024, "perf ABI");
static_assert(offsetof(struct perf_event_mmap_page, aux_size) == 1080, "perf ABI");
static_assert(sizeof(struct perf_event_mmap_page) == 1088, "perf ABI");

#endif
