/* SPDX-License-Identifier: MIT */
/*
 * Hyper-V reference TSC page (include/hyperv/hvgdk_mini.h; MSDN
 * HV_REFERENCE_TSC_PAGE).  ReferenceTime = ((tsc * scale) >> 64) + offset,
 * in 100 ns units.  tsc_sequence 0 means invalid: use the MSR.
 */
#ifndef PVFUZZ_HYPERV_ABI_H
#define PVFUZZ_HYPERV_ABI_H

#include <assert.h>
#include <stddef.h>

#include "pvfuzz/types.h"

struct ms_hyperv_tsc_page {
	u32 tsc_sequence;
	u32 reserved1;
	u64 tsc_scale;
	s64 tsc_offset;
	u64 reserved2[509];
};

#define HV_X64_MSR_TIME_REF_COUNT 0x40000020
#define HV_X64_MSR_REFERENCE_TSC 0x40000021
#define HV_X64_MSR_TSC_FREQUENCY 0x40000022
#define HV_X64_MSR_REENLIGHTENMENT_CONTROL 0x40000106
#define HV_X64_MSR_TSC_EMULATION_CONTROL 0x40000107
#define HV_X64_MSR_TSC_EMULATION_STATUS 0x40000108
#define HV_X64_MSR_TSC_INVARIANT_CONTROL 0x40000118

#define HV_REFERENCE_TSC_SEQUENCE_INVALID 0x00000000u

static_assert(offsetof(struct ms_hyperv_tsc_page, tsc_sequence) == 0, "HV ABI");
static_assert(offsetof(struct ms_hyperv_tsc_page, reserved1) == 4, "HV ABI");
static_assert(offsetof(struct ms_hyperv_tsc_page, tsc_scale) == 8, "HV ABI");
static_assert(offsetof(struct ms_hyperv_tsc_page, tsc_offset) == 16, "HV ABI");
static_assert(offsetof(struct ms_hyperv_tsc_page, reserved2) == 24, "HV ABI");
static_assert(sizeof(struct ms_hyperv_tsc_page) == 4096, "HV ABI: one page");

#endif
