// SPDX-License-Identifier: MIT
/*
 * The vDSO checker: the running kernel's clock_gettime() and getcpu() as
 * its vDSO answers them, read by threads that hop between CPUs.
 *
 * Every clock id a program can read without a syscall - REALTIME,
 * MONOTONIC, MONOTONIC_RAW, REALTIME_COARSE, MONOTONIC_COARSE, BOOTTIME,
 * TAI - is judged by what its definition lets a reader assume:
 *
 *   monotonic      a thread's own reads of one clock never go back (CO1)
 *   linearizable   reads of one clock by all threads, totally ordered by a
 *                  lock taken around each read, never go back (CO2): the
 *                  lock makes "read A finished before read B began" true,
 *                  which a lock-free shared maximum cannot (a reader
 *                  preempted between reading and comparing cries wolf)
 *   sandwich       syscall, vDSO, syscall on one clock id: s1 <= v <= s2
 *   clock_relation BOOTTIME read after MONOTONIC is not below it; a COARSE
 *                  clock read before its fine clock is not above it; TAI is
 *                  REALTIME plus the kernel's TAI offset; MONOTONIC's rate
 *                  stays within NTP's reach (+-10% tick, +-500 ppm) of RAW's
 *   getcpu         the vDSO's getcpu names the CPU the thread is pinned to
 *
 * The wall clocks (REALTIME, REALTIME_COARSE, TAI) may be stepped by
 * settimeofday or a leap second; a backwards step there is excused only
 * when a TFD_TIMER_CANCEL_ON_SET timerfd confirms that the clock was set.
 *
 * Readers call __vdso_clock_gettime found in the vDSO image itself
 * (AT_SYSINFO_EHDR), not glibc's wrapper, and the "syscall" side is
 * syscall(SYS_clock_gettime), which never enters the vDSO.  A seccomp
 * probe in a child process (clock_gettime made to fail) tells which clock
 * ids the vDSO serves without entering the kernel; when MONOTONIC is not
 * one of them (a clocksource without a vDSO mode) the checker skips.
 *
 * pvfuzz-check --perturb adds a thread that changes the kernel clock's
 * frequency offset (clock_adjtime ADJ_FREQUENCY, +-500 ppm; needs
 * CAP_SYS_TIME), --perturb-clocksource switches the clocksource among the
 * available ones; the original frequency and clocksource come back at the
 * end, on SIGINT/SIGTERM, and at exit().
 */
#define _GNU_SOURCE
#include <elf.h>
#include <errno.h>
#include <inttypes.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <sched.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/timex.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

enum { C_REALTIME, C_MONOTONIC, C_RAW, C_REALTIME_COARSE, C_MONOTONIC_COARSE, C_BOOTTIME, C_TAI, NCLK };

static const struct vclock {
	clockid_t id;
	const char *name;
	bool wall;  /* may be stepped by settimeofday / leap seconds */
} vclocks[NCLK] = {
	[C_REALTIME] = { CLOCK_REALTIME, "REALTIME", true },
	[C_MONOTONIC] = { CLOCK_MONOTONIC, "MONOTONIC", false },
	[C_RAW] = { CLOCK_MONOTONIC_RAW, "MONOTONIC_RAW", false },
	[C_REALTIME_COARSE] = { CLOCK_REALTIME_COARSE, "REALTIME_COARSE", true },
	[C_MONOTONIC_COARSE] = { CLOCK_MONOTONIC_COARSE, "MONOTONIC_COARSE", false },
	[C_BOOTTIME] = { CLOCK_BOOTTIME, "BOOTTIME", false },
	[C_TAI] = { CLOCK_TAI, "TAI", true },
};

static struct check_counter counters[] = {
	CHECK_COUNTER("reads"), CHECK_COUNTER("migrations"), CHECK_COUNTER("cross-cpu-pairs"),
	CHECK_COUNTER("sandwiches"), CHECK_COUNTER("relations"), CHECK_COUNTER("getcpu-checks"),
	CHECK_COUNTER("wall-steps-excused"), CHECK_COUNTER("affinity-broken"),
	CHECK_COUNTER("freq-adjustments"), CHECK_COUNTER("clocksource-switches"), CHECK_COUNTER(NULL),
};
enum { N_READS, N_MIGRATIONS, N_CROSS, N_SANDWICH, N_RELATION, N_GETCPU, N_WALL_STEPS, N_AFFINITY,
       N_FREQ, N_CLOCKSOURCE };

static const struct check_injection injections[] = {
	{ "vdso_backstep", "monotonic", "every 64th MONOTONIC read of a thread 1 s early" },
	{ "vdso_thread_offset", "linearizable", "thread k's clocks k s ahead (consistent within a thread)" },
	{ "vdso_sandwich", "sandwich", "the sandwiched vDSO read 1 s late" },
	{ "vdso_boottime_behind", "clock_relation", "BOOTTIME 1 s behind MONOTONIC in the relation check" },
	{ "vdso_getcpu_stale", "getcpu", "getcpu names the CPU the thread came from" },
	{ NULL, NULL, NULL },
};

/* ------------------------------------------------------------ the vDSO -- */

typedef int (*vdso_gettime_fn)(clockid_t, struct timespec *);
typedef long (*vdso_getcpu_fn)(unsigned *, unsigned *, void *);
static vdso_gettime_fn vdso_gettime;
static vdso_getcpu_fn vdso_getcpu;

/* Number of dynamic symbols from a DT_GNU_HASH table (it has no count field). */
static u32 gnu_hash_nsyms(const u32 *gh)
{
	u32 nbuckets = gh[0], symoffset = gh[1], bloom_words = gh[2];
	const u32 *buckets = gh + 4 + bloom_words * (sizeof(u64) / sizeof(u32));
	const u32 *chain = buckets + nbuckets;
	u32 last = 0;
	for (u32 b = 0; b < nbuckets; b++)
		if (buckets[b] > last)
			last = buckets[b];
	if (last < symoffset)
		return symoffset;
	while (!(chain[last - symoffset] & 1))
		last++;
	return last + 1;
}

/* A function the vDSO image exports, by name (NULL: none). */
static void *vdso_lookup(const char *name)
{
	uintptr_t base = (uintptr_t)getauxval(AT_SYSINFO_EHDR);
	if (!base)
		return NULL;
	const Elf64_Ehdr *eh = (const void *)base;
	if (memcmp(eh->e_ident, ELFMAG, SELFMAG) || eh->e_ident[EI_CLASS] != ELFCLASS64)
		return NULL;
	const Elf64_Phdr *ph = (const void *)(base + eh->e_phoff);
	const Elf64_Dyn *dyn = NULL;
	uintptr_t bias = 0;
	bool loaded = false;
	for (int i = 0; i < eh->e_phnum; i++) {
		if (ph[i].p_type == PT_LOAD && !loaded) {
			bias = base + ph[i].p_offset - ph[i].p_vaddr;
			loaded = true;
		} else if (ph[i].p_type == PT_DYNAMIC) {
			dyn = (const void *)(base + ph[i].p_offset);
		}
	}
	if (!dyn || !loaded)
		return NULL;
	const Elf64_Sym *sym = NULL;
	const char *str = NULL;
	const u32 *hash = NULL, *gnu = NULL;
	for (const Elf64_Dyn *d = dyn; d->d_tag != DT_NULL; d++) {
		if (d->d_tag == DT_SYMTAB)
			sym = (const void *)(d->d_un.d_ptr + bias);
		else if (d->d_tag == DT_STRTAB)
			str = (const void *)(d->d_un.d_ptr + bias);
		else if (d->d_tag == DT_HASH)
			hash = (const void *)(d->d_un.d_ptr + bias);
		else if (d->d_tag == DT_GNU_HASH)
			gnu = (const void *)(d->d_un.d_ptr + bias);
	}
	if (!sym || !str || (!hash && !gnu))
		return NULL;
	u32 n = hash ? hash[1] : gnu_hash_nsyms(gnu);
	for (u32 i = 0; i < n; i++) {
		if (sym[i].st_shndx == SHN_UNDEF || ELF64_ST_TYPE(sym[i].st_info) != STT_FUNC)
			continue;
		if (!strcmp(str + sym[i].st_name, name))
			return (void *)(sym[i].st_value + bias);
	}
	return NULL;
}

/*
 * Which clock ids the vDSO serves without a syscall: a child process makes
 * clock_gettime fail with a distinctive errno (seccomp), calls the vDSO
 * for each clock, and reports the ones that still succeeded.  -1 when the
 * probe itself could not run (no seccomp, no fork).
 */
static int vdso_userspace_mask(void)
{
	int pfd[2];
	if (pipe(pfd) != 0)
		return -1;
	pid_t pid = fork();
	if (pid < 0) {
		close(pfd[0]);
		close(pfd[1]);
		return -1;
	}
	if (pid == 0) {
		struct sock_filter f[] = {
			BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
			BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
			BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
			BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
			BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_clock_gettime, 0, 1),
			BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (ENOTRECOVERABLE & SECCOMP_RET_DATA)),
			BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		};
		struct sock_fprog prog = { .len = ARRAY_SIZE(f), .filter = f };
		int mask = -1;
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 &&
		    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) == 0) {
			struct timespec ts;
			mask = 0;
			for (int c = 0; c < NCLK; c++)
				if (vdso_gettime(vclocks[c].id, &ts) == 0)
					mask |= 1 << c;
		}
		if (write(pfd[1], &mask, sizeof(mask)) != sizeof(mask))
			_exit(1);
		_exit(0);
	}
	close(pfd[1]);
	int mask = -1;
	if (read(pfd[0], &mask, sizeof(mask)) != sizeof(mask))
		mask = -1;
	close(pfd[0]);
	waitpid(pid, NULL, 0);
	return mask;
}

/* ------------------------------------------------------------- state --- */

static int cpus[CHECK_MAX_CPUS], nr_cpus;
static int nr_threads;
static bool clock_ok[NCLK];  /* the kernel knows the clock id */
static int userspace_mask;   /* clocks the vDSO serves without a syscall (-1: unknown) */
static u64 seed;
static u64 coarse_slack_ns;  /* see relations() */

/* The lock-ordered oracle: one lock and one last value per clock. */
static struct clock_order {
	pthread_mutex_t lock;
	u64 last;
	u64 epoch;   /* wall_epoch when `last` was read */
	int cpu;     /* where `last` was read */
	int thread;
} order[NCLK];

/*
 * CLOCK_REALTIME steps: a timerfd armed with TFD_TIMER_CANCEL_ON_SET reads
 * ECANCELED once the clock was set.  wall_epoch counts the steps seen, so
 * values read before a step are never compared with values after it.
 */
static int set_tfd = -1;
static pthread_mutex_t set_lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic u64 wall_epoch;

static void arm_set_detector(void)
{
	struct itimerspec it = { 0 };
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	it.it_value.tv_sec = now.tv_sec + 10 * 365 * 86400L;
	timerfd_settime(set_tfd, TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET, &it, NULL);
}

/* True when CLOCK_REALTIME was stepped since the previous call. */
static bool wall_clock_was_set(void)
{
	u64 buf;
	bool set = false;
	if (set_tfd < 0)
		return false;
	pthread_mutex_lock(&set_lock);
	if (read(set_tfd, &buf, sizeof(buf)) < 0 && errno == ECANCELED) {
		set = true;
		atomic_fetch_add(&wall_epoch, 1);
		arm_set_detector();
	}
	pthread_mutex_unlock(&set_lock);
	return set;
}

/*
 * A wall clock went back: excused when the clock was set in between.  The
 * kernel notifies timerfds after it updated the clock, so wait a little
 * before asking.
 */
static bool wall_step_excused(u64 epoch_then)
{
	struct timespec d = { 0, 20 * 1000 * 1000 };
	if (atomic_load(&wall_epoch) != epoch_then)
		return true;
	nanosleep(&d, NULL);
	if (wall_clock_was_set() || atomic_load(&wall_epoch) != epoch_then) {
		check_count(&counters[N_WALL_STEPS], 1);
		return true;
	}
	return false;
}

/* ------------------------------------------------------ perturbation --- */

static bool perturb_freq, perturb_cs;
static bool freq_saved;
static long saved_freq;
static char saved_cs[64], avail_cs[8][64];
static int nr_avail_cs;
static char perturb_note[256];

static void write_clocksource(const char *name)
{
	FILE *f = fopen("/sys/devices/system/clocksource/clocksource0/current_clocksource", "w");
	if (!f)
		return;
	fprintf(f, "%s\n", name);
	fclose(f);
}

/* Back to the machine's own state; safe to call twice. */
static void perturb_restore(void)
{
	if (freq_saved) {
		struct timex tx = { .modes = ADJ_FREQUENCY, .freq = saved_freq };
		clock_adjtime(CLOCK_REALTIME, &tx);
		freq_saved = false;
	}
	if (saved_cs[0]) {
		char now[64];
		check_clocksource(now, sizeof(now));
		if (strcmp(now, saved_cs) != 0)
			write_clocksource(saved_cs);
		saved_cs[0] = 0;
	}
}

static void perturb_setup(const struct check_opts *o)
{
	perturb_note[0] = 0;
	if (o->plugin || (!o->perturb && !o->perturb_clocksource))
		return;
	if (o->perturb) {
		struct timex tx = { .modes = 0 };
		if (clock_adjtime(CLOCK_REALTIME, &tx) < 0) {
			snprintf(perturb_note, sizeof(perturb_note), "frequency perturbation off: clock_adjtime: %s",
				 strerror(errno));
		} else {
			struct timex same = { .modes = ADJ_FREQUENCY, .freq = tx.freq };
			if (clock_adjtime(CLOCK_REALTIME, &same) < 0) {
				snprintf(perturb_note, sizeof(perturb_note), "frequency perturbation off: needs "
					 "CAP_SYS_TIME (clock_adjtime: %s)", strerror(errno));
			} else {
				saved_freq = tx.freq;
				freq_saved = perturb_freq = true;
			}
		}
	}
	if (o->perturb_clocksource) {
		char cs[64], line[512];
		check_clocksource(cs, sizeof(cs));
		FILE *f = fopen("/sys/devices/system/clocksource/clocksource0/available_clocksource", "r");
		nr_avail_cs = 0;
		if (f && fgets(line, sizeof(line), f)) {
			for (char *t = strtok(line, " \n"); t && nr_avail_cs < 8; t = strtok(NULL, " \n"))
				snprintf(avail_cs[nr_avail_cs++], sizeof(avail_cs[0]), "%s", t);
		}
		if (f)
			fclose(f);
		if (access("/sys/devices/system/clocksource/clocksource0/current_clocksource", W_OK) != 0 ||
		    geteuid() != 0)
			snprintf(perturb_note + strlen(perturb_note), sizeof(perturb_note) - strlen(perturb_note),
				 "%sclocksource switching off: needs root", perturb_note[0] ? "; " : "");
		else if (nr_avail_cs < 2)
			snprintf(perturb_note + strlen(perturb_note), sizeof(perturb_note) - strlen(perturb_note),
				 "%sclocksource switching off: only %s available", perturb_note[0] ? "; " : "", cs);
		else {
			snprintf(saved_cs, sizeof(saved_cs), "%s", cs);
			perturb_cs = true;
		}
	}
	if (perturb_freq || perturb_cs)
		atexit(perturb_restore);
}

static _Atomic bool round_over;
static u64 next_cs_switch_ns;

static void *perturber(void *arg)
{
	u64 rs = check_seed(seed, 0x7065727475726221ULL + (uintptr_t)arg);
	while (!atomic_load_explicit(&round_over, memory_order_relaxed) && !check_stop()) {
		if (perturb_freq) {
			/* +-500 ppm in the kernel's 2^-16 ppm units (MAXFREQ_SCALED) */
			long f = (long)(check_rand(&rs) % (2 * 32768000ULL + 1)) - 32768000L;
			struct timex tx = { .modes = ADJ_FREQUENCY, .freq = f };
			if (clock_adjtime(CLOCK_REALTIME, &tx) >= 0)
				check_count(&counters[N_FREQ], 1);
		}
		if (perturb_cs && check_raw_ns() >= next_cs_switch_ns) {
			write_clocksource(avail_cs[check_rand(&rs) % (u64)nr_avail_cs]);
			check_count(&counters[N_CLOCKSOURCE], 1);
			next_cs_switch_ns = check_raw_ns() + 500 * 1000 * 1000ULL;
		}
		struct timespec d = { 0, 20 * 1000 * 1000 };
		nanosleep(&d, NULL);
	}
	return NULL;
}

/* ------------------------------------------------------------ readers -- */

struct reader {
	pthread_t t;
	int idx;
	int cpu;        /* the CPU it is pinned to */
	u64 rs;
	u64 last[NCLK]; /* its own last value per clock */
	u64 epoch;      /* wall_epoch of its wall-clock last values */
	u64 rate_mono0, rate_raw0;
	u64 deadline;
	u64 n_reads, n_cross, n_sandwich, n_relation;  /* not yet in counters[] */
	unsigned mono_reads;
};
static struct reader readers[CHECK_MAX_THREADS];

static inline u64 ts_ns(const struct timespec *ts)
{
	return (u64)ts->tv_sec * NSEC_PER_SEC + (u64)ts->tv_nsec;
}

static inline u64 sys_ns(int c)
{
	struct timespec ts;
	syscall(SYS_clock_gettime, vclocks[c].id, &ts); /* cannot fail: clock_ok[c] */
	return ts_ns(&ts);
}

/* The vDSO must read every clock the syscall reads; once per clock it says so. */
static __noinline u64 vdso_failed(int c, int rc)
{
	static _Atomic int reported[NCLK];
	if (!atomic_exchange(&reported[c], 1)) {
		char what[160];
		snprintf(what, sizeof(what), "the vDSO's clock_gettime(CLOCK_%s) returned %d while the syscall "
			 "reads that clock", vclocks[c].name, rc);
		oracle_sandwich(what);
	}
	return sys_ns(c); /* the checks go on with the kernel's value */
}

static inline u64 vdso_ns(int c)
{
	struct timespec ts;
	int rc = vdso_gettime(vclocks[c].id, &ts);
	return rc == 0 ? ts_ns(&ts) : vdso_failed(c, rc);
}

/* A read that feeds the per-thread and the lock-ordered oracles. */
static void locked_read(struct reader *r, int c)
{
	struct clock_order *g = &order[c];
	u64 epoch = atomic_load_explicit(&wall_epoch, memory_order_relaxed);
	if (vclocks[c].wall && epoch != r->epoch) {
		/* the wall clocks were stepped: start their history afresh */
		r->last[C_REALTIME] = r->last[C_REALTIME_COARSE] = r->last[C_TAI] = 0;
		r->epoch = epoch;
	}
	pthread_mutex_lock(&g->lock);
	u64 v = vdso_ns(c);
	/* test-only bugs: big enough to show whatever the machine's load */
	if (check_inject("vdso_backstep") && c == C_MONOTONIC && ++r->mono_reads % 64 == 0)
		v -= NSEC_PER_SEC;
	if (check_inject("vdso_thread_offset"))
		v += (u64)r->idx * NSEC_PER_SEC;
	u64 prev = g->last, gepoch = g->epoch;
	int pcpu = g->cpu, pthr = g->thread;
	bool wall_reset = vclocks[c].wall && gepoch != epoch;
	if (v >= prev || wall_reset) {
		g->last = v;
		g->epoch = epoch;
		g->cpu = r->cpu;
		g->thread = r->idx;
	}
	pthread_mutex_unlock(&g->lock);
	r->n_reads++;

	u64 own = r->last[c];
	if (v < own && !(vclocks[c].wall && wall_step_excused(epoch))) {
		check_evidence("clock CLOCK_%s (vDSO), thread %d pinned to CPU %d", vclocks[c].name, r->idx,
			       r->cpu);
		check_evidence("its previous read %" PRIu64 " ns, this read %" PRIu64 " ns", own, v);
		oracle_monotonic(r->idx, own, v);
		return;
	}
	if (v > own)
		r->last[c] = v;
	if (wall_reset || prev == 0)
		return;
	if (v < prev) {
		if (vclocks[c].wall && wall_step_excused(gepoch))
			return;
		check_evidence("clock CLOCK_%s (vDSO); reads ordered by a lock taken around each read",
			       vclocks[c].name);
		check_evidence("earlier read: %" PRIu64 " ns by thread %d on CPU %d", prev, pthr, pcpu);
		check_evidence("later read:   %" PRIu64 " ns by thread %d on CPU %d (-%" PRIu64 " ns)", v,
			       r->idx, r->cpu, prev - v);
		oracle_linearizable(r->idx, prev, v);
		return;
	}
	if (pcpu != r->cpu)
		r->n_cross++;
}

static void sandwich(struct reader *r, int c)
{
	u64 epoch = atomic_load(&wall_epoch);
	u64 s1 = sys_ns(c);
	u64 v = vdso_ns(c);
	u64 s2 = sys_ns(c);
	if (check_inject("vdso_sandwich"))
		v += NSEC_PER_SEC;
	r->n_sandwich++;
	if (s1 <= v && v <= s2)
		return;
	if (vclocks[c].wall && wall_step_excused(epoch))
		return;
	char what[256];
	snprintf(what, sizeof(what), "CLOCK_%s on CPU %d: syscall %" PRIu64 ", then vDSO %" PRIu64
		 ", then syscall %" PRIu64 " (vDSO %s by %" PRIu64 " ns)", vclocks[c].name, r->cpu, s1, v, s2,
		 v < s1 ? "below the first" : "above the second", v < s1 ? s1 - v : v - s2);
	check_evidence("thread %d pinned to CPU %d; three reads of CLOCK_%s back to back", r->idx, r->cpu,
		       vclocks[c].name);
	oracle_sandwich(what);
}

static void relation_fail(struct reader *r, const char *what)
{
	check_evidence("thread %d pinned to CPU %d; clocks read back to back by the vDSO", r->idx, r->cpu);
	oracle_clock_relation(what);
}

/* A coarse clock, read first, is not ahead of its fine clock (see relations()). */
static bool coarse_not_ahead(struct reader *r, int coarse, int fine, u64 epoch)
{
	char what[256];
	if (!clock_ok[coarse])
		return true;
	u64 c = vdso_ns(coarse), f = vdso_ns(fine);
	if (c <= f + coarse_slack_ns || (vclocks[coarse].wall && wall_step_excused(epoch)))
		return true;
	snprintf(what, sizeof(what), "CLOCK_%s %" PRIu64 " read before CLOCK_%s %" PRIu64 " is %" PRIu64
		 " ns above it (allowed: %" PRIu64 ")", vclocks[coarse].name, c, vclocks[fine].name, f, c - f,
		 coarse_slack_ns);
	relation_fail(r, what);
	return false;
}

static void relations(struct reader *r)
{
	char what[256];
	u64 epoch = atomic_load(&wall_epoch);
	r->n_relation++;

	/* BOOTTIME = MONOTONIC + time suspended, read after it: never below it */
	if (clock_ok[C_BOOTTIME]) {
		u64 m = vdso_ns(C_MONOTONIC), b = vdso_ns(C_BOOTTIME);
		if (check_inject("vdso_boottime_behind"))
			b -= NSEC_PER_SEC;
		if (b < m) {
			snprintf(what, sizeof(what), "CLOCK_BOOTTIME %" PRIu64 " read after CLOCK_MONOTONIC %"
				 PRIu64 " is %" PRIu64 " ns below it", b, m, m - b);
			relation_fail(r, what);
			return;
		}
	}
	/*
	 * A COARSE clock is its fine clock's base at the last tick, so read
	 * first it is not above the fine clock - except that an NTP change of
	 * the multiplier moves the fine clock's base back by up to the
	 * adjustment times the cycles since the tick (<= 10.05% of a tick:
	 * ADJ_TICK plus ADJ_FREQUENCY), while the coarse clock stays put
	 * (kernels since 2025 keep it monotonic that way).
	 */
	if (!coarse_not_ahead(r, C_MONOTONIC_COARSE, C_MONOTONIC, epoch) ||
	    !coarse_not_ahead(r, C_REALTIME_COARSE, C_REALTIME, epoch))
		return;
	/* TAI = REALTIME + the TAI offset (whole seconds, adjtimex's tai) */
	if (clock_ok[C_TAI]) {
		struct timex t1 = { .modes = 0 }, t2 = { .modes = 0 };
		if (adjtimex(&t1) >= 0) {
			u64 r1 = vdso_ns(C_REALTIME), t = vdso_ns(C_TAI), r2 = vdso_ns(C_REALTIME);
			if (adjtimex(&t2) >= 0 && t1.tai == t2.tai) {
				u64 off = (u64)(s64)t1.tai * NSEC_PER_SEC;
				if ((t < r1 + off || t > r2 + off) && !wall_step_excused(epoch)) {
					snprintf(what, sizeof(what), "CLOCK_TAI %" PRIu64 " not within CLOCK_REALTIME "
						 "[%" PRIu64 ", %" PRIu64 "] + TAI offset %d s", t, r1, r2, t1.tai);
					relation_fail(r, what);
					return;
				}
			}
		}
	}
	/* MONOTONIC runs at RAW's rate give or take what NTP may do to it */
	if (clock_ok[C_RAW]) {
		u64 m = vdso_ns(C_MONOTONIC), w = vdso_ns(C_RAW);
		if (!r->rate_raw0) {
			r->rate_mono0 = m;
			r->rate_raw0 = w;
		} else if (w - r->rate_raw0 >= 200 * 1000 * 1000ULL) {
			double ratio = (double)(m - r->rate_mono0) / (double)(w - r->rate_raw0);
			/* ADJ_TICK: +-10%; ADJ_FREQUENCY: +-500 ppm; plus the reads' own jitter */
			if (ratio < 0.8990 || ratio > 1.1010) {
				snprintf(what, sizeof(what), "CLOCK_MONOTONIC advanced %" PRIu64 " ns while "
					 "CLOCK_MONOTONIC_RAW advanced %" PRIu64 " ns (ratio %.6f, NTP allows "
					 "0.8995-1.1005)", m - r->rate_mono0, w - r->rate_raw0, ratio);
				relation_fail(r, what);
				return;
			}
			r->rate_mono0 = m;
			r->rate_raw0 = w;
		}
	}
}

/* Move to another CPU, then check that the vDSO's getcpu knows. */
static void migrate(struct reader *r)
{
	int prev = r->cpu;
	int to = check_other_cpu(cpus, nr_cpus, r->cpu, &r->rs);
	if (!check_pin_self(to))
		return;
	r->cpu = to;
	check_count(&counters[N_MIGRATIONS], 1);

	/*
	 * Pinned to one CPU, the thread stays there (CPU hot-unplug aside, which
	 * breaks the affinity): two getcpu syscalls around the vDSO's getcpu
	 * that both name `to` leave the vDSO no other answer.
	 */
	unsigned s1 = ~0u, v = ~0u, s2 = ~0u;
	syscall(SYS_getcpu, &s1, NULL, NULL);
	if (vdso_getcpu)
		vdso_getcpu(&v, NULL, NULL);
	else
		v = (unsigned)sched_getcpu();
	syscall(SYS_getcpu, &s2, NULL, NULL);
	if (check_inject("vdso_getcpu_stale"))
		v = (unsigned)prev;
	check_count(&counters[N_GETCPU], 1);
	if (s1 != (unsigned)to || s2 != (unsigned)to) {
		check_count(&counters[N_AFFINITY], 1);
		return;
	}
	if (v != (unsigned)to) {
		char what[192];
		snprintf(what, sizeof(what), "thread %d pinned to CPU %d (getcpu syscall before and after: %u, "
			 "%u) but the vDSO's getcpu says %u (it came from CPU %d)", r->idx, to, s1, s2, v, prev);
		check_evidence("sched_setaffinity({%d}) returned 0 before the three reads", to);
		oracle_getcpu(what);
	}
}

#define MIGRATE_EVERY 509
#define SANDWICH_EVERY 61
#define RELATIONS_EVERY 1021

static void flush_counts(struct reader *r)
{
	check_count(&counters[N_READS], r->n_reads);
	check_count(&counters[N_CROSS], r->n_cross);
	check_count(&counters[N_SANDWICH], r->n_sandwich);
	check_count(&counters[N_RELATION], r->n_relation);
	r->n_reads = r->n_cross = r->n_sandwich = r->n_relation = 0;
}

static void *reader_main(void *arg)
{
	struct reader *r = arg;
	u64 i = 0;
	check_pin_self(r->cpu);
	while (!check_stop()) {
		i++;
		if ((i & 4095) == 0)
			flush_counts(r);
		if ((i & 63) == 0 && check_raw_ns() >= r->deadline)
			break;
		if (i % MIGRATE_EVERY == 0)
			migrate(r);
		int c = (int)(i % NCLK);
		if (!clock_ok[c])
			continue;
		locked_read(r, c);
		if (i % SANDWICH_EVERY == 0)
			sandwich(r, c);
		if (i % RELATIONS_EVERY == 0)
			relations(r);
	}
	flush_counts(r);
	return NULL;
}

/* -------------------------------------------------------- the checker -- */

static bool vdso_setup(const struct check_opts *o, char *why, size_t n)
{
	nr_cpus = check_usable_cpus(cpus, CHECK_MAX_CPUS);
	if (nr_cpus < 2) {
		snprintf(why, n, "only %d CPU usable: the vDSO checker migrates readers between CPUs", nr_cpus);
		return false;
	}
	vdso_gettime = (vdso_gettime_fn)vdso_lookup("__vdso_clock_gettime");
	vdso_getcpu = (vdso_getcpu_fn)vdso_lookup("__vdso_getcpu");
	if (!vdso_gettime) {
		snprintf(why, n, "no vDSO clock_gettime in this process (AT_SYSINFO_EHDR %s)",
			 getauxval(AT_SYSINFO_EHDR) ? "has no __vdso_clock_gettime" : "absent");
		return false;
	}
	for (int c = 0; c < NCLK; c++) {
		struct timespec ts;
		clock_ok[c] = syscall(SYS_clock_gettime, vclocks[c].id, &ts) == 0;
	}
	struct timespec res = { 0, 10 * 1000 * 1000 };
	clock_getres(CLOCK_MONOTONIC_COARSE, &res);
	coarse_slack_ns = ts_ns(&res) / 1000 * 1005 / 10 + 1000;
	userspace_mask = vdso_userspace_mask();
	if (userspace_mask >= 0 && !(userspace_mask & (1 << C_MONOTONIC))) {
		char cs[64];
		check_clocksource(cs, sizeof(cs));
		snprintf(why, n, "the vDSO falls back to the syscall for CLOCK_MONOTONIC: clocksource %s has "
			 "no vDSO mode", cs);
		return false;
	}
	nr_threads = o->threads ? o->threads : 2 * nr_cpus;
	if (nr_threads < 2)
		nr_threads = 2;
	if (nr_threads > CHECK_MAX_THREADS)
		nr_threads = CHECK_MAX_THREADS;
	seed = o->seed;
	for (int c = 0; c < NCLK; c++) {
		pthread_mutex_init(&order[c].lock, NULL);
		order[c].last = 0;
		order[c].cpu = -1;
	}
	for (int i = 0; i < nr_threads; i++) {
		memset(&readers[i], 0, sizeof(readers[i]));
		readers[i].idx = i;
		readers[i].cpu = cpus[i % nr_cpus];
		readers[i].rs = check_seed(seed, (u64)i + 1);
	}
	set_tfd = timerfd_create(CLOCK_REALTIME, TFD_NONBLOCK | TFD_CLOEXEC);
	if (set_tfd >= 0)
		arm_set_detector();
	perturb_setup(o);
	return true;
}

static void vdso_round(u64 round_ns)
{
	pthread_t pt;
	bool perturbing = perturb_freq || perturb_cs;
	u64 deadline = check_raw_ns() + round_ns;
	int started = 0;

	wall_clock_was_set(); /* a step between rounds: start the wall clocks afresh */
	atomic_store(&round_over, false);
	if (perturbing && !check_thread_start(&pt, perturber, NULL))
		perturbing = false;
	for (int i = 0; i < nr_threads; i++) {
		struct reader *r = &readers[i];
		r->deadline = deadline;
		if (!check_thread_start(&r->t, reader_main, r))
			break;
		started++;
	}
	for (int i = 0; i < started; i++) {
		struct reader *r = &readers[i];
		pthread_join(r->t, NULL);
	}
	atomic_store(&round_over, true);
	if (perturbing)
		pthread_join(pt, NULL);
}

static void vdso_teardown(void)
{
	perturb_restore();
	if (set_tfd >= 0)
		close(set_tfd);
	set_tfd = -1;
}

static void vdso_notes(FILE *f)
{
	char served[160] = "", fallback[160] = "";
	for (int c = 0; c < NCLK; c++) {
		char *b = !clock_ok[c] ? NULL : (userspace_mask < 0 || (userspace_mask & (1 << c))) ? served
											    : fallback;
		if (b)
			snprintf(b + strlen(b), 160 - strlen(b), "%s%s", *b ? " " : "", vclocks[c].name);
	}
	fprintf(f, "  %d reader threads on %d CPUs; vDSO serves %s%s%s%s\n", nr_threads, nr_cpus,
		served[0] ? served : "nothing", userspace_mask < 0 ? " (seccomp probe unavailable: assumed)" : "",
		fallback[0] ? "; syscall fallback for " : "", fallback);
	if (!vdso_getcpu)
		fprintf(f, "  no __vdso_getcpu: getcpu checked through sched_getcpu()\n");
	if (perturb_note[0])
		fprintf(f, "  %s\n", perturb_note);
	else if (perturb_freq || perturb_cs)
		fprintf(f, "  perturbation: %s%s%s; restored at the end\n", perturb_freq ? "clock_adjtime "
			"ADJ_FREQUENCY +-500 ppm every 20 ms" : "", perturb_freq && perturb_cs ? ", " : "",
			perturb_cs ? "clocksource switch every 0.5 s" : "");
}

const struct checker check_vdso = {
	.name = "vdso",
	.what = "vDSO clock_gettime (7 clock ids) and getcpu across migrating threads: "
		"lock-ordered, vs syscall, clock relations",
	.setup = vdso_setup,
	.round = vdso_round,
	.teardown = vdso_teardown,
	.notes = vdso_notes,
	.counters = counters,
	.injections = injections,
};
