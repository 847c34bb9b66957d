/* SPDX-License-Identifier: MIT */
/*
 * Time-scaling arithmetic as the kernel and KVM do it, and the unsigned
 * __int128 references the oracles (CO4) and the clock_math target compare
 * them with.  Pure functions: no shared memory, no backend.
 */
#ifndef PVFUZZ_CLOCK_MATH_H
#define PVFUZZ_CLOCK_MATH_H

#include "pvfuzz/pvclock_abi.h"
#include "pvfuzz/types.h"

/*
 * arch/x86/include/asm/pvclock.h: shift first (C semantics; the kernel never
 * sees |shift| >= 64 from KVM, we mask like x86 shl/shr do so the result is
 * defined), then (delta * mul_frac) >> 32 as mulq + shrd.
 */
static inline u64 pvclock_scale_delta(u64 delta, u32 mul_frac, int shift)
{
	if (shift < 0)
		delta >>= (unsigned)-shift & 63;
	else
		delta <<= (unsigned)shift & 63;
	return (u64)(((u128)delta * mul_frac) >> 32);
}

static inline u64 __pvclock_read_cycles_snap(u64 tsc_timestamp, u64 system_time, u32 mul,
					     s8 shift, u64 tsc)
{
	u64 delta = tsc - tsc_timestamp;
	return system_time + pvclock_scale_delta(delta, mul, shift);
}

/* include/linux/math64.h */
static inline u64 mul_u64_u64_shr(u64 a, u64 mul, unsigned int shift)
{
	return (u64)(((u128)a * mul) >> shift);
}

static inline u64 mul_u64_u32_div(u64 a, u32 mul, u32 divisor)
{
	return (u64)(((u128)a * mul) / divisor);
}

/* include/linux/math64.h: (a * mul) >> shift without losing the high bits */
static inline u64 mul_u64_u32_shr(u64 a, u32 mul, unsigned int shift)
{
	return (u64)(((u128)a * mul) >> shift);
}

/* arch/x86/kvm/x86.c: div_frac and kvm_get_time_scale */
static inline u32 div_frac(u32 dividend, u32 divisor)
{
	/* (dividend << 32) / divisor; callers guarantee dividend < divisor */
	return (u32)(((u64)dividend << 32) / divisor);
}

static inline void kvm_get_time_scale(u64 scaled_hz, u64 base_hz, s8 *pshift, u32 *pmultiplier)
{
	u64 scaled64;
	s32 shift = 0;
	u64 tps64;
	u32 tps32;

	tps64 = base_hz;
	scaled64 = scaled_hz;
	while (tps64 > scaled64 * 2 || tps64 & 0xffffffff00000000ULL) {
		tps64 >>= 1;
		shift--;
	}

	tps32 = (u32)tps64;
	while (tps32 <= scaled64 || scaled64 & 0xffffffff00000000ULL) {
		if (scaled64 & 0xffffffff00000000ULL || tps32 & 0x80000000)
			scaled64 >>= 1;
		else
			tps32 <<= 1;
		shift++;
	}

	*pshift = (s8)shift;
	*pmultiplier = div_frac((u32)scaled64, tps32);
}

/*
 * arch/x86/kvm/hyperv.c compute_tsc_page_parameters(): the TSC page that
 * agrees with a kvmclock record.  False (page must stay invalid) when the
 * record is not STABLE or scale would overflow 64 bits.
 */
static inline bool compute_tsc_page_parameters(const struct pvclock_vcpu_time_info *hv_clock,
					       u64 *scale, s64 *offset)
{
	u64 max_mul;

	if (!(hv_clock->flags & PVCLOCK_TSC_STABLE_BIT))
		return false;
	/* KVM's shift is within [-31, 31]; anything else cannot be expressed */
	if (hv_clock->tsc_shift > 31 || hv_clock->tsc_shift < -31)
		return false;
	max_mul = 100ull << (32 - hv_clock->tsc_shift);
	if (hv_clock->tsc_to_system_mul >= max_mul)
		return false;
	*scale = mul_u64_u32_div(1ULL << (32 + hv_clock->tsc_shift),
				 hv_clock->tsc_to_system_mul, 100);
	*offset = (s64)(hv_clock->system_time / 100);
	/* the kernel builds with -fno-strict-overflow: the s64 subtraction wraps */
	*offset = (s64)((u64)*offset - mul_u64_u64_shr(hv_clock->tsc_timestamp, *scale, 64));
	return true;
}

/*
 * KVM's private copy of the host timekeeper (arch/x86/kvm/x86.c struct
 * pvclock_clock / pvclock_gtod_data, v6.17), filled by update_pvclock_gtod()
 * from tk->tkr_mono (clock) and tk->tkr_raw (raw_clock).
 */
struct kvm_gtod_clock {
	int vclock_mode; /* tkr->clock->vdso_clock_mode (the clock_math target ignores it) */
	u64 cycle_last;
	u64 mask;
	u32 mult;
	u32 shift;
	u64 base_cycles; /* tkr->xtime_nsec: ns << shift */
	u64 offset;      /* tkr->base, ns */
};

struct kvm_gtod_data {
	struct kvm_gtod_clock clock;     /* CLOCK_MONOTONIC */
	struct kvm_gtod_clock raw_clock; /* CLOCK_MONOTONIC_RAW */
	u64 offs_boot;
};

/*
 * do_kvmclock_base() (v6.17; do_monotonic_raw() before 917f9475c0a8): the
 * kvmclock base, CLOCK_MONOTONIC_RAW + offs_boot, at a TSC value.  The
 * 64-bit multiply is the kernel's: the timekeeper keeps the cycle delta below
 * its max_cycles so v * mult + base_cycles never wraps.
 */
static inline u64 do_kvmclock_base(const struct kvm_gtod_data *gtod, u64 tsc)
{
	u64 v = (tsc - gtod->raw_clock.cycle_last) & gtod->raw_clock.mask;
	u64 ns = gtod->raw_clock.base_cycles;
	ns += v * gtod->raw_clock.mult;
	ns >>= gtod->raw_clock.shift & 63;
	return ns + gtod->raw_clock.offset + gtod->offs_boot;
}

/* ---- 128-bit references (clock-protocols.md section 6) ---- */

static inline u64 ref_pvclock_ns(u64 T, u64 S, u32 mul, int shift, u64 tsc)
{
	u128 d = (u64)(tsc - T);
	if (shift < 0)
		d = -shift >= 64 ? 0 : d >> -shift;
	else
		d = shift >= 64 ? 0 : (u64)(d << shift);
	return S + (u64)((d * mul) >> 32);
}

/*
 * Negative delta: the TSC read is before the record's timestamp.  The TSC
 * is a 64-bit counter that may wrap (a host may write any value), so
 * "before" is the signed 64-bit distance, as the kernel's u64 delta has it.
 */
static inline bool ref_pvclock_negative(u64 T, u64 tsc)
{
	return (s64)(tsc - T) < 0;
}

static inline u64 ref_hv_time(u64 tsc, u64 scale, s64 offset)
{
	return (u64)(((u128)tsc * scale) >> 64) + (u64)offset;
}

/*
 * perf_event_mmap_page: base + cyc * mult >> shift (mod 2^64), after the
 * cap_user_time_short fold when short; a shift of 128 or more leaves nothing.
 */
static inline u64 ref_perf_time(u64 base, u64 cyc, u32 mult, u16 shift, bool short_, u64 cycles,
				u64 mask)
{
	if (short_)
		cyc = cycles + ((cyc - cycles) & mask);
	return base + (shift >= 128 ? 0 : (u64)(((u128)cyc * mult) >> shift));
}

#endif
