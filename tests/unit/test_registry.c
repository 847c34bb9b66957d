// SPDX-License-Identifier: MIT
/*
 * The variant registry: unique sorted names, every variant documented
 * (expect, history, file), partners that exist in the same protocol with the
 * other role, exactly one mainline per protocol and role that has variants,
 * and pv_select()'s selection rules and one-line errors.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pvfuzz/variant.h"
#include "sim/fdp.h"

static int failures;
#define CHECK(c, ...)                                                            \
	do {                                                                     \
		if (!(c)) {                                                      \
			fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, #c); \
			fprintf(stderr, __VA_ARGS__);                            \
			fputc('\n', stderr);                                     \
			failures++;                                              \
		}                                                                \
	} while (0)

static bool oracle_list_ok(const char *e)
{
	/* "safe" or name(|name)* with names [a-z][a-z0-9_]* */
	if (!strcmp(e, "safe"))
		return true;
	bool start = true;
	for (const char *p = e; *p; p++) {
		if (*p == '|') {
			if (start)
				return false;
			start = true;
		} else if ((*p >= 'a' && *p <= 'z') || (!start && ((*p >= '0' && *p <= '9') || *p == '_'))) {
			start = false;
		} else {
			return false;
		}
	}
	return !start;
}

static void test_entries(void)
{
	int n = pv_variant_count();
	CHECK(n > 0, "no variants registered");
	for (int i = 0; i < n; i++) {
		const struct pv_variant *v = pv_variant_at(i);
		CHECK(v && v->name && *v->name, "variant %d has no name", i);
		if (!v || !v->name)
			continue;
		if (i > 0)
			CHECK(strcmp(pv_variant_at(i - 1)->name, v->name) < 0,
			      "not sorted/unique: %s then %s", pv_variant_at(i - 1)->name, v->name);
		CHECK(pv_variant_find(v->name) == v, "%s: find() returns another entry", v->name);
		CHECK(v->protocol < PV_NR_PROTOCOLS && v->role < PV_NR_ROLES, "%s: bad protocol/role", v->name);
		CHECK(v->expect && oracle_list_ok(v->expect), "%s: bad expect '%s'", v->name,
		      v->expect ? v->expect : "(null)");
		CHECK(v->history && strlen(v->history) >= 10, "%s: no history line", v->name);
		CHECK(!v->history || !strchr(v->history, '\n'), "%s: history is not one line", v->name);
		CHECK(v->scenario && *v->scenario, "%s: no scenario", v->name);
		CHECK(v->file && *v->file, "%s: no source file", v->name);
		CHECK(v->ops, "%s: no ops", v->name);
		if (v->bug)
			CHECK(*v->bug && !strchr(v->bug, ' '), "%s: bad bug id '%s'", v->name, v->bug);
		/* a mainline found buggy must name the fix its counterparts run */
		if (v->flags & PV_MAINLINE)
			CHECK(v->expect && (!strcmp(v->expect, "safe") || v->fixed),
			      "%s: a mainline that is not safe and names no .fixed", v->name);
		if (v->partner) {
			const struct pv_variant *p = pv_variant_find(v->partner);
			CHECK(p, "%s: partner %s does not exist", v->name, v->partner);
			if (p) {
				CHECK(p->protocol == v->protocol, "%s: partner %s is of another protocol", v->name,
				      p->name);
				CHECK(p->role != v->role, "%s: partner %s has the same role", v->name, p->name);
				if (v->role == PV_READER || v->role == PV_WRITER)
					CHECK(p->role == (v->role == PV_READER ? PV_WRITER : PV_READER),
					      "%s: partner %s is not a %s", v->name, p->name,
					      pv_role_name(v->role == PV_READER ? PV_WRITER : PV_READER));
			}
		}
	}
	for (int i = 0; i < n; i++) {
		const struct pv_variant *v = pv_variant_at(i);
		if (!v->safe_with)
			continue;
		CHECK(v->expect && strcmp(v->expect, "safe"), "%s: safe_with on a safe variant", v->name);
		char buf[512];
		snprintf(buf, sizeof(buf), "%s", v->safe_with);
		for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
			const struct pv_variant *o = pv_variant_find(t);
			CHECK(o, "%s: safe_with names unknown '%s'", v->name, t);
			if (!o)
				continue;
			CHECK(o->protocol == v->protocol && o->role != v->role,
			      "%s: safe_with %s is of another protocol or the same role", v->name, t);
			CHECK(!v->partner || strcmp(v->partner, t), "%s: its partner %s is in safe_with",
			      v->name, t);
			CHECK(pv_variant_safe_with(v, o), "%s: pv_variant_safe_with(%s) false", v->name, t);
		}
	}
	for (int i = 0; i < n; i++) {
		const struct pv_variant *v = pv_variant_at(i), *f;
		if (!v->fixed)
			continue;
		f = pv_variant_find(v->fixed);
		CHECK(f, "%s: fixed names unknown '%s'", v->name, v->fixed);
		if (!f)
			continue;
		CHECK(v->expect && strcmp(v->expect, "safe"), "%s: fixed on a safe variant", v->name);
		CHECK(f->expect && !strcmp(f->expect, "safe"), "%s: fixed %s is not safe", v->name, f->name);
		CHECK(f->protocol == v->protocol && f->role == v->role,
		      "%s: fixed %s is of another protocol or role", v->name, f->name);
		CHECK(pv_variant_fixed(v) == f, "%s: pv_variant_fixed() ignores .fixed", v->name);
	}
	/* every buggy variant has a safe counterpart for its role */
	for (int i = 0; i < n; i++) {
		const struct pv_variant *v = pv_variant_at(i), *f;
		if (!v->expect || !strcmp(v->expect, "safe"))
			continue;
		f = pv_variant_fixed(v);
		CHECK(f && f->expect && !strcmp(f->expect, "safe") && f->protocol == v->protocol &&
		      f->role == v->role, "%s: no safe variant of its role replaces it (got %s)", v->name,
		      f ? f->name : "none");
	}
	CHECK(pv_variant_find("no_such_variant") == NULL, "find() invents a variant");
	CHECK(pv_variant_at(-1) == NULL && pv_variant_at(n) == NULL, "at() out of range");
}

static void test_mainlines(void)
{
	for (int p = 0; p < PV_NR_PROTOCOLS; p++)
		for (int r = 0; r < PV_NR_ROLES; r++) {
			int have = 0, main = 0;
			for (int i = 0; i < pv_variant_count(); i++) {
				const struct pv_variant *v = pv_variant_at(i);
				if ((int)v->protocol == p && (int)v->role == r) {
					have++;
					main += !!(v->flags & PV_MAINLINE);
				}
			}
			const struct pv_variant *m = pv_variant_mainline((enum pv_protocol)p, (enum pv_role)r);
			if (have) {
				CHECK(main == 1, "%s/%s: %d mainlines among %d variants", pv_protocol_name(p),
				      pv_role_name(r), main, have);
				CHECK(m && (m->flags & PV_MAINLINE) && (int)m->protocol == p && (int)m->role == r,
				      "%s/%s: pv_variant_mainline() wrong", pv_protocol_name(p), pv_role_name(r));
			} else {
				CHECK(m == NULL, "%s/%s: a mainline without variants", pv_protocol_name(p),
				      pv_role_name(r));
			}
		}
	CHECK(!strcmp(pv_protocol_name(PV_NR_PROTOCOLS), "?"), "protocol name out of range");
	for (int p = 0; p < PV_NR_PROTOCOLS; p++) {
		enum pv_protocol q;
		CHECK(strcmp(pv_protocol_name((enum pv_protocol)p), "?") &&
			      strcmp(pv_protocol_target((enum pv_protocol)p), "?"),
		      "protocol %d has no name or target", p);
		CHECK(pv_protocol_by_name(pv_protocol_name((enum pv_protocol)p), &q) && (int)q == p,
		      "pv_protocol_by_name(%s)", pv_protocol_name((enum pv_protocol)p));
	}
	CHECK(!strcmp(pv_role_name(PV_NR_ROLES), "?"), "role name out of range");
}

/* A protocol with variants in two roles, for the selection tests. */
static int pick_protocol(void)
{
	for (int p = 0; p < PV_NR_PROTOCOLS; p++) {
		int roles = 0;
		for (int r = 0; r < PV_NR_ROLES; r++)
			roles += pv_variant_mainline((enum pv_protocol)p, (enum pv_role)r) != NULL;
		if (roles >= 2)
			return p;
	}
	return -1;
}

static void check_err(bool ok, const char *err, const char *needle, const char *what)
{
	CHECK(!ok, "%s accepted", what);
	CHECK(*err && !strchr(err, '\n'), "%s: error is not one line: '%s'", what, err);
	CHECK(strstr(err, needle), "%s: error '%s' does not name '%s'", what, err, needle);
}

static void test_select_protocol(int p)
{
	struct pv_selection sel;
	char err[256];

	/* NULL / empty: every role with variants gets its mainline */
	for (int k = 0; k < 2; k++) {
		err[0] = 0;
		CHECK(pv_select((enum pv_protocol)p, k ? "" : NULL, &sel, err, sizeof(err)), "%s", err);
		CHECK(!sel.from_input, "from_input set");
		for (int r = 0; r < PV_NR_ROLES; r++)
			CHECK(sel.role[r] == pv_variant_mainline((enum pv_protocol)p, (enum pv_role)r),
			      "role %s is not the mainline", pv_role_name(r));
		CHECK(strlen(sel.label) > 0, "empty label");
	}

	/* unknown name */
	err[0] = 0;
	check_err(pv_select((enum pv_protocol)p, "no_such_variant_xyz", &sel, err, sizeof(err)), err,
		  "no_such_variant_xyz", "unknown name");
	err[0] = 0;
	check_err(pv_select((enum pv_protocol)p, "nope", &sel, err, sizeof(err)), err,
		  "nope", "a good and an unknown name");

	/* empty names are typos, not defaults */
	const char *empties[] = { ",", "a,", ",a", "x,,y" };
	for (size_t k = 0; k < sizeof(empties) / sizeof(empties[0]); k++) {
		err[0] = 0;
		check_err(pv_select((enum pv_protocol)p, empties[k], &sel, err, sizeof(err)), err, "empty",
			  empties[k]);
	}

	/* wrong protocol */
	int q = (p + 1) % PV_NR_PROTOCOLS;
	const struct pv_variant *any = NULL;
	for (int r = 0; r < PV_NR_ROLES && !any; r++)
		any = pv_variant_mainline((enum pv_protocol)p, (enum pv_role)r);
	err[0] = 0;
	check_err(pv_select((enum pv_protocol)q, any->name, &sel, err, sizeof(err)), err,
		  pv_protocol_name((enum pv_protocol)p), "wrong protocol");

	/* two of one role; each variant with its partner; explicit names win */
	for (int i = 0; i < pv_variant_count(); i++) {
		const struct pv_variant *v = pv_variant_at(i);
		if ((int)v->protocol != p)
			continue;
		err[0] = 0;
		bool ok = pv_select((enum pv_protocol)p, v->name, &sel, err, sizeof(err));
		CHECK(ok, "%s: %s", v->name, err);
		if (!ok)
			continue;
		CHECK(sel.role[v->role] == v, "%s: not in its role", v->name);
		{
			/* naming a variant twice is naming it once */
			char twice[256];
			struct pv_selection s2;
			snprintf(twice, sizeof(twice), "%s,%s", v->name, v->name);
			CHECK(pv_select((enum pv_protocol)p, twice, &s2, err, sizeof(err)) &&
				      !strcmp(s2.label, sel.label),
			      "%s named twice: %s", v->name, err);
			/* its own selection expects at least its own oracles */
			char exp[256];
			pv_selection_expect(&sel, exp, sizeof(exp));
			if (strcmp(v->expect, "safe"))
				CHECK(strcmp(exp, "safe"), "%s alone: selection %s expects safe", v->name,
				      sel.label);
			/* the counterpart replaces the roles buggy in it and is safe */
			char cp[512];
			struct pv_selection s3;
			pv_selection_counterpart(&sel, cp, sizeof(cp));
			CHECK(pv_select((enum pv_protocol)p, cp, &s3, err, sizeof(err)), "%s: counterpart %s: %s",
			      v->name, cp, err);
			pv_selection_expect(&s3, exp, sizeof(exp));
			CHECK(!strcmp(exp, "safe"), "%s: counterpart %s expects %s", v->name, cp, exp);
		}
		CHECK(strstr(sel.label, v->name), "%s: not in the label '%s'", v->name, sel.label);
		if (v->partner) {
			const struct pv_variant *pa = pv_variant_find(v->partner);
			if (pa)
				CHECK(sel.role[pa->role] == pa, "%s: partner %s not selected", v->name, pa->name);
		}
		for (int j = 0; j < pv_variant_count(); j++) {
			const struct pv_variant *w = pv_variant_at(j);
			if (w == v || (int)w->protocol != p)
				continue;
			char spec[256];
			snprintf(spec, sizeof(spec), "%s,%s", v->name, w->name);
			err[0] = 0;
			ok = pv_select((enum pv_protocol)p, spec, &sel, err, sizeof(err));
			if (w->role == v->role) {
				check_err(ok, err, w->name, "two of one role");
			} else {
				CHECK(ok, "%s: %s", spec, err);
				CHECK(ok && sel.role[v->role] == v && sel.role[w->role] == w,
				      "%s: explicit names do not win over partners", spec);
			}
		}
	}

	/* "input": the input's bytes choose, deterministically, within the protocol */
	err[0] = 0;
	CHECK(pv_select((enum pv_protocol)p, "input", &sel, err, sizeof(err)) && sel.from_input, "input: %s",
	      err);
	for (int b = 0; b < 256; b++) {
		u8 bytes[PV_NR_ROLES];
		for (int r = 0; r < PV_NR_ROLES; r++)
			bytes[r] = (u8)(b * 37 + r * 11);
		struct pv_selection s1 = sel, s2 = sel;
		struct fdp f1, f2;
		fdp_init(&f1, bytes, sizeof(bytes));
		fdp_init(&f2, bytes, sizeof(bytes));
		pv_select_from_input((enum pv_protocol)p, &s1, &f1);
		pv_select_from_input((enum pv_protocol)p, &s2, &f2);
		for (int r = 0; r < PV_NR_ROLES; r++) {
			CHECK(s1.role[r] == s2.role[r], "input selection is not deterministic");
			if (pv_variant_mainline((enum pv_protocol)p, (enum pv_role)r))
				CHECK(s1.role[r] && (int)s1.role[r]->protocol == p && (int)s1.role[r]->role == r,
				      "input selection left its protocol/role");
		}
	}
	/* an empty input takes defaults, never fails */
	struct pv_selection s3 = sel;
	struct fdp f3;
	fdp_init(&f3, NULL, 0);
	pv_select_from_input((enum pv_protocol)p, &s3, &f3);
	bool picked = false;
	for (int r = 0; r < PV_NR_ROLES; r++)
		picked |= s3.role[r] != NULL;
	CHECK(picked, "empty input selected nothing");
}

static void test_select(void)
{
	CHECK(pick_protocol() >= 0, "no protocol with two roles");
	for (int p = 0; p < PV_NR_PROTOCOLS; p++) {
		bool any = false;
		for (int r = 0; r < PV_NR_ROLES; r++)
			any |= pv_variant_mainline((enum pv_protocol)p, (enum pv_role)r) != NULL;
		if (any)
			test_select_protocol(p);
	}
}

int main(void)
{
	test_entries();
	test_mainlines();
	test_select();
	if (failures) {
		fprintf(stderr, "test_registry: %d check(s) failed\n", failures);
		return 1;
	}
	printf("test_registry: %d variants ok\n", pv_variant_count());
	return 0;
}
