// SPDX-License-Identifier: MIT
/* What the checkers share: the checker table, CPUs, clocks, seeds, threads. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

const struct checker *const checkers[] = { &check_vdso, &check_perf, &check_tlb, NULL };

const struct checker *checker_by_name(const char *name)
{
	for (int i = 0; checkers[i]; i++)
		if (!strcmp(checkers[i]->name, name))
			return checkers[i];
	return NULL;
}

/*
 * The process's CPUs, as the first caller (the main thread, before any
 * checker pins itself) saw them: later calls from pinned threads would see
 * only their own CPU.
 */
int check_usable_cpus(int *cpus, int max)
{
	static int cached[CHECK_MAX_CPUS], nr_cached = -1;
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	pthread_mutex_lock(&lock);
	if (nr_cached < 0) {
		cpu_set_t set;
		nr_cached = 0;
		if (sched_getaffinity(0, sizeof(set), &set) == 0)
			for (int c = 0; c < CPU_SETSIZE && nr_cached < CHECK_MAX_CPUS; c++)
				if (CPU_ISSET(c, &set))
					cached[nr_cached++] = c;
	}
	int n = nr_cached < max ? nr_cached : max;
	memcpy(cpus, cached, (size_t)n * sizeof(*cpus));
	pthread_mutex_unlock(&lock);
	return n;
}

bool check_pin_self(int cpu)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	/* returns once the thread runs on an allowed CPU (the kernel migrates it first) */
	return sched_setaffinity(0, sizeof(set), &set) == 0;
}

int check_other_cpu(const int *cpus, int n, int cur, u64 *rs)
{
	int at = 0;
	for (int i = 0; i < n; i++)
		if (cpus[i] == cur)
			at = i;
	return cpus[(at + 1 + (int)(check_rand(rs) % (u64)(n - 1))) % n];
}

u64 check_raw_ns(void)
{
	struct timespec ts;
	syscall(SYS_clock_gettime, CLOCK_MONOTONIC_RAW, &ts);
	return (u64)ts.tv_sec * NSEC_PER_SEC + (u64)ts.tv_nsec;
}

u64 check_seed(u64 base, u64 salt)
{
	u64 z = base + salt * 0x9E3779B97F4A7C15ULL + 0x9E3779B97F4A7C15ULL;
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	z ^= z >> 31;
	return z ? z : 1;
}

void check_clocksource(char *buf, size_t n)
{
	FILE *f = fopen("/sys/devices/system/clocksource/clocksource0/current_clocksource", "r");
	snprintf(buf, n, "?");
	if (!f)
		return;
	if (!fgets(buf, (int)n, f))
		snprintf(buf, n, "?");
	fclose(f);
	buf[strcspn(buf, "\n")] = 0;
}

bool check_thread_start(pthread_t *t, void *(*fn)(void *), void *arg)
{
	int err = pthread_create(t, NULL, fn, arg);
	if (err)
		fprintf(stderr, "pvfuzz-check: pthread_create: %s\n", strerror(err));
	return err == 0;
}

#ifdef PVFUZZ_CHECK_INJECT
static const char *inject_name;

void check_set_inject(const char *name)
{
	inject_name = name && *name ? name : NULL;
}

const char *check_inject_name(void)
{
	return inject_name;
}

bool check_inject(const char *name)
{
	return inject_name && !strcmp(inject_name, name);
}
#endif
