// SPDX-License-Identifier: MIT
/*
 * pvfuzz-check [vdso|perf|tlb|all]... [options]: the real-kernel checkers,
 * one after another, each for --duration seconds in rounds of 200 ms.
 *
 *   exit 0  no finding (checkers that cannot run here say why and skip)
 *   exit 1  an oracle fired (SUMMARY line on stderr, file under --findings)
 *   exit 2  bad usage (one line on stderr)
 *
 * `pvfuzz-check counts FILE` prints the counters the stress-ng plugin
 * left in FILE ($PVFUZZ_COUNTS of a run); `pvfuzz-check findings DIR`
 * lists (and completes) the findings a run left under DIR.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <ftw.h>
#include <limits.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../cli_args.h"
#include "check.h"
#include "stressng_counts.h"

#define ROUND_NS (200 * 1000 * 1000ULL)

static volatile sig_atomic_t got_signal;

static void on_signal(int sig)
{
	got_signal = sig;
	atomic_store(&check_stopping, true); /* lock-free: async-signal-safe */
}

static void usage(FILE *f)
{
	fprintf(f, "usage: pvfuzz-check [vdso|perf|tlb|all]... [--duration S] [--threads N] [--perturb]\n"
		   "                    [--perturb-clocksource] [--findings DIR] [--seed N]%s\n"
		   "       pvfuzz-check counts FILE | findings DIR\n"
		   "checkers (default: all, one after another):\n",
#ifdef PVFUZZ_CHECK_INJECT
		"\n                    [--inject NAME]"
#else
		""
#endif
	);
	for (int i = 0; checkers[i]; i++)
		fprintf(f, "  %-6s %s\n", checkers[i]->name, checkers[i]->what);
	fprintf(f, "  --duration S          seconds per checker (default 10)\n"
		   "  --threads N           reader / writer threads, 1-%d (default: per checker)\n"
		   "  --perturb             vdso: change the clock frequency (clock_adjtime, root)\n"
		   "  --perturb-clocksource vdso: switch the clocksource (root; affects the whole machine)\n"
		   "  --findings DIR        where findings go (default findings/check)\n"
		   "  --seed N              random seed (default: from the clock; printed)\n"
		   "exit status: 0 no finding (skips included), 1 a finding, 2 bad usage\n",
		CHECK_MAX_THREADS);
#ifdef PVFUZZ_CHECK_INJECT
	fprintf(f, "test-only injections (--inject NAME; pvfuzz-check --injections lists them):");
	for (int i = 0; checkers[i]; i++)
		for (const struct check_injection *j = checkers[i]->injections; j && j->name; j++)
			fprintf(f, " %s", j->name);
	fprintf(f, "\n");
#endif
}

static const char *si(u64 v, char *buf, size_t n)
{
	if (v >= 10000000)
		snprintf(buf, n, "%.1fM", (double)v / 1e6);
	else if (v >= 10000)
		snprintf(buf, n, "%.1fk", (double)v / 1e3);
	else
		snprintf(buf, n, "%" PRIu64, v);
	return buf;
}

static void print_counters(FILE *f, const struct checker *c, const _Atomic u64 *vals, double secs)
{
	fprintf(f, " ");
	for (int i = 0; c->counters[i].name; i++) {
		u64 v = vals ? atomic_load(&vals[i]) : atomic_load(&c->counters[i].v);
		char b[32];
		if (i == 0 && secs > 0)
			fprintf(f, " %s %" PRIu64 " (%s/s)", c->counters[i].name, v,
				si((u64)((double)v / secs), b, sizeof(b)));
		else
			fprintf(f, "%s %s %" PRIu64, i ? "," : "", c->counters[i].name, v);
	}
	fprintf(f, "\n");
}

/* ------------------------------------------------- plugin counts file -- */

static int cmd_counts(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "pvfuzz-check: counts: cannot open %s: %s\n", path, strerror(errno));
		return 2;
	}
	struct stat st;
	if (fstat(fd, &st) != 0 || (size_t)st.st_size < sizeof(struct stressng_counts)) {
		close(fd);
		printf("pvfuzz plugin: no counts recorded (%s is empty: the plugin never ran a round)\n", path);
		return 0;
	}
	struct stressng_counts *sc = mmap(NULL, sizeof(*sc), PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (sc == MAP_FAILED || sc->magic != STRESSNG_COUNTS_MAGIC) {
		fprintf(stderr, "pvfuzz-check: counts: %s is not a pvfuzz plugin counts file\n", path);
		return 2;
	}
	for (int i = 0; checkers[i] && i < STRESSNG_MAX_CHECKERS; i++) {
		struct stressng_checker_counts *c = &sc->c[i];
		u64 calls = atomic_load(&c->calls);
		if (atomic_load(&c->skipped)) {
			printf("pvfuzz plugin %s: skipped: %.*s\n", checkers[i]->name, (int)sizeof(c->skip_reason),
			       c->skip_reason);
			continue;
		}
		if (!calls)
			continue;
		double secs = (double)atomic_load(&c->round_ns) / 1e9;
		printf("pvfuzz plugin %s: %" PRIu64 " calls, %.1f s of rounds, %" PRIu64 " findings;", checkers[i]->name,
		       calls, secs, atomic_load(&c->findings));
		print_counters(stdout, checkers[i], c->v, secs);
	}
	return 0;
}

/* ------------------------------------------------- a run's findings -- */

/*
 * pvfuzz-check findings DIR: every finding under DIR, one path and its
 * SUMMARY line each.  A temporary file that ends in CHECK_FINDING_END was
 * whole when its writer died before the rename (a stress-ng plugin process
 * killed at the timeout): it is renamed now.  One without the marker was
 * cut short and is listed as such.  Exit 1 when there is any finding.
 */
static char **found;
static int nr_found, nr_partial;

static bool ends_with_marker(const char *path)
{
	char buf[64];
	FILE *f = fopen(path, "r");
	bool ok = false;
	if (!f)
		return false;
	if (fseek(f, -(long)(sizeof(CHECK_FINDING_END)), SEEK_END) == 0 && fgets(buf, sizeof(buf), f))
		ok = !strncmp(buf, CHECK_FINDING_END "\n", sizeof(buf));
	fclose(f);
	return ok;
}

static int visit(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	if (type != FTW_F)
		return 0;
	const char *base = path + ftw->base;
	char *keep = strdup(path);
	if (!strncmp(base, ".tmp.", 5)) {
		char dst[PATH_MAX];
		snprintf(dst, sizeof(dst), "%.*s%s", ftw->base, path, base + 5);
		if (ends_with_marker(path) && rename(path, dst) == 0) {
			printf("pvfuzz: completed the save of %s (its writer was killed before the rename)\n", dst);
			free(keep);
			keep = strdup(dst);
		} else {
			printf("pvfuzz: a finding was cut short while being written (its SUMMARY line went to "
			       "stderr): %s\n", path);
			nr_partial++;
		}
	}
	char **grown = realloc(found, sizeof(*found) * (size_t)(nr_found + 1));
	if (!grown || !keep)
		return -1;
	found = grown;
	found[nr_found++] = keep;
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int cmd_findings(const char *dir)
{
	struct stat st;
	if (stat(dir, &st) != 0) {
		printf("pvfuzz: no finding under %s\n", dir);
		return 0;
	}
	if (nftw(dir, visit, 16, FTW_PHYS) != 0) {
		fprintf(stderr, "pvfuzz-check: findings: cannot read %s: %s\n", dir, strerror(errno));
		return 2;
	}
	if (!nr_found) {
		printf("pvfuzz: no finding under %s\n", dir);
		return 0;
	}
	qsort(found, (size_t)nr_found, sizeof(*found), cmp_str);
	printf("pvfuzz: %d finding(s) under %s/:\n", nr_found, dir);
	for (int i = 0; i < nr_found; i++) {
		char line[1024] = "";
		FILE *f = fopen(found[i], "r");
		if (f) {
			if (!fgets(line, sizeof(line), f))
				line[0] = 0;
			fclose(f);
		}
		printf("  %s\n    %s%s", found[i], line, strchr(line, '\n') ? "" : "\n");
	}
	return 1;
}

/* --------------------------------------------------------------- main -- */

static bool tty;

static void status(const struct checker *c, double secs)
{
	char b[32];
	printf("%s[%6.1fs] %s", tty ? "\r" : "", secs, c->name);
	for (int i = 0; c->counters[i].name && i < 4; i++)
		printf(" %s %s", c->counters[i].name, si(atomic_load(&c->counters[i].v), b, sizeof(b)));
	printf(" findings %d%s", check_findings(), tty ? "\033[K" : "\n");
	fflush(stdout);
}

/* One checker for o->duration_s: 0 clean, 1 finding, -1 skipped. */
static int run_checker(const struct checker *c, const struct check_opts *o)
{
	char why[256] = "";
	int before = check_findings();

	check_set_current(c);
	if (!c->setup(o, why, sizeof(why))) {
		printf("==pvfuzz-check== %s: SKIPPED: %s\n", c->name, why);
		fflush(stdout);
		return -1;
	}
	printf("==> pvfuzz-check %s: %.1f s\n", c->name, o->duration_s);
	fflush(stdout);
	u64 t0 = check_raw_ns(), end = t0 + (u64)(o->duration_s * 1e9);
	u64 next_status = t0 + (tty ? 1 : 5) * NSEC_PER_SEC;
	while (!check_stop()) {
		u64 now = check_raw_ns();
		if (now >= end)
			break;
		c->round(end - now < ROUND_NS ? end - now : ROUND_NS);
		now = check_raw_ns();
		if (now >= next_status && now < end && !check_stop()) {
			status(c, (double)(now - t0) / 1e9);
			next_status += (tty ? 1 : 5) * NSEC_PER_SEC;
		}
	}
	double secs = (double)(check_raw_ns() - t0) / 1e9;
	if (c->teardown)
		c->teardown();
	if (tty)
		printf("\r\033[K");
	int found = check_findings() - before;
	printf("==pvfuzz-check== %s: %s after %.1f s%s\n", c->name,
	       found ? "FOUND" : "clean", secs, got_signal ? " (interrupted)" : "");
	print_counters(stdout, c, NULL, secs);
	if (c->notes)
		c->notes(stdout);
	if (found)
		printf("  %d finding%s (see the SUMMARY line%s above)\n", found, found == 1 ? "" : "s",
		       found == 1 ? "" : "s");
	fflush(stdout);
	return found ? 1 : 0;
}

int main(int argc, char **argv)
{
	cli_program = "pvfuzz-check";
	struct check_opts o = { .duration_s = 10 };
	const struct checker *run[8];
	int nrun = 0;
	bool seeded = false;
	const char *inject = NULL;

#ifdef PVFUZZ_CHECK_INJECT
	if (argc == 2 && !strcmp(argv[1], "--injections")) {
		/* checker, injection, the oracle it must trip ("none": clean) - for the tests */
		for (int i = 0; checkers[i]; i++)
			for (const struct check_injection *j = checkers[i]->injections; j && j->name; j++)
				printf("%s %s %s\n", checkers[i]->name, j->name, j->oracle ? j->oracle : "none");
		return 0;
	}
#endif
	if (argc >= 2 && !strcmp(argv[1], "counts")) {
		if (argc != 3)
			bad_usage("counts takes one FILE");
		return cmd_counts(argv[2]);
	}
	if (argc >= 2 && !strcmp(argv[1], "findings")) {
		if (argc != 3)
			bad_usage("findings takes one DIR");
		return cmd_findings(argv[2]);
	}
	for (int i = 1; i < argc; i++) {
		char *a = argv[i], *val = NULL;
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			return 0;
		}
		if (strncmp(a, "--", 2) != 0) {
			if (!strcmp(a, "all")) {
				for (int k = 0; checkers[k] && nrun < 8; k++)
					run[nrun++] = checkers[k];
			} else if (checker_by_name(a)) {
				if (nrun < 8)
					run[nrun++] = checker_by_name(a);
			} else {
				bad_usage("unknown checker '%s' (vdso, perf, tlb, all)", a);
			}
			continue;
		}
		char name[32];
		char *eq = strchr(a, '=');
		size_t len = eq ? (size_t)(eq - a) : strlen(a);
		snprintf(name, sizeof(name), "%.*s", (int)(len < sizeof(name) - 1 ? len : sizeof(name) - 1), a);
		if (!strcmp(name, "--perturb") || !strcmp(name, "--perturb-clocksource")) {
			if (eq)
				bad_usage("%s takes no value", name);
			if (!strcmp(name, "--perturb"))
				o.perturb = true;
			else
				o.perturb_clocksource = true;
			continue;
		}
		static const char *const valued[] = { "--duration", "--threads", "--findings", "--seed",
#ifdef PVFUZZ_CHECK_INJECT
						      "--inject",
#endif
		};
		bool known = false;
		for (size_t k = 0; k < ARRAY_SIZE(valued); k++)
			known |= !strcmp(name, valued[k]) && strlen(valued[k]) == len;
		if (!known)
			bad_usage("unknown option '%s'", a);
		if (eq)
			val = eq + 1;
		else if (i + 1 < argc)
			val = argv[++i];
		else
			bad_usage("%s needs a value", name);
		if (!strcmp(name, "--duration"))
			o.duration_s = parse_seconds(name, val);
		else if (!strcmp(name, "--threads"))
			o.threads = (int)parse_uint(name, val, 1, CHECK_MAX_THREADS);
		else if (!strcmp(name, "--findings")) {
			if (!*val)
				bad_usage("--findings: empty path");
			check_set_findings_dir(val);
		} else if (!strcmp(name, "--seed")) {
			o.seed = parse_uint(name, val, 0, UINT64_MAX);
			seeded = true;
		} else {
			inject = val;
		}
	}
	if (!nrun)
		for (int k = 0; checkers[k]; k++)
			run[nrun++] = checkers[k];
#ifdef PVFUZZ_CHECK_INJECT
	if (inject) {
		bool ok = false;
		for (int i = 0; i < nrun; i++)
			for (const struct check_injection *j = run[i]->injections; j && j->name; j++)
				ok |= !strcmp(j->name, inject);
		if (!ok)
			bad_usage("--inject: no checker selected knows '%s'", inject);
		check_set_inject(inject);
	}
#else
	(void)inject;
#endif
	if (!seeded)
		o.seed = check_raw_ns() ^ ((u64)getpid() << 32);

	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	check_set_command(argc, argv);
	tty = isatty(STDOUT_FILENO);
	char cs[64];
	check_clocksource(cs, sizeof(cs));
	printf("pvfuzz-check: %d checker%s, %.1f s each, seed %" PRIu64 ", clocksource %s%s%s\n", nrun,
	       nrun == 1 ? "" : "s", o.duration_s, o.seed, cs, check_inject_name() ? ", TEST-ONLY injection " : "",
	       check_inject_name() ? check_inject_name() : "");
	fflush(stdout);

	int clean = 0, found = 0, skipped = 0;
	char result[256] = "";
	for (int i = 0; i < nrun && !got_signal; i++) {
		o.seed = check_seed(o.seed, (u64)i);
		int r = run_checker(run[i], &o);
		if (r < 0)
			skipped++;
		else if (r > 0)
			found++;
		else
			clean++;
		snprintf(result + strlen(result), sizeof(result) - strlen(result), "%s%s %s",
			 i ? ", " : "", run[i]->name, r < 0 ? "skipped" : r > 0 ? "FOUND" : "clean");
		if (!got_signal)
			atomic_store(&check_stopping, false); /* a finding stops its checker, not the next */
	}
	printf("==pvfuzz-check== result: %s (%s)%s\n", found ? "FINDINGS" : "no finding", result,
	       got_signal ? ", interrupted by a signal" : "");
	(void)clean;
	(void)skipped;
	return found ? 1 : 0;
}
