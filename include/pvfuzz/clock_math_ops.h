/* SPDX-License-Identifier: MIT */
/*
 * The clock_math protocol: the time-scaling arithmetic of the kernel and KVM
 * as a set of replaceable operations, so a variant (built in, or a user's
 * own file) can swap one computation and the clock_math target compares it,
 * bit for bit, with the unsigned __int128 references (CO4).
 *
 * Include only this header in a variant file.  A NULL operation means
 * "mainline" (the functions of clock_math.h).
 */
#ifndef PVFUZZ_CLOCK_MATH_OPS_H
#define PVFUZZ_CLOCK_MATH_OPS_H

#include "pvfuzz/clock_math.h"
#include "pvfuzz/variant.h"

struct clock_math_ops {
	/* arch/x86/include/asm/pvclock.h */
	u64 (*scale_delta)(u64 delta, u32 mul_frac, int shift);
	/* include/linux/math64.h */
	u64 (*mul_u64_u64_shr)(u64 a, u64 mul, unsigned int shift);
	u64 (*mul_u64_u32_div)(u64 a, u32 mul, u32 divisor);
	/* arch/x86/kvm/x86.c */
	u32 (*div_frac)(u32 dividend, u32 divisor);
	void (*get_time_scale)(u64 scaled_hz, u64 base_hz, s8 *pshift, u32 *pmultiplier);
	u64 (*kvmclock_base)(const struct kvm_gtod_data *gtod, u64 tsc);
	/* arch/x86/kvm/hyperv.c */
	bool (*tsc_page_parameters)(const struct pvclock_vcpu_time_info *hv_clock, u64 *scale,
				    s64 *offset);
};

/* Every NULL operation of *ops becomes the mainline one. */
static inline void clock_math_fill(struct clock_math_ops *ops)
{
	if (!ops->scale_delta)
		ops->scale_delta = pvclock_scale_delta;
	if (!ops->mul_u64_u64_shr)
		ops->mul_u64_u64_shr = mul_u64_u64_shr;
	if (!ops->mul_u64_u32_div)
		ops->mul_u64_u32_div = mul_u64_u32_div;
	if (!ops->div_frac)
		ops->div_frac = div_frac;
	if (!ops->get_time_scale)
		ops->get_time_scale = kvm_get_time_scale;
	if (!ops->kvmclock_base)
		ops->kvmclock_base = do_kvmclock_base;
	if (!ops->tsc_page_parameters)
		ops->tsc_page_parameters = compute_tsc_page_parameters;
}

/*
 * Registration for variant files: CLOCK_MATH_VARIANT(name, ops, .expect = ...,
 * .bug = ..., .history = ..., .scenario = ...).
 */
#define CLOCK_MATH_VARIANT(var, ops_, ...)                                    \
	static const struct pv_variant var = {                                \
		.name = #var, .protocol = PV_CLOCK_MATH, .role = PV_READER,   \
		.ops = &(ops_), .file = __FILE__, __VA_ARGS__                 \
	};                                                                    \
	PV_REGISTER(var)

/* ---- references written without the kernel's shortcuts ---- */

/* 64x64 -> 128 by 32-bit limbs, so it does not share code with the model. */
static inline void ref_mul_64x64(u64 a, u64 b, u64 *hi, u64 *lo)
{
	u64 a0 = (u32)a, a1 = a >> 32, b0 = (u32)b, b1 = b >> 32;
	u64 p00 = a0 * b0, p01 = a0 * b1, p10 = a1 * b0, p11 = a1 * b1;
	u64 mid = (p00 >> 32) + (u32)p01 + (u32)p10;
	*lo = (mid << 32) | (u32)p00;
	*hi = p11 + (p01 >> 32) + (p10 >> 32) + (mid >> 32);
}

static inline u64 ref_mul_u64_u64_shr(u64 a, u64 b, unsigned shift)
{
	u64 hi, lo;
	ref_mul_64x64(a, b, &hi, &lo);
	if (shift >= 128)
		return 0;
	if (shift >= 64)
		return hi >> (shift - 64);
	if (shift == 0)
		return lo;
	return (lo >> shift) | (hi << (64 - shift));
}

/* tsc_scale = mul * 2^(32 + shift) / 100, exactly (may exceed 64 bits). */
static inline u128 ref_tsc_page_scale(u32 mul, int shift)
{
	return ((u128)mul << (32 + shift)) / 100;
}

/* clock_gettime(CLOCK_MONOTONIC_RAW) + offs_boot from the same timekeeper state. */
static inline u64 ref_kvmclock_base(const struct kvm_gtod_data *g, u64 tsc)
{
	const struct kvm_gtod_clock *r = &g->raw_clock;
	u128 ns = (u128)((tsc - r->cycle_last) & r->mask) * r->mult + r->base_cycles;
	return (u64)(ns >> (r->shift & 63)) + r->offset + g->offs_boot;
}

/* The timekeeper's invariant: the accumulation does not wrap 64 bits. */
static inline bool kvm_gtod_in_range(const struct kvm_gtod_clock *c, u64 tsc)
{
	u128 ns = (u128)((tsc - c->cycle_last) & c->mask) * c->mult + c->base_cycles;
	return ns >> 64 == 0;
}

#endif
