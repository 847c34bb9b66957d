/* SPDX-License-Identifier: MIT */
/*
 * Real-kernel checkers: the project's oracles run against the kernel this
 * process runs on (its vDSO, its perf time page, its TLB shootdowns), not
 * against a model.  One file per checker (check_vdso.c, check_perf.c,
 * check_tlb.c); two front ends drive them the same way:
 *
 *   pvfuzz-check (check_main.c)     rounds of ~200 ms until --duration
 *   libpvfuzz-stressng.so           one short round per stress-ng call
 *                                    (stressng_plugin.c)
 *
 * A checker's work is cut into bounded rounds because stress-ng kills a
 * plugin call mid-flight at its timeout and restarts it: every round joins
 * its threads and leaves no state that needs undoing (check_main.c alone
 * perturbs global kernel state, and restores it).
 *
 * Findings go through the oracle failure points (src/oracle/'s files and
 * check_oracles.c), whose pv_oracle_fail() is check_report.c's: one line
 * "SUMMARY: pvfuzz: <oracle> variant=check-<checker> ...", then the finding
 * written atomically to <findings>/<checker>/.
 */
#ifndef PVFUZZ_CHECK_H
#define PVFUZZ_CHECK_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>

#include "oracle/oracle.h"
#include "pvfuzz/types.h"

#define CHECK_MAX_CPUS 256
#define CHECK_MAX_THREADS 64
#define CHECK_MAX_COUNTERS 16

struct check_opts {
	double duration_s;         /* pvfuzz-check --duration */
	int threads;               /* --threads (0: the checker's default) */
	bool perturb;              /* vdso: clock_adjtime frequency offsets (root) */
	bool perturb_clocksource;  /* vdso: switch the clocksource (root) */
	bool plugin;               /* inside stress-ng: no capabilities, short rounds */
	u64 seed;
};

/* A named count, summed over threads, printed at the end. */
struct check_counter {
	const char *name;
	_Atomic u64 v;
};
#define CHECK_COUNTER(n) { .name = (n) }

/*
 * A deliberately broken checker (test-only builds): its name, the oracle
 * it must trip, and what it breaks.  The tests read this table
 * (pvfuzz-check-inject --injections), so the expectation lives here only.
 */
struct check_injection {
	const char *name;
	const char *oracle;  /* "a|b": either may fire first; NULL: none may fire */
	const char *what;
};

struct checker {
	const char *name;          /* vdso | perf | tlb */
	const char *what;          /* one line for --help */
	/*
	 * Precondition and set-up.  false: the checker cannot run here, and
	 * `why` holds the one-line reason (it is skipped, never failed).
	 */
	bool (*setup)(const struct check_opts *o, char *why, size_t n);
	/* One bounded round of about round_ns; threads joined on return. */
	void (*round)(u64 round_ns);
	/* After the last round (may be NULL). */
	void (*teardown)(void);
	/* Extra lines for the summary, after the counters (may be NULL). */
	void (*notes)(FILE *f);
	struct check_counter *counters;  /* NULL-name terminated */
	/* test-only injected bugs this checker knows, {NULL}-terminated */
	const struct check_injection *injections;
};

extern const struct checker check_vdso, check_perf, check_tlb;
extern const struct checker *const checkers[];  /* vdso, perf, tlb, NULL */
const struct checker *checker_by_name(const char *name);

/* ---- the run ---- */

/* A finding, a signal or the end of the duration: rounds poll it. */
extern atomic_bool check_stopping;
static inline bool check_stop(void)
{
	return atomic_load_explicit(&check_stopping, memory_order_relaxed);
}

static inline void check_count(struct check_counter *c, u64 n)
{
	atomic_fetch_add_explicit(&c->v, n, memory_order_relaxed);
}

/* ---- findings (check_report.c) ---- */

/*
 * Where findings go: <dir>/<checker>/<oracle>-<time>-<pid>-<n>.  The
 * directory is created when the first finding is written.
 */
void check_set_findings_dir(const char *dir);
/* The last line of every finding file: a temporary file that has it is whole. */
#define CHECK_FINDING_END "-- end of finding --"
/* The checker running now (labels SUMMARY lines and picks the directory). */
void check_set_current(const struct checker *c);
/* The command line, recorded in every finding. */
void check_set_command(int argc, char **argv);
/* Findings written (or kept on stderr) by this process. */
int check_findings(void);
/*
 * Evidence for the next finding of the calling thread: lines appended
 * here go into the finding file (the observations the oracle judged).
 */
void check_evidence(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void check_evidence_clear(void);
/* Stop after the first finding (pvfuzz-check) or keep going (plugin). */
extern bool check_stop_on_finding;
/* Called after a finding was saved (the plugin's greppable line, FAIL_HARD). */
extern void (*check_on_finding)(const char *oracle, const char *path, const char *summary);

/* ---- helpers (check_common.c) ---- */

/* The CPUs this thread may run on (sched_getaffinity), ascending. */
int check_usable_cpus(int *cpus, int max);
/* Pin the calling thread to one CPU; true when it now runs there. */
bool check_pin_self(int cpu);
/* A random CPU of cpus[0..n) other than cur (n >= 2). */
int check_other_cpu(const int *cpus, int n, int cur, u64 *rs);
/* CLOCK_MONOTONIC_RAW by the syscall (never the vDSO): the harness clock. */
u64 check_raw_ns(void);
/* splitmix64 seeding, xorshift64* stream */
u64 check_seed(u64 base, u64 salt);
static inline u64 check_rand(u64 *s)
{
	u64 x = *s;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545F4914F6CDD1DULL;
}
/* One line: the current clocksource (or "?"). */
void check_clocksource(char *buf, size_t n);
/* A thread that runs fn(arg); false after a one-line message. */
bool check_thread_start(pthread_t *t, void *(*fn)(void *), void *arg);

/*
 * Deliberately broken checkers, for tests only: built into
 * pvfuzz-check-inject and libpvfuzz-stressng-inject.so (-DPVFUZZ_CHECK_INJECT),
 * never into the tools a user runs.  check_inject("name") says whether the
 * run injects that bug (--inject NAME, or PVFUZZ_INJECT in the plugin).
 */
#ifdef PVFUZZ_CHECK_INJECT
void check_set_inject(const char *name);
const char *check_inject_name(void);
bool check_inject(const char *name);
#else
static inline bool check_inject(const char *name)
{
	(void)name;
	return false;
}
static inline const char *check_inject_name(void)
{
	return NULL;
}
#endif

/* ---- failure points of the real-kernel oracles (check_oracles.c) ---- */

/* vDSO result outside [syscall before, syscall after] for the same clock */
void oracle_sandwich(const char *what);
/* two clocks read in an order that bounds them disagree (BOOTTIME < MONOTONIC, ...) */
void oracle_clock_relation(const char *what);
/* the vDSO's getcpu disagrees with the CPU the thread is pinned to */
void oracle_getcpu(const char *what);
/* old data readable after MADV_DONTNEED returned (must be a fresh zero page) */
void oracle_fresh_zero(const char *what);

#endif
