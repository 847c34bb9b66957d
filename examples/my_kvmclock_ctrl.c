// SPDX-License-Identifier: MIT
/*
 * A bring-your-own host operation (docs/byo.md, "A patch to a host
 * operation"): KVM_KVMCLOCK_CTRL that, instead of asking the vCPU's thread
 * for a clock update, sets PVCLOCK_GUEST_STOPPED straight in the record
 * the guest reads.  The record is published: its version is even, so the
 * guest may be in the middle of a read that the store changes under it,
 * and the guest's own clear of the flag can race with it.
 *
 *   ./pvfuzz fuzz pvclock --writer-file examples/my_kvmclock_ctrl.c
 *
 * finds it as `writer_discipline`, naming the host fiber that made the
 * store.  The mainline ioctl (kvm_set_guest_paused()) is the fix.
 */
#include "pvfuzz/pvclock.h"

static int my_set_guest_paused(struct kvm_clock_host *h, int v)
{
	struct pvclock_vcpu_time_info *rec = kvm_pvclock_record(h, v);
	u8 flags;

	if (!rec)
		return -22; /* -EINVAL: kvmclock is not enabled on this vCPU */
	flags = READ_ONCE(rec->flags);
	WRITE_ONCE(rec->flags, flags | PVCLOCK_GUEST_STOPPED); /* THE BUG: no odd version around it */
	return 0;
}

static const struct pvclock_writer_ops my_kvmclock_ctrl_ops = {
	.set_guest_paused = my_set_guest_paused,
	.hypercall = kvm_pv_clock_pairing,
};

PVCLOCK_WRITER(my_kvmclock_ctrl, my_kvmclock_ctrl_ops,
	.expect = "safe",
	.scenario = "any: KVM_KVMCLOCK_CTRL while the guest reads and clears GUEST_STOPPED",
	.history = "docs/byo.md worked example: KVMCLOCK_CTRL setting the flag in place")
