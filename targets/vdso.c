// SPDX-License-Identifier: MIT
/*
 * Fuzz target: the generic vDSO data page.  A clock_gettime() reader variant
 * in user tasks against an update_vsyscall() writer variant run by the guest
 * kernel's timekeeper, on the TSC, kvm-clock (with a KVM host rewriting its
 * records) or a clocksource without a vDSO mode, under a schedule and kernel
 * events from the input.  PVFUZZ_VARIANT picks the pairing (default:
 * mainline vdso_reader_mainline + vdso_writer_mainline).
 */
#include "clock/vdso_harness.h"
#include "fuzz_target.h"

static void run(const struct pv_selection *s, struct fdp *in)
{
	vdso_scenario_run(s->role[PV_READER]->ops, s->role[PV_WRITER]->ops, s->label, in);
}

PV_FUZZ_TARGET(PV_VDSO, run)
