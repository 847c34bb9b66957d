// SPDX-License-Identifier: MIT
/*
 * pvfuzz-stress PROTOCOL [options]: the native stress runner.  The protocol
 * drivers (stress/stress_<protocol>.c) register themselves; this file owns
 * everything they share: options, vCPU set-up, thread spawning, the
 * migrator, the live status line, perf counters, signals, the liveness
 * watchdog and the summary.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <linux/perf_event.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sched.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "cli_args.h"
#include "stress.h"

#define MAX_DRIVERS 8
#define MAX_WORKERS 72
#define WATCHDOG_NS (10 * NSEC_PER_SEC)

static const struct stress_driver *drivers[MAX_DRIVERS];
static int nr_drivers;
static struct stress_worker workers[MAX_WORKERS];
static int nr_workers;
static char label[200] = "?";
static u64 run_seed;
static u64 start_ns;
static _Atomic u64 run_start_ns; /* after the driver's set-up (calibration) */
static volatile sig_atomic_t got_signal;

void stress_register(const struct stress_driver *d)
{
	if (nr_drivers < MAX_DRIVERS)
		drivers[nr_drivers++] = d;
}

void stress_set_label(const char *l)
{
	snprintf(label, sizeof(label), "%s", l);
}

const char *stress_label(void)
{
	return label;
}

u64 stress_seed(u64 salt)
{
	/* splitmix64 */
	u64 z = run_seed + salt * 0x9E3779B97F4A7C15ULL + 0x9E3779B97F4A7C15ULL;
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	z ^= z >> 31;
	return z ? z : 1;
}

u64 stress_elapsed_ns(void)
{
	return native_raw_ns() - start_ns;
}

u64 stress_run_ns(void)
{
	u64 t0 = atomic_load_explicit(&run_start_ns, memory_order_relaxed);
	u64 now = stress_elapsed_ns();
	return t0 && now > t0 ? now - t0 : 0;
}

/* ------------------------------------------------------------ options -- */

static void usage(FILE *f)
{
	fprintf(f, "usage: pvfuzz-stress PROTOCOL [--duration S] [--readers N] [--variant NAME[,NAME]]\n"
		   "                     [--skew CYCLES] [--update-ns NS] [--seed N]\n"
		   "protocols:\n");
	for (int i = 0; i < nr_drivers; i++)
		fprintf(f, "  %-12s %s\n", drivers[i]->protocol, drivers[i]->summary);
	fprintf(f, "  --duration S    run time in seconds (default 10; > 0)\n"
		   "  --readers N     reader threads, 1-64 (default: one per CPU, at least 2)\n"
		   "  --variant LIST  reader and/or writer variants (default: mainline; see pvfuzz list)\n"
		   "  --skew CYCLES   vCPU v's TSC runs CYCLES*v ahead, 0-10^12 (default 0)\n"
		   "  --update-ns NS  mean host pause between updates, 0-10^9 (default 0: adversarial)\n"
		   "  --seed N        random seed (default: from the clock; printed)\n");
	for (int i = 0; i < nr_drivers; i++)
		if (drivers[i]->options_help)
			fprintf(f, "%s options:\n%s", drivers[i]->protocol, drivers[i]->options_help);
	fprintf(f, "exit status: 0 clean, 1 an oracle fired, 2 bad usage\n");
}

static void parse_options(int argc, char **argv, struct stress_opts *o, const struct stress_driver *d)
{
	bool seeded = false;
	for (int i = 2; i < argc; i++) {
		char *a = argv[i], *val = NULL;
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			exit(0);
		}
		if (strncmp(a, "--", 2) != 0)
			bad_usage("unexpected argument '%s'", a);
		char name[32];
		char *eq = strchr(a, '=');
		size_t len = eq ? (size_t)(eq - a) : strlen(a);
		snprintf(name, sizeof(name), "%.*s", (int)(len < sizeof(name) - 1 ? len : sizeof(name) - 1), a);
		static const char *const known[] = { "--duration", "--readers", "--variant", "--skew",
						     "--update-ns", "--seed" };
		bool ok = false;
		for (size_t k = 0; k < ARRAY_SIZE(known); k++)
			ok |= !strcmp(name, known[k]) && strlen(known[k]) == len;
		bool own = false;
		for (size_t k = 0; d->options && d->options[k]; k++)
			own |= !strcmp(name, d->options[k]) && strlen(d->options[k]) == len;
		ok |= own;
		if (!ok)
			bad_usage("unknown option '%s'", a);
		if (eq)
			val = eq + 1;
		else if (i + 1 < argc)
			val = argv[++i];
		else
			bad_usage("%s needs a value", name);

		if (own) {
			const char *err = d->option(name, val);
			if (err)
				bad_usage("%s", err);
		} else if (!strcmp(name, "--duration"))
			o->duration_s = parse_seconds(name, val);
		else if (!strcmp(name, "--readers"))
			o->readers = (int)parse_uint(name, val, 1, 64);
		else if (!strcmp(name, "--variant")) {
			if (!*val)
				bad_usage("--variant: empty list");
			o->variant = val;
		} else if (!strcmp(name, "--skew"))
			o->skew = (s64)parse_uint(name, val, 0, 1000000000000ULL);
		else if (!strcmp(name, "--update-ns"))
			o->update_ns = parse_uint(name, val, 0, NSEC_PER_SEC);
		else if (!strcmp(name, "--seed")) {
			o->seed = parse_uint(name, val, 0, UINT64_MAX);
			seeded = true;
		}
	}
	if (!seeded)
		o->seed = native_raw_ns() ^ ((u64)getpid() << 32);
}

/* ------------------------------------------------------------ threads -- */

static void *worker_main(void *arg)
{
	struct stress_worker *w = arg;
	void *ret = w->fn(w);
	atomic_store(&w->done, true);
	return ret;
}

struct stress_worker *stress_spawn(const char *name, void *(*fn)(struct stress_worker *w), void *arg,
				   bool is_writer, bool userspace)
{
	if (nr_workers == MAX_WORKERS) {
		fprintf(stderr, "pvfuzz-stress: too many threads (max %d)\n", MAX_WORKERS);
		exit(2);
	}
	struct stress_worker *w = &workers[nr_workers];
	w->name = name;
	w->fn = fn;
	w->arg = arg;
	w->index = nr_workers;
	w->is_writer = is_writer;
	w->userspace = userspace;
	w->watch = true;
	/* the run starts with the first thread (after the driver's calibration) */
	u64 zero = 0;
	atomic_compare_exchange_strong(&run_start_ns, &zero, stress_elapsed_ns());
	atomic_store(&w->last_progress_ns, stress_elapsed_ns());
	int err = pthread_create(&w->thread, NULL, worker_main, w);
	if (err) {
		fprintf(stderr, "pvfuzz-stress: pthread_create: %s\n", strerror(err));
		exit(2);
	}
	nr_workers++;
	return w;
}

/*
 * The migrator: moves user-space readers between vCPUs at any point of a
 * read (sched_setaffinity on their TIDs), except inside the IRQ-off /
 * preempt-off sections of the code they run (e.g. the syscall fallback).
 */
static atomic_bool migrator_on;
static pthread_t migrator_thread;

static void *migrator(void *arg)
{
	u64 rs = stress_seed(0x6d6967);
	int n = native_vcpu_count();
	int cands[MAX_WORKERS], nc = 0;
	for (int i = 0; i < nr_workers; i++)
		if (workers[i].userspace)
			cands[nc++] = i;
	while (!stress_stop() && nc) {
		struct stress_worker *w = &workers[cands[stress_rand(&rs) % (u64)nc]];
		if (!atomic_load(&w->done)) {
			int cur = atomic_load_explicit(&w->nt.vcpu, memory_order_relaxed);
			int v = (cur + 1 + (int)(stress_rand(&rs) % (u64)(n - 1))) % n;
			native_migrate_other(&w->nt, v);
		}
		struct timespec ts = { 0, (long)(stress_rand(&rs) % 20000) };
		nanosleep(&ts, NULL);
	}
	return NULL;
}

/* --------------------------------------------------------------- perf -- */

static const struct {
	u64 config;
	const char *name;
} perf_events[] = {
	{ PERF_COUNT_SW_CPU_MIGRATIONS, "cpu-migrations" },
	{ PERF_COUNT_SW_CONTEXT_SWITCHES, "context-switches" },
	{ PERF_COUNT_SW_PAGE_FAULTS, "page-faults" },
};
static int perf_fd[ARRAY_SIZE(perf_events)] = { -1, -1, -1 };
static bool perf_user_only;

static int perf_open(u64 config, bool exclude_kernel)
{
	struct perf_event_attr a;
	memset(&a, 0, sizeof(a));
	a.size = sizeof(a);
	a.type = PERF_TYPE_SOFTWARE;
	a.config = config;
	a.inherit = 1;  /* every thread this process creates from now on */
	a.exclude_kernel = exclude_kernel;
	a.exclude_hv = 1;
	return (int)syscall(SYS_perf_event_open, &a, 0, -1, -1, 0);
}

static void perf_setup(void)
{
	const char *why = NULL;
	for (size_t i = 0; i < ARRAY_SIZE(perf_events); i++) {
		int fd = perf_open(perf_events[i].config, perf_user_only);
		if (fd < 0 && (errno == EACCES || errno == EPERM) && !perf_user_only) {
			perf_user_only = true; /* perf_event_paranoid >= 2: user-space only */
			fd = perf_open(perf_events[i].config, true);
		}
		if (fd < 0) {
			why = strerror(errno);
			break;
		}
		perf_fd[i] = fd;
	}
	if (why) {
		printf("perf counters unavailable (perf_event_open: %s; see "
		       "/proc/sys/kernel/perf_event_paranoid): continuing without them\n", why);
		for (size_t i = 0; i < ARRAY_SIZE(perf_events); i++)
			if (perf_fd[i] >= 0) {
				close(perf_fd[i]);
				perf_fd[i] = -1;
			}
	}
}

static bool perf_read(size_t i, u64 *v)
{
	return perf_fd[i] >= 0 && read(perf_fd[i], v, sizeof(*v)) == (ssize_t)sizeof(*v);
}

/* ------------------------------------------------------------- status -- */

struct totals {
	u64 reads, updates, retries, fallbacks, unchecked, migrations;
};

static void sum(struct totals *t)
{
	memset(t, 0, sizeof(*t));
	for (int i = 0; i < nr_workers; i++) {
		struct stress_worker *w = &workers[i];
		u64 ops = atomic_load_explicit(&w->ops, memory_order_relaxed);
		if (w->is_writer)
			t->updates += ops;
		else
			t->reads += ops;
		t->retries += atomic_load_explicit(&w->retries, memory_order_relaxed);
		t->fallbacks += atomic_load_explicit(&w->fallbacks, memory_order_relaxed);
		t->unchecked += atomic_load_explicit(&w->unchecked, memory_order_relaxed);
		t->migrations += atomic_load_explicit(&w->nt.migrations, memory_order_relaxed);
	}
}

static const char *si(u64 v, char *buf)
{
	if (v >= 10000000)
		sprintf(buf, "%.1fM", (double)v / 1e6);
	else if (v >= 10000)
		sprintf(buf, "%.1fk", (double)v / 1e3);
	else
		sprintf(buf, "%" PRIu64, v);
	return buf;
}

static const struct stress_driver *cur_driver;

static void status_line(FILE *f, bool tty)
{
	struct totals t;
	char b[6][32];
	sum(&t);
	double s = (double)stress_run_ns() / 1e9;
	char extra[160] = "";
	if (cur_driver && cur_driver->status)
		cur_driver->status(extra, sizeof(extra));
	fprintf(f, "%s[%6.1fs] reads %s (%s/s) updates %s migrations %s retries %s fallbacks %s%s "
		   "findings %d%s",
		tty ? "\r" : "", s, si(t.reads, b[0]), si((u64)((double)t.reads / (s > 0 ? s : 1)), b[1]),
		si(t.updates, b[2]), si(t.migrations, b[3]), si(t.retries, b[4]), si(t.fallbacks, b[5]),
		extra, stress_findings(), tty ? "\033[K" : "\n");
	fflush(f);
}

static void on_signal(int sig)
{
	got_signal = sig; /* only a flag: main() does the rest */
}

/* A worker that stops completing operations while the run goes on (CO7). */
static void watchdog(u64 *last_ops, u64 now)
{
	for (int i = 0; i < nr_workers; i++) {
		struct stress_worker *w = &workers[i];
		u64 ops = atomic_load_explicit(&w->ops, memory_order_relaxed);
		if (ops != last_ops[i] || atomic_load(&w->done)) {
			last_ops[i] = ops;
			atomic_store_explicit(&w->last_progress_ns, now, memory_order_relaxed);
		} else if (w->watch && now - atomic_load_explicit(&w->last_progress_ns,
								  memory_order_relaxed) > WATCHDOG_NS) {
			pv_oracle_fail("liveness", "%s=%s op=%s no operation completed for %.1f s while "
				       "the run went on (CO7)", w->is_writer ? "writer" : "reader", w->name,
				       w->is_writer ? "update" : "read", (double)WATCHDOG_NS / 1e9);
		}
	}
}

/* ---------------------------------------------------------------- main -- */

int main(int argc, char **argv)
{
	cli_program = "pvfuzz-stress";
	struct stress_opts o = { .duration_s = 10 };
	const struct stress_driver *d = NULL;

	start_ns = native_raw_ns();
	if (argc < 2)
		bad_usage("missing PROTOCOL");
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		usage(stdout);
		return 0;
	}
	for (int i = 0; i < nr_drivers; i++)
		if (!strcmp(argv[1], drivers[i]->protocol))
			d = drivers[i];
	if (!d) {
		char known[128] = "";
		for (int i = 0; i < nr_drivers; i++)
			snprintf(known + strlen(known), sizeof(known) - strlen(known), "%s%s", i ? ", " : "",
				 drivers[i]->protocol);
		bad_usage("unknown protocol '%s' (stress drivers: %s)", argv[1], known);
	}
	cur_driver = d;
	parse_options(argc, argv, &o, d);
	run_seed = o.seed;

	int cpus[NATIVE_MAX_CPUS];
	int ncpus = native_usable_cpus(cpus, NATIVE_MAX_CPUS);
	o.nr_vcpus = ncpus;

	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	/* before any thread exists, so inherit covers them all */
	perf_setup();
	if (!d->start(&o))
		return 2;
	u64 zero = 0;
	atomic_compare_exchange_strong(&run_start_ns, &zero, stress_elapsed_ns());
	int nv = native_vcpu_count();
	printf("pvfuzz-stress %s variant=%s: %d reader%s on %d vCPU%s (CPU", d->protocol, label,
	       o.readers, o.readers == 1 ? "" : "s", nv, nv == 1 ? "" : "s");
	for (int v = 0; v < nv; v++)
		printf("%s%d", v ? "," : " ", native_vcpu_cpu(v));
	printf("), %.1f s, seed %" PRIu64 "%s\n", o.duration_s, o.seed,
	       perf_user_only ? ", perf counters user-space only (perf_event_paranoid)" : "");
	if (nv == 1)
		printf("only 1 CPU usable: running without migration (cross-CPU checks see one CPU)\n");
	else {
		for (int i = 0; i < nr_workers; i++)
			if (workers[i].userspace) {
				atomic_store(&migrator_on, true);
				break;
			}
		if (atomic_load(&migrator_on) && pthread_create(&migrator_thread, NULL, migrator, NULL))
			atomic_store(&migrator_on, false);
	}
	fflush(stdout);

	bool tty = isatty(STDOUT_FILENO);
	u64 last_ops[MAX_WORKERS] = { 0 };
	u64 end = atomic_load(&run_start_ns) + (u64)(o.duration_s * 1e9);
	u64 next_status = atomic_load(&run_start_ns) + (tty ? NSEC_PER_SEC : 5 * NSEC_PER_SEC);
	while (!stress_stop()) {
		struct timespec ts = { 0, 50 * 1000 * 1000 };
		nanosleep(&ts, NULL);
		u64 now = stress_elapsed_ns();
		if (got_signal || now >= end)
			break;
		watchdog(last_ops, now);
		if (now >= next_status) {
			status_line(stdout, tty);
			next_status += tty ? NSEC_PER_SEC / 2 : 5 * NSEC_PER_SEC;
		}
	}
	atomic_store(&stress_stopping, true);
	double ran = (double)stress_run_ns() / 1e9;

	/* join what stops; a livelocked thread is reported, not waited for */
	int stuck = 0;
	for (int ms = 0; ms < 5000; ms += 10) {
		stuck = 0;
		for (int i = 0; i < nr_workers; i++)
			stuck += !atomic_load(&workers[i].done);
		if (!stuck)
			break;
		struct timespec ts = { 0, 10 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	if (atomic_load(&migrator_on))
		pthread_join(migrator_thread, NULL);
	for (int i = 0; i < nr_workers && !stuck; i++)
		pthread_join(workers[i].thread, NULL);
	if (tty)
		status_line(stdout, true), putchar('\n');
	if (stuck)
		pv_oracle_fail("liveness", "%d thread%s still inside an operation 5 s after the run "
			       "ended (CO7)", stuck, stuck == 1 ? "" : "s");

	struct totals t;
	char verdict[96];
	sum(&t);
	if (stress_findings())
		snprintf(verdict, sizeof(verdict), "FOUND (%d finding%s, first after %.3f s)",
			 stress_findings(), stress_findings() == 1 ? "" : "s",
			 (double)stress_first_finding_ns() / 1e9);
	else
		snprintf(verdict, sizeof(verdict), "clean");
	printf("==pvfuzz-stress== summary: %s variant=%s: %s after %.1f s%s\n", d->protocol, label, verdict,
	       ran, got_signal ? (got_signal == SIGINT ? " (SIGINT)" : " (SIGTERM)") : "");
	printf("  reads %" PRIu64 " (%.0f/s), retries %" PRIu64 ", fallbacks %" PRIu64
	       ", unchecked %" PRIu64 "\n", t.reads, (double)t.reads / ran, t.retries, t.fallbacks,
	       t.unchecked);
	printf("  host updates %" PRIu64 " (%.0f/s), sched_setaffinity migrations %" PRIu64 "\n",
	       t.updates, (double)t.updates / ran, t.migrations);
	if (perf_fd[0] >= 0) {
		printf("  perf%s:", perf_user_only ? " (user-space only)" : "");
		for (size_t i = 0; i < ARRAY_SIZE(perf_events); i++) {
			u64 v;
			if (perf_read(i, &v))
				printf(" %s %" PRIu64, perf_events[i].name, v);
		}
		putchar('\n');
	}
	if (d->summary_lines)
		d->summary_lines(stdout);
	if (stuck)
		printf("  %d thread%s did not stop within 5 s (livelocked): not joined\n", stuck,
		       stuck == 1 ? "" : "s");
	fflush(stdout);
	if (stuck)
		_exit(1); /* the stuck threads cannot be joined */
	return stress_findings() ? 1 : 0;
}

/* ------------------------------------------------- driver start-up --- */

bool stress_select(enum pv_protocol p, const char *variant, struct pv_selection *sel)
{
	char err[256];

	if (variant && !strcmp(variant, "input")) {
		fprintf(stderr, "pvfuzz-stress: --variant input: only fuzz targets choose from input\n");
		return false;
	}
	if (!pv_select(p, variant, sel, err, sizeof(err))) {
		fprintf(stderr, "pvfuzz-stress: --variant: %s\n", err);
		return false;
	}
	if (!sel->role[PV_READER] || !sel->role[PV_WRITER]) {
		fprintf(stderr, "pvfuzz-stress: --variant: no %s reader and writer to run\n",
			pv_protocol_name(p));
		return false;
	}
	stress_set_label(sel->label);
	return true;
}

int stress_setup_vcpus(int max_vcpus)
{
	int cpus[NATIVE_MAX_CPUS];
	int n = native_usable_cpus(cpus, NATIVE_MAX_CPUS);
	int nv = n < max_vcpus ? n : max_vcpus;
	if (n > max_vcpus)
		printf("%d CPUs usable: the guest gets the first %d (PV_MAX_VCPUS)\n", n, max_vcpus);
	native_set_vcpus(cpus, nv);

	/* cross-CPU oracles assume the machine's TSCs are synchronised, as the kernel does */
	char cs[32] = "";
	FILE *f = fopen("/sys/devices/system/clocksource/clocksource0/current_clocksource", "r");
	if (f) {
		if (!fgets(cs, sizeof(cs), f))
			cs[0] = 0;
		fclose(f);
	}
	if (nv > 1 && cs[0] && strncmp(cs, "tsc", 3) != 0)
		printf("note: the kernel's clocksource is %.*s, not tsc: this machine's TSCs may not be "
		       "synchronised, and cross-CPU findings may be the machine's\n",
		       (int)strcspn(cs, "\n"), cs);
	return nv;
}

/* One (tsc, raw ns) pair: the tightest of a few RDTSCP-bracketed reads. */
static void tsc_raw_pair(u64 *tsc, u64 *raw)
{
	u64 best = U64_MAX;
	for (int i = 0; i < 16; i++) {
		u64 a = native_host_tsc(), r = native_raw_ns(), b = native_host_tsc();
		if (b - a < best) {
			best = b - a;
			*tsc = a + (b - a) / 2;
			*raw = r;
		}
	}
}

void stress_calibrate_tsc(u32 *khz, u64 *tsc0, u64 *raw0)
{
	u64 t0, r0, t1, r1;
	tsc_raw_pair(&t0, &r0);
	struct timespec ts = { 0, 200 * 1000 * 1000 };
	nanosleep(&ts, NULL);
	tsc_raw_pair(&t1, &r1);
	*khz = (u32)(((u128)(t1 - t0) * 1000000u + (r1 - r0) / 2) / (r1 - r0));
	*tsc0 = t1;
	*raw0 = r1;
}

void stress_host_pause(u64 *rs, u64 update_ns)
{
	u64 r = stress_rand(rs);
	if (update_ns) {
		u64 ns = r % (2 * update_ns + 1);
		if (ns < 50000) {
			u64 end = native_raw_ns() + ns;
			while (native_raw_ns() < end && !stress_stop())
				__builtin_ia32_pause();
		} else {
			struct timespec ts = { (time_t)(ns / NSEC_PER_SEC), (long)(ns % NSEC_PER_SEC) };
			nanosleep(&ts, NULL);
		}
		return;
	}
	/* adversarial: mostly back to back, sometimes a short spin, rarely a yield */
	if ((r & 7) == 0)
		for (u64 i = (r >> 8) & 1023; i; i--)
			__builtin_ia32_pause();
	else if ((r & 255) == 1)
		sched_yield();
}
