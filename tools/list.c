// SPDX-License-Identifier: MIT
/*
 * pvfuzz-list: print the variant registry (what `./pvfuzz list` shows).
 * Linked with the simulator and every variant source of its build, including
 * a user's own files (PVFUZZ_USER_SOURCES), so it lists exactly what that
 * build's fuzz targets can select with PVFUZZ_VARIANT.
 *
 *   pvfuzz-list [--json] [PROTOCOL...]
 *
 * --json prints an array of {name, protocol, role, bug, expect, scenario,
 * partner, history, mainline, file}; absent strings are null.
 */
#include <stdio.h>
#include <string.h>

#include "pvfuzz/variant.h"

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

static void json_field(const char *key, const char *val, bool last)
{
	printf("    \"%s\": ", key);
	json_str(val);
	puts(last ? "" : ",");
}

static bool wanted(const struct pv_variant *v, char **protos, int n)
{
	if (n == 0)
		return true;
	for (int i = 0; i < n; i++)
		if (!strcmp(protos[i], pv_protocol_name(v->protocol)))
			return true;
	return false;
}

static const char *dash(const char *s)
{
	return s && *s ? s : "-";
}

int main(int argc, char **argv)
{
	bool json = false;
	char *protos[PV_NR_PROTOCOLS + 8];
	int nprotos = 0;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json")) {
			json = true;
		} else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			printf("usage: %s [--json] [PROTOCOL...]\n", argv[0]);
			return 0;
		} else if (argv[i][0] == '-') {
			fprintf(stderr, "pvfuzz-list: unknown option '%s'\n", argv[i]);
			return 2;
		} else {
			bool known = false;
			for (int p = 0; p < PV_NR_PROTOCOLS; p++)
				known |= !strcmp(argv[i], pv_protocol_name((enum pv_protocol)p));
			if (!known || nprotos == (int)(sizeof(protos) / sizeof(protos[0]))) {
				fprintf(stderr, "pvfuzz-list: unknown protocol '%s'\n", argv[i]);
				return 2;
			}
			protos[nprotos++] = argv[i];
		}
	}

	int n = pv_variant_count();
	if (json) {
		bool first = true;
		puts("[");
		for (int i = 0; i < n; i++) {
			const struct pv_variant *v = pv_variant_at(i);
			if (!wanted(v, protos, nprotos))
				continue;
			printf("%s  {\n", first ? "" : ",\n");
			first = false;
			json_field("name", v->name, false);
			json_field("protocol", pv_protocol_name(v->protocol), false);
			json_field("role", pv_role_name(v->role), false);
			json_field("bug", v->bug, false);
			json_field("expect", v->expect, false);
			json_field("scenario", v->scenario, false);
			json_field("partner", v->partner, false);
			json_field("history", v->history, false);
			printf("    \"mainline\": %s,\n", (v->flags & PV_MAINLINE) ? "true" : "false");
			json_field("file", v->file, true);
			fputs("  }", stdout);
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
	printf("(* = mainline default of its protocol and role; --json for history, scenario, file)\n");
	return 0;
}
