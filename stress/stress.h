/* SPDX-License-Identifier: MIT */
/*
 * pvfuzz-stress: the shared part of the native stress runners.
 *
 * A protocol plugs in with one file stress/stress_<protocol>.c that defines
 * a struct stress_driver and registers it with STRESS_DRIVER(); CMake
 * globs the files, pvfuzz_stress.c finds the driver by name.  The driver
 * sets up its world (shared pages, host model, oracles), spawns its threads
 * with stress_spawn(), and returns; the framework runs the clock, the live
 * status line, the perf counters, the migrator, SIGINT/SIGTERM, the
 * liveness watchdog and the summary.
 *
 * Findings go through the oracle functions of src/oracle/oracle.h (the
 * simulator's names and format: "SUMMARY: pvfuzz: <oracle> variant=<v> ...");
 * natively pv_oracle_fail() records the first finding, prints it and stops
 * the run (stress/native_report.c).  Nothing aborts from a signal handler.
 */
#ifndef PVFUZZ_STRESS_H
#define PVFUZZ_STRESS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>

#include "native.h"
#include "oracle/oracle.h"
#include "pvfuzz/variant.h"

struct stress_opts {
	double duration_s;    /* --duration */
	int readers;          /* --readers (0: one per vCPU, at least 2) */
	const char *variant;  /* --variant, for pv_select() (NULL: mainline) */
	s64 skew;             /* --skew: vCPU v's TSC is skew*v cycles ahead */
	u64 update_ns;        /* --update-ns: mean host pause (0: adversarial busy loop) */
	u64 seed;             /* --seed */
	int nr_vcpus;         /* real CPUs used as vCPUs (filled by the framework) */
};

struct stress_driver {
	const char *protocol;
	const char *summary;  /* one line for --help */
	/* Set up and spawn; false (after a one-line message) means exit 2. */
	bool (*start)(struct stress_opts *o);
	/* after every thread stopped: driver-specific summary lines (may be NULL) */
	void (*summary_lines)(FILE *f);
	/*
	 * Protocol-specific options (may be NULL): their names ("--backend",
	 * NULL-terminated), --help lines, and the parser, which returns NULL
	 * or a one-line error (the framework prints it and exits 2).
	 */
	const char *const *options;
	const char *options_help;
	const char *(*option)(const char *name, const char *val);
	/* extra fields for the live status line (may be NULL) */
	void (*status)(char *buf, size_t n);
};

void stress_register(const struct stress_driver *d);
#define STRESS_DRIVER(var)                                                    \
	static void __attribute__((constructor)) stress_register_##var(void)   \
	{                                                                     \
		stress_register(&var);                                        \
	}

/* ---- threads ---- */

/*
 * Per-thread counters, written by the owner only (relaxed), summed by the
 * status line.  One cache line each, so readers do not share lines.
 */
struct stress_worker {
	const char *name;
	_Atomic u64 ops;        /* reads / updates completed */
	_Atomic u64 retries;    /* extra attempts inside reads */
	_Atomic u64 fallbacks;  /* reads that took the fallback (syscall) path */
	_Atomic u64 unchecked;  /* reads an oracle could not check (ring lapped) */
	_Atomic u64 last_progress_ns;
	struct native_thread nt;
	bool is_writer;
	bool userspace;         /* the migrator may move it mid-operation */
	bool watch;             /* liveness watchdog applies */
	_Atomic bool done;
	pthread_t thread;
	void *(*fn)(struct stress_worker *w);
	void *arg;
	int index;
} __attribute__((aligned(64)));

struct stress_worker *stress_spawn(const char *name, void *(*fn)(struct stress_worker *w), void *arg,
				   bool is_writer, bool userspace);
static inline void stress_progress(struct stress_worker *w)
{
	atomic_store_explicit(&w->ops, atomic_load_explicit(&w->ops, memory_order_relaxed) + 1,
			      memory_order_relaxed);
}
static inline void stress_count(_Atomic u64 *c, u64 n)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n, memory_order_relaxed);
}

/* The run is over (duration, signal, finding): every thread loop polls it. */
extern atomic_bool stress_stopping;
static inline bool stress_stop(void)
{
	return atomic_load_explicit(&stress_stopping, memory_order_relaxed);
}

/* Findings so far (the first one was printed) and when the first came. */
int stress_findings(void);
u64 stress_first_finding_ns(void);

/* The variant pairing, for SUMMARY lines. */
void stress_set_label(const char *label);
const char *stress_label(void);

/* xorshift64*: per-thread, seeded from --seed */
static inline u64 stress_rand(u64 *s)
{
	u64 x = *s;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545F4914F6CDD1DULL;
}
u64 stress_seed(u64 salt);

/* ns since the process started / since the threads started (CLOCK_MONOTONIC_RAW) */
u64 stress_elapsed_ns(void);
u64 stress_run_ns(void);

/* ---- a driver's start() ---- */

/*
 * --variant for protocol p: refuses "input" (fuzz targets only), needs a
 * reader and a writer, sets the label.  false: a message was printed.
 */
bool stress_select(enum pv_protocol p, const char *variant, struct pv_selection *sel);
/*
 * The usable CPUs become the vCPUs (at most max_vcpus, PV_MAX_VCPUS; said
 * when there are more), with a note when the kernel's clocksource is not
 * tsc.  Returns their number.
 */
int stress_setup_vcpus(int max_vcpus);
/*
 * The host TSC rate in kHz, from two (tsc, CLOCK_MONOTONIC_RAW ns) pairs
 * 200 ms apart; *tsc0, *raw0: the second pair.
 */
void stress_calibrate_tsc(u32 *khz, u64 *tsc0, u64 *raw0);

/*
 * The host thread between two updates: a random pause of mean update_ns
 * (--update-ns), or with 0 mostly none (an adversarial busy loop).
 */
void stress_host_pause(u64 *rs, u64 update_ns);

#endif
