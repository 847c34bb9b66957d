// SPDX-License-Identifier: MIT
/*
 * clock_math variants: the mainline kernel/KVM arithmetic and realistic ways
 * of getting it wrong.  Each replaces one operation of struct
 * clock_math_ops; the rest stay mainline.  targets/clock_math.c compares
 * them with the 128-bit references (CO4).
 */
#include "pvfuzz/clock_math_ops.h"

/* x86 shl/shr mask the count to 6 bits; C would leave |shift| >= 64 undefined. */
static inline u64 shift_delta(u64 delta, int shift)
{
	return shift < 0 ? delta >> ((unsigned)-shift & 63) : delta << ((unsigned)shift & 63);
}

/* ---------------------------------------------------------- mainline -- */

static const struct clock_math_ops clock_math_mainline_ops = { 0 };

CLOCK_MATH_VARIANT(clock_math_mainline, clock_math_mainline_ops,
	.flags = PV_MAINLINE,
	.expect = "safe",
	.scenario = "any value the kernel defines: |tsc_shift| < 64, divisor != 0 and a 64-bit "
		"quotient for mul_u64_u32_div, rates >= 1 Hz, the timekeeper's max_cycles bound",
	.history = "x86-64 pvclock_scale_delta (mulq; shrd), math64.h, kvm_get_time_scale, "
		"compute_tsc_page_parameters, do_kvmclock_base (arch/x86, v6.17)")

/* i386: two 32x32 multiplies joined with add/adc (arch/x86/include/asm/pvclock.h). */
static u64 scale_delta_i386(u64 delta, u32 mul_frac, int shift)
{
	delta = shift_delta(delta, shift);
	u64 lo = (u64)(u32)delta * mul_frac;  /* mul %5 */
	u64 hi = (delta >> 32) * mul_frac;     /* mul %5 */
	return hi + (lo >> 32);                /* add %4,%eax; adc %5,%edx */
}

static const struct clock_math_ops clock_math_i386_ops = { .scale_delta = scale_delta_i386 };

CLOCK_MATH_VARIANT(clock_math_i386, clock_math_i386_ops,
	.expect = "safe",
	.scenario = "any: equals the 128-bit reference mod 2^64",
	.history = "i386 pvclock_scale_delta(): mul/mov/mul/add/adc "
		"(arch/x86/include/asm/pvclock.h, __i386__ branch)")

/* ------------------------------------------------------------ buggy --- */

/* The msr.rst pseudo-code taken literally in 64-bit C. */
static u64 scale_delta_u64_mul(u64 delta, u32 mul_frac, int shift)
{
	delta = shift_delta(delta, shift);
	return (delta * mul_frac) >> 32; /* the bug: the product needs 96 bits */
}

static const struct clock_math_ops clock_math_u64_mul_ops = { .scale_delta = scale_delta_u64_mul };

CLOCK_MATH_VARIANT(clock_math_u64_mul, clock_math_u64_mul_ops,
	.bug = "synthetic",
	.expect = "reference",
	.scenario = "shifted delta * mul >= 2^64: a delta above ~2^32 ticks (about 1-4 s) at "
		"KVM's mul >= 2^31",
	.history = "Documentation/virt/kvm/x86/msr.rst \"time = (time * tsc_to_system_mul) >> 32\" "
		"written with a 64-bit multiply, as guest code outside Linux is tempted to")

/* The shift applied after the multiply: (delta * mul >> 32) << shift. */
static u64 scale_delta_shift_after(u64 delta, u32 mul_frac, int shift)
{
	u64 ns = (u64)(((u128)delta * mul_frac) >> 32);
	return shift_delta(ns, shift);
}

static const struct clock_math_ops clock_math_shift_after_mul_ops = {
	.scale_delta = scale_delta_shift_after
};

CLOCK_MATH_VARIANT(clock_math_shift_after_mul, clock_math_shift_after_mul_ops,
	.bug = "synthetic",
	.expect = "reference",
	.scenario = "any shift != 0 with low product bits set (rounding differs), or a left "
		"shift that loses high bits of the product instead of the delta",
	.history = "synthetic reordering of msr.rst's two steps: scale first, shift afterwards")

/* i386 split that loses the carry of the low half into the high half. */
static u64 scale_delta_i386_no_carry(u64 delta, u32 mul_frac, int shift)
{
	delta = shift_delta(delta, shift);
	u64 lo = (u64)(u32)delta * mul_frac;
	u64 hi = (delta >> 32) * mul_frac;
	u32 low = (u32)hi + (u32)(lo >> 32);      /* add %4,%eax */
	return (hi & 0xffffffff00000000ULL) | low; /* the bug: add, not adc, into %edx */
}

static const struct clock_math_ops clock_math_i386_no_carry_ops = {
	.scale_delta = scale_delta_i386_no_carry
};

CLOCK_MATH_VARIANT(clock_math_i386_no_carry, clock_math_i386_no_carry_ops,
	.fixed = "clock_math_i386",
	.bug = "synthetic",
	.expect = "reference",
	.scenario = "delta >= 2^32 whose (hi*mul) low word plus (lo*mul)>>32 carries",
	.history = "mutation of the i386 pvclock_scale_delta() asm: \"adc %5,%%edx\" dropped")

/* compute_tsc_page_parameters() without the max_mul overflow check. */
static bool tsc_page_no_max_mul(const struct pvclock_vcpu_time_info *hv_clock, u64 *scale,
				s64 *offset)
{
	if (!(hv_clock->flags & PVCLOCK_TSC_STABLE_BIT))
		return false;
	if (hv_clock->tsc_shift > 31 || hv_clock->tsc_shift < -31)
		return false;
	/* the bug: no "tsc_to_system_mul >= 100ull << (32 - tsc_shift)" test */
	*scale = mul_u64_u32_div(1ULL << (32 + hv_clock->tsc_shift), hv_clock->tsc_to_system_mul, 100);
	*offset = (s64)(hv_clock->system_time / 100);
	/* the kernel builds with -fno-strict-overflow: the s64 subtraction wraps */
	*offset = (s64)((u64)*offset - mul_u64_u64_shr(hv_clock->tsc_timestamp, *scale, 64));
	return true;
}

static const struct clock_math_ops clock_math_tsc_page_no_max_mul_ops = {
	.tsc_page_parameters = tsc_page_no_max_mul
};

CLOCK_MATH_VARIANT(clock_math_tsc_page_no_max_mul, clock_math_tsc_page_no_max_mul_ops,
	.bug = "synthetic",
	.expect = "reference",
	.scenario = "STABLE record with mul * 2^(32+shift) / 100 >= 2^64 (e.g. tsc_shift >= 7 with "
		"a large mul, a TSC below ~100 MHz): the page is published with a truncated scale "
		"instead of BROKEN (the x86-64 divq would even fault)",
	.history = "compute_tsc_page_parameters() (arch/x86/kvm/hyperv.c) without its \"check if "
		"scale would overflow, if so we use the time ref counter\" test")

/* kvm_get_time_scale() whose second loop stops at tps32 == scaled. */
static void time_scale_lt(u64 scaled_hz, u64 base_hz, s8 *pshift, u32 *pmultiplier)
{
	u64 scaled64 = scaled_hz, tps64 = base_hz;
	s32 shift = 0;
	u32 tps32;

	while (tps64 > scaled64 * 2 || tps64 & 0xffffffff00000000ULL) {
		tps64 >>= 1;
		shift--;
	}
	tps32 = (u32)tps64;
	/* the bug: "<" where KVM has "<=", so div_frac() may get dividend == divisor */
	while (tps32 < scaled64 || scaled64 & 0xffffffff00000000ULL) {
		if (scaled64 & 0xffffffff00000000ULL || tps32 & 0x80000000)
			scaled64 >>= 1;
		else
			tps32 <<= 1;
		shift++;
	}
	*pshift = (s8)shift;
	*pmultiplier = div_frac((u32)scaled64, tps32);
}

static const struct clock_math_ops clock_math_time_scale_lt_ops = { .get_time_scale = time_scale_lt };

CLOCK_MATH_VARIANT(clock_math_time_scale_lt, clock_math_time_scale_lt_ops,
	.bug = "synthetic",
	.expect = "reference",
	.scenario = "base_hz == scaled_hz * 2^-k, e.g. a 1 GHz or 500 MHz TSC: (scaled << 32) / "
		"scaled truncates to mul = 0",
	.history = "off-by-one mutation of kvm_get_time_scale() (arch/x86/kvm/x86.c): "
		"\"while (tps32 <= scaled64 ...)\" became \"<\"")

/*
 * CLK-16: do_monotonic_raw() shifting the raw accumulation by the MONOTONIC
 * clock's shift.  Linux's timekeeper gives tkr_mono and tkr_raw the same
 * clocksource shift, so on a real host the bug is latent; KVM's copy keeps
 * two shifts and the model lets them differ, as the trigger in
 * known-bugs.md asks.
 */
static u64 kvmclock_base_mono_shift(const struct kvm_gtod_data *gtod, u64 tsc)
{
	u64 v = (tsc - gtod->raw_clock.cycle_last) & gtod->raw_clock.mask;
	u64 ns = gtod->raw_clock.base_cycles;
	ns += v * gtod->raw_clock.mult;
	ns >>= gtod->clock.shift & 63; /* the bug: gtod->clock.shift, not raw_clock.shift */
	return ns + gtod->raw_clock.offset + gtod->offs_boot;
}

static const struct clock_math_ops clock_math_raw_mono_shift_ops = {
	.kvmclock_base = kvmclock_base_mono_shift
};

CLOCK_MATH_VARIANT(clock_math_raw_mono_shift, clock_math_raw_mono_shift_ops,
	.bug = "CLK-16",
	.expect = "reference",
	.scenario = "host timekeeper state whose mono and raw shifts differ (latent on Linux, "
		"where both are the clocksource's shift); any masterclock snapshot",
	.history = "do_monotonic_raw() used gtod->clock.shift; fixed by 917f9475c0a8 \"KVM: x86: "
		"reorganize pvclock_gtod_data members\" (Fixes 53fafdbb8b21)")
