// SPDX-License-Identifier: MIT
/*
 * The host timekeeper model (src/clock/timekeeping.c) and KVM's copy of it
 * (src/clock/pvclock_gtod.c), driven directly with a counter the test
 * advances (no fibers: every compat access is a plain one):
 *
 *   - clocksource registration: the (mult, shift) kernels compute;
 *   - MONOTONIC_RAW is exactly cycles * mult >> shift from boot, across
 *     any number of ticks and idle periods;
 *   - MONOTONIC never steps back while NTP changes the frequency, and runs
 *     at the NTP-steered rate;
 *   - settimeofday / sleep injection / clocksource changes move what they
 *     must and nothing else;
 *   - the gtod copy gives kvm_get_time_and_clockread() == the timekeeper's
 *     raw + offs_boot at the same counter, and a non-TSC clocksource turns
 *     the masterclock off.
 */
#include <stdio.h>
#include <stdlib.h>

#include "pvfuzz/pvclock.h"
#include "sim/sim.h"

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

static u64 rng = 0x2545f4914f6cdd1dULL;

static u64 next(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 0x9e3779b97f4a7c15ULL;
}

/* the world: one TSC, and an HPET-like counter derived from it */
#define TSC_HZ 2500000000ULL
#define HPET_HZ 14318180ULL
static u64 tsc_now = 0x10000000000ULL;

static u64 read_tsc_cs(struct clocksource *cs)
{
	return tsc_now;
}

static u64 read_hpet_cs(struct clocksource *cs)
{
	return (u64)((u128)tsc_now * HPET_HZ / TSC_HZ) & cs->mask;
}

static struct clocksource tsc_cs = { .read = read_tsc_cs, .mask = ~0ULL, .name = "tsc",
				     .vdso_clock_mode = VDSO_CLOCKMODE_TSC };
static struct clocksource hpet_cs = { .read = read_hpet_cs, .mask = 0xffffffffULL, .name = "hpet",
				      .vdso_clock_mode = VDSO_CLOCKMODE_NONE };

static int notified;
static struct tk_read_base last_raw;

static void count_notifier(void *ctx, const struct timekeeper *tk, bool was_set)
{
	notified++;
	last_raw = tk->tkr_raw;
}

static void test_registration(void)
{
	u32 mult, shift;

	clocksource_register_hz(&tsc_cs, TSC_HZ);
	/* the best shift whose mult still covers 600 s: mult * 600 s of cycles < 2^64 */
	CHECK((u128)tsc_cs.mult * 600 * TSC_HZ < ((u128)1 << 64), "mult %u too large", tsc_cs.mult);
	CHECK((u128)(tsc_cs.mult * 2ULL) * 600 * TSC_HZ >= ((u128)1 << 64) || tsc_cs.shift == 32,
	      "shift %u not the largest", tsc_cs.shift);
	/* mult / 2^shift is 1e9 / f, rounded */
	u128 want = (((u128)NSEC_PER_SEC << tsc_cs.shift) + TSC_HZ / 2) / TSC_HZ;
	CHECK(tsc_cs.mult == (u32)want, "mult %u, want %llu", tsc_cs.mult, (unsigned long long)want);
	CHECK(tsc_cs.maxadj == (u32)((u64)tsc_cs.mult * 11 / 100), "maxadj");

	clocks_calc_mult_shift(&mult, &shift, 1000000000, (u32)NSEC_PER_SEC, 600);
	CHECK(mult == 1u << shift, "1 GHz: mult %u shift %u is not 1.0", mult, shift);

	clocksource_register_hz(&hpet_cs, HPET_HZ);
	CHECK(hpet_cs.shift > 0 && hpet_cs.max_cycles <= hpet_cs.mask, "hpet: shift %u", hpet_cs.shift);
}

static struct timekeeping tkd;
static u64 boot_tsc;

static void boot(s64 ppb)
{
	struct timekeeping_boot b = {
		.clock = &tsc_cs,
		.wall_time = { 1700000000, 123456789 },
		.boot_offset = { 5, 0 },
		.ntp_interval_ns = 6400,
		.ntp_freq_ppb = ppb,
	};
	memset(&tkd, 0, sizeof(tkd));
	boot_tsc = tsc_now;
	timekeeping_init(&tkd, &b);
}

/* raw is exactly the boot-time conversion of every cycle since boot */
static u64 raw_want(void)
{
	return (u64)(((u128)(tsc_now - boot_tsc) * tsc_cs.mult) >> tsc_cs.shift);
}

static void test_raw_exact_and_mono_monotonic(void)
{
	boot(0);
	timekeeping_register_notifier(&tkd, count_notifier, NULL);
	CHECK(notified == 1, "the notifier runs once at registration");
	s64 real0 = ktime_get_real(&tkd);
	CHECK(real0 == 1700000000LL * (s64)NSEC_PER_SEC + 123456789, "REALTIME at boot %lld",
	      (long long)real0);
	CHECK(ktime_get(&tkd) == 5 * (s64)NSEC_PER_SEC, "MONOTONIC at boot is the uptime");
	CHECK(ktime_get_raw(&tkd) == 0, "MONOTONIC_RAW starts at 0");

	s64 prev_mono = ktime_get(&tkd);
	const s64 freqs[] = { 0, 500000, -500000, 123456, -77, 250000 };
	int ticks = 0;
	for (int i = 0; i < 200000; i++) {
		/* mostly tick-sized steps, sometimes a long NO_HZ idle */
		u64 step = next() % 100 == 0 ? next() % 40000000 : 1 + next() % 20000;
		tsc_now += step;
		if (i % 20000 == 19999)
			timekeeping_set_frequency(&tkd, freqs[(i / 20000) % 6]);
		int before = notified;
		timekeeping_tick(&tkd);
		ticks += notified != before;
		s64 raw = ktime_get_raw(&tkd);
		CHECK((u64)raw == raw_want(), "raw %lld, want %llu at i=%d", (long long)raw,
		      (unsigned long long)raw_want(), i);
		s64 mono = ktime_get(&tkd);
		CHECK(mono >= prev_mono, "MONOTONIC stepped back %lld ns at i=%d", (long long)(prev_mono - mono), i);
		prev_mono = mono;
		CHECK(ktime_get_real(&tkd) - mono == tkd.timekeeper.offs_real, "REALTIME - MONOTONIC");
		CHECK(ktime_get_boottime(&tkd) == mono, "BOOTTIME == MONOTONIC before any sleep");
	}
	CHECK(ticks > 1000, "only %d ticks", ticks);
	CHECK(last_raw.cycle_last == tkd.timekeeper.tkr_raw.cycle_last, "the notifier saw the published state");
	/* the coarse clock is the last tick's */
	CHECK(ktime_get_coarse_boottime(&tkd) <= ktime_get_boottime(&tkd), "coarse ahead of fine");
}

/* a steady NTP frequency: MONOTONIC runs that much faster than RAW */
static void test_ntp_rate(void)
{
	const s64 ppb[] = { 500000, -500000, 100000, -31337 };
	for (unsigned k = 0; k < ARRAY_SIZE(ppb); k++) {
		boot(ppb[k]);
		s64 m0 = ktime_get(&tkd), r0 = ktime_get_raw(&tkd);
		for (int i = 0; i < 100000; i++) {
			tsc_now += 16000; /* one tick: 6.4 us at 2.5 GHz */
			timekeeping_tick(&tkd);
		}
		s64 dm = ktime_get(&tkd) - m0, dr = ktime_get_raw(&tkd) - r0;
		s64 want = (s64)((double)dr * (double)ppb[k] / 1e9);
		s64 got = dm - dr;
		/* NTP steers by +-1 mult: within one mult step's worth over the run */
		s64 tol = 2 + (s64)((double)dr / tsc_cs.mult) + llabs(want) / 1000;
		CHECK(llabs(got - want) <= tol, "ppb %lld: mono - raw %lld ns, want %lld +- %lld",
		      (long long)ppb[k], (long long)got, (long long)want, (long long)tol);
	}
}

static void test_settime_sleep_clocksource(void)
{
	boot(0);
	tsc_now += 123456789;
	timekeeping_tick(&tkd);
	s64 mono = ktime_get(&tkd), raw = ktime_get_raw(&tkd);

	struct timespec64 ts = { 1800000000, 5 };
	CHECK(do_settimeofday64(&tkd, &ts) == 0, "settimeofday");
	CHECK(ktime_get_real(&tkd) == 1800000000LL * (s64)NSEC_PER_SEC + 5, "REALTIME is the value set");
	CHECK(ktime_get(&tkd) == mono && ktime_get_raw(&tkd) == raw, "settimeofday moved MONOTONIC/RAW");
	struct timespec64 before_boot = { 1, 0 };
	CHECK(do_settimeofday64(&tkd, &before_boot) != 0, "REALTIME before boot accepted");
	CHECK(ktime_get(&tkd) == mono, "a refused settimeofday changed MONOTONIC");

	struct timespec64 sleep = { 3, 500 };
	s64 boot0 = ktime_get_boottime(&tkd), real0 = ktime_get_real(&tkd);
	timekeeping_inject_sleeptime64(&tkd, &sleep);
	CHECK(ktime_get_boottime(&tkd) - boot0 == 3 * (s64)NSEC_PER_SEC + 500, "sleep: BOOTTIME");
	CHECK(ktime_get_real(&tkd) - real0 == 3 * (s64)NSEC_PER_SEC + 500, "sleep: REALTIME");
	CHECK(ktime_get(&tkd) == mono, "sleep: MONOTONIC does not count it");

	timekeeping_change_clocksource(&tkd, &hpet_cs);
	s64 m1 = ktime_get(&tkd);
	CHECK(m1 >= mono && m1 - mono < 1000, "clocksource change jumped %lld ns", (long long)(m1 - mono));
	s64 prev = m1;
	for (int i = 0; i < 20000; i++) {
		tsc_now += next() % 30000;
		timekeeping_tick(&tkd);
		s64 m = ktime_get(&tkd);
		CHECK(m >= prev, "MONOTONIC on the new clock stepped back");
		prev = m;
	}
	timekeeping_change_clocksource(&tkd, &tsc_cs);
	s64 m2 = ktime_get(&tkd);
	CHECK(m2 >= prev && m2 - prev < 1000, "back to the TSC jumped %lld ns", (long long)(m2 - prev));
}

/* KVM's copy: the masterclock's (ns, tsc) is the timekeeper's raw + offs_boot at tsc */
static u64 kvm_host_tsc(struct kvm_clock_host *h)
{
	return tsc_now;
}

static void test_gtod_copy(void)
{
	static struct pvclock_gtod_data gtod;
	static struct kvm_clock_host h;

	boot(250000);
	memset(&gtod, 0, sizeof(gtod));
	memset(&h, 0, sizeof(h));
	h.host_tk = &tkd;
	h.gtod = &gtod;
	h.host_tsc = kvm_host_tsc;
	timekeeping_register_notifier(&tkd, pvclock_gtod_notify, &h);
	struct timespec64 sleep = { 0, 777 };
	for (int i = 0; i < 50000; i++) {
		tsc_now += 1 + next() % 40000;
		if (i == 25000)
			timekeeping_inject_sleeptime64(&tkd, &sleep);
		timekeeping_tick(&tkd);
		s64 ns;
		u64 tsc;
		CHECK(kvm_get_time_and_clockread(&h, &ns, &tsc), "TSC clocksource: masterclock possible");
		CHECK(tsc == tsc_now, "the TSC of the pair");
		CHECK((u64)ns == get_kvmclock_base_ns(&h), "kernel_ns %lld, raw + offs_boot %llu",
		      (long long)ns, (unsigned long long)get_kvmclock_base_ns(&h));
		CHECK((u64)ns == raw_want() + (i >= 25000 ? 777 : 0), "kernel_ns is not raw + boot offset");
		struct timespec64 rt;
		CHECK(kvm_get_walltime_and_clockread(&h, &rt, &tsc), "walltime");
		CHECK(rt.tv_sec * (s64)NSEC_PER_SEC + rt.tv_nsec == ktime_get_real(&tkd), "do_realtime");
	}
	h.use_master_clock = true;
	timekeeping_change_clocksource(&tkd, &hpet_cs);
	s64 ns;
	u64 tsc;
	CHECK(!kvm_get_time_and_clockread(&h, &ns, &tsc), "HPET clocksource: no masterclock");
	CHECK(h.gtod_masterclock_request, "pvclock_gtod_notify did not ask for a masterclock update");
}

/* a finer published tkr_mono (mono_extra_shift) reads exactly as the plain one */
static void test_finer_mono_representation(void)
{
	static struct timekeeping a, b;
	struct timekeeping_boot bt = {
		.clock = &tsc_cs, .wall_time = { 1700000000, 0 }, .ntp_interval_ns = 6400,
		.ntp_freq_ppb = -123456,
	};
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	timekeeping_init(&a, &bt);
	bt.mono_extra_shift = 2;
	timekeeping_init(&b, &bt);
	CHECK(b.timekeeper.tkr_mono.shift == a.timekeeper.tkr_mono.shift + 2, "finer shift published");
	CHECK(b.timekeeper.tkr_raw.shift == a.timekeeper.tkr_raw.shift, "raw untouched");
	for (int i = 0; i < 20000; i++) {
		tsc_now += 1 + next() % 30000;
		timekeeping_tick(&a);
		timekeeping_tick(&b);
		CHECK(ktime_get(&a) == ktime_get(&b), "MONOTONIC differs with the finer representation");
		CHECK(ktime_get_real(&a) == ktime_get_real(&b), "REALTIME differs");
		CHECK(ktime_get_raw(&a) == ktime_get_raw(&b), "RAW differs");
	}
	struct timespec64 bad = { 0, 5 };
	CHECK(do_settimeofday64(&b, &bad) != 0, "refused");
	tsc_now += 100000;
	timekeeping_tick(&a);
	timekeeping_tick(&b);
	CHECK(ktime_get(&a) == ktime_get(&b), "a refused settimeofday undid the representation badly");
}

int main(void)
{
	struct sim_config cfg = { 0 };
	struct fdp in;

	fdp_init(&in, NULL, 0);
	sim_reset(&cfg, &in); /* no fibers: every compat access is a plain one */
	test_registration();
	test_raw_exact_and_mono_monotonic();
	test_ntp_rate();
	test_settime_sleep_clocksource();
	test_gtod_copy();
	test_finer_mono_representation();
	printf("test_timekeeping: %ld checks passed, %ld failed\n", passed, failed);
	return failed ? 1 : 0;
}
