/* SPDX-License-Identifier: MIT */
/*
 * KVM pvclock ABI (arch/x86/include/asm/pvclock-abi.h,
 * Documentation/virt/kvm/x86/msr.rst).  The kernel declares these packed;
 * the natural layout is identical (asserted below) and keeps every field
 * aligned, which the relaxed atomics of the native build need.
 */
#ifndef PVFUZZ_PVCLOCK_ABI_H
#define PVFUZZ_PVCLOCK_ABI_H

#include <assert.h>
#include <stddef.h>

#include "pvfuzz/types.h"

struct pvclock_vcpu_time_info {
	u32 version;
	u32 pad0;
	u64 tsc_timestamp;
	u64 system_time;
	u32 tsc_to_system_mul;
	s8 tsc_shift;
	u8 flags;
	u8 pad[2];
};

struct pvclock_wall_clock {
	u32 version;
	u32 sec;
	u32 nsec;
};

/* The guest's per-vCPU wrapper: one record per cache line (hv_clock_boot). */
struct pvclock_vsyscall_time_info {
	struct pvclock_vcpu_time_info pvti;
} __attribute__((aligned(64)));

#define PVCLOCK_TSC_STABLE_BIT (1 << 0)
#define PVCLOCK_GUEST_STOPPED (1 << 1)
#define PVCLOCK_COUNTS_FROM_ZERO (1 << 2)

#define MSR_KVM_WALL_CLOCK 0x11
#define MSR_KVM_SYSTEM_TIME 0x12
#define MSR_KVM_WALL_CLOCK_NEW 0x4b564d00
#define MSR_KVM_SYSTEM_TIME_NEW 0x4b564d01

/* KVM_HC_CLOCK_PAIRING (ptp_kvm) and its "not supported" answer */
#define KVM_HC_CLOCK_PAIRING 9
#define KVM_EOPNOTSUPP 95

#define HVC_BOOT_ARRAY_SIZE (4096 / sizeof(struct pvclock_vsyscall_time_info))

static_assert(offsetof(struct pvclock_vcpu_time_info, version) == 0, "pvclock ABI");
static_assert(offsetof(struct pvclock_vcpu_time_info, pad0) == 4, "pvclock ABI");
static_assert(offsetof(struct pvclock_vcpu_time_info, tsc_timestamp) == 8, "pvclock ABI");
static_assert(offsetof(struct pvclock_vcpu_time_info, system_time) == 16, "pvclock ABI");
static_assert(offsetof(struct pvclock_vcpu_time_info, tsc_to_system_mul) == 24, "pvclock ABI");
static_assert(offsetof(struct pvclock_vcpu_time_info, tsc_shift) == 28, "pvclock ABI");
static_assert(offsetof(struct pvclock_vcpu_time_info, flags) == 29, "pvclock ABI");
static_assert(offsetof(struct pvclock_vcpu_time_info, pad) == 30, "pvclock ABI");
static_assert(sizeof(struct pvclock_vcpu_time_info) == 32, "pvclock ABI");
static_assert(sizeof(struct pvclock_wall_clock) == 12, "pvclock ABI");
static_assert(sizeof(struct pvclock_vsyscall_time_info) == 64, "one record per cache line");
static_assert(HVC_BOOT_ARRAY_SIZE == 64, "hv_clock_boot holds 64 records");

#endif
