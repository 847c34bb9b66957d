// SPDX-License-Identifier: MIT
/*
 * The guest's kvmclock driver around the reads, modelled on
 * arch/x86/kernel/kvmclock.c and kvm.c (v6.17): registering a CPU's record
 * with MSR_KVM_SYSTEM_TIME_NEW (boot, CPU online, resume), disabling it
 * (CPU offline, shutdown/kexec, suspend/hibernate), and the watchdog's
 * consumption of PVCLOCK_GUEST_STOPPED.  Built into both worlds.
 *
 * A reader variant replaces any of these with .cpu_online, .cpu_offline and
 * .check_and_clear_guest_paused in struct pvclock_reader_ops.
 */
#include "pvfuzz/pvclock.h"

/* kvm_register_clock(): hand this CPU's record to the host, enable bit set. */
void kvm_register_clock(struct pvclock_guest *g)
{
	struct pvclock_vcpu_time_info *src = this_cpu_pvti(g);
	u64 pa;

	pa = pvclock_guest_pa(g, src) | 0x01ULL;
	wrmsrl(MSR_KVM_SYSTEM_TIME_NEW, pa);
}

/*
 * kvmclock_disable(): after the clock is registered the host keeps writing
 * to the registered memory.  A CPU going away, a kexec'd kernel or a
 * hibernation image may use that memory for something else, so the record
 * is unregistered first (writing anything without the enable bit).
 */
void kvmclock_disable(struct pvclock_guest *g)
{
	wrmsrl(MSR_KVM_SYSTEM_TIME_NEW, 0);
}

/*
 * kvm_check_and_clear_guest_paused(), from the soft-lockup watchdog: the
 * host stopped this vCPU (KVM_KVMCLOCK_CTRL), so a long silence is not a
 * lockup.
 *
 * The kernel clears the bit with a plain `&=` on its own CPU's record,
 * which compiles to one `andb` - not locked, but a single instruction, and
 * the host writes a vCPU's record only from that vCPU's thread while the
 * vCPU is out of guest mode, so no host update can land between the load
 * and the store.  One RMW of one scheduling point is that instruction.
 */
bool kvm_check_and_clear_guest_paused(struct pvclock_guest *g)
{
	struct pvclock_vcpu_time_info *src = this_cpu_pvti(g);
	bool ret = false;

	if ((READ_ONCE(src->flags) & PVCLOCK_GUEST_STOPPED) != 0) {
		(void)pv_fetch_and(&src->flags, (u8)~PVCLOCK_GUEST_STOPPED);
		/* pvclock_touch_watchdogs() */
		ret = true;
	}
	return ret;
}
