// SPDX-License-Identifier: MIT
/*
 * pv_oracle_fail() for the native world: the simulator's SUMMARY line, then
 * the run stops (every thread polls stress_stop()) and main() prints the
 * summary and exits 1.  Only the first finding is printed; later ones are
 * counted.  Never called from a signal handler.
 */
#include <stdarg.h>
#include <stdio.h>

#include "stress.h"

struct pv_finding pv_last_finding;
bool pv_report_quiet;
atomic_bool stress_stopping;
static atomic_int findings;
static _Atomic u64 first_finding_ns;

void pv_finding_reset(void)
{
}

int stress_findings(void)
{
	return atomic_load(&findings);
}

u64 stress_first_finding_ns(void)
{
	return atomic_load(&first_finding_ns);
}

void pv_oracle_fail(const char *oracle, const char *fmt, ...)
{
	char detail[256];
	va_list ap;

	if (atomic_fetch_add(&findings, 1) != 0)
		return;
	atomic_store(&first_finding_ns, stress_run_ns());
	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	snprintf(pv_last_finding.oracle, sizeof(pv_last_finding.oracle), "%s", oracle);
	snprintf(pv_last_finding.detail, sizeof(pv_last_finding.detail), "%s", detail);
	pv_last_finding.hit = true;
	fflush(stdout);
	fprintf(stderr, "\nSUMMARY: pvfuzz: %s variant=%s %s\n", oracle, stress_label(), detail);
	fprintf(stderr, "==pvfuzz-stress== found after %.3f s\n", (double)stress_run_ns() / 1e9);
	atomic_store(&stress_stopping, true);
}
