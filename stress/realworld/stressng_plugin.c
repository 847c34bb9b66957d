// SPDX-License-Identifier: MIT
/*
 * libpvfuzz-stressng.so: the real-kernel checkers as stress-ng plugin
 * methods, so they run on a real guest beside stress-ng's own stressors:
 *
 *   stress-ng --plugin 2 --plugin-so /abs/path/libpvfuzz-stressng.so \
 *             --plugin-method pvfuzz --vdso 1 --tlb-shootdown 1 -t 60
 *
 * Methods: vdso, perf, tlb (one checker each) and pvfuzz (the checkers
 * that can run here, in turn).  The plugin ABI of stress-ng 0.15.06 shapes
 * everything (real-world.md 1): a method is `int stress_<name>(void)` with
 * no arguments, called in a loop by a forked process without capabilities;
 * 0 counts one bogo-op, non-zero ends that process and stress-ng forks a
 * fresh one; at the timeout a call is killed mid-flight.  So each call is
 * one checker round of about 20 ms that joins its threads before it
 * returns, set-up happens lazily once per process, and nothing needs
 * undoing after a kill (no perturbation here: no CAP_SYS_TIME anyway).
 *
 * stress-ng cannot report a plugin's failure, so a finding is written
 * atomically to <dir>/<checker>/ - <dir> is $PVFUZZ_STRESSNG_DIR (what
 * ./pvfuzz stress-ng sets), else $PVFUZZ_FINDINGS/stress-ng, else
 * findings/stress-ng under the working directory - and printed as one
 * greppable line
 *     pvfuzz: FAIL <oracle> checker=<checker> finding=<path>
 * after its SUMMARY line; `./pvfuzz stress-ng` collects them.  With
 * PVFUZZ_FAIL_HARD=1 the plugin also kills its stressor process with
 * SIGPROF, which stress-ng 0.15.06 reports as a failed run (exit 2).
 * $PVFUZZ_COUNTS names a file where every process adds its counts after
 * each call (`pvfuzz-check counts FILE` prints them).
 *
 * A checker that cannot run here (one CPU, no perf page, ...) records its
 * reason once, and its calls sleep 100 ms and return non-zero: no bogo-ops
 * for work not done.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "stressng_counts.h"

#define PLUGIN_ROUND_NS (20 * 1000 * 1000ULL)
#define EXPORT __attribute__((visibility("default")))

static bool initialised;
static bool tried[STRESSNG_MAX_CHECKERS], usable[STRESSNG_MAX_CHECKERS];
static struct stressng_counts *counts;
static bool fail_hard;
static int turn;

static void on_finding(const char *oracle, const char *path, const char *summary)
{
	(void)oracle;
	(void)path;
	(void)summary;
	if (fail_hard) {
		/* stress-ng's only failure channel: its stressor dies of a signal it does not catch */
		kill(getppid(), SIGPROF);
		_exit(1);
	}
}

static void map_counts(void)
{
	const char *path = getenv("PVFUZZ_COUNTS");
	if (!path || !*path)
		return;
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return;
	struct stat st;
	if (fstat(fd, &st) == 0 && (size_t)st.st_size < sizeof(*counts) && ftruncate(fd, sizeof(*counts)) != 0) {
		close(fd);
		return;
	}
	void *p = mmap(NULL, sizeof(*counts), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (p == MAP_FAILED)
		return;
	counts = p;
	__atomic_store_n(&counts->magic, STRESSNG_COUNTS_MAGIC, __ATOMIC_RELAXED);
}

static void init_once(void)
{
	if (initialised)
		return;
	initialised = true;
	/*
	 * $PVFUZZ_STRESSNG_DIR (the wrapper's per-run directory), else
	 * $PVFUZZ_FINDINGS/stress-ng, else findings/stress-ng here: made absolute
	 * now, whatever directory a later call runs in.
	 */
	const char *dir = getenv("PVFUZZ_STRESSNG_DIR"), *root = getenv("PVFUZZ_FINDINGS");
	char rel[1024], cwd[2048], abs[3200];
	if (dir && *dir)
		snprintf(rel, sizeof(rel), "%s", dir);
	else
		snprintf(rel, sizeof(rel), "%.1000s/stress-ng", root && *root ? root : "findings");
	if (rel[0] != '/' && getcwd(cwd, sizeof(cwd)))
		snprintf(abs, sizeof(abs), "%s/%s", cwd, rel);
	else
		snprintf(abs, sizeof(abs), "%s", rel);
	check_set_findings_dir(abs);
	char *argv[] = { (char *)"libpvfuzz-stressng.so (stress-ng plugin)" };
	check_set_command(1, argv);
	check_stop_on_finding = false; /* the call goes on; stress-ng decides when to stop */
	check_on_finding = on_finding;
	fail_hard = getenv("PVFUZZ_FAIL_HARD") && !strcmp(getenv("PVFUZZ_FAIL_HARD"), "1");
#ifdef PVFUZZ_CHECK_INJECT
	const char *inject = getenv("PVFUZZ_INJECT");
	bool known = !inject || !*inject;
	for (int i = 0; checkers[i] && !known; i++)
		for (const struct check_injection *j = checkers[i]->injections; j && j->name; j++)
			known |= !strcmp(j->name, inject);
	if (known)
		check_set_inject(inject);
	else
		fprintf(stderr, "pvfuzz: PVFUZZ_INJECT=%s: no checker knows it; ignored\n", inject);
#endif
	map_counts();
}

static void record_skip(int ci, const char *why)
{
	if (!counts) {
		fprintf(stderr, "pvfuzz: SKIP %s: %s\n", checkers[ci]->name, why);
		return;
	}
	int zero = 0;
	struct stressng_checker_counts *c = &counts->c[ci];
	/* the first process to skip says why; the others stay quiet */
	if (atomic_compare_exchange_strong(&c->skipped, &zero, 2)) {
		snprintf(c->skip_reason, sizeof(c->skip_reason), "%.*s", (int)sizeof(c->skip_reason) - 1, why);
		atomic_store(&c->skipped, 1);
		fprintf(stderr, "pvfuzz: SKIP %s: %s\n", checkers[ci]->name, why);
	}
}

static bool ready(int ci)
{
	init_once();
	if (!tried[ci]) {
		char why[256] = "";
		struct check_opts o = { .plugin = true, .seed = (u64)getpid() * 0x9E3779B97F4A7C15ULL ^ check_raw_ns() };
		tried[ci] = true;
		check_set_current(checkers[ci]);
		usable[ci] = checkers[ci]->setup(&o, why, sizeof(why));
		if (!usable[ci])
			record_skip(ci, why);
	}
	return usable[ci];
}

static int run_round(int ci)
{
	const struct checker *c = checkers[ci];
	u64 before[CHECK_MAX_COUNTERS];
	int n = 0;
	for (; c->counters[n].name && n < CHECK_MAX_COUNTERS; n++)
		before[n] = atomic_load(&c->counters[n].v);
	int f0 = check_findings();
	u64 t0 = check_raw_ns();
	check_set_current(c);
	c->round(PLUGIN_ROUND_NS);
	if (counts) {
		struct stressng_checker_counts *k = &counts->c[ci];
		for (int i = 0; i < n; i++)
			atomic_fetch_add(&k->v[i], atomic_load(&c->counters[i].v) - before[i]);
		atomic_fetch_add(&k->calls, 1);
		atomic_fetch_add(&k->round_ns, check_raw_ns() - t0);
		atomic_fetch_add(&k->findings, (u64)(check_findings() - f0));
	}
	return 0;
}

static int skip_call(void)
{
	struct timespec d = { 0, 100 * 1000 * 1000 };
	nanosleep(&d, NULL);
	return 1;
}

static int method(int ci)
{
	return ready(ci) ? run_round(ci) : skip_call();
}

EXPORT int stress_vdso(void)
{
	return method(0);
}

EXPORT int stress_perf(void)
{
	return method(1);
}

EXPORT int stress_tlb(void)
{
	return method(2);
}

/* Every checker that can run here, one round each in turn. */
EXPORT int stress_pvfuzz(void)
{
	int nr = 0;
	while (checkers[nr])
		nr++;
	for (int k = 0; k < nr; k++) {
		int ci = (turn + k) % nr;
		if (ready(ci)) {
			turn = ci + 1;
			return run_round(ci);
		}
	}
	return skip_call();
}
