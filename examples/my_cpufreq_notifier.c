// SPDX-License-Identifier: MIT
/*
 * docs/byo.md worked example: a "simplified" kvmclock cpufreq notifier that
 * handles every transition after the change, for either direction.  Build
 * it in with ./pvfuzz fuzz kvm_tsc --writer-file examples/my_cpufreq_notifier.c
 */
#include "pvfuzz/kvm_tsc.h"   /* the only include you need */

static int my_cpufreq_notifier(struct kvm_tsc_host *h, unsigned long val, struct cpufreq_freqs *freq)
{
	/* one place for both directions: after the change the new kHz is certain */
	if (val != CPUFREQ_POSTCHANGE)
		return 0;
	/* the mainline body: kHz by IPI on its CPU, requests, the kick on upscale */
	__kvmclock_cpufreq_notifier(h, freq, freq->cpu);
	return 0;
}

static const struct kvm_tsc_writer_ops my_cpufreq_notifier_ops = {
	.cpufreq_notifier = my_cpufreq_notifier,
};

KVM_TSC_WRITER(my_cpufreq_notifier_writer, my_cpufreq_notifier_ops,
	.expect = "safe",
	.scenario = "any frequency transition",
	.history = "docs/byo.md worked example: every transition handled at POSTCHANGE")
