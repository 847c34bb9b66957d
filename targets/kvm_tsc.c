// SPDX-License-Identifier: MIT
/*
 * Fuzz target: KVM on a host whose TSC changes frequency (seed 003).  A
 * TSC-frequency writer (cpufreq notifier, resync, hotplug callbacks, guest
 * time update) against cpufreq transitions, CPU hotplug and vCPU threads
 * from the input, with the guest's kvmclock record set-up as the reader.
 * PVFUZZ_VARIANT picks the pairing (default: mainline).
 */
#include "clock/kvm_tsc_harness.h"
#include "pvfuzz/variant.h"

static struct pv_selection sel;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	pv_select_or_exit(PV_KVM_TSC, &sel);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fdp in;
	struct pv_selection s = sel;

	fdp_init(&in, data, size);
	if (s.from_input)
		pv_select_from_input(PV_KVM_TSC, &s, &in);
	kvm_tsc_scenario_run(s.role[PV_READER]->ops, s.role[PV_WRITER]->ops, s.label, &in);
	return 0;
}
