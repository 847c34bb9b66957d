// SPDX-License-Identifier: MIT
/*
 * A bring-your-own KVM writer (docs/byo.md, "A writer with per-run state"):
 * a patch to the kvmclock MSR handler that maps a vCPU's record once and
 * keeps that mapping, so that a later MSR_KVM_SYSTEM_TIME_NEW write only
 * has to switch it on and off.  It forgets that the guest may enable
 * kvmclock at a new address (a kexec'd kernel, a per-CPU area allocated
 * anew) and reuse the old one for other data.
 *
 *   ./pvfuzz fuzz pvclock --writer-file examples/my_kvm_writer.c
 *
 * finds it as `ownership`: KVM stores into memory the guest no longer has
 * enabled.  The mapping lives in h->writer_priv, never in a static: the
 * harness zeroes writer_priv before every run, so one input's mapping
 * cannot leak into the next and every finding replays on its own.
 */
#include "pvfuzz/pvclock.h"

struct my_writer_state {
	struct pvclock_vcpu_time_info *map[PV_MAX_VCPUS]; /* the first mapping per vCPU */
};
_Static_assert(sizeof(struct my_writer_state) <= PVCLOCK_WRITER_PRIV_BYTES, "writer_priv too small");

static struct my_writer_state *my_state(struct kvm_clock_host *h)
{
	return (struct my_writer_state *)h->writer_priv;
}

static int my_wrmsr(struct kvm_clock_host *h, int v, u32 msr, u64 data)
{
	struct my_writer_state *s = my_state(h);
	int ret = kvm_set_msr_common(h, v, msr, data); /* mainline: maps data's record */

	if (msr == MSR_KVM_SYSTEM_TIME_NEW && h->vcpu[v].pv_time) {
		if (!s->map[v])
			s->map[v] = h->vcpu[v].pv_time;
		h->vcpu[v].pv_time = s->map[v]; /* THE BUG: a new address keeps the old mapping */
	}
	return ret;
}

static const struct pvclock_writer_ops my_kvm_writer_ops = {
	.wrmsr = my_wrmsr,
	.hypercall = kvm_pv_clock_pairing,
};

PVCLOCK_WRITER(my_kvm_writer, my_kvm_writer_ops,
	.expect = "safe",
	.scenario = "any: kvmclock enabled, relocated and reused by the guest",
	.history = "docs/byo.md worked example: a kvmclock MSR handler that caches its mapping")
