// SPDX-License-Identifier: MIT
/*
 * The kernel/KVM time arithmetic of clock_math.h against the 128-bit and
 * limb references (clock-protocols.md section 6): fixed edge cases, a few
 * million pseudo-random cases from a fixed seed, and kvm_get_time_scale()
 * for 1-5 GHz TSCs.
 *
 *   gcc -std=gnu11 -Iinclude -Isrc -DPVFUZZ_SIM tests/unit/test_clock_math.c
 */
#include <stdio.h>

#include "pvfuzz/clock_math_ops.h"

static long passed, failed;

#define CHECK(cond, ...)                                                      \
	do {                                                                  \
		if (cond) {                                                   \
			passed++;                                             \
		} else if (failed++ < 20) {                                   \
			printf("FAIL %s:%d: ", __FILE__, __LINE__);           \
			printf(__VA_ARGS__);                                  \
			printf("\n");                                         \
		}                                                             \
	} while (0)

static u64 rng = 0x9e3779b97f4a7c15ULL; /* fixed seed: the same cases every run */

static u64 next(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 0x2545f4914f6cdd1dULL;
}

/* a value with a random bit length, so small and large magnitudes both occur */
static u64 rnd_bits(void)
{
	unsigned bits = (unsigned)(next() % 65);
	return bits == 64 ? next() : next() & ((1ULL << bits) - 1);
}

static const u64 edge64[] = {
	0, 1, 2, 99, 100, 0x7fffffffULL, 0x80000000ULL, 0xffffffffULL, 0x100000000ULL,
	0x100000001ULL, 1ULL << 57, 0x7fffffffffffffffULL, 0x8000000000000000ULL, ~0ULL - 1, ~0ULL,
	NSEC_PER_SEC, 0x10000000000ULL,
};
static const u32 edge32[] = { 0, 1, 99, 100, 0x7fffffffu, 0x80000000u, 0xfffffffeu, 0xffffffffu };

static void check_scale_delta(u64 delta, u32 mul, int shift)
{
	u64 got = pvclock_scale_delta(delta, mul, shift);
	u64 want = ref_pvclock_ns(0, 0, mul, shift, delta);
	CHECK(got == want, "pvclock_scale_delta(0x%llx, 0x%x, %d) = 0x%llx, want 0x%llx",
	      (unsigned long long)delta, mul, shift, (unsigned long long)got, (unsigned long long)want);
	/* the kernel helper on a record: system_time + scaled (tsc - tsc_timestamp), mod 2^64 */
	u64 T = delta ^ 0x5555, S = ~delta;
	u64 r = __pvclock_read_cycles_snap(T, S, mul, (s8)shift, T + delta);
	CHECK(r == ref_pvclock_ns(T, S, mul, shift, T + delta), "__pvclock_read_cycles_snap");
}

static void check_mul_shr(u64 a, u64 b, unsigned shift)
{
	u64 got = mul_u64_u64_shr(a, b, shift);
	u64 want = ref_mul_u64_u64_shr(a, b, shift);
	CHECK(got == want, "mul_u64_u64_shr(0x%llx, 0x%llx, %u) = 0x%llx, want 0x%llx",
	      (unsigned long long)a, (unsigned long long)b, shift, (unsigned long long)got,
	      (unsigned long long)want);
}

static void check_mul_div(u64 a, u32 mul, u32 div)
{
	u64 hi, lo;
	if (div == 0)
		return;
	ref_mul_64x64(a, mul, &hi, &lo);
	if (hi >= div)
		return; /* the quotient does not fit: #DE on x86-64 */
	u64 want = (u64)((((u128)hi << 64) | lo) / div);
	CHECK(mul_u64_u32_div(a, mul, div) == want, "mul_u64_u32_div(0x%llx, 0x%x, 0x%x)",
	      (unsigned long long)a, mul, div);
}

static void check_div_frac(u32 a, u32 b)
{
	if (a >= b)
		return;
	CHECK(div_frac(a, b) == ((u64)a << 32) / b, "div_frac(0x%x, 0x%x)", a, b);
}

/* compute_tsc_page_parameters() against its derivation and H4. */
static void check_tsc_page(u64 T, u64 S, u32 mul, int shift, u64 d)
{
	struct pvclock_vcpu_time_info hv = { .tsc_timestamp = T, .system_time = S,
					     .tsc_to_system_mul = mul, .tsc_shift = (s8)shift,
					     .flags = PVCLOCK_TSC_STABLE_BIT };
	u64 scale = 0;
	s64 offset = 0;
	bool ok = compute_tsc_page_parameters(&hv, &scale, &offset);
	u128 want = ref_tsc_page_scale(mul, shift);
	if (want >> 64) {
		CHECK(!ok, "scale overflows (mul=0x%x shift=%d) but the page is published", mul, shift);
		return;
	}
	if (!ok) /* only the shift <= -30 truncation of max_mul refuses a fitting scale */
		return;
	CHECK(scale == (u64)want, "tsc_scale(mul=0x%x shift=%d)", mul, shift);
	CHECK((u64)offset == S / 100 - ref_mul_u64_u64_shr(T, scale, 64), "tsc_offset");
	d &= (1ULL << 57) - 1;
	u64 t = T + d;
	if (t < T || (shift > 0 && (d << shift) >> shift != d))
		return;
	s64 diff = (s64)(ref_hv_time(t, scale, offset) * 100 - ref_pvclock_ns(T, S, mul, shift, t));
	CHECK(diff <= 201 && diff >= -201, "H4: page*100 - kvmclock = %lld (mul=0x%x shift=%d d=%llu)",
	      (long long)diff, mul, shift, (unsigned long long)d);
}

static void check_kvmclock_base(const struct kvm_gtod_data *g, u64 tsc)
{
	if (!kvm_gtod_in_range(&g->raw_clock, tsc))
		return;
	CHECK(do_kvmclock_base(g, tsc) == ref_kvmclock_base(g, tsc), "do_kvmclock_base");
}

/* kvm_get_time_scale(NSEC_PER_SEC, hz) for a TSC of hz: what KVM promises. */
static void check_time_scale(u64 scaled, u64 base, bool kvm_call)
{
	s8 shift;
	u32 mul;
	kvm_get_time_scale(scaled, base, &shift, &mul);
	if (kvm_call)
		CHECK(mul >= 0x80000000u, "kvm_get_time_scale(%llu, %llu): mul 0x%x < 2^31",
		      (unsigned long long)scaled, (unsigned long long)base, mul);
	u64 got = ref_pvclock_ns(0, 0, mul, shift, base);
	u64 err = got > scaled ? got - scaled : scaled - got;
	CHECK(err <= 4 + (scaled >> 29), "kvm_get_time_scale(%llu, %llu): 1 s of ticks -> %llu",
	      (unsigned long long)scaled, (unsigned long long)base, (unsigned long long)got);
}

int main(void)
{
	/* ---- fixed edge cases ---- */
	for (size_t i = 0; i < ARRAY_SIZE(edge64); i++)
		for (size_t j = 0; j < ARRAY_SIZE(edge32); j++) {
			for (int s = -63; s <= 63; s++)
				check_scale_delta(edge64[i], edge32[j], s);
			for (unsigned s = 0; s < 128; s += 7)
				check_mul_shr(edge64[i], edge64[j], s);
			check_mul_shr(edge64[i], ~0ULL, 64);
			check_mul_div(edge64[i], edge32[j], 100);
			check_mul_div(edge64[i], edge32[j], edge32[(j + 3) % ARRAY_SIZE(edge32)]);
			check_div_frac(edge32[j], edge32[i % ARRAY_SIZE(edge32)]);
			for (int s = -31; s <= 31; s++)
				check_tsc_page(edge64[i], edge64[(i + j) % ARRAY_SIZE(edge64)], edge32[j], s,
					       edge64[j]);
		}
	/* the documented examples: msr.rst arithmetic on KVM-shaped records */
	CHECK(pvclock_scale_delta(1000, 0x80000000u, 1) == 1000, "1 GHz: 1000 ticks = 1000 ns");
	CHECK(pvclock_scale_delta(2000, 0x80000000u, -1) == 500, "4 GHz: 2000 ticks = 500 ns");
	CHECK(pvclock_scale_delta(~0ULL, 0xffffffffu, 0) == 0xfffffffeffffffffULL, "max product");
	/* max_mul: the first mul that overflows tsc_scale must be refused */
	for (int s = 7; s <= 31; s++) {
		u64 max_mul = 100ull << (32 - s);
		if (max_mul > 0xffffffffu)
			continue;
		check_tsc_page(0x10000000000ULL, 1000, (u32)max_mul, s, 1000);
		check_tsc_page(0x10000000000ULL, 1000, (u32)max_mul - 1, s, 1000);
	}

	/* ---- kvm_get_time_scale: 1-5 GHz, every MHz ---- */
	for (u64 khz = 1000000; khz <= 5000000; khz += 1000) {
		s8 shift;
		u32 mul;
		kvm_get_time_scale(NSEC_PER_SEC, khz * 1000, &shift, &mul);
		CHECK(shift >= -2 && shift <= 1, "%llu kHz: shift %d", (unsigned long long)khz, shift);
		check_time_scale(NSEC_PER_SEC, khz * 1000, true);
		check_time_scale(khz * 1000, NSEC_PER_SEC, true);
		/* the page KVM derives from it exists and agrees with kvmclock */
		check_tsc_page(0x10000000000ULL + khz, khz * 12345, mul, shift, khz * 1000);
	}
	{
		s8 shift;
		u32 mul;
		kvm_get_time_scale(NSEC_PER_SEC, 1000000000ULL, &shift, &mul);
		CHECK(shift == 1 && mul == 0x80000000u, "1 GHz: shift %d mul 0x%x", shift, mul);
		kvm_get_time_scale(NSEC_PER_SEC, 4000000000ULL, &shift, &mul);
		CHECK(shift == -1 && mul == 0x80000000u, "4 GHz: shift %d mul 0x%x", shift, mul);
		kvm_get_time_scale(NSEC_PER_SEC, 5000000000ULL, &shift, &mul);
		CHECK(shift == -2, "5 GHz: shift %d", shift);
	}

	/* ---- pseudo-random cases ---- */
	for (int i = 0; i < 2000000; i++) {
		u64 d = rnd_bits();
		u32 m = (u32)next();
		int s = (int)(next() % 127) - 63;
		check_scale_delta(d, m, s);
	}
	/* one draw per statement: argument order is unspecified, the cases must not be */
	for (int i = 0; i < 1000000; i++) {
		u64 a = next();
		u64 b = rnd_bits();
		unsigned sh = (unsigned)(next() % 128);
		check_mul_shr(a, b, sh);
		a = rnd_bits();
		u32 m = (u32)next();
		u32 dv = (u32)rnd_bits();
		check_mul_div(a, m, dv);
		u32 x = (u32)rnd_bits();
		check_div_frac(x, (u32)next());
	}
	for (int i = 0; i < 500000; i++) {
		int s = (int)(next() % 63) - 31;
		u64 T = rnd_bits();
		u64 S = rnd_bits();
		u32 m = (u32)next();
		check_tsc_page(T, S, m, s, rnd_bits());
		/* KVM's own calls, every kHz figure a u32 can hold */
		u32 khz = (u32)next() | 1;
		check_time_scale(NSEC_PER_SEC, khz * 1000ULL, true);
		check_time_scale(khz * 1000ULL, NSEC_PER_SEC, true);
		/* any pair of rates in [1, 2^48] Hz */
		u64 a = (rnd_bits() & ((1ULL << 48) - 1)) | 1, b = (rnd_bits() & ((1ULL << 48) - 1)) | 1;
		check_time_scale(a, b, false);
		struct kvm_gtod_data g = { 0 };
		g.raw_clock.cycle_last = next();
		g.raw_clock.mask = rnd_bits();
		g.raw_clock.mult = (u32)next();
		g.raw_clock.shift = (u32)(next() % 32);
		g.raw_clock.base_cycles = rnd_bits();
		g.raw_clock.offset = next();
		g.offs_boot = rnd_bits();
		g.clock = g.raw_clock;
		g.clock.shift = (u32)(next() % 32);
		check_kvmclock_base(&g, g.raw_clock.cycle_last + (u32)next());
	}

	printf("%ld passed, %ld failed\n", passed, failed);
	return failed ? 1 : 0;
}
