// SPDX-License-Identifier: MIT
/*
 * The trace: one line per step (step, vCPU, fiber, site, op, field, value),
 * kept as binary records in a ring (printed on a finding or with --trace)
 * and folded into a hash that must be identical in every build and engine.
 * Site ids hash basename:line:expr, never addresses, so they are stable.
 */
#include <inttypes.h>
#include <stdio.h>
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
	s8 fiber;
	u8 cpu;
	u8 op;
};

static struct trace_rec ring[TRACE_RING];
static u64 nrec;
int sim_trace_live;

static const char *const op_name[] = {
	[SIM_OP_LOAD] = "load", [SIM_OP_STORE] = "store", [SIM_OP_COPY] = "copy",
	[SIM_OP_COMMIT] = "commit", [SIM_OP_FENCE] = "fence", [SIM_OP_RDTSC] = "rdtsc",
	[SIM_OP_RMW] = "rmw", [SIM_OP_IRQ] = "irq", [SIM_OP_EXIT] = "vmexit",
	[SIM_OP_RELAX] = "relax", [SIM_OP_EVENT] = "event", [SIM_OP_BEGIN] = "begin",
	[SIM_OP_END] = "end", [SIM_OP_NOTE] = "note",
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

void sim_trace_reset(void)
{
	nrec = 0;
	g_sim.hash = 0xcbf29ce484222325ULL;
}

static void print_rec(FILE *out, const struct trace_rec *r)
{
	char where[96] = "-";
	if (r->site)
		snprintf(where, sizeof(where), "%s:%d", base_name(r->site->file), r->site->line);
	const char *field = r->site ? r->site->expr : (r->note ? r->note : "");
	if (r->site && r->note)
		field = r->note;
	char who[48];
	if (r->fiber < 0)
		snprintf(who, sizeof(who), "main");
	else if (r->cpu == SIM_HOST_CPU)
		snprintf(who, sizeof(who), "host/%s", g_sim.f[r->fiber].name);
	else
		snprintf(who, sizeof(who), "cpu%u/%s", r->cpu, g_sim.f[r->fiber].name);
	fprintf(out, "%6" PRIu64 "  %-22s %-26s %-7s %-34s 0x%" PRIx64 "\n", r->step, who, where,
		op_name[r->op], field, r->value);
}

void sim_trace(enum sim_op op, struct pv_site *site, const char *note, u64 value)
{
	struct trace_rec *r = &ring[nrec++ % TRACE_RING];
	r->step = g_sim.step;
	r->value = value;
	r->site = site;
	r->note = note;
	r->fiber = (s8)g_sim.cur;
	r->cpu = g_sim.cur >= 0 ? (u8)sim_cur()->cpu : 0;
	r->op = (u8)op;

	/* word-wise mixing; notes are string literals, hashed once each */
	u64 h = g_sim.hash;
	h = mix(h, r->step);
	h = mix(h, (u64)(u8)r->fiber | (u64)r->cpu << 8 | (u64)r->op << 16);
	if (site) {
		u32 id = sim_site_id(site);
		h = mix(h, id);
		if (g_sim.cur >= 0)
			sim_cur()->last_site = id;
	}
	if (note)
		h = mix(h, note_id(note));
	h = mix(h, value);
	g_sim.hash = h;

	if (sim_trace_live)
		print_rec(stdout, r);
}

u64 sim_trace_hash(void)
{
	return g_sim.hash;
}

void sim_trace_dump_tail(int n)
{
	u64 first = nrec > (u64)n ? nrec - (u64)n : 0;
	if (nrec - first > TRACE_RING)
		first = nrec - TRACE_RING;
	fprintf(stderr, "  step  vcpu/fiber             site                       op      field                              value\n");
	for (u64 i = first; i < nrec; i++)
		print_rec(stderr, &ring[i % TRACE_RING]);
}
