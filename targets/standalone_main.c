// SPDX-License-Identifier: MIT
/*
 * The standalone replayer: links a fuzz target without any fuzzing engine
 * (works with gcc).  Replays files, prints a readable trace, checks
 * determinism, and never aborts the harness on a bad file.
 *
 *   <target> [--trace] [--check-determinism N] [--expect ORACLE|none]
 *            [--trace-json OUT] FILE...
 *
 * --trace-json OUT writes the whole run as JSON for tools (tools/triage.py):
 * every trace record (step, fiber, vCPU, op, site, expression, value, the
 * memory location it touched), and the finding with its violating access
 * and the stores it raced.  One FILE only; OUT is written atomically.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oracle/oracle.h"
#include "sim/sim.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static int usage(const char *argv0)
{
	fprintf(stderr, "usage: %s [--trace] [--check-determinism N] [--expect ORACLE|none] "
		"[--trace-json OUT] FILE...\n", argv0);
	return 2;
}

#define TRACE_JSON_RECORDS (1u << 17) /* more than the longest run makes */

static const char *base_name(const char *p)
{
	const char *b = strrchr(p, '/');
	return b ? b + 1 : p;
}

/* The run just replayed, as one JSON object, written to OUT.tmp then renamed. */
static int write_trace_json(const char *out_path, const char *argv0, const char *input, size_t size)
{
	char tmp[4096];
	if (snprintf(tmp, sizeof(tmp), "%s.tmp", out_path) >= (int)sizeof(tmp)) {
		fprintf(stderr, "pvfuzz: --trace-json: path too long\n");
		return 2;
	}
	FILE *o = fopen(tmp, "w");
	if (!o) {
		fprintf(stderr, "pvfuzz: --trace-json: cannot write '%s': %s\n", tmp, strerror(errno));
		return 2;
	}
	const struct pv_finding *f = &pv_last_finding;
	fputs("{\"format\": \"pvfuzz-trace-1\", \"target\": ", o);
	sim_json_str(o, base_name(argv0));
	fputs(", \"input\": ", o);
	sim_json_str(o, input);
	fprintf(o, ", \"input_size\": %zu, \"variant\": ", size);
	sim_json_str(o, sim_variant());
	fprintf(o, ", \"trace_hash\": \"%016" PRIx64 "\", \"outcome\": ", (uint64_t)sim_trace_hash());
	sim_json_str(o, f->hit ? f->oracle : "none");
	fputs(",\n\"finding\": ", o);
	if (f->hit) {
		fputs("{\"oracle\": ", o);
		sim_json_str(o, f->oracle);
		fputs(", \"detail\": ", o);
		sim_json_str(o, f->detail);
		fprintf(o, ", \"step\": %" PRIu64 ", \"trace_hash\": \"%016" PRIx64 "\", \"violation\": ",
			(uint64_t)f->step, (uint64_t)f->trace_hash);
		sim_trace_write_site_json(o, f->violation_seq);
		fputs("}", o);
	} else {
		fputs("null", o);
	}
	fputs(",\n", o);
	sim_trace_write_json(o);
	fputs("}\n", o);
	bool bad = ferror(o);
	if (fclose(o) || bad || rename(tmp, out_path)) {
		fprintf(stderr, "pvfuzz: --trace-json: cannot write '%s': %s\n", out_path, strerror(errno));
		remove(tmp);
		return 2;
	}
	return 0;
}

/* "a|b|c": the outcome may be any of the alternatives */
static bool expect_matches(const char *expect, const char *got)
{
	size_t n = strlen(got);
	for (const char *p = expect; *p;) {
		const char *bar = strchr(p, '|');
		size_t len = bar ? (size_t)(bar - p) : strlen(p);
		if (len == n && !strncmp(p, got, n))
			return true;
		if (!bar)
			break;
		p = bar + 1;
	}
	return false;
}

static u8 *read_file(const char *path, size_t *size)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "pvfuzz: cannot open '%s': %s\n", path, strerror(errno));
		return NULL;
	}
	size_t cap = 4096, n = 0;
	u8 *buf = malloc(cap);
	for (;;) {
		if (n == cap) {
			if (cap >= (64u << 20)) {
				fprintf(stderr, "pvfuzz: '%s' is larger than 64 MiB\n", path);
				free(buf);
				fclose(f);
				return NULL;
			}
			cap *= 2;
			buf = realloc(buf, cap);
		}
		size_t k = fread(buf + n, 1, cap - n, f);
		n += k;
		if (k == 0)
			break;
	}
	if (ferror(f)) {
		fprintf(stderr, "pvfuzz: cannot read '%s'\n", path);
		free(buf);
		fclose(f);
		return NULL;
	}
	fclose(f);
	*size = n;
	return buf;
}

int main(int argc, char **argv)
{
	int check = 0, trace = 0;
	const char *expect = NULL, *trace_json = NULL;
	int first = 1;
	for (; first < argc && argv[first][0] == '-' && argv[first][1] == '-'; first++) {
		if (!strcmp(argv[first], "--trace")) {
			trace = 1;
		} else if (!strcmp(argv[first], "--check-determinism") && first + 1 < argc) {
			char *end;
			long v = strtol(argv[++first], &end, 10);
			if (*end || v < 1 || v > 100000) {
				fprintf(stderr, "pvfuzz: --check-determinism wants a count 1..100000, got '%s'\n",
					argv[first]);
				return 2;
			}
			check = (int)v;
		} else if (!strcmp(argv[first], "--expect") && first + 1 < argc) {
			expect = argv[++first];
		} else if (!strcmp(argv[first], "--trace-json") && first + 1 < argc) {
			trace_json = argv[++first];
		} else if (!strcmp(argv[first], "--check-determinism") || !strcmp(argv[first], "--expect") ||
			   !strcmp(argv[first], "--trace-json")) {
			fprintf(stderr, "pvfuzz: %s needs an argument\n", argv[first]);
			return 2;
		} else {
			/* one line: the error and the usage together */
			fprintf(stderr, "pvfuzz: unknown option '%s'; usage: %s [--trace] [--check-determinism N] "
				"[--expect ORACLE|none] [--trace-json OUT] FILE...\n", argv[first], argv[0]);
			return 2;
		}
	}
	if (first >= argc)
		return usage(argv[0]);
	if (trace_json && argc - first != 1) {
		fprintf(stderr, "pvfuzz: --trace-json takes exactly one FILE, got %d\n", argc - first);
		return 2;
	}
	LLVMFuzzerInitialize(&argc, &argv);
	if (check || expect || trace_json)
		sim_fail_mode = SIM_FAIL_RECORD;
	if (trace_json)
		sim_trace_log_enable(TRACE_JSON_RECORDS);
	int rc = 0;
	for (int i = first; i < argc; i++) {
		size_t size;
		u8 *data = read_file(argv[i], &size);
		if (!data)
			return 2;
		if (trace)
			sim_trace_print_header(stdout);
		sim_trace_live = trace;
		pv_finding_reset();
		LLVMFuzzerTestOneInput(data, size);
		sim_trace_live = 0;
		u64 h0 = sim_trace_hash();
		struct pv_finding f0 = pv_last_finding;
		if (trace_json) {
			int wrc = write_trace_json(trace_json, argv[0], argv[i], size);
			if (wrc) {
				free(data);
				return wrc;
			}
		}
		pv_report_quiet = true;
		for (int k = 1; k < check; k++) {
			pv_finding_reset();
			LLVMFuzzerTestOneInput(data, size);
			if (sim_trace_hash() != h0 || pv_last_finding.hit != f0.hit ||
			    strcmp(pv_last_finding.oracle, f0.oracle)) {
				fprintf(stderr, "pvfuzz: NONDETERMINISTIC %s: run %d hash %016llx vs %016llx\n",
					argv[i], k, (unsigned long long)sim_trace_hash(),
					(unsigned long long)h0);
				rc = 1;
				break;
			}
			if (k == check - 1)
				printf("%s: deterministic: %d replays, identical trace-hash %016llx and outcome\n",
				       argv[i], check, (unsigned long long)h0);
		}
		pv_report_quiet = false;
		printf("%s: trace-hash %016llx outcome %s\n", argv[i], (unsigned long long)h0,
		       f0.hit ? f0.oracle : "none");
		if (expect && !expect_matches(expect, f0.hit ? f0.oracle : "none")) {
			fprintf(stderr, "pvfuzz: %s: expected %s, got %s\n", argv[i], expect,
				f0.hit ? f0.oracle : "none");
			rc = 1;
		}
		free(data);
	}
	return rc;
}
