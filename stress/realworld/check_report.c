// SPDX-License-Identifier: MIT
/*
 * pv_oracle_fail() for the real-kernel checkers.  A finding is:
 *
 *   - one line on stderr, the format every world uses:
 *         SUMMARY: pvfuzz: <oracle> variant=check-<checker> <details>
 *   - a small text file <findings>/<checker>/<oracle>-<UTC time>-<pid>-<n>
 *     holding that line, the machine (kernel, clocksource, CPUs), the
 *     command, the counters so far and the evidence the oracle judged.
 *
 * The file is written atomically (a temporary name in the same directory,
 * fsync, rename, fsync of the directory), so a reader never sees half a
 * finding; its last line is CHECK_FINDING_END, so a temporary file left by
 * a SIGKILL between write and rename can be told whole and kept.  When the
 * directory cannot be written (read-only, full, not a directory) the
 * finding goes to ${TMPDIR:-/tmp}/pvfuzz-findings/ instead, and when that
 * fails too its whole text goes to stderr: a finding is never dropped.
 *
 * Called from checker threads, never from a signal handler.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

/* the oracle interface's globals (the simulator's replay bookkeeping) */
struct pv_finding pv_last_finding;
bool pv_report_quiet;

void pv_finding_reset(void)
{
}

atomic_bool check_stopping;
bool check_stop_on_finding = true;
void (*check_on_finding)(const char *oracle, const char *path, const char *summary);

/* Past this many, findings are counted and summarised, not written. */
#define MAX_SAVED_FINDINGS 32

static char findings_dir[PATH_MAX - 64] = "findings/check";
static const struct checker *current;
static char command[1024] = "?";
static atomic_int nr_findings;
static pthread_mutex_t report_lock = PTHREAD_MUTEX_INITIALIZER;
static __thread char evidence[3072];
static __thread size_t evidence_len;

void check_set_findings_dir(const char *dir)
{
	snprintf(findings_dir, sizeof(findings_dir), "%s", dir);
}

void check_set_current(const struct checker *c)
{
	current = c;
}

void check_set_command(int argc, char **argv)
{
	size_t len = 0;
	command[0] = 0;
	for (int i = 0; i < argc && len < sizeof(command) - 1; i++)
		len += (size_t)snprintf(command + len, sizeof(command) - len, "%s%s", i ? " " : "", argv[i]);
}

int check_findings(void)
{
	return atomic_load(&nr_findings);
}

void check_evidence(const char *fmt, ...)
{
	va_list ap;
	if (evidence_len >= sizeof(evidence) - 2)
		return;
	evidence[evidence_len++] = ' ';
	evidence[evidence_len++] = ' ';
	va_start(ap, fmt);
	int n = vsnprintf(evidence + evidence_len, sizeof(evidence) - evidence_len, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	evidence_len += (size_t)n;
	if (evidence_len >= sizeof(evidence) - 1)
		evidence_len = sizeof(evidence) - 2;
	evidence[evidence_len++] = '\n';
	evidence[evidence_len] = 0;
}

void check_evidence_clear(void)
{
	evidence_len = 0;
	evidence[0] = 0;
}

/* mkdir -p; true when `path` is a directory afterwards */
static bool make_dirs(const char *path)
{
	char p[PATH_MAX];
	struct stat st;
	snprintf(p, sizeof(p), "%s", path);
	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = 0;
		if (mkdir(p, 0777) != 0 && errno != EEXIST)
			return false;
		*s = '/';
	}
	if (mkdir(p, 0777) != 0 && errno != EEXIST)
		return false;
	return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static bool write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		buf += n;
		len -= (size_t)n;
	}
	return true;
}

/*
 * Write text to dir/name atomically.  On failure returns false with
 * `err` describing the first step that failed; leaves no temporary file.
 */
static bool save_atomically(const char *dir, const char *name, const char *text, char *err, size_t errn)
{
	char tmp[PATH_MAX + 160], dst[PATH_MAX + 160];
	if (!make_dirs(dir)) {
		snprintf(err, errn, "cannot create %s: %s", dir, strerror(errno));
		return false;
	}
	snprintf(tmp, sizeof(tmp), "%s/.tmp.%s", dir, name);
	snprintf(dst, sizeof(dst), "%s/%s", dir, name);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0) {
		snprintf(err, errn, "cannot create %s: %s", tmp, strerror(errno));
		return false;
	}
	bool ok = write_all(fd, text, strlen(text));
	int e = errno;
	if (ok && fsync(fd) != 0) {
		ok = false;
		e = errno;
	}
	if (close(fd) != 0 && ok) {
		ok = false;
		e = errno;
	}
	if (ok && rename(tmp, dst) != 0) {
		ok = false;
		e = errno;
	}
	if (!ok) {
		unlink(tmp);
		snprintf(err, errn, "cannot write %s: %s", dst, strerror(e));
		return false;
	}
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd); /* the rename itself survives a crash */
		close(dfd);
	}
	return true;
}

static size_t machine_lines(char *buf, size_t n)
{
	struct utsname u;
	char cs[64];
	int cpus[CHECK_MAX_CPUS];
	size_t len = 0;

	check_clocksource(cs, sizeof(cs));
	if (uname(&u) == 0)
		len += (size_t)snprintf(buf + len, n - len, "kernel: %s %s %s %s\n", u.sysname, u.release,
					u.version, u.machine);
	if (len < n)
		len += (size_t)snprintf(buf + len, n - len, "clocksource: %s\n", cs);
	if (len < n)
		len += (size_t)snprintf(buf + len, n - len, "usable CPUs: %d of %ld online\n",
					check_usable_cpus(cpus, CHECK_MAX_CPUS), sysconf(_SC_NPROCESSORS_ONLN));
	return len < n ? len : n - 1;
}

void pv_oracle_fail(const char *oracle, const char *fmt, ...)
{
	char detail[512], label[96], summary[768], name[128], when[32];
	static char text[16384];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	const char *cname = current ? current->name : "unknown";
	if (check_inject_name())
		snprintf(label, sizeof(label), "check-%s+inject:%s", cname, check_inject_name());
	else
		snprintf(label, sizeof(label), "check-%s", cname);
	snprintf(summary, sizeof(summary), "SUMMARY: pvfuzz: %s variant=%s %s", oracle, label, detail);

	pthread_mutex_lock(&report_lock);
	int n = atomic_fetch_add(&nr_findings, 1) + 1;
	if (check_stop_on_finding)
		atomic_store(&check_stopping, true);
	if (n > MAX_SAVED_FINDINGS) {
		if (n == MAX_SAVED_FINDINGS + 1)
			fprintf(stderr, "pvfuzz: more than %d findings: counting the rest, not saving them\n",
				MAX_SAVED_FINDINGS);
		check_evidence_clear();
		pthread_mutex_unlock(&report_lock);
		return;
	}

	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(when, sizeof(when), "%Y%m%dT%H%M%SZ", &tm);
	snprintf(name, sizeof(name), "%s-%s-%d-%d", oracle, when, (int)getpid(), n);

	size_t len = (size_t)snprintf(text, sizeof(text), "%s\nchecker: %s\noracle: %s\ncommand: %s\n"
				      "time: %s\npid: %d\n", summary, cname, oracle, command, when,
				      (int)getpid());
	len += machine_lines(text + len, sizeof(text) - len);
	if (current && current->counters && len < sizeof(text)) {
		len += (size_t)snprintf(text + len, sizeof(text) - len, "counts:");
		for (struct check_counter *c = current->counters; c->name && len < sizeof(text); c++)
			len += (size_t)snprintf(text + len, sizeof(text) - len, " %s %" PRIu64, c->name,
						atomic_load(&c->v));
		if (len < sizeof(text))
			len += (size_t)snprintf(text + len, sizeof(text) - len, "\n");
	}
	if (len < sizeof(text))
		len += (size_t)snprintf(text + len, sizeof(text) - len, "evidence:\n%s",
					evidence_len ? evidence : "  (none recorded)\n");
	if (len >= sizeof(text) - sizeof(CHECK_FINDING_END) - 1)
		len = sizeof(text) - sizeof(CHECK_FINDING_END) - 1;
	snprintf(text + len, sizeof(text) - len, "%s\n", CHECK_FINDING_END);
	check_evidence_clear();

	/* the line first: whatever happens to the file, the finding is on stderr */
	fflush(stdout);
	fprintf(stderr, "%s\n", summary);

	/*
	 * No catchable signal while the file is written (a stress-ng plugin is
	 * sent SIGTERM at its timeout); a SIGKILL can still leave the complete
	 * temporary file, which ./pvfuzz stress-ng renames (the end marker says
	 * it is whole).
	 */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	char dir[PATH_MAX + 64], path[PATH_MAX + 256], err[PATH_MAX + 256], err2[PATH_MAX + 256];
	bool saved;
	snprintf(dir, sizeof(dir), "%s/%s", findings_dir, cname);
	saved = save_atomically(dir, name, text, err, sizeof(err));
	if (!saved) {
		const char *t = getenv("TMPDIR");
		snprintf(dir, sizeof(dir), "%s/pvfuzz-findings/%s", t && *t ? t : "/tmp", cname);
		saved = save_atomically(dir, name, text, err2, sizeof(err2));
		fprintf(stderr, "pvfuzz: %s; %s\n", err, saved ? "saved in the fallback directory" : err2);
	}
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (saved)
		fprintf(stderr, "pvfuzz: FAIL %s checker=%s finding=%s\n", oracle, cname, path);
	else
		fprintf(stderr, "pvfuzz: FAIL %s checker=%s finding NOT saved; its text:\n%s", oracle,
			cname, text);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (check_on_finding)
		check_on_finding(oracle, saved ? path : NULL, summary);
	pthread_mutex_unlock(&report_lock);
}
