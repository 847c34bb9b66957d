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

const char *pv_protocol_name(enum pv_protocol p)
{
	static const char *const n[] = { "pvclock", "hv_tscpage", "clock_math", "tlb", "kvm_tsc",
					       "nested" };
	return p < PV_NR_PROTOCOLS ? n[p] : "?";
}

const char *pv_role_name(enum pv_role r)
{
	static const char *const n[] = { "reader", "writer", "flush", "free", "walker", "host" };
	return r < PV_NR_ROLES ? n[r] : "?";
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
	char buf[512];
	snprintf(buf, sizeof(buf), "%s", spec ? spec : "");
	for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
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
		if (named[v->role]) {
			snprintf(err, errlen, "two %s variants named ('%s' and '%s')", pv_role_name(v->role),
				 sel->role[v->role]->name, tok);
			return false;
		}
		sel->role[v->role] = v;
		named[v->role] = true;
	}
	for (int r = 0; r < PV_NR_ROLES; r++) {
		const struct pv_variant *v = sel->role[r];
		if (!v || !v->partner)
			continue;
		const struct pv_variant *pa = pv_variant_find(v->partner);
		if (pa && !named[pa->role])
			sel->role[pa->role] = pa;
	}
	for (int r = 0; r < PV_NR_ROLES; r++)
		if (!sel->role[r])
			sel->role[r] = pv_variant_mainline(p, (enum pv_role)r);
	make_label(sel);
	return true;
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
