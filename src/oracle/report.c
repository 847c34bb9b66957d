// SPDX-License-Identifier: MIT
/* The violation reporter shared by every oracle. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oracle/oracle.h"
#include "sim/sim.h"

struct pv_finding pv_last_finding;
bool pv_report_quiet;

void pv_finding_reset(void)
{
	memset(&pv_last_finding, 0, sizeof(pv_last_finding));
	pv_last_finding.violation_seq = -1;
}

void pv_oracle_fail(const char *oracle, const char *fmt, ...)
{
	va_list ap;
	char detail[256];
	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);

	if (sim_fail_mode == SIM_FAIL_RECORD && pv_last_finding.hit)
		sim_abandon(); /* one finding per run */
	/* before anything is printed: the violating access joins the trace */
	s64 vseq = sim_trace_violation();
	if (pv_report_quiet)
		goto record;
	fflush(stdout);
	fprintf(stderr, "SUMMARY: pvfuzz: %s variant=%s %s\n", oracle, sim_variant(), detail);
	if (vseq >= 0) {
		fprintf(stderr, "==pvfuzz== violating access:\n");
		sim_trace_print_rec(stderr, vseq);
	}
	fprintf(stderr, "==pvfuzz== step %llu, last trace steps:\n", (unsigned long long)sim_step());
	sim_trace_dump_tail(32);
	fprintf(stderr, "==pvfuzz== trace-hash %016llx\n", (unsigned long long)sim_trace_hash());
	if (sim_fail_mode == SIM_FAIL_ABORT)
		abort();
record:
	pv_last_finding.hit = true;
	snprintf(pv_last_finding.oracle, sizeof(pv_last_finding.oracle), "%s", oracle);
	snprintf(pv_last_finding.detail, sizeof(pv_last_finding.detail), "%s", detail);
	pv_last_finding.trace_hash = sim_trace_hash();
	pv_last_finding.step = sim_step();
	pv_last_finding.violation_seq = vseq;
	if (sim_self() >= 0)
		sim_abandon();
}

__noinline void oracle_liveness(const char *fiber, const char *op, u64 steps)
{
	pv_oracle_fail("liveness", "reader=%s op=%s still retrying after %llu own steps "
		       "under a fair schedule with the writer idle (CO7)",
		       fiber, op, (unsigned long long)steps);
}
