// SPDX-License-Identifier: MIT
/*
 * Fuzz target: differential time-scaling arithmetic (protocol clock_math).
 * Every kernel/KVM computation of struct clock_math_ops, as the selected
 * variant does it (PVFUZZ_VARIANT, default clock_math_mainline), against the
 * 128-bit references of clock-protocols.md section 6 (CO4 "reference").
 *
 * Input: a sequence of cases, each an op byte, a "special" byte (bit i: take
 * value i from a table of edge values, indexed by one byte) and the op's
 * values (little-endian, from the front; missing bytes take defaults).
 *
 * What counts as a finding: only a difference on an input where the
 * kernel's behaviour is defined.  Outside that domain the op still runs (for
 * the sanitizers) but is not judged:
 *   - |tsc_shift| >= 64: C leaves the shift undefined; the model masks the
 *     count to 6 bits as x86 shl/shr do, the reference says 0;
 *   - mul_u64_u32_div with divisor 0 or a quotient >= 2^64 (x86-64 divq #DE);
 *   - div_frac with dividend >= divisor (KVM guarantees dividend < divisor);
 *   - kvm_get_time_scale with a zero rate (KVM's loops never end) or rates
 *     above 2^48 Hz (the s8 shift could wrap);
 *   - compute_tsc_page_parameters with |tsc_shift| > 31 (KVM's shifts by
 *     32 - shift and 32 + shift go out of range);
 *   - do_kvmclock_base beyond the timekeeper's max_cycles (accumulation wraps).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oracle/oracle.h"
#include "pvfuzz/clock_math_ops.h"
#include "sim/sim.h"

#define MAX_CASES 64

enum {
	OP_SCALE_DELTA, OP_READ_CYCLES, OP_MUL_SHR, OP_MUL_DIV, OP_DIV_FRAC,
	OP_TIME_SCALE, OP_TSC_PAGE, OP_KVMCLOCK_BASE, OP_NR
};

static const char *const op_name[OP_NR] = {
	"pvclock_scale_delta", "__pvclock_read_cycles", "mul_u64_u64_shr", "mul_u64_u32_div",
	"div_frac", "kvm_get_time_scale", "compute_tsc_page_parameters", "do_kvmclock_base",
};

static const u64 edge[32] = {
	0, 1, 2, 3, 99, 100, 101, 0x7fffffffULL, 0x80000000ULL, 0xffffffffULL, 0x100000000ULL,
	0x100000001ULL, 0x7fffffffffffffffULL, 0x8000000000000000ULL, ~0ULL, ~0ULL - 1,
	NSEC_PER_SEC, 2 * NSEC_PER_SEC, NSEC_PER_SEC / 2, 2400000000ULL, 3000000000ULL,
	SIM_TSC_BASE, 1ULL << 57, 1ULL << 62, 0xfffffffffULL, 0xffffffff00000000ULL,
	1ULL << 40, (1ULL << 48) - 1, 0x5555555555555555ULL, 0xaaaaaaaaaaaaaaaaULL,
	1000000ULL, 4294967296000ULL,
};

static struct pv_selection sel;
static struct clock_math_ops ops;

struct cin {
	struct fdp *in;
	u8 special;
	int idx;
};

static u64 val(struct cin *c, unsigned bytes, u64 dflt)
{
	bool sp = c->special >> (c->idx++ & 7) & 1;
	if (sp)
		return edge[fdp_u8(c->in, 0) & 31];
	/* fdp_uint() without its byte loop: this is the target's hot path */
	struct fdp *f = c->in;
	if (fdp_remaining(f) < bytes)
		return dflt;
	u64 v = 0;
	memcpy(&v, f->data + f->front, bytes); /* little-endian, as fdp_uint */
	f->front += bytes;
	return v;
}

static bool failed;

static void fail(int op, const char *what, u64 got, u64 want)
{
	char buf[200];
	snprintf(buf, sizeof(buf), "%s: %s", op_name[op], what);
	failed = true;
	oracle_reference(buf, got, want);
}

/* ------------------------------------------------------------- cases -- */

static void case_scale_delta(struct cin *c)
{
	u64 delta = val(c, 8, 0x123456789ULL);
	u32 mul = (u32)val(c, 4, 0x80000000u);
	s8 shift = (s8)val(c, 1, 0);
	u64 got = ops.scale_delta(delta, mul, shift);
	sim_note("scale_delta", got);
	if (shift <= -64 || shift >= 64)
		return; /* undefined in C; the model masks like x86 */
	u64 want = ref_pvclock_ns(0, 0, mul, shift, delta);
	if (got != want) {
		char w[96];
		snprintf(w, sizeof(w), "delta=0x%llx mul=0x%x shift=%d", (unsigned long long)delta, mul,
			 shift);
		fail(OP_SCALE_DELTA, w, got, want);
	}
}

static void case_read_cycles(struct cin *c)
{
	u64 T = val(c, 8, SIM_TSC_BASE);
	u64 S = val(c, 8, 1000000);
	u32 mul = (u32)val(c, 4, 0x80000000u);
	s8 shift = (s8)val(c, 1, 0);
	u64 tsc = T + val(c, 8, 1000);
	u64 got = S + ops.scale_delta(tsc - T, mul, shift); /* __pvclock_read_cycles() */
	sim_note("read_cycles", got);
	if (shift <= -64 || shift >= 64)
		return;
	u64 want = ref_pvclock_ns(T, S, mul, shift, tsc);
	if (got != want) {
		char w[128];
		snprintf(w, sizeof(w), "T=0x%llx S=0x%llx mul=0x%x shift=%d tsc=0x%llx",
			 (unsigned long long)T, (unsigned long long)S, mul, shift,
			 (unsigned long long)tsc);
		fail(OP_READ_CYCLES, w, got, want);
	}
}

static void case_mul_shr(struct cin *c)
{
	u64 a = val(c, 8, 1), b = val(c, 8, 1);
	unsigned shift = (unsigned)val(c, 1, 64) & 127;
	u64 got = ops.mul_u64_u64_shr(a, b, shift);
	sim_note("mul_u64_u64_shr", got);
	u64 want = ref_mul_u64_u64_shr(a, b, shift);
	if (got != want) {
		char w[96];
		snprintf(w, sizeof(w), "a=0x%llx mul=0x%llx shift=%u", (unsigned long long)a,
			 (unsigned long long)b, shift);
		fail(OP_MUL_SHR, w, got, want);
	}
}

static void case_mul_div(struct cin *c)
{
	u64 a = val(c, 8, 1);
	u32 mul = (u32)val(c, 4, 1), div = (u32)val(c, 4, 100);
	if (div == 0)
		return; /* #DE */
	u64 hi, lo;
	ref_mul_64x64(a, mul, &hi, &lo);
	if (hi >= div)
		return; /* quotient >= 2^64: divq faults */
	u64 got = ops.mul_u64_u32_div(a, mul, div);
	sim_note("mul_u64_u32_div", got);
	u64 want = (u64)((((u128)hi << 64) | lo) / div);
	if (got != want) {
		char w[96];
		snprintf(w, sizeof(w), "a=0x%llx mul=0x%x div=0x%x", (unsigned long long)a, mul, div);
		fail(OP_MUL_DIV, w, got, want);
	}
}

static void case_div_frac(struct cin *c)
{
	u32 a = (u32)val(c, 4, 1), b = (u32)val(c, 4, 3);
	if (a >= b)
		return; /* KVM only divides a smaller dividend */
	u32 got = ops.div_frac(a, b);
	sim_note("div_frac", got);
	u64 want = ((u64)a << 32) / b;
	if (got != want) {
		char w[64];
		snprintf(w, sizeof(w), "dividend=0x%x divisor=0x%x", a, b);
		fail(OP_DIV_FRAC, w, got, want);
	}
}

/*
 * kvm_get_time_scale(scaled, base): scaling one second of base ticks must give
 * scaled units within the documented error (I7: 2^-31 relative for the mul
 * quantization, plus the floors of loop 1's halvings, the >> 32 and the
 * right shift: a few units).  For KVM's own calls - one side NSEC_PER_SEC,
 * the other a kHz figure * 1000 - also mul in [2^31, 2^32).
 */
static void case_time_scale(struct cin *c)
{
	u8 mode = (u8)val(c, 1, 1) % 5;
	u64 a = val(c, 8, 2400000), b = val(c, 1, 0);
	u64 scaled, base;
	bool kvm_call = false;
	switch (mode) {
	case 0:
		scaled = a & ((1ULL << 48) - 1);
		base = val(c, 8, NSEC_PER_SEC) & ((1ULL << 48) - 1);
		break;
	case 1: /* kvm_guest_time_update: (NSEC_PER_SEC, tgt_tsc_khz * 1000) */
		scaled = NSEC_PER_SEC;
		base = (u32)a * 1000ULL;
		kvm_call = true;
		break;
	case 2: /* kvm_set_tsc_khz: (user_khz * 1000, NSEC_PER_SEC) */
		scaled = (u32)a * 1000ULL;
		base = NSEC_PER_SEC;
		kvm_call = true;
		break;
	case 3:
		scaled = a & ((1ULL << 40) - 1);
		base = scaled << (b % 9);
		break;
	default:
		scaled = a & ((1ULL << 40) - 1);
		base = scaled >> (b % 9);
		break;
	}
	if (scaled == 0 || base == 0)
		return; /* KVM's loops would never end: callers never pass 0 */
	s8 shift;
	u32 mul;
	ops.get_time_scale(scaled, base, &shift, &mul);
	sim_note("kvm_get_time_scale", (u64)mul << 8 | (u8)shift);
	u64 got = ref_pvclock_ns(0, 0, mul, shift, base); /* one second of ticks */
	u64 err = got > scaled ? got - scaled : scaled - got;
	bool bad_mul = kvm_call && mul < 0x80000000u;
	if (bad_mul || err > 4 + (scaled >> 29)) {
		char w[112];
		snprintf(w, sizeof(w), "scaled_hz=%llu base_hz=%llu -> mul=0x%x shift=%d%s",
			 (unsigned long long)scaled, (unsigned long long)base, mul, shift,
			 bad_mul ? " (KVM promises mul >= 2^31)" : ", 1 s of ticks");
		fail(OP_TIME_SCALE, w, bad_mul ? mul : got, bad_mul ? 0x80000000u : scaled);
	}
}

/*
 * compute_tsc_page_parameters(): scale = mul * 2^(32+shift) / 100 exactly,
 * offset = S/100 - T*scale/2^64 (mod 2^64), false whenever scale would not
 * fit, and (H4) for t = T + d:
 *   |page(t) * 100 - kvmclock(t)| <= 100 (S/100 truncation)
 *                                  + 100 (two floors in 100 ns units)
 *                                  + 1   (kvmclock's floors, < 2 ns together)
 *                                  + 100 * d / 2^64 (scale truncation)
 * checked where kvmclock itself is exact: t >= T, d << shift loses no bits,
 * d < 2^57.  Both sides are computed mod 2^64; their true difference is far
 * below 2^63, so the signed modular difference is the true one.
 */
static void case_tsc_page(struct cin *c)
{
	struct pvclock_vcpu_time_info hv = { 0 };
	hv.tsc_timestamp = val(c, 8, SIM_TSC_BASE);
	hv.system_time = val(c, 8, 1000000);
	hv.tsc_to_system_mul = (u32)val(c, 4, 0xa0000000u);
	hv.tsc_shift = (s8)val(c, 1, (u8)-1);
	hv.flags = (u8)val(c, 1, PVCLOCK_TSC_STABLE_BIT);
	u64 d = val(c, 8, 123456789);
	u64 scale = 0;
	s64 offset = 0;
	bool ok = ops.tsc_page_parameters(&hv, &scale, &offset);
	sim_note("tsc_page", ok ? scale : ~0ULL);
	int s = hv.tsc_shift;
	if (s > 31 || s < -31)
		return; /* KVM's shifts would be undefined */
	if (!ok)
		return; /* BROKEN: the guest uses the MSR; always allowed */
	char w[160];
#define DESCRIBE()                                                            \
	snprintf(w, sizeof(w), "T=0x%llx S=0x%llx mul=0x%x shift=%d flags=0x%x",  \
		 (unsigned long long)hv.tsc_timestamp, (unsigned long long)hv.system_time, \
		 hv.tsc_to_system_mul, s, hv.flags)
	if (!(hv.flags & PVCLOCK_TSC_STABLE_BIT)) {
		fail(OP_TSC_PAGE, "page published from a !STABLE record", 1, 0);
		return;
	}
	u128 want_scale = ref_tsc_page_scale(hv.tsc_to_system_mul, s);
	if (want_scale >> 64) {
		DESCRIBE();
		strncat(w, ": scale overflows, must be BROKEN", sizeof(w) - strlen(w) - 1);
		fail(OP_TSC_PAGE, w, scale, U64_MAX);
		return;
	}
	if (scale != (u64)want_scale) {
		DESCRIBE();
		fail(OP_TSC_PAGE, w, scale, (u64)want_scale);
		return;
	}
	u64 want_off = hv.system_time / 100 - ref_mul_u64_u64_shr(hv.tsc_timestamp, scale, 64);
	if ((u64)offset != want_off) {
		DESCRIBE();
		strncat(w, ": offset", sizeof(w) - strlen(w) - 1);
		fail(OP_TSC_PAGE, w, (u64)offset, want_off);
		return;
	}
	d &= (1ULL << 57) - 1;
	u64 t = hv.tsc_timestamp + d;
	if (t < hv.tsc_timestamp || (s > 0 && (d << s) >> s != d))
		return;
	u64 page = ref_hv_time(t, scale, offset);
	u64 kvm = ref_pvclock_ns(hv.tsc_timestamp, hv.system_time, hv.tsc_to_system_mul, s, t);
	s64 diff = (s64)(page * 100 - kvm);
	if (diff > 201 || diff < -201) {
		snprintf(w, sizeof(w), "H4 at d=%llu: page*100 - kvmclock = %lld (mul=0x%x shift=%d)",
			 (unsigned long long)d, (long long)diff, hv.tsc_to_system_mul, s);
		fail(OP_TSC_PAGE, w, page * 100, kvm);
	}
}

static void case_kvmclock_base(struct cin *c)
{
	struct kvm_gtod_data g = { 0 };
	g.raw_clock.cycle_last = val(c, 8, SIM_TSC_BASE);
	u8 bits = (u8)val(c, 1, 64) % 65;
	g.raw_clock.mask = bits == 64 ? ~0ULL : (1ULL << bits) - 1;
	g.raw_clock.mult = (u32)val(c, 4, 0x800000u);
	g.raw_clock.shift = (u32)val(c, 1, 23) & 31;
	g.raw_clock.base_cycles = val(c, 8, 0);
	g.raw_clock.offset = val(c, 8, 1000000000);
	g.offs_boot = val(c, 8, 0);
	g.clock = g.raw_clock;
	g.clock.shift = (u32)val(c, 1, 23) & 31;
	g.clock.mult = (u32)val(c, 4, 0x800000u);
	u64 tsc = g.raw_clock.cycle_last + (u32)val(c, 4, 100000);
	u64 got = ops.kvmclock_base(&g, tsc);
	sim_note("kvmclock_base", got);
	if (!kvm_gtod_in_range(&g.raw_clock, tsc))
		return; /* beyond the timekeeper's max_cycles */
	u64 want = ref_kvmclock_base(&g, tsc);
	if (got != want) {
		char w[128];
		snprintf(w, sizeof(w), "raw mult=%u shift=%u, mono shift=%u, delta=%llu", g.raw_clock.mult,
			 g.raw_clock.shift, g.clock.shift,
			 (unsigned long long)(tsc - g.raw_clock.cycle_last));
		fail(OP_KVMCLOCK_BASE, w, got, want);
	}
}

/* ------------------------------------------------------------ target -- */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	pv_select_or_exit(PV_CLOCK_MATH, &sel);
	ops = *(const struct clock_math_ops *)sel.role[PV_READER]->ops;
	clock_math_fill(&ops);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static void (*const run[OP_NR])(struct cin *) = {
		case_scale_delta, case_read_cycles, case_mul_shr, case_mul_div,
		case_div_frac, case_time_scale, case_tsc_page, case_kvmclock_base,
	};
	static struct pv_selection s;
	struct fdp in;
	fdp_init(&in, data, size);
	s = sel;
	if (s.from_input) { /* PVFUZZ_VARIANT=input: the first byte picks the variant */
		pv_select_from_input(PV_CLOCK_MATH, &s, &in);
		ops = *(const struct clock_math_ops *)s.role[PV_READER]->ops;
		clock_math_fill(&ops);
	}
	/* no fibers: the simulator only names the variant and hashes the trace */
	sim_begin_pure(s.label, &in);
	failed = false;
	for (int i = 0; i < MAX_CASES && !failed; i++) {
		if (i >= OP_NR && fdp_remaining(&in) == 0)
			break; /* a short input still runs every op (on defaults) */
		u8 op = fdp_u8(&in, (u8)i);
		struct cin c = { &in, fdp_u8(&in, 0), 0 };
		run[op % OP_NR](&c);
	}
	static int print_hash = -1;
	if (print_hash < 0) {
		const char *e = getenv("PVFUZZ_PRINT_HASH");
		print_hash = e && *e == '1';
	}
	if (print_hash)
		fprintf(stderr, "pvfuzz: trace-hash %016llx\n", (unsigned long long)sim_trace_hash());
	return 0;
}
