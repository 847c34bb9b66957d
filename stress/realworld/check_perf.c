// SPDX-License-Identifier: MIT
/*
 * The perf time page checker: the time fields of the running kernel's
 * perf_event_mmap_page, read the way include/uapi/linux/perf_event.h
 * documents it, by threads that hop between CPUs.
 *
 * Each reader opens its own software event on itself (pid 0, any CPU,
 * user-space only, so perf_event_paranoid 2 allows it) and maps the first
 * page.  A read is the documented seqcount loop around the fields and a
 * TSC read, then the documented conversion
 *
 *     quot = cyc >> time_shift;  rem = cyc & ((1 << time_shift) - 1);
 *     time = time_zero + quot * time_mult + ((rem * time_mult) >> time_shift)
 *
 * (with cap_user_time_short: cyc = time_cycles + ((cyc - time_cycles) &
 * time_mask) first).  Oracles:
 *
 *   reference     the documented split formula equals the 128-bit product
 *                 time_zero + (cyc * time_mult) >> time_shift (CO4)
 *   monotonic     a thread's own perf times never go back (CO1)
 *   linearizable  perf times read under one lock by all threads, whatever
 *                 CPU they are on, never go back (CO2): cap_user_time_zero
 *                 is only offered with a stable sched_clock, which is
 *                 global
 *   plausibility  perf time minus CLOCK_MONOTONIC_RAW keeps the offset it
 *                 had at the start within 1000 ppm of the elapsed time plus
 *                 1 ms (both count the same TSC; perf's clock is sched_clock)
 *   liveness      the seqcount loop ends (at most 10^6 retries)
 *
 * Skipped, with the reason, when perf events are not permitted or not
 * there, or when the kernel leaves cap_user_time_zero clear - on x86 it
 * sets it only while sched_clock is the native, stable TSC one, never in a
 * guest whose sched_clock is kvm-clock's (arch_perf_update_userpage()).
 *
 * The test-only build can replace the kernel's page by a synthetic one that
 * a writer thread keeps updating under the same seqcount with calibrated
 * TSC parameters (--inject perf_synthetic, and the perf_page_* bugs), so
 * that the oracles are proven on machines whose kernel offers no page.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <linux/perf_event.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <x86intrin.h>

#include "check.h"

static struct check_counter counters[] = {
	CHECK_COUNTER("reads"), CHECK_COUNTER("retries"), CHECK_COUNTER("migrations"),
	CHECK_COUNTER("cross-cpu-pairs"), CHECK_COUNTER("plausibility-checks"),
	CHECK_COUNTER("page-updates-seen"), CHECK_COUNTER(NULL),
};
enum { N_READS, N_RETRIES, N_MIGRATIONS, N_CROSS, N_PLAUSIBLE, N_UPDATES };

static const struct check_injection injections[] = {
	{ "perf_synthetic", NULL, "a correct synthetic page: no oracle may fire" },
	{ "perf_reader_no_rem", "reference", "the reader drops the remainder term of the conversion" },
	/* the glitch is read after the reader's own later read, or another's: either oracle */
	{ "perf_page_backstep", "monotonic|linearizable",
	  "the synthetic page's time_zero is 500 us back for one update in 50" },
	{ "perf_page_offset", "plausibility", "the synthetic page's time_zero jumps 10 s ahead once" },
	{ NULL, NULL, NULL },
};

#define MAX_RETRIES 1000000
#define MIGRATE_EVERY 997
#define PLAUSIBLE_EVERY 64
#define CAP_USER_TIME_ZERO (1ULL << 4)  /* bit positions of the uapi bitfield */
#define CAP_USER_TIME_SHORT (1ULL << 5)
#define CAP_USER_TIME (1ULL << 3)

/* What one read saw. */
struct perf_snap {
	u32 lock;
	u64 caps;
	u32 mult;
	u16 shift;
	u64 zero, cycles, mask;
	u64 cyc;        /* the TSC, read inside the loop */
	unsigned aux;   /* RDTSCP's TSC_AUX: the CPU it ran on */
	u64 retries;
};

static int cpus[CHECK_MAX_CPUS], nr_cpus;
static int nr_threads;
static u64 seed;
static int event_config = -1;
static bool use_synthetic;
static struct perf_event_mmap_page *synthetic;
static s64 offset0;   /* perf time - CLOCK_MONOTONIC_RAW at set-up */
static u64 raw0;
static char note[512];

static pthread_mutex_t order_lock = PTHREAD_MUTEX_INITIALIZER;
static u64 order_last;
static int order_cpu = -1, order_thread = -1;

/* ------------------------------------------------------ the conversion -- */

static inline u64 adjusted_cycles(const struct perf_snap *s)
{
	if (s->caps & CAP_USER_TIME_SHORT)
		return s->cycles + ((s->cyc - s->cycles) & s->mask);
	return s->cyc;
}

/* The documented 64-bit split; false when time_shift makes it undefined. */
static bool perf_time_documented(const struct perf_snap *s, u64 *t)
{
	u64 cyc = adjusted_cycles(s);
	if (s->shift >= 64)
		return false;
	u64 quot = cyc >> s->shift;
	u64 rem = cyc & (((u64)1 << s->shift) - 1);
	if (check_inject("perf_reader_no_rem"))
		rem = 0;
	*t = s->zero + quot * s->mult + ((rem * s->mult) >> s->shift);
	return true;
}

static u64 perf_time_reference(const struct perf_snap *s)
{
	u128 p = (u128)adjusted_cycles(s) * s->mult;
	return s->zero + (u64)(s->shift >= 128 ? 0 : p >> s->shift);
}

/* ------------------------------------------------------------- reading -- */

#define LOAD(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)

/*
 * The documented reader: lock, fields, TSC, lock again, retry on change.
 * The documentation's loop does not look at an odd lock because the kernel
 * updates a task's page only while that task is off the CPU or interrupted;
 * a synthetic page is written by another thread, so an odd lock (a write in
 * progress) is retried here as well.
 */
static bool perf_read(const struct perf_event_mmap_page *pg, struct perf_snap *s)
{
	u64 tries = 0;
	for (;;) {
		s->lock = __atomic_load_n(&pg->lock, __ATOMIC_ACQUIRE);
		if (!(s->lock & 1)) {
			s->caps = LOAD(pg->capabilities);
			s->mult = LOAD(pg->time_mult);
			s->shift = LOAD(pg->time_shift);
			s->zero = LOAD(pg->time_zero);
			s->cycles = LOAD(pg->time_cycles);
			s->mask = LOAD(pg->time_mask);
			s->cyc = __rdtscp(&s->aux); /* ordered after the loads above */
			__atomic_thread_fence(__ATOMIC_ACQUIRE);
			if (__atomic_load_n(&pg->lock, __ATOMIC_RELAXED) == s->lock)
				break;
		}
		if (++tries >= MAX_RETRIES) {
			s->retries = tries;
			return false;
		}
	}
	s->retries = tries;
	return true;
}

static void snap_evidence(const char *who, const struct perf_snap *s)
{
	check_evidence("%s: lock %u caps 0x%" PRIx64 " time_mult %u time_shift %u time_zero %" PRIu64
		       " time_cycles %" PRIu64 " time_mask 0x%" PRIx64 " tsc %" PRIu64 " (TSC_AUX cpu %u)%s",
		       who, s->lock, s->caps, s->mult, s->shift, s->zero, s->cycles, s->mask, s->cyc,
		       s->aux & 0xfff, use_synthetic ? " [synthetic page]" : "");
}

/* ------------------------------------------------- the synthetic page -- */

static _Atomic bool round_over;

#define STORE(x, v) __atomic_store_n(&(x), (v), __ATOMIC_RELAXED)

/*
 * The kernel's update (perf_event_update_userpage): lock odd, fields, lock
 * even, with write barriers between.  Parameters from a TSC calibration
 * against CLOCK_MONOTONIC_RAW, so the page's time tracks that clock.
 */
static u32 syn_mult;
static u16 syn_shift = 31;
static u64 syn_zero;

static void synthetic_publish(u64 zero)
{
	struct perf_event_mmap_page *pg = synthetic;
	u32 l = LOAD(pg->lock);
	STORE(pg->lock, l + 1);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	STORE(pg->capabilities, CAP_USER_TIME | CAP_USER_TIME_ZERO);
	STORE(pg->time_mult, syn_mult);
	STORE(pg->time_shift, syn_shift);
	STORE(pg->time_zero, zero);
	STORE(pg->time_cycles, 0);
	STORE(pg->time_mask, 0);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	__atomic_store_n(&pg->lock, l + 2, __ATOMIC_RELEASE);
}

static void synthetic_calibrate(void)
{
	unsigned aux;
	u64 t0 = __rdtscp(&aux), r0 = check_raw_ns();
	struct timespec d = { 0, 50 * 1000 * 1000 };
	nanosleep(&d, NULL);
	u64 t1 = __rdtscp(&aux), r1 = check_raw_ns();
	/* ns per cycle in 2^-31 units */
	syn_mult = (u32)(((u128)(r1 - r0) << syn_shift) / (t1 - t0));
	syn_zero = r1 - (u64)(((u128)t1 * syn_mult) >> syn_shift);
}

static void *synthetic_writer(void *arg)
{
	(void)arg;
	u64 updates = 0;
	static u64 total;
	while (!atomic_load_explicit(&round_over, memory_order_relaxed) && !check_stop()) {
		total++;
		updates++;
		u64 zero = syn_zero;
		/* a 500 us glitch back for one update in 50: within the plausibility bound */
		if (check_inject("perf_page_backstep") && total % 50 == 0)
			zero -= 500000;
		if (check_inject("perf_page_offset") && total == 20)
			syn_zero += 10 * NSEC_PER_SEC;
		synthetic_publish(check_inject("perf_page_offset") ? syn_zero : zero);
		struct timespec d = { 0, 100 * 1000 };
		nanosleep(&d, NULL);
	}
	return NULL;
}

/* ------------------------------------------------------------- events -- */

static int perf_open(int config)
{
	struct perf_event_attr a;
	memset(&a, 0, sizeof(a));
	a.size = sizeof(a);
	a.type = PERF_TYPE_SOFTWARE;
	a.config = (u64)config;
	a.exclude_kernel = 1;  /* what perf_event_paranoid 2 still allows */
	a.exclude_hv = 1;
	return (int)syscall(SYS_perf_event_open, &a, 0, -1, -1, PERF_FLAG_FD_CLOEXEC);
}

/* One event of the calling thread with its first page mapped (NULL: errno). */
static struct perf_event_mmap_page *perf_page(int *fd)
{
	*fd = perf_open(event_config);
	if (*fd < 0)
		return NULL;
	void *p = mmap(NULL, (size_t)sysconf(_SC_PAGESIZE), PROT_READ, MAP_SHARED, *fd, 0);
	if (p == MAP_FAILED) {
		int e = errno;
		close(*fd);
		errno = e;
		return NULL;
	}
	return p;
}

/* ------------------------------------------------------------ readers -- */

struct preader {
	pthread_t t;
	int idx, cpu;
	u64 rs, last, last_lock, deadline;
	u64 n_reads, n_retries, n_cross, n_plausible, n_updates;
	struct perf_event_mmap_page *pg;
	int fd;
};
static struct preader readers[CHECK_MAX_THREADS];

static void flush_counts(struct preader *r)
{
	check_count(&counters[N_READS], r->n_reads);
	check_count(&counters[N_RETRIES], r->n_retries);
	check_count(&counters[N_CROSS], r->n_cross);
	check_count(&counters[N_PLAUSIBLE], r->n_plausible);
	check_count(&counters[N_UPDATES], r->n_updates);
	r->n_reads = r->n_retries = r->n_cross = r->n_plausible = r->n_updates = 0;
}

/* One read with every oracle; false after a finding. */
static bool check_one(struct preader *r)
{
	struct perf_snap s;
	u64 t, ref;
	char what[200];

	pthread_mutex_lock(&order_lock);
	bool ok = perf_read(r->pg, &s);
	bool defined = ok && perf_time_documented(&s, &t);
	u64 prev = order_last;
	int pcpu = order_cpu, pthr = order_thread;
	if (defined && t >= prev) {
		order_last = t;
		order_cpu = r->cpu;
		order_thread = r->idx;
	}
	pthread_mutex_unlock(&order_lock);

	r->n_reads++;
	r->n_retries += s.retries;
	if (!ok) {
		snap_evidence("last attempt", &s);
		oracle_liveness("perf-reader", "perf_event_mmap_page seqcount read", s.retries);
		return false;
	}
	if (!(s.caps & CAP_USER_TIME_ZERO)) {
		snap_evidence("read", &s);
		oracle_flag_coherence("perf page: cap_user_time_zero was set at set-up and is clear now");
		return false;
	}
	if (s.lock != r->last_lock) {
		r->n_updates++;
		r->last_lock = s.lock;
	}
	ref = perf_time_reference(&s);
	if (!defined) {
		snap_evidence("read", &s);
		snprintf(what, sizeof(what), "perf page time_shift %u >= 64: the documented conversion is "
			 "undefined", s.shift);
		oracle_reference(what, 0, ref);
		return false;
	}
	if (t != ref) {
		snap_evidence("read", &s);
		oracle_reference("perf page time: the documented 64-bit split", t, ref);
		return false;
	}
	if (t < r->last) {
		snap_evidence("this read", &s);
		check_evidence("thread %d pinned to CPU %d; its previous perf time %" PRIu64, r->idx, r->cpu,
			       r->last);
		oracle_monotonic(r->idx, r->last, t);
		return false;
	}
	r->last = t;
	if (prev && t < prev) {
		snap_evidence("later read", &s);
		check_evidence("reads ordered by a lock; earlier read %" PRIu64 " by thread %d on CPU %d, "
			       "later read %" PRIu64 " by thread %d on CPU %d", prev, pthr, pcpu, t, r->idx, r->cpu);
		oracle_linearizable(r->idx, prev, t);
		return false;
	}
	if (prev && pcpu != r->cpu)
		r->n_cross++;
	if (r->n_reads % PLAUSIBLE_EVERY == 0) {
		u64 w1 = check_raw_ns();
		struct perf_snap s2;
		u64 p;
		if (!perf_read(r->pg, &s2) || !perf_time_documented(&s2, &p))
			return true; /* judged on the next locked read */
		u64 w2 = check_raw_ns();
		u64 elapsed = w2 > raw0 ? w2 - raw0 : 0;
		u64 bound = elapsed / 1000 + 1000000 + (w2 - w1);
		u64 lo = w1 + (u64)offset0 - bound, hi = w2 + (u64)offset0 + bound;
		r->n_plausible++;
		if (p < lo || p > hi) {
			snap_evidence("read", &s2);
			check_evidence("CLOCK_MONOTONIC_RAW %" PRIu64 " .. %" PRIu64 "; offset at set-up %" PRId64
				       " ns; allowed drift %" PRIu64 " ns", w1, w2, offset0, bound);
			oracle_plausibility(r->idx, p, lo, hi);
			return false;
		}
	}
	return true;
}

static void migrate(struct preader *r)
{
	if (nr_cpus < 2)
		return;
	int to = check_other_cpu(cpus, nr_cpus, r->cpu, &r->rs);
	if (check_pin_self(to)) {
		r->cpu = to;
		check_count(&counters[N_MIGRATIONS], 1);
	}
}

static void *reader_main(void *arg)
{
	struct preader *r = arg;
	check_pin_self(r->cpu);
	if (use_synthetic) {
		r->pg = synthetic;
		r->fd = -1;
	} else if (!(r->pg = perf_page(&r->fd))) {
		fprintf(stderr, "pvfuzz-check: perf reader %d: perf_event_open/mmap: %s\n", r->idx, strerror(errno));
		return NULL;
	}
	for (u64 i = 1; !check_stop(); i++) {
		if ((i & 63) == 0 && check_raw_ns() >= r->deadline)
			break;
		if ((i & 4095) == 0)
			flush_counts(r);
		if (i % MIGRATE_EVERY == 0)
			migrate(r);
		if (!check_one(r))
			break;
	}
	flush_counts(r);
	if (!use_synthetic) {
		munmap(r->pg, (size_t)sysconf(_SC_PAGESIZE));
		close(r->fd);
	}
	return NULL;
}

/* -------------------------------------------------------- the checker -- */

static bool injected_page(void)
{
	return check_inject("perf_synthetic") || check_inject("perf_page_backstep") ||
	       check_inject("perf_page_offset");
}

/* offset0 and raw0: perf time - CLOCK_MONOTONIC_RAW, bracketed. */
static bool measure_offset(const struct perf_event_mmap_page *pg, char *why, size_t n)
{
	struct perf_snap s = { 0 };
	u64 t;
	u64 w1 = check_raw_ns();
	if (!perf_read(pg, &s) || !perf_time_documented(&s, &t)) {
		snprintf(why, n, "the perf page could not be read at set-up (seqcount never settled or "
			 "time_shift %u)", s.shift);
		return false;
	}
	u64 w2 = check_raw_ns();
	raw0 = w1 + (w2 - w1) / 2;
	offset0 = (s64)(t - raw0);
	return true;
}

static bool perf_setup(const struct check_opts *o, char *why, size_t n)
{
	static const struct {
		int config;
		const char *name;
	} events[] = {
		{ PERF_COUNT_SW_CPU_CLOCK, "cpu-clock" },
		{ PERF_COUNT_SW_TASK_CLOCK, "task-clock" },
		{ PERF_COUNT_SW_DUMMY, "dummy" },
	};
	nr_cpus = check_usable_cpus(cpus, CHECK_MAX_CPUS);
	nr_threads = o->threads ? o->threads : 2 * nr_cpus;
	if (nr_threads < 1)
		nr_threads = 1;
	if (nr_threads > CHECK_MAX_THREADS)
		nr_threads = CHECK_MAX_THREADS;
	memset(readers, 0, sizeof(readers));
	seed = o->seed;
	note[0] = 0;
	order_last = 0;
	order_cpu = order_thread = -1;

	char reason[200] = "";
	struct perf_event_mmap_page *pg = NULL;
	int fd = -1;
	for (size_t i = 0; i < ARRAY_SIZE(events) && !pg; i++) {
		event_config = events[i].config;
		pg = perf_page(&fd);
		if (!pg && (errno == EACCES || errno == EPERM)) {
			FILE *f = fopen("/proc/sys/kernel/perf_event_paranoid", "r");
			int para = -99;
			if (f) {
				if (fscanf(f, "%d", &para) != 1)
					para = -99;
				fclose(f);
			}
			snprintf(reason, sizeof(reason), "perf_event_open not permitted (%s; perf_event_paranoid %d)",
				 strerror(errno), para);
			break;
		}
		if (!pg)
			snprintf(reason, sizeof(reason), "no software perf event to map (%s: %s)", events[i].name,
				 strerror(errno));
	}
	if (pg) {
		struct perf_snap s = { 0 };
		if (!perf_read(pg, &s))
			snprintf(reason, sizeof(reason), "the perf page's seqcount never settled at set-up");
		else if (!(s.caps & CAP_USER_TIME_ZERO))
			snprintf(reason, sizeof(reason), "cap_user_time_zero == 0: the kernel does not export "
				 "perf's clock here (x86 does only with the native, stable TSC sched_clock, not "
				 "kvm-clock's)");
		munmap(pg, (size_t)sysconf(_SC_PAGESIZE));
		close(fd);
	}
	const char *unavailable = reason[0] ? reason : NULL;

	use_synthetic = false;
	if (injected_page() || (unavailable && check_inject("perf_reader_no_rem"))) {
		/* test-only: the oracles against a page of our own */
		if (!synthetic) {
			synthetic = mmap(NULL, (size_t)sysconf(_SC_PAGESIZE), PROT_READ | PROT_WRITE,
					 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			if (synthetic == MAP_FAILED) {
				synthetic = NULL;
				snprintf(why, n, "mmap of the synthetic page: %s", strerror(errno));
				return false;
			}
		}
		synthetic_calibrate();
		synthetic_publish(syn_zero);
		use_synthetic = true;
		snprintf(note, sizeof(note), "TEST-ONLY synthetic page (mult %u shift %u)%s%s", syn_mult,
			 syn_shift, unavailable ? "; the kernel's page: " : "", unavailable ? unavailable : "");
		return measure_offset(synthetic, why, n);
	}
	if (unavailable) {
		snprintf(why, n, "%s", unavailable);
		return false;
	}
	/* the offset from this thread's own page; readers map their own */
	pg = perf_page(&fd);
	if (!pg) {
		snprintf(why, n, "perf page: %s", strerror(errno));
		return false;
	}
	bool ok = measure_offset(pg, why, n);
	munmap(pg, (size_t)sysconf(_SC_PAGESIZE));
	close(fd);
	return ok;
}

static void perf_round(u64 round_ns)
{
	pthread_t wt;
	bool writer = use_synthetic;
	u64 deadline = check_raw_ns() + round_ns;
	int started = 0;

	atomic_store(&round_over, false);
	if (writer && !check_thread_start(&wt, synthetic_writer, NULL))
		writer = false;
	for (int i = 0; i < nr_threads; i++) {
		struct preader *r = &readers[i];
		u64 last = r->last;
		memset(r, 0, sizeof(*r));
		r->idx = i;
		r->last = last;
		r->cpu = cpus[i % (nr_cpus ? nr_cpus : 1)];
		r->rs = check_seed(seed, (u64)i + 1 + (deadline << 8));
		r->deadline = deadline;
		if (!check_thread_start(&r->t, reader_main, r))
			break;
		started++;
	}
	for (int i = 0; i < started; i++)
		pthread_join(readers[i].t, NULL);
	atomic_store(&round_over, true);
	if (writer)
		pthread_join(wt, NULL);
}

static void perf_notes(FILE *f)
{
	if (use_synthetic)
		fprintf(f, "  %d reader threads on %d CPU%s sharing one %s\n", nr_threads, nr_cpus,
			nr_cpus == 1 ? "" : "s", note);
	else
		fprintf(f, "  %d reader threads on %d CPU%s, each with its own %s event page\n", nr_threads,
			nr_cpus, nr_cpus == 1 ? "" : "s",
			event_config == PERF_COUNT_SW_CPU_CLOCK ? "cpu-clock" :
			event_config == PERF_COUNT_SW_TASK_CLOCK ? "task-clock" : "dummy");
}

const struct checker check_perf = {
	.name = "perf",
	.what = "perf_event_mmap_page time fields: documented seqcount reader and conversion vs "
		"a 128-bit reference, order across CPUs, vs CLOCK_MONOTONIC_RAW",
	.setup = perf_setup,
	.round = perf_round,
	.notes = perf_notes,
	.counters = counters,
	.injections = injections,
};
