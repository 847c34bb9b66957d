// SPDX-License-Identifier: MIT
/*
 * Fuzz target: KVM on a host whose TSC changes frequency (seed 003).  A
 * TSC-frequency writer (cpufreq notifier, resync, hotplug callbacks, guest
 * time update) against cpufreq transitions, CPU hotplug and vCPU threads
 * from the input, with the guest's kvmclock record set-up as the reader.
 * PVFUZZ_VARIANT picks the pairing (default: mainline).
 */
#include "clock/kvm_tsc_harness.h"
#include "fuzz_target.h"

static void run(const struct pv_selection *s, struct fdp *in)
{
	kvm_tsc_scenario_run(s->role[PV_READER]->ops, s->role[PV_WRITER]->ops, s->label, in);
}

PV_FUZZ_TARGET(PV_KVM_TSC, run)
