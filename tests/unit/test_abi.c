// SPDX-License-Identifier: MIT
/*
 * ABI layout of the pvclock and Hyper-V structures, checked at run time as
 * well as by the headers' static_asserts: offsets against the kernel's
 * packed declarations, byte positions of stored fields (little-endian, no
 * padding) and the array strides guests rely on.
 *
 *   gcc -std=gnu11 -Iinclude -Isrc -DPVFUZZ_SIM tests/unit/test_abi.c
 */
#include <stdio.h>
#include <string.h>

#include "pvfuzz/hyperv_abi.h"
#include "pvfuzz/pvclock_abi.h"

#include "check.h"

/* The kernel's declarations (arch/x86/include/asm/pvclock-abi.h): packed. */
struct k_pvclock_vcpu_time_info {
	u32 version;
	u32 pad0;
	u64 tsc_timestamp;
	u64 system_time;
	u32 tsc_to_system_mul;
	s8 tsc_shift;
	u8 flags;
	u8 pad[2];
} __attribute__((__packed__));

struct k_pvclock_wall_clock {
	u32 version;
	u32 sec;
	u32 nsec;
} __attribute__((__packed__));

/* include/hyperv/hvgdk_mini.h: struct ms_hyperv_tsc_page, packed */
struct k_ms_hyperv_tsc_page {
	volatile u32 tsc_sequence;
	u32 reserved1;
	volatile u64 tsc_scale;
	volatile s64 tsc_offset;
	u64 reserved2[509];
} __attribute__((__packed__));

/* Where a field's bytes land when the struct is stored: offset, size, little-endian. */
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

int main(void)
{
	/* pvclock_vcpu_time_info: 32 bytes, clock-protocols.md 1.1 */
	CHECK_EQ(sizeof(struct pvclock_vcpu_time_info), 32);
	CHECK_EQ(sizeof(struct k_pvclock_vcpu_time_info), 32);
	CHECK_EQ(offsetof(struct pvclock_vcpu_time_info, version), 0);
	CHECK_EQ(offsetof(struct pvclock_vcpu_time_info, pad0), 4);
	CHECK_EQ(offsetof(struct pvclock_vcpu_time_info, tsc_timestamp), 8);
	CHECK_EQ(offsetof(struct pvclock_vcpu_time_info, system_time), 16);
	CHECK_EQ(offsetof(struct pvclock_vcpu_time_info, tsc_to_system_mul), 24);
	CHECK_EQ(offsetof(struct pvclock_vcpu_time_info, tsc_shift), 28);
	CHECK_EQ(offsetof(struct pvclock_vcpu_time_info, flags), 29);
	CHECK_EQ(offsetof(struct pvclock_vcpu_time_info, pad), 30);
#define SAME(f) CHECK_EQ(offsetof(struct pvclock_vcpu_time_info, f), offsetof(struct k_pvclock_vcpu_time_info, f))
	SAME(version);
	SAME(pad0);
	SAME(tsc_timestamp);
	SAME(system_time);
	SAME(tsc_to_system_mul);
	SAME(tsc_shift);
	SAME(flags);
	SAME(pad);
#undef SAME

	struct pvclock_vcpu_time_info p;
#define STORE(f, v, off, n)                                                   \
	do {                                                                  \
		memset(&p, 0, sizeof(p));                                     \
		p.f = (v);                                                    \
		check_bytes(&p, sizeof(p), off, n, (u64)(v), #f);             \
	} while (0)
	STORE(version, 0x01020304u, 0, 4);
	STORE(pad0, 0x05060708u, 4, 4);
	STORE(tsc_timestamp, 0x1112131415161718ULL, 8, 8);
	STORE(system_time, 0x2122232425262728ULL, 16, 8);
	STORE(tsc_to_system_mul, 0x31323334u, 24, 4);
	STORE(tsc_shift, (s8)-2, 28, 1);
	STORE(flags, PVCLOCK_TSC_STABLE_BIT | PVCLOCK_GUEST_STOPPED, 29, 1);
#undef STORE
	/* the guest's signed shift: -2 is 0xfe on the wire */
	memset(&p, 0, sizeof(p));
	((u8 *)&p)[28] = 0xfe;
	CHECK(p.tsc_shift == -2, "tsc_shift byte 0xfe reads %d", p.tsc_shift);

	CHECK_EQ(PVCLOCK_TSC_STABLE_BIT, 1);
	CHECK_EQ(PVCLOCK_GUEST_STOPPED, 2);
	CHECK_EQ(PVCLOCK_COUNTS_FROM_ZERO, 4);
	CHECK_EQ(MSR_KVM_WALL_CLOCK_NEW, 0x4b564d00);
	CHECK_EQ(MSR_KVM_SYSTEM_TIME_NEW, 0x4b564d01);
	CHECK_EQ(MSR_KVM_WALL_CLOCK, 0x11);
	CHECK_EQ(MSR_KVM_SYSTEM_TIME, 0x12);

	/* pvclock_wall_clock: 12 bytes */
	CHECK_EQ(sizeof(struct pvclock_wall_clock), 12);
	CHECK_EQ(sizeof(struct k_pvclock_wall_clock), 12);
	CHECK_EQ(offsetof(struct pvclock_wall_clock, version), 0);
	CHECK_EQ(offsetof(struct pvclock_wall_clock, sec), 4);
	CHECK_EQ(offsetof(struct pvclock_wall_clock, nsec), 8);

	/* hv_clock_boot[]: one record per 64-byte line, 64 records per page */
	static struct pvclock_vsyscall_time_info boot[HVC_BOOT_ARRAY_SIZE];
	CHECK_EQ(sizeof(struct pvclock_vsyscall_time_info), 64);
	CHECK_EQ(_Alignof(struct pvclock_vsyscall_time_info), 64);
	CHECK_EQ(HVC_BOOT_ARRAY_SIZE, 64);
	CHECK_EQ(sizeof(boot), 4096);
	CHECK_EQ((const u8 *)&boot[1].pvti - (const u8 *)&boot[0].pvti, 64);
	CHECK_EQ((const u8 *)&boot[63].pvti.flags - (const u8 *)boot, 63 * 64 + 29);
	CHECK_EQ((uintptr_t)&boot[0] % 64, 0);

	/* Hyper-V reference TSC page: one 4 KiB page */
	CHECK_EQ(sizeof(struct ms_hyperv_tsc_page), 4096);
	CHECK_EQ(sizeof(struct k_ms_hyperv_tsc_page), 4096);
	CHECK_EQ(offsetof(struct ms_hyperv_tsc_page, tsc_sequence), 0);
	CHECK_EQ(offsetof(struct ms_hyperv_tsc_page, reserved1), 4);
	CHECK_EQ(offsetof(struct ms_hyperv_tsc_page, tsc_scale), 8);
	CHECK_EQ(offsetof(struct ms_hyperv_tsc_page, tsc_offset), 16);
	CHECK_EQ(offsetof(struct ms_hyperv_tsc_page, reserved2), 24);
	CHECK_EQ(offsetof(struct k_ms_hyperv_tsc_page, tsc_scale), 8);
	CHECK_EQ(offsetof(struct k_ms_hyperv_tsc_page, tsc_offset), 16);
	static struct ms_hyperv_tsc_page page;
	memset(&page, 0, sizeof(page));
	page.tsc_scale = 0x0102030405060708ULL;
	check_bytes(&page, sizeof(page), 8, 8, 0x0102030405060708ULL, "tsc_scale");
	memset(&page, 0, sizeof(page));
	page.tsc_offset = -2;
	check_bytes(&page, sizeof(page), 16, 8, (u64)-2, "tsc_offset");
	memset(&page, 0, sizeof(page));
	page.tsc_sequence = 0xfffffffeu;
	check_bytes(&page, sizeof(page), 0, 4, 0xfffffffeu, "tsc_sequence");
	CHECK_EQ(HV_REFERENCE_TSC_SEQUENCE_INVALID, 0);
	CHECK_EQ(HV_X64_MSR_TIME_REF_COUNT, 0x40000020);
	CHECK_EQ(HV_X64_MSR_REFERENCE_TSC, 0x40000021);

	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
