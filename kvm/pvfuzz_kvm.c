// SPDX-License-Identifier: MIT
/*
 * pvfuzz-kvm: the real KVM as the writer under test.  A VM whose guest code
 * is the project's own reader code (kvm/guest/) reads the kvmclock records
 * this host's KVM writes, with the oracles running in the guest, while this
 * program performs host operations chosen by an input (or by a seed).
 *
 * Exit status: 0 clean, 1 a finding (written under --findings), 2 bad
 * usage, 3 an error of the VMM itself, 77 skipped (no usable /dev/kvm or
 * a capability the run needs; the reason is printed).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "host_ops.h"
#include "vmm.h"

#define EXIT_FINDING 1
#define EXIT_USAGE 2
#define EXIT_ERROR 3
#define EXIT_SKIP 77

/* registry values (include/pvfuzz/variant.h) the VMM prints */
static const char *const protocol_names[] = { "pvclock", "hv_tscpage", "clock_math", "tlb" };

struct opts {
	double duration;
	int vcpus;
	const char *readers;
	u64 seed;
	bool seed_given;
	const char *input;
	bool no_ops;
	const char *findings;
	u32 bracket_every;
	u32 free_every;
	bool list;
	const char *decode;   /* --decode FILE: print its operations, no VM */
	struct kvm_op_mask ops_mask; /* --ops */
	const char *extra;    /* --extra FILE: the VMM extras of --input */
	const char *ops;
};

static volatile sig_atomic_t got_signal;
static void on_signal(int s)
{
	got_signal = s;
}

static void __attribute__((noreturn, format(printf, 1, 2))) usage_error(const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "pvfuzz-kvm: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (try --help)\n");
	exit(EXIT_USAGE);
}

static int skip_status = EXIT_SKIP; /* --skip-status */

static void __attribute__((noreturn)) skip(const char *why)
{
	printf("pvfuzz-kvm: skipped: %s\n", why);
	exit(skip_status);
}

static void usage(FILE *f)
{
	char names[256];
	kvm_op_names(names, sizeof(names));
	fprintf(f,
		"usage: pvfuzz-kvm [--duration S] [--vcpus N] [--readers NAME[,NAME...]] [--seed N]\n"
		"                  [--input FILE [--extra FILE]] [--no-ops] [--ops LIST] [--bracket-every N] [--free-every N]\n"
		"                  [--findings DIR] [--list] [--decode FILE]\n"
		"  --duration S       run time in seconds (default 10; 0 < S <= 86400)\n"
		"  --vcpus N          vCPU threads, 2-%d (default 2)\n"
		"  --readers LIST     guest readers, cycled per read (default pvclock_kernel,pvclock_vdso);\n"
		"                     pvclock readers and clock_math scaling variants (see --list)\n"
		"  --seed N           seed of the random host operations (default: from the clock)\n"
		"  --input FILE       play host operations from FILE (include/pvfuzz/kvm_host_ops.h: the\n"
		"                     simulator's encoding, so its findings run here as they are)\n"
		"  --extra FILE       with --input: the VMM extras to interleave (a finding's extra file)\n"
		"  --no-ops           no host operations: the guest reads an undisturbed clock\n"
		"  --ops LIST         random operations drawn only from LIST (default all; -NAME leaves one\n"
		"                     out, e.g. all,-tsc_khz): %s\n"
		"  --bracket-every N  KVM_GET_CLOCK bracket every N reads per vCPU (default 16, 0 off)\n"
		"  --free-every N     every Nth read skips the guest lock (default 4, 0 never)\n"
		"  --findings DIR     where findings go (default ./findings; a finding is\n"
		"                     DIR/kvm/<readers>/<id>/{report.txt,input})\n"
		"  --list             the guest image's variants and whether they run here\n"
		"  --decode FILE      print the operations FILE (and --extra) decode to; no VM\n"
		"  --skip-status N    exit status when the host cannot run it (default 77)\n"
		"exit status: 0 clean, 1 finding, 2 bad usage, 3 VMM error, 77 skipped (--skip-status)\n",
		KG_MAX_VCPUS, names);
}

static u64 parse_u64(const char *opt, const char *s, u64 lo, u64 hi)
{
	char *end;
	errno = 0;
	if (!s || !*s || *s == '-' || *s == '+')
		usage_error("%s wants an integer in [%" PRIu64 ", %" PRIu64 "]", opt, lo, hi);
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || *end || v < lo || v > hi)
		usage_error("%s: '%s' is not an integer in [%" PRIu64 ", %" PRIu64 "]", opt, s, lo, hi);
	return v;
}

/* an option's file or directory argument */
static const char *need_path(const char *opt, const char *val, const char *what)
{
	if (!val || !*val)
		usage_error("%s needs %s", opt, what);
	return val;
}

static void parse(int argc, char **argv, struct opts *o)
{
	*o = (struct opts){ .duration = 10, .vcpus = 2, .readers = "pvclock_kernel,pvclock_vdso",
			    .findings = "findings", .bracket_every = 16, .free_every = 4 };
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *val = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			usage(stdout);
			exit(0);
		} else if (!strcmp(a, "--list")) {
			o->list = true;
		} else if (!strcmp(a, "--no-ops")) {
			o->no_ops = true;
		} else if (!strcmp(a, "--duration")) {
			char *end;
			if (!val)
				usage_error("--duration needs a value");
			errno = 0;
			o->duration = strtod(val, &end);
			if (errno || *end || !(o->duration > 0 && o->duration <= 86400))
				usage_error("--duration: '%s' is not a number of seconds in (0, 86400]", val);
			i++;
		} else if (!strcmp(a, "--vcpus")) {
			o->vcpus = (int)parse_u64(a, val, 2, KG_MAX_VCPUS);
			i++;
		} else if (!strcmp(a, "--readers")) {
			if (!val || !*val)
				usage_error("--readers needs a comma-separated list of variant names");
			o->readers = val;
			i++;
		} else if (!strcmp(a, "--seed")) {
			o->seed = parse_u64(a, val, 0, UINT64_MAX);
			o->seed_given = true;
			i++;
		} else if (!strcmp(a, "--input")) {
			o->input = need_path(a, val, "a file");
			i++;
		} else if (!strcmp(a, "--ops")) {
			char bad[64];
			if (!val || !*val)
				usage_error("--ops needs 'all' or a comma list of operation names");
			if (!kvm_op_parse_mask(val, &o->ops_mask, bad, sizeof(bad))) {
				char names[256];
				kvm_op_names(names, sizeof(names));
				usage_error("--ops: unknown operation '%s' (%s)", bad, names);
			}
			o->ops = val;
			i++;
		} else if (!strcmp(a, "--skip-status")) {
			skip_status = (int)parse_u64(a, val, 0, 255);
			i++;
		} else if (!strcmp(a, "--extra")) {
			o->extra = need_path(a, val, "a file");
			i++;
		} else if (!strcmp(a, "--decode")) {
			o->decode = need_path(a, val, "a file");
			i++;
		} else if (!strcmp(a, "--findings")) {
			o->findings = need_path(a, val, "a directory");
			i++;
		} else if (!strcmp(a, "--bracket-every")) {
			o->bracket_every = (u32)parse_u64(a, val, 0, 1000000);
			i++;
		} else if (!strcmp(a, "--free-every")) {
			o->free_every = (u32)parse_u64(a, val, 0, 1000000);
			i++;
		} else {
			usage_error("unknown option '%s'", a);
		}
	}
	if (o->input && o->no_ops)
		usage_error("--input and --no-ops exclude each other");
	if (!o->ops) {
		char bad[64];
		kvm_op_parse_mask("all", &o->ops_mask, bad, sizeof(bad));
	}
	if (o->extra && !o->input && !o->decode)
		usage_error("--extra goes with --input (or --decode)");
	if (o->ops && (o->input || o->no_ops))
		usage_error("--ops chooses random operations: not with --input or --no-ops");
	if (o->input && o->seed_given)
		usage_error("--input and --seed exclude each other (the input is the operations)");
}

/* ------------------------------------------------------------- input -- */

struct input {
	u8 *buf;
	size_t len, cap;
};

static bool input_load(struct input *in, const char *path, char *why, size_t n)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		snprintf(why, n, "%s: %s", path, strerror(errno));
		return false;
	}
	in->cap = 1 << 16;
	in->buf = malloc(in->cap);
	size_t r;
	while (in->buf && (r = fread(in->buf + in->len, 1, in->cap - in->len, f)) > 0) {
		in->len += r;
		if (in->len == in->cap && in->cap < (64u << 20))
			in->buf = realloc(in->buf, in->cap *= 2);
		else if (in->len == in->cap)
			break;
	}
	bool err = ferror(f);
	fclose(f);
	if (!in->buf || err) {
		snprintf(why, n, "%s: read error", path);
		return false;
	}
	return true;
}

static void input_append(struct input *in, const u8 *bytes, size_t n)
{
	if (in->len + n > in->cap) {
		size_t cap = in->cap ? in->cap * 2 : 1 << 16;
		u8 *b = realloc(in->buf, cap);
		if (!b)
			return; /* the log still has the op; the input stops growing */
		in->buf = b;
		in->cap = cap;
	}
	memcpy(in->buf + in->len, bytes, n);
	in->len += n;
}

/* A step a random run played, saved as the finding's input (and extra). */
static void save_step(struct input *played, struct input *extras, const struct kvm_op *op, u32 nshared)
{
	u8 rec[16];
	if (op->extra) {
		struct kvm_op x = *op;
		x.before = nshared;
		kvm_extra_encode(&x, rec);
		input_append(extras, rec, KVM_EXTRA_RECORD);
	} else {
		input_append(played, rec, kvm_host_op_encode(&op->hop, rec));
	}
}

/* ------------------------------------------------------------ readers -- */

struct run {
	struct opts o;
	struct vmm vm;
	struct kvm_host host;
	struct input played;   /* the shared operations performed, as an input */
	struct input extras;   /* the VMM extras performed (extra file) */
	char label[200];
	int reader_var[KG_MAX_READERS];
	int nr_readers;
	double elapsed;
};

static const struct kg_variant *var_at(struct run *r, int i)
{
	return &r->vm.sh->var[i];
}

static int find_var(struct run *r, const char *name)
{
	for (u32 i = 0; i < r->vm.sh->nr_variants && i < KG_MAX_VARIANTS; i++)
		if (!strcmp(vmm_str(&r->vm, var_at(r, (int)i)->name), name))
			return (int)i;
	return -1;
}

static void list_variants(struct run *r)
{
	printf("%-36s %-11s %-8s %s\n", "variant", "protocol", "runs", "expect");
	for (u32 i = 0; i < r->vm.sh->nr_variants && i < KG_MAX_VARIANTS; i++) {
		const struct kg_variant *v = var_at(r, (int)i);
		const char *runs = v->kind == KG_VAR_PVCLOCK_READER || v->kind == KG_VAR_CLOCK_MATH ? "yes" :
				   v->kind == KG_VAR_HV_READER ?
					   (r->vm.have_hyperv_time ? "no (todo)" : "no (cap)") :
					   "no";
		printf("%-36s %-11s %-8s %s\n", vmm_str(&r->vm, v->name),
		       v->protocol < 4 ? protocol_names[v->protocol] : "?", runs, vmm_str(&r->vm, v->expect));
	}
	if (!r->vm.have_hyperv_time)
		printf("(Hyper-V TSC page readers need KVM_CAP_HYPERV_TIME, which this host does not offer)\n");
}

/* Resolve --readers against the guest's own registry. */
static void resolve_readers(struct run *r)
{
	char buf[512], *save = NULL;
	snprintf(buf, sizeof(buf), "%s", r->o.readers);
	r->label[0] = 0;
	for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		int i = find_var(r, t);
		if (i < 0)
			usage_error("--readers: no variant '%s' in the guest image (see --list)", t);
		const struct kg_variant *v = var_at(r, i);
		if (v->kind == KG_VAR_HV_READER) {
			if (!r->vm.have_hyperv_time)
				skip("Hyper-V TSC page readers need KVM_CAP_HYPERV_TIME, which this host's KVM "
				     "does not offer");
			skip("the Hyper-V TSC page guest path is not built yet (kvmclock readers only)");
		}
		if (v->kind != KG_VAR_PVCLOCK_READER && v->kind != KG_VAR_CLOCK_MATH)
			usage_error("--readers: '%s' is not guest reader code (a writer or a host-side reader)", t);
		if (r->nr_readers == KG_MAX_READERS)
			usage_error("--readers: at most %d readers", KG_MAX_READERS);
		r->reader_var[r->nr_readers++] = i;
		snprintf(r->label + strlen(r->label), sizeof(r->label) - strlen(r->label), "%s%s",
			 r->label[0] ? "+" : "", t);
	}
	if (!r->nr_readers)
		usage_error("--readers: no reader named");
}

/* ----------------------------------------------------------- findings -- */

static const char *reader_name(struct run *r, u32 k)
{
	return k < (u32)r->nr_readers ? vmm_str(&r->vm, var_at(r, r->reader_var[k])->name) : "?";
}

static void summary_line(struct run *r, char *buf, size_t n)
{
	struct kg_finding *f = &r->vm.sh->finding;
	size_t l;

	if (f->hit) {
		l = (size_t)snprintf(buf, n, "SUMMARY: pvfuzz: %s variant=%s world=kvm vcpu=%u reader=%s %s:",
				     vmm_str(&r->vm, f->oracle), r->label, f->vcpu, reader_name(r, f->reader),
				     vmm_str(&r->vm, f->what));
		for (u32 i = 0; i < f->nvalues && i < KG_FINDING_VALUES && l < n; i++)
			l += (size_t)snprintf(buf + l, n - l, " %s=%" PRIu64, vmm_str(&r->vm, f->value_name[i]),
					      f->value[i]);
	} else {
		snprintf(buf, n, "SUMMARY: pvfuzz: %s variant=%s world=kvm vcpu=%d %s", r->vm.crash.oracle,
			 r->label, r->vm.crash.vcpu, r->vm.crash.what);
	}
}

static void write_reads(struct run *r, FILE *f)
{
	for (int v = 0; v < r->vm.nr_vcpus; v++) {
		struct kg_ring *ring = (struct kg_ring *)vmm_gpa(&r->vm, KG_RINGS) + v;
		u64 head = ring->head, from = head > 64 ? head - 64 : 0;
		fprintf(f, "\nguest reads on vCPU %d (last %" PRIu64 " of %" PRIu64 ", oldest first):\n", v,
			head - from, head);
		fprintf(f, "  %-8s %-6s %-28s %20s %20s %10s %6s %s\n", "read#", "kind", "reader", "value_ns",
			"tsc", "version", "flags", "record system_time/tsc_timestamp/mul/shift, excuse lo/hi");
		for (u64 i = from; i < head; i++) {
			const struct kg_read *e = &ring->r[i % KG_RING_SIZE];
			fprintf(f, "  %-8u %-6s %-28s %20" PRIu64 " %20" PRIu64 " %10u %#6x %" PRIu64 "/%" PRIu64
				   "/%u/%d, %" PRIu64 "/%" PRIu64 "\n",
				e->seq, (e->kind & KG_READ_LOCKED) ? ((e->kind & KG_READ_FALLBACK) ? "lck+fb" : "locked") :
								  ((e->kind & KG_READ_FALLBACK) ? "free+fb" : "free"),
				reader_name(r, e->reader), e->value, e->tsc, e->version, e->flags, e->system_time,
				e->tsc_timestamp, e->mul, e->shift, e->excuse_lo, e->excuse_hi);
		}
	}
}

static void write_ops(struct run *r, FILE *f)
{
	struct kvm_host *h = &r->host;
	u64 from = h->nlog > KVM_OP_LOG ? h->nlog - KVM_OP_LOG : 0;
	char line[256];

	fprintf(f, "\nhost operations (%" PRIu64 " performed%s, oldest first):\n", h->nlog,
		from ? ", the log keeps the newest" : "");
	for (u64 i = from; i < h->nlog; i++) {
		kvm_op_format(&h->log[i % KVM_OP_LOG], line, sizeof(line));
		fprintf(f, "  %s\n", line);
	}
}

static void write_counts(struct run *r, FILE *f);

static bool write_file(const char *dir, const char *name, const void *data, size_t n, FILE **keep)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "wb");
	if (!f)
		return false;
	if (keep) {
		*keep = f;
		return true;
	}
	bool ok = fwrite(data, 1, n, f) == n;
	ok = fflush(f) == 0 && ok;
	ok = fsync(fileno(f)) == 0 && ok;
	return fclose(f) == 0 && ok;
}

static bool mkdirs(const char *path)
{
	char p[4096];
	snprintf(p, sizeof(p), "%s", path);
	for (char *s = p + 1; *s; s++)
		if (*s == '/') {
			*s = 0;
			if (mkdir(p, 0777) && errno != EEXIST)
				return false;
			*s = '/';
		}
	return !mkdir(p, 0777) || errno == EEXIST;
}

/*
 * A finding is a directory with report.txt and input, written under a
 * temporary name, synced, then renamed: never half there.  If the
 * findings directory cannot take it, $TMPDIR (or /tmp) does; the report
 * also goes to stderr.
 */
static bool write_finding(struct run *r, const char *root, const char *summary, char *out, size_t outn)
{
	char dir[3072], tmp[4096], fin[4096], stamp[64];
	struct utsname u;
	time_t now = time(NULL);
	struct tm tm;
	FILE *f;

	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", &tm);
	snprintf(dir, sizeof(dir), "%.2800s/kvm/%.200s", root, r->label);
	if (!mkdirs(dir))
		return false;
	snprintf(tmp, sizeof(tmp), "%s/.tmp-%d", dir, (int)getpid());
	if (mkdir(tmp, 0777) && errno != EEXIST)
		return false;
	if (!write_file(tmp, "input", r->played.buf ? (void *)r->played.buf : (void *)"", r->played.len, NULL))
		return false;
	if (r->extras.len && !write_file(tmp, "extra", r->extras.buf, r->extras.len, NULL))
		return false;
	if (!write_file(tmp, "report.txt", NULL, 0, &f))
		return false;
	uname(&u);
	fprintf(f, "%s\n\n", summary);
	fprintf(f, "host: %s %s %s; KVM_CAP_ADJUST_CLOCK %#x, KVMCLOCK_CTRL %d, TSC_CONTROL %d, "
		   "HYPERV_TIME %d; tsc %u kHz; guest CPUID 0x40000001 eax %#x, valid_flags %#x\n",
		u.sysname, u.release, u.machine, r->vm.adjust_clock_flags, r->vm.have_kvmclock_ctrl,
		r->vm.have_tsc_control, r->vm.have_hyperv_time, r->vm.tsc_khz, r->vm.sh->kvm_features,
		r->vm.sh->valid_flags);
	fprintf(f, "run: %d vCPUs, readers %s, %s, %.3f s, bracket every %u reads, free read every %u\n",
		r->vm.nr_vcpus, r->label, r->o.input ? "operations from --input" :
		r->o.no_ops ? "no host operations" : "random operations", r->elapsed, r->o.bracket_every,
		r->o.free_every);
	if (!r->o.input && !r->o.no_ops)
		fprintf(f, "seed: %" PRIu64 "\n", r->o.seed);
	fprintf(f, "try it again: ./pvfuzz kvm --readers %s --vcpus %d --input <this dir>/input%s --duration %.0f\n",
		r->o.readers, r->vm.nr_vcpus, r->extras.len ? " --extra <this dir>/extra" : "", r->elapsed + 1);
	write_counts(r, f);
	write_reads(r, f);
	write_ops(r, f);
	bool ok = !ferror(f);
	ok = fflush(f) == 0 && ok;
	ok = fsync(fileno(f)) == 0 && ok;
	ok = fclose(f) == 0 && ok;
	if (!ok)
		return false;
	const char *oracle = r->vm.sh->finding.hit ? vmm_str(&r->vm, r->vm.sh->finding.oracle) : r->vm.crash.oracle;
	for (int k = 0; k < 1000; k++) {
		/* a second finding in the same second gets -1, -2, ... */
		if (k)
			snprintf(fin, sizeof(fin), "%s/%s-%.40s-%d", dir, stamp, oracle, k);
		else
			snprintf(fin, sizeof(fin), "%s/%s-%.40s", dir, stamp, oracle);
		if (rename(tmp, fin) == 0) {
			int dfd = open(dir, O_RDONLY | O_DIRECTORY);
			if (dfd >= 0) {
				fsync(dfd);
				close(dfd);
			}
			snprintf(out, outn, "%s", fin);
			return true;
		}
		if (errno != EEXIST && errno != ENOTEMPTY)
			return false;
	}
	return false;
}

/* ------------------------------------------------------------ summary -- */

static void write_counts(struct run *r, FILE *f)
{
	struct kg_shared *sh = r->vm.sh;
	u64 reads = 0, checks = 0, fb = 0, br = 0, bre = 0, stopped = 0, reloc = 0, locked = 0, ops = 0;

	for (int v = 0; v < r->vm.nr_vcpus; v++) {
		reads += sh->vcpu[v].reads;
		checks += sh->vcpu[v].checks;
		fb += sh->vcpu[v].fallbacks;
		br += sh->vcpu[v].brackets;
		bre += sh->vcpu[v].brackets_excused;
		stopped += sh->vcpu[v].stopped_seen;
		reloc += sh->vcpu[v].relocations;
		locked += sh->vcpu[v].locked_reads;
	}
	for (int k = 0; k < KVM_STAT_KINDS; k++)
		ops += r->host.done[k];
	fprintf(f, "reads %" PRIu64 " (%.0f/s; %" PRIu64 " under the guest lock, %" PRIu64
		   " fell back to the kernel reader), checks %" PRIu64 ", KVM_GET_CLOCK brackets %" PRIu64
		   " (%" PRIu64 " excused by a clock set)\n",
		reads, r->elapsed > 0 ? reads / r->elapsed : 0.0, locked, fb, checks, br, bre);
	for (int v = 0; v < r->vm.nr_vcpus; v++)
		fprintf(f, "  vCPU %d: %" PRIu64 " reads, record at GPA %#" PRIx64 "\n", v, sh->vcpu[v].reads,
			sh->pvti_gpa[v]);
	fprintf(f, "host operations %" PRIu64 ":", ops);
	for (int k = 0; k < KVM_STAT_KINDS; k++)
		if (r->host.done[k])
			fprintf(f, " %s %" PRIu64, kvm_stat_name(k), r->host.done[k]);
	fprintf(f, "\n");
	for (int k = 0; k < KVM_STAT_KINDS; k++)
		if (r->host.failed[k] || r->host.skipped[k])
			fprintf(f, "  %s: %" PRIu64 " refused by KVM, %" PRIu64 " skipped\n", kvm_stat_name(k),
				r->host.failed[k], r->host.skipped[k]);
	fprintf(f, "guest saw PVCLOCK_GUEST_STOPPED %" PRIu64 " times, moved its records %" PRIu64
		   " times (vCPU-moves)%s\n",
		stopped, reloc, r->host.settle_timeouts ? "; some clock-set windows timed out" : "");
}

/* ---------------------------------------------------------------- main -- */

static u64 seed_from_clock(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return ((u64)ts.tv_sec * 1000000007ULL) ^ (u64)ts.tv_nsec ^ ((u64)getpid() << 32);
}

/* ---- liveness (CO7 for the real host): the VMM watches the guest's read counts ---- */

#define LIVENESS_NS 5000000000ULL

static int vcpu_get_rip(struct vmm *vm, int v, struct vcpu_req *q)
{
	struct kvm_regs regs;
	if (ioctl(vm->vcpu[v].fd, KVM_GET_REGS, &regs))
		return errno;
	q->out[0] = (s64)regs.rip;
	return 0;
}

/* The version of vCPU v's record, as the VMM sees it in guest RAM. */
static u32 record_version(struct vmm *vm, int v)
{
	const u32 *ver = vmm_gpa(vm, __atomic_load_n(&vm->sh->pvti_gpa[v], __ATOMIC_RELAXED));
	return ver ? __atomic_load_n(ver, __ATOMIC_RELAXED) : 0;
}

/*
 * A vCPU that completed no read for `stall` ns although its thread keeps
 * entering the guest: stuck in a reader's retry loop (CLK-25's shape: every
 * exit inside the version window republishes the record) or spinning.
 */
static void report_stall(struct run *r, int v, u64 stall, u64 reads)
{
	struct vcpu_req q = { .fn = vcpu_get_rip };
	u32 v0 = record_version(&r->vm, v), v1;
	usleep(100000);
	v1 = record_version(&r->vm, v);
	bool rip = vmm_vcpu_call(&r->vm, v, &q) && !q.err;
	vmm_report(&r->vm, v, "liveness",
		   "vCPU %d completed no read for %.1f s (%" PRIu64 " reads before): guest rip %#" PRIx64
		   "%s, its record's version moved %u in 100 ms (%u -> %u)",
		   v, stall / 1e9, reads, rip ? (u64)q.out[0] : 0, rip ? "" : " (unknown)", v1 - v0, v0, v1);
}

struct watch {
	u64 reads[KG_MAX_VCPUS];
	u64 since[KG_MAX_VCPUS];
};

static void watch_liveness(struct run *r, struct watch *w, u64 now)
{
	for (int v = 0; v < r->vm.nr_vcpus; v++) {
		u64 n = __atomic_load_n(&r->vm.sh->vcpu[v].reads, __ATOMIC_RELAXED);
		if (n != w->reads[v] || atomic_load(&r->vm.vcpu[v].done)) {
			w->reads[v] = n;
			w->since[v] = now;
		} else if (now - w->since[v] > LIVENESS_NS) {
			report_stall(r, v, now - w->since[v], n);
			return;
		}
	}
}

static bool wait_for(_Atomic bool *flag, u64 ns, struct vmm *vm)
{
	u64 t0 = vmm_now_ns();
	while (!atomic_load(flag)) {
		if (atomic_load(&vm->crashed) || vmm_now_ns() - t0 > ns)
			return false;
		usleep(1000);
	}
	return true;
}

static bool all_booted(struct vmm *vm, u64 ns)
{
	u64 t0 = vmm_now_ns();
	for (;;) {
		int n = 0;
		for (int v = 0; v < vm->nr_vcpus; v++)
			n += __atomic_load_n(&vm->sh->vcpu[v].booted, __ATOMIC_ACQUIRE) ? 1 : 0;
		if (n == vm->nr_vcpus)
			return true;
		if (atomic_load(&vm->crashed) || atomic_load(&vm->finding) || vmm_now_ns() - t0 > ns)
			return false;
		usleep(1000);
	}
}

int main(int argc, char **argv)
{
	static struct run r;
	char why[512];
	bool skipped;

	setvbuf(stdout, NULL, _IOLBF, 0);
	parse(argc, argv, &r.o);
	if (!r.o.seed_given)
		r.o.seed = seed_from_clock();
	if (r.o.decode) {
		struct input in = { 0 }, ex = { 0 };
		struct kvm_op op = { 0 };
		char line[200];
		size_t off = 0, xoff = 0;
		if (!input_load(&in, r.o.decode, why, sizeof(why)) ||
		    (r.o.extra && !input_load(&ex, r.o.extra, why, sizeof(why))))
			usage_error("%s", why);
		for (u32 i = 0; off < in.len || xoff < ex.len; i++) {
			struct kvm_op x;
			size_t save = xoff;
			while (kvm_extra_decode(ex.buf, ex.len, &xoff, r.o.vcpus, &x) && x.before <= i) {
				kvm_op_describe(&x, r.o.vcpus, line, sizeof(line));
				printf("%s\n", line);
				save = xoff;
			}
			xoff = save;
			if (off >= in.len) {
				if (xoff < ex.len)
					continue;
				break;
			}
			size_t at = off;
			off += kvm_host_op_decode(in.buf + off, in.len - off, &op.hop);
			kvm_op_describe(&op, r.o.vcpus, line, sizeof(line));
			printf("@%zu+%zu %s\n", at, off - at, line); /* bytes: for tools that cut inputs */
		}
		return 0;
	}
	if (r.o.input && !input_load(&r.played, r.o.input, why, sizeof(why)))
		usage_error("%s", why);
	if (r.o.extra && !input_load(&r.extras, r.o.extra, why, sizeof(why)))
		usage_error("%s", why);

	if (!vmm_create(&r.vm, r.o.vcpus, why, sizeof(why), &skipped)) {
		if (skipped)
			skip(why);
		fprintf(stderr, "pvfuzz-kvm: %s\n", why);
		return EXIT_ERROR;
	}
	if (!vmm_setup_vcpus(&r.vm, why, sizeof(why)) || !vmm_start(&r.vm, why, sizeof(why))) {
		fprintf(stderr, "pvfuzz-kvm: %s\n", why);
		return EXIT_ERROR;
	}
	if (!wait_for(&r.vm.booted, 10000000000ULL, &r.vm)) {
		fprintf(stderr, "pvfuzz-kvm: the guest did not boot: %s\n",
			atomic_load(&r.vm.crashed) ? r.vm.crash.what : "no KG_PORT_BOOTED within 10 s");
		vmm_stop(&r.vm);
		return EXIT_ERROR;
	}
	if (r.o.list) {
		list_variants(&r);
		vmm_stop(&r.vm);
		return 0;
	}
	if (!(r.vm.sh->kvm_features & (1u << KVM_FEATURE_CLOCKSOURCE2)))
		skip("the host's KVM CPUID does not offer KVM_FEATURE_CLOCKSOURCE2 (no kvmclock)");
	resolve_readers(&r);
	if (find_var(&r, "pvclock_kernel") < 0) {
		fprintf(stderr, "pvfuzz-kvm: the guest image has no mainline kvmclock reader\n");
		return EXIT_ERROR;
	}

	struct kg_shared *sh = r.vm.sh;
	sh->nr_readers = (u32)r.nr_readers;
	for (int k = 0; k < r.nr_readers; k++)
		sh->reader[k] = (u32)r.reader_var[k];
	sh->bracket_every = r.o.bracket_every;
	sh->free_every = r.o.free_every;
	if (!kvm_host_init(&r.host, &r.vm)) {
		fprintf(stderr, "pvfuzz-kvm: out of memory\n");
		return EXIT_ERROR;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	printf("pvfuzz-kvm: %d vCPUs, readers %s, %s%s, %.0f s\npvfuzz-kvm: KVM_CAP_ADJUST_CLOCK %#x, "
	       "KVMCLOCK_CTRL %d, TSC_CONTROL %d, HYPERV_TIME %d, tsc %u kHz, CPUID 0x40000001 %#x\n",
	       r.vm.nr_vcpus, r.label, r.o.input ? "operations from " : r.o.no_ops ? "no host operations" :
	       "random host operations", r.o.input ? r.o.input : "", r.o.duration,
	       r.vm.adjust_clock_flags, r.vm.have_kvmclock_ctrl, r.vm.have_tsc_control, r.vm.have_hyperv_time,
	       r.vm.tsc_khz, sh->kvm_features);
	if (!r.o.input && !r.o.no_ops)
		printf("pvfuzz-kvm: seed %" PRIu64 ", operations %s\n", r.o.seed, r.o.ops ? r.o.ops : "all");
	if (!r.vm.have_tsc_control)
		printf("pvfuzz-kvm: note: no KVM_CAP_TSC_CONTROL: KVM_SET_TSC_KHZ may only raise the rate "
		       "(catch-up); lower rates are refused and counted\n");
	__atomic_store_n(&sh->go, 1, __ATOMIC_SEQ_CST);
	u64 t0 = vmm_now_ns();
	if (!all_booted(&r.vm, 10000000000ULL) && !atomic_load(&r.vm.crashed) && !atomic_load(&r.vm.finding)) {
		fprintf(stderr, "pvfuzz-kvm: not every vCPU enabled kvmclock within 10 s\n");
		vmm_stop(&r.vm);
		return EXIT_ERROR;
	}

	/* the host loop: one operation after another until time, a finding or a signal */
	u64 rs = r.o.seed ? r.o.seed : 1, end = t0 + (u64)(r.o.duration * 1e9), next_status = t0 + 10000000000ULL;
	size_t off = 0;
	struct watch w = { 0 };
	for (int v = 0; v < r.vm.nr_vcpus; v++)
		w.since[v] = t0;
	struct input *played = &r.played;
	size_t input_len = played->len;
	size_t xoff = 0, extras_len = r.extras.len;
	u32 nshared = 0;
	while (!got_signal && !atomic_load(&r.vm.finding) && !atomic_load(&r.vm.crashed) && vmm_now_ns() < end) {
		struct kvm_op op = { 0 };
		size_t save = xoff;
		if (r.o.input && kvm_extra_decode(r.extras.buf, extras_len, &xoff, r.vm.nr_vcpus, &op) &&
		    op.before <= nshared) {
			kvm_host_do(&r.host, &op); /* an extra due before the next shared op */
		} else if (xoff = save, r.o.no_ops || (r.o.input && off >= input_len)) {
			usleep(10000);
		} else if (r.o.input) {
			op = (struct kvm_op){ 0 }; /* the peeked extra is not due yet */
			off += kvm_host_op_decode(played->buf + off, input_len - off, &op.hop);
			kvm_host_do(&r.host, &op);
			nshared++;
		} else {
			kvm_op_random(&rs, r.vm.nr_vcpus, &r.o.ops_mask, &op);
			save_step(played, &r.extras, &op, nshared);
			nshared += !op.extra;
			kvm_host_do(&r.host, &op);
		}
		watch_liveness(&r, &w, vmm_now_ns());
		if (vmm_now_ns() > next_status) {
			u64 reads = 0;
			for (int v = 0; v < r.vm.nr_vcpus; v++)
				reads += sh->vcpu[v].reads;
			fprintf(stderr, "pvfuzz-kvm: %.0f s: %" PRIu64 " reads, %" PRIu64 " host operations\n",
				(vmm_now_ns() - t0) / 1e9, reads, r.host.nlog);
			next_status += 10000000000ULL;
		}
	}
	/* a run shorter than the watchdog: a vCPU that never read is still a finding */
	for (int v = 0; v < r.vm.nr_vcpus && !got_signal && !atomic_load(&r.vm.finding); v++)
		if (!__atomic_load_n(&sh->vcpu[v].reads, __ATOMIC_RELAXED) && vmm_now_ns() - t0 > 1000000000ULL)
			report_stall(&r, v, vmm_now_ns() - t0, 0);
	if (r.o.input && off < input_len)
		played->len = off; /* a finding's input: what was actually played */
	if (r.o.input && xoff < r.extras.len)
		r.extras.len = xoff;
	r.elapsed = (vmm_now_ns() - t0) / 1e9;
	__atomic_store_n(&sh->stop, 1, __ATOMIC_SEQ_CST);
	for (int i = 0; i < 200; i++) {
		int done = 0;
		for (int v = 0; v < r.vm.nr_vcpus; v++)
			done += atomic_load(&r.vm.vcpu[v].done);
		if (done == r.vm.nr_vcpus)
			break;
		usleep(5000);
	}
	vmm_stop(&r.vm);

	if (sh->finding.hit || atomic_load(&r.vm.crashed)) {
		char summary[1024], where[4096] = "";
		const char *tmpdir = getenv("TMPDIR");
		char fallback[4096];
		summary_line(&r, summary, sizeof(summary));
		fflush(stdout);
		fprintf(stderr, "\n%s\n", summary);
		snprintf(fallback, sizeof(fallback), "%s/pvfuzz-findings", tmpdir && *tmpdir ? tmpdir : "/tmp");
		if (write_finding(&r, r.o.findings, summary, where, sizeof(where))) {
			fprintf(stderr, "pvfuzz-kvm: finding written to %s/\n", where);
		} else if (write_finding(&r, fallback, summary, where, sizeof(where))) {
			fprintf(stderr, "pvfuzz-kvm: %s is not writable; finding written to %s/\n", r.o.findings,
				where);
		} else {
			fprintf(stderr, "pvfuzz-kvm: could not write the finding anywhere; here it is:\n");
			write_counts(&r, stderr);
			write_reads(&r, stderr);
			write_ops(&r, stderr);
		}
		write_counts(&r, stderr);
		return EXIT_FINDING;
	}
	printf("pvfuzz-kvm: clean after %.1f s\n", r.elapsed);
	write_counts(&r, stdout);
	return got_signal ? 128 + got_signal : 0;
}
