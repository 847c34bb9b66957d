/* SPDX-License-Identifier: MIT */
/*
 * Command-line values for the native tools (pvfuzz-stress, pvfuzz-check):
 * one rule for what a bad option says and how it exits (one line on stderr,
 * exit status 2), shared so the two tools cannot drift apart.
 */
#ifndef PVFUZZ_STRESS_CLI_ARGS_H
#define PVFUZZ_STRESS_CLI_ARGS_H

#include <stdint.h>

/* the program name bad_usage() starts its line with; set by main() */
extern const char *cli_program;

__attribute__((noreturn, format(printf, 1, 2))) void bad_usage(const char *fmt, ...);
/* a decimal integer in [lo, hi] (no sign, no trailing text), or bad_usage() */
uint64_t parse_uint(const char *opt, const char *s, uint64_t lo, uint64_t hi);
/* a finite number of seconds in (0, 10^7], or bad_usage() */
double parse_seconds(const char *opt, const char *s);

#endif
