// SPDX-License-Identifier: MIT
/*
 * ABI layout of struct perf_event_mmap_page (include/uapi/linux/perf_event.h),
 * checked at run time as well as by the header's static_asserts: field
 * offsets, the byte positions of stored fields, and that the capability
 * masks protocol code tests are the uapi bitfields.
 *
 *   gcc -std=gnu11 -Iinclude -Isrc tests/unit/test_abi_perf.c
 */
#include <stdio.h>
#include <string.h>

#include "pvfuzz/perf_event_abi.h"

#include "check.h"

static void check_bytes(const void *base, size_t size, size_t off, size_t n, u64 v, const char *what)
{
	const u8 *b = base;
	bool ok = off + n <= size;
	for (size_t i = 0; ok && i < n; i++)
		ok = b[off + i] == (u8)(v >> (8 * i));
	for (size_t i = 0; ok && i < size; i++)
		if (i < off || i >= off + n)
			ok = b[i] == 0;
	CHECK(ok, "%s: bytes not at [%zu, %zu) little-endian", what, off, off + n);
}

static struct perf_event_mmap_page pg;

int main(void)
{
	CHECK_EQ(sizeof(pg), 1088);
	CHECK_EQ(PERF_PAGE_HDR, 96);
	CHECK_EQ(offsetof(struct perf_event_mmap_page, lock), 8);
	CHECK_EQ(offsetof(struct perf_event_mmap_page, index), 12);
	CHECK_EQ(offsetof(struct perf_event_mmap_page, offset), 16);
	CHECK_EQ(offsetof(struct perf_event_mmap_page, time_enabled), 24);
	CHECK_EQ(offsetof(struct perf_event_mmap_page, time_running), 32);
	CHECK_EQ(offsetof(struct perf_event_mmap_page, capabilities), 40);
	CHECK_EQ(offsetof(struct perf_event_mmap_page, pmc_width), 48);
	CHECK_EQ(offsetof(struct perf_event_mmap_page, time_shift), 50);
	CHECK_EQ(offsetof(struct perf_event_mmap_page, time_mult), 52);
	CHECK_EQ(offsetof(struct perf_event_mmap_page, time_offset), 56);
	CHECK_EQ(offsetof(struct perf_event_mmap_page, time_zero), 64);
	CHECK_EQ(offsetof(struct perf_event_mmap_page, size), 72);
	CHECK_EQ(offsetof(struct perf_event_mmap_page, time_cycles), 80);
	CHECK_EQ(offsetof(struct perf_event_mmap_page, time_mask), 88);
	CHECK_EQ(offsetof(struct perf_event_mmap_page, data_head), 1024);
	CHECK_EQ(offsetof(struct perf_event_mmap_page, data_tail), 1032);
	CHECK_EQ(offsetof(struct perf_event_mmap_page, data_offset), 1040);
	CHECK_EQ(offsetof(struct perf_event_mmap_page, data_size), 1048);
	CHECK_EQ(offsetof(struct perf_event_mmap_page, aux_head), 1056);
	CHECK_EQ(offsetof(struct perf_event_mmap_page, aux_size), 1080);

#define STORE(f, v, off, n)                                                   \
	do {                                                                  \
		memset(&pg, 0, sizeof(pg));                                   \
		pg.f = (v);                                                   \
		check_bytes(&pg, sizeof(pg), off, n, (u64)(v), #f);           \
	} while (0)
	STORE(lock, 0x01020304u, 8, 4);
	STORE(index, 0x05060708u, 12, 4);
	STORE(offset, -2, 16, 8);
	STORE(time_enabled, 0x1112131415161718ULL, 24, 8);
	STORE(time_running, 0x2122232425262728ULL, 32, 8);
	STORE(pmc_width, 0x3132, 48, 2);
	STORE(time_shift, 0x3334, 50, 2);
	STORE(time_mult, 0x35363738u, 52, 4);
	STORE(time_offset, 0x4142434445464748ULL, 56, 8);
	STORE(time_zero, 0x5152535455565758ULL, 64, 8);
	STORE(time_cycles, 0x6162636465666768ULL, 80, 8);
	STORE(time_mask, 0x7172737475767778ULL, 88, 8);
#undef STORE

	/* the capability masks are the uapi bitfields, bit 0 upward */
#define CAP(field, mask)                                                      \
	do {                                                                  \
		memset(&pg, 0, sizeof(pg));                                   \
		pg.field = 1;                                                 \
		CHECK(pg.capabilities == (mask), "%s sets %#llx, want %#llx", #field, \
		      (unsigned long long)pg.capabilities, (unsigned long long)(mask)); \
	} while (0)
	CAP(cap_bit0, 1ULL << 0);
	CAP(cap_bit0_is_deprecated, PERF_CAP_BIT0_IS_DEPRECATED);
	CAP(cap_user_rdpmc, PERF_CAP_USER_RDPMC);
	CAP(cap_user_time, PERF_CAP_USER_TIME);
	CAP(cap_user_time_zero, PERF_CAP_USER_TIME_ZERO);
	CAP(cap_user_time_short, PERF_CAP_USER_TIME_SHORT);
	CAP(cap_____res, 1ULL << 6);
#undef CAP
	memset(&pg, 0, sizeof(pg));
	pg.capabilities = PERF_CAP_USER_TIME | PERF_CAP_USER_TIME_SHORT;
	CHECK(pg.cap_user_time && pg.cap_user_time_short && !pg.cap_user_time_zero && !pg.cap_user_rdpmc,
	      "capabilities %#llx read back through the bitfields", (unsigned long long)pg.capabilities);
	check_bytes(&pg, sizeof(pg), 40, 8, PERF_CAP_USER_TIME | PERF_CAP_USER_TIME_SHORT, "capabilities");

	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
