// SPDX-License-Identifier: MIT
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli_args.h"

const char *cli_program = "pvfuzz";

void bad_usage(const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "%s: ", cli_program);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (try --help)\n");
	exit(2);
}

uint64_t parse_uint(const char *opt, const char *s, uint64_t lo, uint64_t hi)
{
	char *end;
	/* strtoull would take " -1" as a huge value, and "+5" and " 5" too */
	if (!*s || *s == '-' || *s == '+' || isspace((unsigned char)*s))
		bad_usage("%s: '%s' is not an integer in [%" PRIu64 ", %" PRIu64 "]", opt, s, lo, hi);
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || *end || v < lo || v > hi)
		bad_usage("%s: '%s' is not an integer in [%" PRIu64 ", %" PRIu64 "]", opt, s, lo, hi);
	return v;
}

double parse_seconds(const char *opt, const char *s)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (!*s || errno || *end || !isfinite(v) || v <= 0 || v > 1e7)
		bad_usage("%s: '%s' is not a duration in seconds (> 0)", opt, s);
	return v;
}
