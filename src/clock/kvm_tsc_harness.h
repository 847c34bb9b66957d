/* SPDX-License-Identifier: MIT */
#ifndef PVFUZZ_KVM_TSC_HARNESS_H
#define PVFUZZ_KVM_TSC_HARNESS_H

#include "pvfuzz/kvm_tsc.h"
#include "sim/fdp.h"

/* One simulated run of a guest kvmclock set-up / TSC-frequency writer pairing. */
void kvm_tsc_scenario_run(const struct kvm_tsc_reader_ops *gops, const struct kvm_tsc_writer_ops *wops,
			  const char *label, struct fdp *in);

#endif
