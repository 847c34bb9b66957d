// SPDX-License-Identifier: MIT
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pvfuzz/variant.h"

#define MAX_VARIANTS 256

static const struct pv_variant *table[MAX_VARIANTS];
static int count;
static bool sorted;

void pv_register(const struct pv_variant *v)
{
	if (count == MAX_VARIANTS) {
		fprintf(stderr, "pvfuzz: too many variants (max %d)\n", MAX_VARIANTS);
		abort();
	}
	for (int i = 0; i < count; i++)
		if (!strcmp(table[i]->name, v->name)) {
			fprintf(stderr, "pvfuzz: variant '%s' registered twice (%s and %s)\n",
				v->name, table[i]->file, v->file);
			abort();
		}
	table[count++] = v;
	sorted = false;
}

static int by_name(const void *a, const void *b)
{
	return strcmp((*(const struct pv_variant *const *)a)->name,
		      (*(const struct pv_variant *const *)b)->name);
}

static void sort_once(void)
{
	if (!sorted) {
		qsort(table, (size_t)count, sizeof(table[0]), by_name);
		sorted = true;
	}
}

int pv_variant_count(void)
{
	return count;
}

const struct pv_variant *pv_variant_at(int i)
{
	sort_once();
	return i >= 0 && i < count ? table[i] : NULL;
}

const struct pv_variant *pv_variant_find(const char *name)
{
	for (int i = 0; i < count; i++)
		if (!strcmp(table[i]->name, name))
			return table[i];
	return NULL;
}

const struct pv_variant *pv_variant_mainline(enum pv_protocol p, enum pv_role r)
{
	sort_once();
	for (int i = 0; i < count; i++)
		if (table[i]->protocol == p && table[i]->role == r && (table[i]->flags & PV_MAINLINE))
			return table[i];
	return NULL;
}

/*
 * Each protocol's name and the fuzz target that runs it.  A new protocol
 * adds its enum entry and one line here; the launcher and the tests learn
 * targets from this table (pvfuzz-list --protocols).
 */
static const struct {
	const char *name;
	const char *target;
} protocols[PV_NR_PROTOCOLS] = {
	[PV_PVCLOCK] = { "pvclock", "pvclock" },
	[PV_HV_TSCPAGE] = { "hv_tscpage", "hv_tscpage" },
	[PV_CLOCK_MATH] = { "clock_math", "clock_math" },
	[PV_TLB] = { "tlb", "tlb_flush" },
	[PV_KVM_TSC] = { "kvm_tsc", "kvm_tsc" },
	[PV_NESTED] = { "nested", "nested" },
	[PV_PERF_TIME] = { "perf_time", "perf_time" },
	[PV_VDSO] = { "vdso", "vdso" },
};

const char *pv_protocol_name(enum pv_protocol p)
{
	return p < PV_NR_PROTOCOLS && protocols[p].name ? protocols[p].name : "?";
}

const char *pv_protocol_target(enum pv_protocol p)
{
	return p < PV_NR_PROTOCOLS && protocols[p].target ? protocols[p].target : "?";
}

bool pv_protocol_by_name(const char *name, enum pv_protocol *p)
{
	for (int i = 0; i < PV_NR_PROTOCOLS; i++)
		if (protocols[i].name && !strcmp(protocols[i].name, name)) {
			*p = (enum pv_protocol)i;
			return true;
		}
	return false;
}

const char *pv_role_name(enum pv_role r)
{
	static const char *const n[] = { "reader", "writer", "flush", "free", "walker", "host",
					 "mutator" };
	return r < PV_NR_ROLES ? n[r] : "?";
}

/* Is `name` one of the comma-separated names in `list`? */
static bool in_list(const char *list, const char *name)
{
	size_t n = strlen(name);
	for (const char *p = list; p && *p;) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);
		if (len == n && !strncmp(p, name, n))
			return true;
		p = comma ? comma + 1 : NULL;
	}
	return false;
}

bool pv_variant_safe_with(const struct pv_variant *v, const struct pv_variant *other)
{
	return v->safe_with && other && in_list(v->safe_with, other->name);
}

/* ---------------------------------------------------------- selection -- */

#include "sim/fdp.h"

static void make_label(struct pv_selection *sel)
{
	size_t n = 0;
	sel->label[0] = 0;
	for (int r = 0; r < PV_NR_ROLES; r++)
		if (sel->role[r])
			n += (size_t)snprintf(sel->label + n, sizeof(sel->label) - n, "%s%s",
					      n ? "+" : "", sel->role[r]->name);
}

bool pv_select(enum pv_protocol p, const char *spec, struct pv_selection *sel, char *err, size_t errlen)
{
	memset(sel, 0, sizeof(*sel));
	bool named[PV_NR_ROLES] = { false };
	if (spec && !strcmp(spec, "input")) {
		sel->from_input = true;
		spec = NULL;
	}
	if (spec && strlen(spec) >= 512) {
		snprintf(err, errlen, "variant list too long (%zu characters)", strlen(spec));
		return false;
	}
	char buf[512];
	snprintf(buf, sizeof(buf), "%s", spec ? spec : "");
	/* "" is the protocol's defaults; "a,,b" or a stray comma is a typo */
	size_t len = strlen(buf);
	if (len && (buf[0] == ',' || buf[len - 1] == ',' || strstr(buf, ",,"))) {
		snprintf(err, errlen, "empty variant name in '%s' (names are comma-separated)", spec);
		return false;
	}
	for (char *tok = buf, *next; *buf && tok; tok = next) {
		next = strchr(tok, ',');
		if (next)
			*next++ = 0;
		const struct pv_variant *v = pv_variant_find(tok);
		if (!v) {
			snprintf(err, errlen, "unknown variant '%s' (see: ./pvfuzz list)", tok);
			return false;
		}
		if (v->protocol != p) {
			snprintf(err, errlen, "variant '%s' belongs to %s, not %s", tok,
				 pv_protocol_name(v->protocol), pv_protocol_name(p));
			return false;
		}
		if (named[v->role] && sel->role[v->role] != v) {
			snprintf(err, errlen, "two %s variants named ('%s' and '%s')", pv_role_name(v->role),
				 sel->role[v->role]->name, tok);
			return false;
		}
		sel->role[v->role] = v;
		named[v->role] = true;
	}
	/* partners of the named variants only, whatever their role order */
	const struct pv_variant *partner[PV_NR_ROLES] = { NULL };
	for (int r = 0; r < PV_NR_ROLES; r++) {
		const struct pv_variant *v = named[r] ? sel->role[r] : NULL;
		const struct pv_variant *pa = v && v->partner ? pv_variant_find(v->partner) : NULL;
		if (pa && !named[pa->role] && !partner[pa->role])
			partner[pa->role] = pa;
	}
	for (int r = 0; r < PV_NR_ROLES; r++) {
		if (partner[r])
			sel->role[r] = partner[r];
		if (!sel->role[r])
			sel->role[r] = pv_variant_mainline(p, (enum pv_role)r);
	}
	make_label(sel);
	return true;
}

static bool is_buggy(const struct pv_variant *v)
{
	return v && v->expect && strcmp(v->expect, "safe");
}

/* Appends the alternatives of `expect` not yet in buf ("a|b"). */
static void add_alternatives(char *buf, size_t len, const char *expect)
{
	for (const char *p = expect; p && *p;) {
		const char *bar = strchr(p, '|');
		size_t n = bar ? (size_t)(bar - p) : strlen(p);
		char one[64];
		snprintf(one, sizeof(one), "%.*s", (int)n, p);
		bool have = false;
		for (const char *q = buf; *q;) {
			const char *b2 = strchr(q, '|');
			size_t m = b2 ? (size_t)(b2 - q) : strlen(q);
			if (m == strlen(one) && !strncmp(q, one, m))
				have = true;
			q = b2 ? b2 + 1 : q + m;
		}
		size_t used = strlen(buf);
		if (!have && used + strlen(one) + 2 < len)
			snprintf(buf + used, len - used, "%s%s", used ? "|" : "", one);
		p = bar ? bar + 1 : NULL;
	}
}

/* role r of sel is buggy, and no other selected role is in its safe_with list */
static bool buggy_here(const struct pv_selection *sel, int r)
{
	const struct pv_variant *v = sel->role[r];
	if (!is_buggy(v))
		return false;
	for (int o = 0; o < PV_NR_ROLES; o++)
		if (o != r && pv_variant_safe_with(v, sel->role[o]))
			return false;
	return true;
}

bool pv_selection_role_buggy(const struct pv_selection *sel, int r)
{
	return buggy_here(sel, r);
}

void pv_selection_expect(const struct pv_selection *sel, char *buf, size_t len)
{
	buf[0] = 0;
	for (int r = 0; r < PV_NR_ROLES; r++)
		if (buggy_here(sel, r))
			add_alternatives(buf, len, sel->role[r]->expect);
	if (!buf[0])
		snprintf(buf, len, "safe");
}

static void spec_of(const struct pv_variant *const role[PV_NR_ROLES], char *spec, size_t len)
{
	size_t n = 0;
	spec[0] = 0;
	for (int r = 0; r < PV_NR_ROLES; r++)
		if (role[r] && n < len)
			n += (size_t)snprintf(spec + n, len - n, "%s%s", n ? "," : "", role[r]->name);
}

void pv_selection_spec(const struct pv_selection *sel, char *spec, size_t len)
{
	spec_of(sel->role, spec, len);
}

/*
 * A chain: a mutation of mainline whose mainline is itself known buggy
 * (kvm_tsc) ends at the fix mainline names.  Bounded, so a cycle in the
 * registry (refused by the unit test) cannot hang a binary.
 */
const struct pv_variant *pv_variant_fixed(const struct pv_variant *v)
{
	for (int hop = 0; hop < 8 && is_buggy(v); hop++) {
		const struct pv_variant *f = v->fixed ? pv_variant_find(v->fixed) : NULL;
		if (!f)
			f = pv_variant_mainline(v->protocol, v->role);
		if (!f || f == v)
			break;
		v = f;
	}
	return v;
}

/*
 * The counterpart replaces every role that is buggy in this selection by
 * the correct variant it mutates (pv_variant_fixed).  A buggy variant
 * declared safe with another role of it (safe_with) stays: the counterpart
 * then keeps as much of the reproducer's pairing as is safe (a hypercall
 * flush backend with free_rcu, when the walker is the bug), so the replay
 * exercises the fixed role where it matters.  Should what is left not be
 * safe (a safe_with partner was itself replaced), every buggy role is
 * replaced.
 */
void pv_selection_counterpart(const struct pv_selection *sel, char *spec, size_t len)
{
	struct pv_selection cp = *sel;
	for (int r = 0; r < PV_NR_ROLES; r++)
		if (buggy_here(sel, r))
			cp.role[r] = pv_variant_fixed(sel->role[r]);
	char exp[256];
	pv_selection_expect(&cp, exp, sizeof(exp));
	for (int r = 0; r < PV_NR_ROLES && strcmp(exp, "safe"); r++)
		if (is_buggy(cp.role[r]))
			cp.role[r] = pv_variant_fixed(cp.role[r]);
	spec_of(cp.role, spec, len);
}

void pv_select_from_input(enum pv_protocol p, struct pv_selection *sel, struct fdp *in)
{
	for (int r = 0; r < PV_NR_ROLES; r++) {
		if (!pv_variant_mainline(p, (enum pv_role)r))
			continue;
		int n = 0;
		for (int i = 0; i < count; i++)
			if (pv_variant_at(i)->protocol == p && pv_variant_at(i)->role == (enum pv_role)r)
				n++;
		int pick = fdp_u8(in, 0) % n;
		for (int i = 0; i < count; i++) {
			const struct pv_variant *v = pv_variant_at(i);
			if (v->protocol == p && v->role == (enum pv_role)r && pick-- == 0)
				sel->role[r] = v;
		}
	}
	make_label(sel);
}

void pv_select_or_exit(enum pv_protocol p, struct pv_selection *sel)
{
	char err[256];
	if (!pv_select(p, getenv("PVFUZZ_VARIANT"), sel, err, sizeof(err))) {
		fprintf(stderr, "pvfuzz: PVFUZZ_VARIANT: %s\n", err);
		exit(2);
	}
}
