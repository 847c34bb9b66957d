// SPDX-License-Identifier: MIT
/*
 * The trace: one line per step (step, vCPU, fiber, site, op, field, value),
 * kept as binary records in a ring (printed on a finding or with --trace)
 * and folded into a hash that must be identical in every build and engine.
 * Site ids hash basename:line:expr, never addresses, so they are stable.
 *
 * Two things ride along without touching the hash:
 *   - the access in flight: a load/store/RMW is announced before the
 *     scenario's on_access hook sees it and a store before on_commit does,
 *     so an oracle firing inside a hook still finds the access that made it
 *     fire and puts it into the trace (the "violation" record);
 *   - the full log (sim_trace_log_enable): every record of a run with the
 *     bytes it touched, for the replayer's --trace-json and triage.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/sim_internal.h"

/*
 * Lazily cached ids take a different path the first time a process sees a
 * site; keep that out of coverage so AFL++ stability stays at 100%.
 */
#if defined(__clang__) && __clang_major__ >= 13
#define __no_coverage __attribute__((no_sanitize("coverage")))
#else
#define __no_coverage
#endif


#define TRACE_RING 256

struct trace_rec {
	u64 step;
	u64 value;
	struct pv_site *site;
	const char *note;
	const volatile void *addr; /* bytes a memory op touched (NULL: none) */
	s8 fiber;
	s8 subject;                /* the fiber an event is about (migrate), or -1 */
	u8 cpu;
	u8 op;
	u8 size;
	u8 violation;              /* appended by the reporter, not hashed */
};

static struct trace_rec ring[TRACE_RING];
static u64 nrec;
int sim_trace_live;

/* the full log: off unless the replayer asks for it */
static struct trace_rec *tlog;
static u64 tlog_cap;

/* the access in flight (see the head comment) */
static struct trace_rec inflight, incommit;
static bool inflight_set, incommit_set;
static const volatile void *next_addr;
static unsigned next_size;
static s64 violation_seq = -1;

/* JSON location ids (see loc_id) */
#define LOC_MAX 512
static const volatile void *loc_addr[LOC_MAX];
static int nloc = -1; /* -1: not assigned for this run yet */
static u64 violation_op_start = (u64)-1; /* the violating fiber's op began here */

static const char *const op_name[] = {
	[SIM_OP_LOAD] = "load", [SIM_OP_STORE] = "store", [SIM_OP_COPY] = "copy",
	[SIM_OP_COMMIT] = "commit", [SIM_OP_FENCE] = "fence", [SIM_OP_RDTSC] = "rdtsc",
	[SIM_OP_RMW] = "rmw", [SIM_OP_IRQ] = "irq", [SIM_OP_EXIT] = "vmexit",
	[SIM_OP_RELAX] = "relax", [SIM_OP_EVENT] = "event", [SIM_OP_BEGIN] = "begin",
	[SIM_OP_END] = "end", [SIM_OP_NOTE] = "note",
};

static const char *const event_name[SIM_EV_NR] = {
	[SIM_EV_SWITCH] = "switch", [SIM_EV_MIGRATE] = "migrate",
	[SIM_EV_HOST_PREEMPT] = "host-preempt", [SIM_EV_TSC_FREQ] = "tsc-freq-change",
	[SIM_EV_WRITER] = "writer-kick", [SIM_EV_SB_DRAIN] = "store-buffer-drain",
	[SIM_EV_SCENARIO] = "scenario", [SIM_EV_SCENARIO2] = "scenario2",
};

static __no_coverage const char *base_name(const char *path)
{
	const char *b = strrchr(path, '/');
	return b ? b + 1 : path;
}

static __no_coverage u64 fnv(u64 h, const void *p, size_t n)
{
	const u8 *b = p;
	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

static __no_coverage u64 fnv_str(u64 h, const char *s)
{
	return s ? fnv(h, s, strlen(s)) : h;
}

static inline u64 mix(u64 h, u64 v)
{
	h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
	return h * 0xff51afd7ed558ccdULL;
}

/* Notes are literals: cache each one's content hash by address. */
static __no_coverage u64 note_id(const char *note)
{
	static const char *keys[64];
	static u64 vals[64];
	unsigned slot = (unsigned)(((uintptr_t)note >> 3) & 63);
	if (keys[slot] != note) {
		keys[slot] = note;
		vals[slot] = fnv_str(0xcbf29ce484222325ULL, note);
	}
	return vals[slot];
}

__no_coverage u32 sim_site_id(struct pv_site *s)
{
	if (!s->id) {
		u64 h = fnv_str(0xcbf29ce484222325ULL, base_name(s->file));
		h = fnv(h, &s->line, sizeof(s->line));
		h = fnv_str(h, s->expr);
		s->id = (u32)(h ^ (h >> 32)) | 1;
	}
	return s->id;
}

/* Objects whose addresses the scenario stores as values (sim_trace_hash_addresses_of). */
static uintptr_t addr_lo, addr_hi;

void sim_trace_hash_addresses_of(const void *p, size_t n)
{
	addr_lo = (uintptr_t)p;
	addr_hi = (uintptr_t)p + n;
}

/* A pointer into such an object is hashed as its offset: ASLR moves the object. */
static u64 hashed_value(u64 v)
{
	if (v >= addr_lo && v < addr_hi)
		return (v - addr_lo) | 1ULL << 63;
	return v;
}

void sim_trace_reset(void)
{
	addr_lo = addr_hi = 0;
	nrec = 0;
	inflight_set = incommit_set = false;
	next_addr = NULL;
	violation_seq = -1;
	violation_op_start = (u64)-1;
	nloc = -1;
	g_sim.hash = 0xcbf29ce484222325ULL;
}

void sim_trace_log_enable(u64 cap)
{
	free(tlog);
	tlog = cap ? calloc(cap, sizeof(*tlog)) : NULL;
	tlog_cap = tlog ? cap : 0;
}

static const char *fiber_name(int fiber)
{
	return fiber >= 0 && fiber < g_sim.nf && g_sim.f[fiber].name ? g_sim.f[fiber].name : "?";
}

static const char *rec_field(const struct trace_rec *r)
{
	if (r->note)
		return r->note;
	return r->site ? r->site->expr : "";
}

void sim_trace_print_header(FILE *out)
{
	fprintf(out, "%6s  %-22s %-26s %-7s %-34s %s\n", "step", "vcpu/fiber", "site", "op",
		"field", "value");
}

static void print_rec(FILE *out, const struct trace_rec *r)
{
	char where[96] = "-";
	if (r->site)
		snprintf(where, sizeof(where), "%s:%d", base_name(r->site->file), r->site->line);
	char who[48];
	if (r->fiber < 0)
		snprintf(who, sizeof(who), "main");
	else if (r->cpu == SIM_HOST_CPU)
		snprintf(who, sizeof(who), "host/%s", fiber_name(r->fiber));
	else
		snprintf(who, sizeof(who), "cpu%u/%s", r->cpu, fiber_name(r->fiber));
	fprintf(out, "%6" PRIu64 "  %-22s %-26s %-7s %-34s 0x%" PRIx64 "%s\n", r->step, who, where,
		op_name[r->op], rec_field(r), r->value, r->violation ? "   <== violation" : "");
}

static void keep(const struct trace_rec *r)
{
	ring[nrec % TRACE_RING] = *r;
	if (nrec < tlog_cap)
		tlog[nrec] = *r;
	nrec++;
	if (sim_trace_live)
		print_rec(stdout, r);
}

static void fill(struct trace_rec *r, enum sim_op op, struct pv_site *site, const char *note, u64 value)
{
	r->step = g_sim.step;
	r->value = value;
	r->site = site;
	r->note = note;
	r->addr = NULL;
	r->size = 0;
	r->fiber = (s8)g_sim.cur;
	r->subject = -1;
	r->cpu = g_sim.cur >= 0 ? (u8)sim_cur()->cpu : 0;
	r->op = (u8)op;
	r->violation = 0;
}

static void trace_rec(enum sim_op op, struct pv_site *site, const char *note, u64 value, int subject)
{
	struct trace_rec r;
	fill(&r, op, site, note, value);
	r.subject = (s8)subject;
	if (next_addr) {
		r.addr = next_addr;
		r.size = (u8)next_size;
		next_addr = NULL;
	} else if (inflight_set && inflight.op == op && inflight.site == site) {
		r.addr = inflight.addr;
		r.size = inflight.size;
		inflight_set = false; /* the access in flight is now in the trace */
	}

	/* word-wise mixing; notes are string literals, hashed once each */
	u64 h = g_sim.hash;
	h = mix(h, r.step);
	h = mix(h, (u64)(u8)r.fiber | (u64)r.cpu << 8 | (u64)r.op << 16);
	if (site) {
		u32 id = sim_site_id(site);
		h = mix(h, id);
		if (g_sim.cur >= 0)
			sim_cur()->last_site = id;
	}
	if (note)
		h = mix(h, note_id(note));
	h = mix(h, hashed_value(value));
	g_sim.hash = h;

	keep(&r);
}

void sim_trace(enum sim_op op, struct pv_site *site, const char *note, u64 value)
{
	trace_rec(op, site, note, value, -1);
}

void sim_trace_event_of(int fiber, const char *note, u64 value)
{
	trace_rec(SIM_OP_EVENT, NULL, note, value, fiber);
}

void sim_trace_at(const volatile void *p, unsigned size)
{
	next_addr = p;
	next_size = size;
}

void sim_trace_access(enum sim_op op, struct pv_site *s, const volatile void *p, unsigned size,
		      u64 value)
{
	fill(&inflight, op, s, NULL, value);
	inflight.addr = p;
	inflight.size = (u8)size;
	inflight_set = true;
}

void sim_trace_commit_begin(const struct sim_pending *e)
{
	fill(&incommit, SIM_OP_COMMIT, e->site, NULL, e->v);
	/* the store's own fiber, not whoever drained the buffer */
	if (e->fiber) {
		incommit.fiber = (s8)(e->fiber - 1);
		incommit.cpu = (u8)g_sim.f[e->fiber - 1].cpu;
	}
	incommit.addr = e->p;
	incommit.size = e->size;
	incommit_set = true;
}

void sim_trace_commit_end(void)
{
	incommit_set = false;
}

/*
 * A buffered store becomes visible (TSO drain): a record for the reader of
 * the trace, not hashed, so traces and hashes of every build stay as they
 * were.  It belongs to the store's own fiber.
 */
void sim_trace_drain(const struct sim_pending *e)
{
	struct trace_rec r;
	fill(&r, SIM_OP_COMMIT, e->site, NULL, e->v);
	if (e->fiber) {
		r.fiber = (s8)(e->fiber - 1);
		r.cpu = (u8)g_sim.f[e->fiber - 1].cpu;
	}
	r.addr = e->p;
	r.size = e->size;
	keep(&r);
}

static bool is_access(u8 op)
{
	return op == SIM_OP_LOAD || op == SIM_OP_STORE || op == SIM_OP_COPY || op == SIM_OP_COMMIT ||
	       op == SIM_OP_RMW || op == SIM_OP_RDTSC || op == SIM_OP_EXIT;
}

static const struct trace_rec *rec_at(u64 seq)
{
	if (seq >= nrec)
		return NULL;
	if (seq < tlog_cap)
		return &tlog[seq];
	if (nrec - seq <= TRACE_RING)
		return &ring[seq % TRACE_RING];
	return NULL;
}

/*
 * The reporter's view of the violating access: the access in flight if an
 * oracle fired inside a hook (appended to the trace now, unhashed, so every
 * build still agrees on the hash), else the running fiber's last access,
 * else the last access of anyone, else the last record.
 */
s64 sim_trace_violation(void)
{
	if (violation_seq >= 0)
		return violation_seq;
	if (g_sim.cur >= 0 && sim_cur()->op)
		violation_op_start = sim_cur()->op_start;
	if (incommit_set || inflight_set) {
		struct trace_rec r = incommit_set ? incommit : inflight;
		if (r.op == SIM_OP_LOAD && r.addr) /* what memory holds at the instant */
			memcpy(&r.value, (const void *)r.addr, r.size <= 8 ? r.size : 8);
		r.violation = 1;
		violation_seq = (s64)nrec;
		keep(&r);
		incommit_set = inflight_set = false;
		next_addr = NULL;
		return violation_seq;
	}
	/* passes: this fiber's last access, anyone's, then any record (a pure
	 * arithmetic target's result note) */
	for (int pass = 0; pass < 3; pass++) {
		u64 lo = nrec > TRACE_RING ? nrec - TRACE_RING : 0;
		for (u64 i = nrec; i-- > lo;) {
			const struct trace_rec *r = &ring[i % TRACE_RING];
			if (pass < 2 && !is_access(r->op))
				continue;
			if (pass == 0 && (g_sim.cur < 0 || r->fiber != g_sim.cur))
				continue;
			ring[i % TRACE_RING].violation = 1;
			if (i < tlog_cap)
				tlog[i].violation = 1;
			violation_seq = (s64)i;
			return violation_seq;
		}
	}
	return -1;
}

u64 sim_trace_hash(void)
{
	return g_sim.hash;
}

void sim_trace_dump_tail(int n)
{
	u64 first = nrec > (u64)n ? nrec - (u64)n : 0;
	/* the violating access is always in the printed window */
	if (violation_seq >= 0 && (u64)violation_seq < first)
		first = (u64)violation_seq > 2 ? (u64)violation_seq - 2 : 0;
	if (nrec - first > TRACE_RING)
		first = nrec - TRACE_RING;
	fputs("  ", stderr);
	sim_trace_print_header(stderr);
	for (u64 i = first; i < nrec; i++)
		print_rec(stderr, &ring[i % TRACE_RING]);
}

/* ---------------------------------------------------------------- JSON -- */

void sim_json_str(FILE *out, const char *s)
{
	fputc('"', out);
	for (; s && *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			fprintf(out, "\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			fprintf(out, "\\u%04x", c);
		else
			fputc(c, out);
	}
	fputc('"', out);
}

static bool overlaps(const struct trace_rec *a, const volatile void *p, unsigned size)
{
	const u8 *x = (const u8 *)a->addr, *y = (const u8 *)p;
	return a->addr && p && x < y + size && y < x + a->size;
}

static bool is_store(u8 op)
{
	return op == SIM_OP_STORE || op == SIM_OP_COPY || op == SIM_OP_COMMIT || op == SIM_OP_RMW;
}

/*
 * Memory locations get small ids in order of first appearance (8-byte
 * words), so the JSON is the same in every run and build even though
 * addresses are not.
 */

static int loc_id(const volatile void *p)
{
	if (!p || nloc < 0)
		return -1;
	uintptr_t w = (uintptr_t)p & ~(uintptr_t)7;
	for (int i = 0; i < nloc; i++)
		if ((uintptr_t)loc_addr[i] == w)
			return i;
	if (nloc == LOC_MAX)
		return -1;
	loc_addr[nloc] = (const volatile void *)w;
	return nloc++;
}

static void assign_locs(void)
{
	if (nloc >= 0)
		return;
	nloc = 0;
	for (u64 i = 0; i < nrec; i++) {
		const struct trace_rec *r = rec_at(i);
		if (r && r->addr)
			(void)loc_id(r->addr);
	}
}

#define MAX_INVOLVED 32
#define MAX_RACED 16

/*
 * Which bytes the violation is about and which stores of other fibers it
 * raced: the violating fiber's loads since `from` (its op's start, else its
 * last IRQ-off or op begin, else 64 steps back) plus the violating access
 * itself; raced = other fibers' stores to those bytes in that window, and
 * the stores of others those loads read from (a writer stopped half way
 * through its update just before the reader began).
 */
static u64 window_start(const struct trace_rec *v, s64 vseq, u64 op_start)
{
	if (op_start != (u64)-1)
		return op_start;
	for (s64 i = vseq; i >= 0; i--) {
		const struct trace_rec *r = rec_at((u64)i);
		if (!r)
			break;
		if (r->fiber == v->fiber && ((r->op == SIM_OP_IRQ && r->value == 1 && r->note &&
					       !strcmp(r->note, "irq-off")) || r->op == SIM_OP_BEGIN))
			return r->step;
	}
	return v->step > 64 ? v->step - 64 : 0;
}

/* the store a load read from: the latest earlier store to its bytes (-1: none in the trace) */
static s64 reads_from(s64 seq)
{
	const struct trace_rec *l = rec_at((u64)seq);
	for (s64 i = seq - 1; i >= 0; i--) {
		const struct trace_rec *r = rec_at((u64)i);
		if (!r)
			break;
		if (is_store(r->op) && overlaps(r, l->addr, l->size))
			return i;
	}
	return -1;
}

static int add_raced(s64 *raced, int n, s64 seq)
{
	for (int k = 0; k < n; k++)
		if (raced[k] == seq)
			return n;
	raced[n] = seq;
	return n + 1;
}

static int cmp_s64(const void *a, const void *b)
{
	s64 x = *(const s64 *)a, y = *(const s64 *)b;
	return x < y ? -1 : x > y;
}

static int analyse(s64 vseq, u64 op_start, u64 *from, s64 *raced, const struct trace_rec **inv,
		   int *ninv)
{
	const struct trace_rec *v = rec_at((u64)vseq);
	s64 inv_seq[MAX_INVOLVED];
	*ninv = 0;
	if (!v)
		return 0;
	*from = window_start(v, vseq, op_start);
	s64 lo = vseq;
	while (lo > 0 && rec_at((u64)lo - 1) && rec_at((u64)lo - 1)->step >= *from)
		lo--;
	if (v->addr) {
		inv_seq[*ninv] = vseq;
		inv[(*ninv)++] = v;
	}
	for (s64 i = vseq - 1; i >= lo && *ninv < MAX_INVOLVED; i--) {
		const struct trace_rec *r = rec_at((u64)i);
		if (r->fiber == v->fiber && r->addr && (r->op == SIM_OP_LOAD || r->op == SIM_OP_RMW)) {
			inv_seq[*ninv] = i;
			inv[(*ninv)++] = r;
		}
	}
	/* stores of others to those bytes while the window was open ... */
	s64 all[2 * MAX_INVOLVED + 64];
	int n = 0;
	for (s64 i = vseq - 1; i >= lo && n < 64; i--) {
		const struct trace_rec *r = rec_at((u64)i);
		if (!is_store(r->op) || r->fiber == v->fiber)
			continue;
		for (int k = 0; k < *ninv; k++)
			if (overlaps(r, inv[k]->addr, inv[k]->size)) {
				n = add_raced(all, n, i);
				break;
			}
	}
	/* ... and the stores of others the window's loads read from, even older ones */
	for (int k = 0; k < *ninv; k++) {
		if (inv[k]->op != SIM_OP_LOAD && inv[k]->op != SIM_OP_RMW)
			continue;
		s64 w = reads_from(inv_seq[k]);
		if (w >= 0 && rec_at((u64)w)->fiber != v->fiber)
			n = add_raced(all, n, w);
	}
	qsort(all, (size_t)n, sizeof(all[0]), cmp_s64);
	int keep_n = n < MAX_RACED ? n : MAX_RACED; /* the latest ones */
	for (int k = 0; k < keep_n; k++)
		raced[keep_n - 1 - k] = all[n - keep_n + k];
	return keep_n;
}

static void json_site(FILE *out, const struct pv_site *s)
{
	if (!s) {
		fputs("null", out);
		return;
	}
	fprintf(out, "{\"file\": ");
	sim_json_str(out, base_name(s->file));
	fprintf(out, ", \"line\": %d, \"expr\": ", s->line);
	sim_json_str(out, s->expr);
	fputs("}", out);
}

static void json_rec(FILE *out, u64 seq, const struct trace_rec *r, bool involved, bool raced)
{
	fprintf(out, "{\"seq\": %" PRIu64 ", \"step\": %" PRIu64 ", \"fiber\": %d, \"name\": ", seq,
		r->step, r->fiber);
	sim_json_str(out, r->fiber < 0 ? "main" : fiber_name(r->fiber));
	if (r->fiber < 0)
		fputs(", \"vcpu\": null", out);
	else if (r->cpu == SIM_HOST_CPU)
		fputs(", \"vcpu\": \"host\"", out);
	else
		fprintf(out, ", \"vcpu\": %u", r->cpu);
	fputs(", \"op\": ", out);
	sim_json_str(out, op_name[r->op]);
	fputs(", \"site\": ", out);
	json_site(out, r->site);
	fputs(", \"expr\": ", out);
	sim_json_str(out, rec_field(r));
	fprintf(out, ", \"value\": \"0x%" PRIx64 "\"", r->value);
	if (r->addr)
		fprintf(out, ", \"loc\": %d, \"size\": %u", loc_id(r->addr), r->size);
	if (r->subject >= 0) {
		fprintf(out, ", \"subject\": %d, \"subject_name\": ", r->subject);
		sim_json_str(out, fiber_name(r->subject));
	}
	if (r->op == SIM_OP_EVENT && r->note && !strcmp(r->note, "scenario-event") &&
	    (r->value >> 8) < SIM_EV_NR) {
		fputs(", \"event\": ", out);
		sim_json_str(out, event_name[r->value >> 8]);
	}
	if (r->violation)
		fputs(", \"violation\": true", out);
	if (involved)
		fputs(", \"involved\": true", out);
	if (raced)
		fputs(", \"raced\": true", out);
	fputs("}", out);
}

void sim_trace_write_json(FILE *out)
{
	s64 vseq = violation_seq;
	u64 op_start = violation_op_start;
	assign_locs();
	u64 from = 0;
	s64 raced[MAX_RACED];
	const struct trace_rec *inv[MAX_INVOLVED];
	int ninv = 0, nraced = vseq >= 0 ? analyse(vseq, op_start, &from, raced, inv, &ninv) : 0;
	u64 kept = 0;
	for (u64 i = 0; i < nrec; i++)
		kept += rec_at(i) != NULL;

	/* without the log (or past its end) only the ring's last records are left */
	fprintf(out, "\"records_total\": %" PRIu64 ", \"records_lost\": %" PRIu64 ",\n", nrec,
		nrec - kept);
	if (vseq >= 0) {
		fprintf(out, "\"violation_seq\": %" PRId64 ", \"window_from_step\": %" PRIu64
			", \"raced_seq\": [", vseq, from);
		for (int i = 0; i < nraced; i++)
			fprintf(out, "%s%" PRId64, i ? ", " : "", raced[nraced - 1 - i]);
		fputs("],\n", out);
	}
	fputs("\"records\": [\n", out);
	bool comma = false;
	for (u64 i = 0; i < nrec; i++) {
		const struct trace_rec *r = rec_at(i);
		if (!r)
			continue;
		if (comma)
			fputs(",\n", out);
		comma = true;
		bool inv_hit = false, rc = false;
		for (int k = 0; k < ninv && !inv_hit; k++)
			inv_hit = r->addr && overlaps(r, inv[k]->addr, inv[k]->size);
		for (int k = 0; k < nraced && !rc; k++)
			rc = raced[k] == (s64)i;
		json_rec(out, i, r, inv_hit, rc);
	}
	fputs("\n]", out);
}

void sim_trace_print_rec(FILE *out, s64 seq)
{
	const struct trace_rec *r = seq >= 0 ? rec_at((u64)seq) : NULL;
	if (r)
		print_rec(out, r);
}

void sim_trace_write_site_json(FILE *out, s64 seq)
{
	const struct trace_rec *r = seq >= 0 ? rec_at((u64)seq) : NULL;
	if (!r) {
		fputs("null", out);
		return;
	}
	assign_locs();
	json_rec(out, (u64)seq, r, true, false);
}
