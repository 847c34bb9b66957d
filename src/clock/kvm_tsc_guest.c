// SPDX-License-Identifier: MIT
/*
 * The guest's kvmclock record slots (arch/x86/kernel/kvmclock.c): CPUs
 * below 64 use hv_clock_boot[], the page the vDSO maps; CPUs from 64 on use
 * hvclock_mem, allocated at boot.  A CPU coming online gets its slot in
 * kvmclock_setup_percpu().  Mainline (v6.17) and the code before
 * d7eb79c6290c (CLK-21).  Built into both worlds.
 */
#include "pvfuzz/kvm_tsc.h"

void kvmclock_init_mem(struct kvmclock_guest *g)
{
	int ncpus;

	if ((int)HVC_BOOT_ARRAY_SIZE >= g->nr_cpu_ids)
		return;
	ncpus = g->nr_cpu_ids - (int)HVC_BOOT_ARRAY_SIZE;
	/* alloc_pages() + set_memory_decrypted(); NULL: kvmclock for CPUs >= 64 is lost */
	g->hvclock_mem = g->alloc_records(g, ncpus);
}

/* early_initcall: the memory for CPUs >= 64 first, whatever the vDSO does. */
void kvm_setup_vsyscall_timeinfo(struct kvmclock_guest *g, u8 boot_flags)
{
	kvmclock_init_mem(g);

	if (g->hv_clock_per_cpu[0] && g->kvmclock_vsyscall) {
		if (!(boot_flags & PVCLOCK_TSC_STABLE_BIT))
			return;
		g->vdso_pvclock = true;
	}
}

int kvmclock_setup_percpu(struct kvmclock_guest *g, int cpu)
{
	struct pvclock_vsyscall_time_info *p = g->hv_clock_per_cpu[cpu];

	/*
	 * The per cpu area setup replicates CPU0 data to all cpu pointers, so
	 * a slot equal to CPU0's is not a slot of its own yet.
	 */
	if (!cpu || (p && p != g->hv_clock_per_cpu[0]))
		return 0;

	/* Use the static page for the first CPUs, allocate otherwise */
	if (cpu < (int)HVC_BOOT_ARRAY_SIZE)
		p = &g->hv_clock_boot[cpu];
	else if (g->hvclock_mem)
		p = g->hvclock_mem + cpu - HVC_BOOT_ARRAY_SIZE;
	else
		return -12; /* -ENOMEM */

	g->hv_clock_per_cpu[cpu] = p;
	return p ? 0 : -12;
}

static const struct kvm_tsc_reader_ops kvmclock_guest_mainline_ops = {
	.setup_vsyscall_timeinfo = kvm_setup_vsyscall_timeinfo,
	.setup_percpu = kvmclock_setup_percpu,
};

KVM_TSC_READER(kvmclock_guest_mainline, kvmclock_guest_mainline_ops,
	.flags = PV_MAINLINE,
	.expect = "safe",
	.scenario = "any CPU ids up to 255 coming online, kvmclock vsyscall on or off, boot record "
		    "STABLE or not",
	.history = "mainline kvmclock_setup_percpu(): hvclock_mem allocated in "
		   "kvm_setup_vsyscall_timeinfo() before the vDSO checks (arch/x86/kernel/kvmclock.c, "
		   "v6.17; d7eb79c6290c)")

/* CLK-21: hvclock_mem only exists when the vDSO uses kvmclock. */
static void kvm_setup_vsyscall_timeinfo_vdso_only(struct kvmclock_guest *g, u8 boot_flags)
{
	if (!g->hv_clock_per_cpu[0] || !g->kvmclock_vsyscall)
		return;
	if (!(boot_flags & PVCLOCK_TSC_STABLE_BIT))
		return;
	g->vdso_pvclock = true;

	kvmclock_init_mem(g);
}

static const struct kvm_tsc_reader_ops kvmclock_guest_vdso_only_mem_ops = {
	.setup_vsyscall_timeinfo = kvm_setup_vsyscall_timeinfo_vdso_only,
	.setup_percpu = kvmclock_setup_percpu,
};

KVM_TSC_READER(kvmclock_guest_vdso_only_mem, kvmclock_guest_vdso_only_mem_ops,
	.bug = "CLK-21",
	.expect = "layout",
	.scenario = "more than 64 possible CPUs, the vDSO not on kvmclock (vsyscall off or the "
		    "boot record not STABLE); a CPU with id >= 64 comes online and gets no record",
	.history = "kvm_setup_vsyscall_timeinfo() before d7eb79c6290c \"KVM: kvmclock: Fix vCPUs > 64 "
		   "can't be online/hotpluged\" (Wanpeng Li, 2021): kvmclock_init_mem() ran only on "
		   "the vDSO path, so hotplug of CPU >= 64 failed with -ENOMEM")
