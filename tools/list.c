// SPDX-License-Identifier: MIT
/*
 * pvfuzz-list: the variant registry of this build, and the answers to every
 * question the launcher, the tests and the tools ask about pairings.  It is
 * linked with the simulator and every variant source of its build, including
 * a user's own files (PVFUZZ_USER_SOURCES), so it knows exactly what that
 * build's fuzz targets select with PVFUZZ_VARIANT.  Nobody else holds a copy
 * of the pairing rule (pv_select() and pv_selection_expect()).
 *
 *   pvfuzz-list [--json] [PROTOCOL...]     the registry
 *   pvfuzz-list --protocols [--json]       protocol, target, roles
 *   pvfuzz-list --select SPEC [--protocol P] [--json]
 *                                          one selection: label, expect, roles,
 *                                          the fixed counterpart
 *   pvfuzz-list --runs PROTOCOL [--json]   the default fuzz runs: every buggy
 *                                          variant with its partner, then mainline
 *   pvfuzz-list --combos PROTOCOL [--json] every combination of one variant per role
 *   pvfuzz-list --file PATH [--json]       the variants PATH registers
 *
 * Without --json the queries print tab-separated lines (the launcher reads
 * them); the columns are in usage().  SPEC is "mainline" (or "") for the
 * protocol's defaults, else name[,name]; without --protocol the first name's
 * protocol is used.  Usage errors and bad names: one line, exit 2.
 */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pvfuzz/variant.h"

static const char *argv0 = "pvfuzz-list";

static void usage(FILE *f)
{
	fprintf(f,
		"usage: %s [--json] [PROTOCOL...]\n"
		"       %s --protocols [--json]           protocol TAB target TAB roles\n"
		"       %s --select SPEC [--protocol P] [--json]\n"
		"                                          protocol TAB target TAB label TAB expect TAB spec TAB counterpart\n"
		"       %s --runs PROTOCOL [--json]        spec TAB label TAB expect\n"
		"       %s --combos PROTOCOL [--json]      spec TAB label TAB expect\n"
		"       %s --file PATH [--json]            name TAB protocol TAB role\n",
		argv0, argv0, argv0, argv0, argv0, argv0);
}

static void __attribute__((noreturn, format(printf, 1, 2))) die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "pvfuzz-list: ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(2);
}

/* ------------------------------------------------------------------ json -- */

static void json_str(const char *s)
{
	if (!s) {
		fputs("null", stdout);
		return;
	}
	putchar('"');
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '"': fputs("\\\"", stdout); break;
		case '\\': fputs("\\\\", stdout); break;
		case '\n': fputs("\\n", stdout); break;
		case '\t': fputs("\\t", stdout); break;
		default:
			if (*p < 0x20)
				printf("\\u%04x", *p);
			else
				putchar(*p);
		}
	}
	putchar('"');
}

/* "key": "value" with a separator before every key but the first */
static void jkv(bool *first, const char *key, const char *val)
{
	printf("%s\"%s\": ", *first ? "" : ", ", key);
	json_str(val);
	*first = false;
}

static const char *dash(const char *s)
{
	return s && *s ? s : "-";
}

static enum pv_protocol protocol_arg(const char *name)
{
	enum pv_protocol p;
	if (!pv_protocol_by_name(name, &p)) {
		char known[256] = "";
		for (int i = 0; i < PV_NR_PROTOCOLS; i++)
			snprintf(known + strlen(known), sizeof(known) - strlen(known), "%s%s", i ? ", " : "",
				 pv_protocol_name((enum pv_protocol)i));
		die("unknown protocol '%s' (protocols: %s)", name, known);
	}
	return p;
}

/* -------------------------------------------------------------- registry -- */

static bool wanted(const struct pv_variant *v, char **protos, int n)
{
	if (n == 0)
		return true;
	for (int i = 0; i < n; i++)
		if (!strcmp(protos[i], pv_protocol_name(v->protocol)))
			return true;
	return false;
}

static void print_variant_json(const struct pv_variant *v)
{
	bool first = true;
	printf("  {");
	jkv(&first, "name", v->name);
	jkv(&first, "protocol", pv_protocol_name(v->protocol));
	jkv(&first, "target", pv_protocol_target(v->protocol));
	jkv(&first, "role", pv_role_name(v->role));
	jkv(&first, "bug", v->bug);
	jkv(&first, "expect", v->expect);
	jkv(&first, "scenario", v->scenario);
	jkv(&first, "partner", v->partner);
	jkv(&first, "safe_with", v->safe_with);
	jkv(&first, "fixed", v->fixed);
	jkv(&first, "history", v->history);
	printf(", \"mainline\": %s", (v->flags & PV_MAINLINE) ? "true" : "false");
	jkv(&first, "file", v->file);
	printf("}");
}

static int list_registry(bool json, char **protos, int nprotos)
{
	int n = pv_variant_count();
	if (json) {
		bool first = true;
		puts("[");
		for (int i = 0; i < n; i++) {
			const struct pv_variant *v = pv_variant_at(i);
			if (!wanted(v, protos, nprotos))
				continue;
			if (!first)
				puts(",");
			first = false;
			print_variant_json(v);
		}
		puts(first ? "]" : "\n]");
		return 0;
	}
	printf("%-44s %-11s %-7s %-7s %-38s %s\n", "NAME", "PROTOCOL", "ROLE", "BUG", "EXPECT",
	       "PARTNER");
	for (int i = 0; i < n; i++) {
		const struct pv_variant *v = pv_variant_at(i);
		if (!wanted(v, protos, nprotos))
			continue;
		char name[96];
		snprintf(name, sizeof(name), "%s%s", v->name, (v->flags & PV_MAINLINE) ? " *" : "");
		printf("%-44s %-11s %-7s %-7s %-38s %s\n", name, pv_protocol_name(v->protocol),
		       pv_role_name(v->role), dash(v->bug), dash(v->expect), dash(v->partner));
	}
	printf("(* = mainline default of its protocol and role; --json for history, scenario, "
	       "safe_with, file)\n");
	return 0;
}

/* ------------------------------------------------------------- protocols -- */

static void roles_of(enum pv_protocol p, char *buf, size_t len)
{
	buf[0] = 0;
	for (int r = 0; r < PV_NR_ROLES; r++)
		if (pv_variant_mainline(p, (enum pv_role)r))
			snprintf(buf + strlen(buf), len - strlen(buf), "%s%s", buf[0] ? "," : "",
				 pv_role_name((enum pv_role)r));
}

static int list_protocols(bool json)
{
	if (json)
		puts("[");
	for (int p = 0; p < PV_NR_PROTOCOLS; p++) {
		char roles[128];
		roles_of((enum pv_protocol)p, roles, sizeof(roles));
		if (json) {
			bool first = true;
			printf("  {");
			jkv(&first, "protocol", pv_protocol_name((enum pv_protocol)p));
			jkv(&first, "target", pv_protocol_target((enum pv_protocol)p));
			jkv(&first, "roles", roles);
			printf("}%s\n", p + 1 < PV_NR_PROTOCOLS ? "," : "");
		} else {
			printf("%s\t%s\t%s\n", pv_protocol_name((enum pv_protocol)p),
			       pv_protocol_target((enum pv_protocol)p), roles);
		}
	}
	if (json)
		puts("]");
	return 0;
}

/* ------------------------------------------------------------- selection -- */

struct answer {
	struct pv_selection sel;
	enum pv_protocol protocol;
	char expect[256];
	char spec[512];        /* every role named */
	char counterpart[512]; /* buggy roles replaced by their fixed variants */
	char counterpart_label[160];
};

static bool answer(enum pv_protocol p, const char *spec, struct answer *a, char *err, size_t errlen)
{
	if (!strcmp(spec, "mainline"))
		spec = "";
	if (!pv_select(p, spec, &a->sel, err, errlen))
		return false;
	a->protocol = p;
	pv_selection_expect(&a->sel, a->expect, sizeof(a->expect));
	pv_selection_spec(&a->sel, a->spec, sizeof(a->spec));
	pv_selection_counterpart(&a->sel, a->counterpart, sizeof(a->counterpart));
	struct pv_selection c;
	char e2[256];
	if (pv_select(p, a->counterpart, &c, e2, sizeof(e2)))
		snprintf(a->counterpart_label, sizeof(a->counterpart_label), "%s", c.label);
	else
		snprintf(a->counterpart_label, sizeof(a->counterpart_label), "?");
	return true;
}

static void print_answer(const struct answer *a, const char *asked, bool json)
{
	if (!json) {
		printf("%s\t%s\t%s\t%s\t%s\t%s\n", pv_protocol_name(a->protocol),
		       pv_protocol_target(a->protocol), a->sel.label, a->expect, a->spec, a->counterpart);
		return;
	}
	bool first = true;
	printf("{");
	jkv(&first, "protocol", pv_protocol_name(a->protocol));
	jkv(&first, "target", pv_protocol_target(a->protocol));
	jkv(&first, "asked", asked);
	jkv(&first, "label", a->sel.label);
	jkv(&first, "expect", a->expect);
	jkv(&first, "spec", a->spec);
	jkv(&first, "counterpart", a->counterpart);
	jkv(&first, "counterpart_label", a->counterpart_label);
	printf(", \"roles\": {");
	bool f2 = true;
	for (int r = 0; r < PV_NR_ROLES; r++)
		if (a->sel.role[r])
			jkv(&f2, pv_role_name((enum pv_role)r), a->sel.role[r]->name);
	printf("}, \"buggy\": [");
	bool f3 = true;
	for (int r = 0; r < PV_NR_ROLES; r++) {
		/* the roles the counterpart replaces; one kept safe by safe_with is not */
		const struct pv_variant *v = a->sel.role[r];
		if (v && pv_selection_role_buggy(&a->sel, r)) {
			printf("%s", f3 ? "" : ", ");
			json_str(v->name);
			f3 = false;
		}
	}
	printf("]}");
}

/* The protocol of the first name in spec. */
static enum pv_protocol protocol_of_spec(const char *spec)
{
	char first[128];
	size_t n = strcspn(spec, ",");
	if (n == 0)
		die("empty variant name in '%s' (names are comma-separated)", spec);
	if (n >= sizeof(first))
		die("variant name too long in '%s'", spec);
	snprintf(first, sizeof(first), "%.*s", (int)n, spec);
	const struct pv_variant *v = pv_variant_find(first);
	if (!v)
		die("unknown variant '%s' (see: ./pvfuzz list)", first);
	return v->protocol;
}

static int select_one(const char *spec, const char *proto, bool json)
{
	enum pv_protocol p;
	if (proto)
		p = protocol_arg(proto);
	else if (!*spec || !strcmp(spec, "mainline"))
		die("--select %s needs --protocol P", *spec ? spec : "''");
	else
		p = protocol_of_spec(spec);
	struct answer a;
	char err[256];
	if (!answer(p, spec, &a, err, sizeof(err)))
		die("%s", err);
	print_answer(&a, spec, json);
	if (json)
		putchar('\n');
	return 0;
}

static void print_run(const struct answer *a, const char *spec, bool json, bool *first)
{
	if (!json) {
		printf("%s\t%s\t%s\n", spec, a->sel.label, a->expect);
		return;
	}
	printf("%s  ", *first ? "" : ",\n");
	*first = false;
	print_answer(a, spec, true);
}

/* Every buggy variant (with its partner), then the mainline pairing (and its fix when it is buggy). */
static int list_runs(const char *proto, bool json)
{
	enum pv_protocol p = protocol_arg(proto);
	bool first = true;
	char err[256];
	struct answer a;
	if (json)
		puts("[");
	for (int i = 0; i < pv_variant_count(); i++) {
		const struct pv_variant *v = pv_variant_at(i);
		if (v->protocol != p || !v->expect || !strcmp(v->expect, "safe"))
			continue;
		if (!answer(p, v->name, &a, err, sizeof(err)))
			die("%s: %s", v->name, err);
		print_run(&a, v->name, json, &first);
	}
	if (!answer(p, "", &a, err, sizeof(err)))
		die("mainline: %s", err);
	print_run(&a, "mainline", json, &first);
	/* a mainline found buggy is listed above; the clean row is its fix */
	if (strcmp(a.expect, "safe")) {
		char fix[sizeof(a.counterpart)];
		snprintf(fix, sizeof(fix), "%s", a.counterpart);
		if (!answer(p, fix, &a, err, sizeof(err)))
			die("%s: %s", fix, err);
		print_run(&a, fix, json, &first);
	}
	if (json)
		puts("\n]");
	return 0;
}

/* Every combination of one variant per role (the roles with a mainline). */
static int list_combos(const char *proto, bool json)
{
	enum pv_protocol p = protocol_arg(proto);
	const struct pv_variant *opts[PV_NR_ROLES][64];
	int nopt[PV_NR_ROLES] = { 0 }, idx[PV_NR_ROLES] = { 0 };
	for (int i = 0; i < pv_variant_count(); i++) {
		const struct pv_variant *v = pv_variant_at(i);
		if (v->protocol == p && pv_variant_mainline(p, v->role) && nopt[v->role] < 64)
			opts[v->role][nopt[v->role]++] = v;
	}
	bool first = true;
	if (json)
		puts("[");
	for (;;) {
		char spec[512] = "";
		for (int r = 0; r < PV_NR_ROLES; r++)
			if (nopt[r])
				snprintf(spec + strlen(spec), sizeof(spec) - strlen(spec), "%s%s",
					 spec[0] ? "," : "", opts[r][idx[r]]->name);
		struct answer a;
		char err[256];
		if (!answer(p, spec, &a, err, sizeof(err)))
			die("%s: %s", spec, err);
		print_run(&a, spec, json, &first);
		int r = PV_NR_ROLES - 1;
		for (; r >= 0; r--) {
			if (!nopt[r])
				continue;
			if (++idx[r] < nopt[r])
				break;
			idx[r] = 0;
		}
		if (r < 0)
			break;
	}
	if (json)
		puts("\n]");
	return 0;
}

static int list_file(const char *path, bool json)
{
	char want[PATH_MAX], have[PATH_MAX];
	if (!realpath(path, want))
		die("--file: cannot resolve '%s'", path);
	bool first = true;
	if (json)
		puts("[");
	for (int i = 0; i < pv_variant_count(); i++) {
		const struct pv_variant *v = pv_variant_at(i);
		if (!v->file || !realpath(v->file, have) || strcmp(have, want))
			continue;
		if (json) {
			printf("%s", first ? "" : ",\n");
			print_variant_json(v);
		} else {
			printf("%s\t%s\t%s\n", v->name, pv_protocol_name(v->protocol), pv_role_name(v->role));
		}
		first = false;
	}
	if (json)
		puts(first ? "]" : "\n]");
	return 0;
}

/* ------------------------------------------------------------------ main -- */

int main(int argc, char **argv)
{
	bool json = false;
	char *protos[64];
	int nprotos = 0;
	const char *query = NULL, *qarg = NULL, *proto = NULL;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--json")) {
			json = true;
		} else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(a, "--protocols")) {
			query = a;
		} else if (!strcmp(a, "--select") || !strcmp(a, "--runs") || !strcmp(a, "--combos") ||
			   !strcmp(a, "--file") || !strcmp(a, "--protocol")) {
			if (i + 1 >= argc)
				die("%s needs a value", a);
			if (!strcmp(a, "--protocol")) {
				proto = argv[++i];
				continue;
			}
			if (query)
				die("one query at a time (%s and %s)", query, a);
			query = a;
			qarg = argv[++i];
		} else if (a[0] == '-') {
			die("unknown option '%s' (see %s --help)", a, argv0);
		} else {
			protocol_arg(a);
			if (nprotos == (int)(sizeof(protos) / sizeof(protos[0])))
				die("too many protocols");
			protos[nprotos++] = argv[i];
		}
	}
	if (query && nprotos)
		die("%s takes no PROTOCOL arguments", query);
	if (proto && (!query || strcmp(query, "--select")))
		die("--protocol goes with --select");
	if (!query)
		return list_registry(json, protos, nprotos);
	if (!strcmp(query, "--protocols"))
		return list_protocols(json);
	if (!strcmp(query, "--select"))
		return select_one(qarg, proto, json);
	if (!strcmp(query, "--runs"))
		return list_runs(qarg, json);
	if (!strcmp(query, "--combos"))
		return list_combos(qarg, json);
	return list_file(qarg, json);
}
