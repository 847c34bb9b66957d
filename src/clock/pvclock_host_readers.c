// SPDX-License-Identifier: MIT
/*
 * Host-side pvclock readers: the VMM's KVM_GET_CLOCK ioctl, run by the
 * harness as a host fiber beside the guest's kvmclock readers.  Modelled on
 * kvm_vm_ioctl_get_clock() / get_kvmclock() (arch/x86/kvm/x86.c).
 */
#include "pvfuzz/pvclock.h"

/* v6.17: flag and value from one pvclock_sc read section. */
static void kvm_vm_ioctl_get_clock(struct kvm_clock_host *h, struct kvm_clock_data *data)
{
	get_kvmclock(h, data);
}

PVCLOCK_HOST_READER(kvm_get_clock, kvm_vm_ioctl_get_clock,
	.expect = "safe",
	.scenario = "KVM_GET_CLOCK from a VMM thread while the masterclock toggles, beside guest "
		"kvmclock readers",
	.history = "mainline kvm_vm_ioctl_get_clock() -> get_kvmclock(): read_seqcount_begin/retry "
		"on pvclock_sc around __get_kvmclock() (arch/x86/kvm/x86.c, v6.17)")

/*
 * CLK-07: before 55c0cefbdbda the ioctl computed the clock under the lock
 * (get_kvmclock_ns()) and then set KVM_CLOCK_TSC_STABLE from a second,
 * unprotected read of use_master_clock.
 *
 * The clock value and the flag were thus two separate looks at the VM:
 * a masterclock update in between gave a value computed one way with a
 * flag that described the other.
 *
 * Here on top of the v6.17 seqcount, which the later 869b44211adc added.
 */
static void kvm_vm_ioctl_get_clock_unlocked_flag(struct kvm_clock_host *h, struct kvm_clock_data *data)
{
	u64 now_ns = get_kvmclock_ns(h);

	data->clock = now_ns;
	data->host_tsc = 0;
	/* the bug: outside the pvclock_sc read section */
	data->flags = READ_ONCE(h->use_master_clock) ? KVM_CLOCK_TSC_STABLE : 0;
}

PVCLOCK_HOST_READER(kvm_get_clock_unlocked_flag, kvm_vm_ioctl_get_clock_unlocked_flag,
	.fixed = "kvm_get_clock",
	.bug = "CLK-07",
	.expect = "flag_coherence",
	.scenario = "a masterclock toggle (TSC matching changes, pvclock_update_vm_gtod_copy) completes "
		"between the read section that computed the clock and the use_master_clock read that "
		"sets KVM_CLOCK_TSC_STABLE: the flag belongs to another generation than the value",
	.history = "kvm_vm_ioctl_get_clock() reading kvm->arch.use_master_clock outside "
		"pvclock_gtod_sync_lock; fixed by 55c0cefbdbda \"KVM: x86: Fix potential race in "
		"KVM_GET_CLOCK\" (Oliver Upton, 2021)")
