// SPDX-License-Identifier: MIT
/*
 * pvclock readers: the mainline guest kernel and vDSO readers, ptp_kvm, and
 * the historical / mutated readers of known-bugs.md.  Each reads like the
 * kernel code it models (arch/x86/kernel/pvclock.c, kvmclock.c,
 * arch/x86/include/asm/vdso/gettimeofday.h, drivers/ptp/ptp_kvm_x86.c).
 */
#include "pvfuzz/pvclock.h"

/* ---------------------------------------------------------- mainline -- */

/* __pvclock_clocksource_read(): the last_value fix-up keeps !STABLE monotonic. */
static u64 __pvclock_clocksource_read(struct pvclock_guest *g, struct pvclock_vcpu_time_info *src)
{
	unsigned version;
	u64 ret;
	s64 last;
	u8 flags;

	do {
		version = pvclock_read_begin(src);
		ret = __pvclock_read_cycles(src, rdtsc_ordered());
		flags = READ_ONCE(src->flags);
	} while (pvclock_read_retry(src, version));

	if ((g->valid_flags & PVCLOCK_TSC_STABLE_BIT) && (flags & PVCLOCK_TSC_STABLE_BIT))
		return ret;

	/*
	 * Assumption here is that last_value, a global accumulator, always goes
	 * forward.  If we are less than that, we should not be much smaller.
	 */
	last = atomic64_read(g->last_value);
	do {
		if ((s64)ret <= last)
			return (u64)last;
	} while (!atomic64_try_cmpxchg(g->last_value, &last, (s64)ret));
	return ret;
}

/* kvm_clock_read(): pvclock_clocksource_read_nowd(this_cpu_pvti()), preemption off. */
static u64 pvclock_kernel_read(struct pvclock_guest *g)
{
	u64 ret;

	preempt_disable();
	ret = __pvclock_clocksource_read(g, this_cpu_pvti(g));
	preempt_enable();
	return ret;
}

u64 kvm_clock_read(struct pvclock_guest *g)
{
	return pvclock_kernel_read(g);
}

PVCLOCK_READER(pvclock_kernel, pvclock_kernel_read, false,
	.flags = PV_MAINLINE,
	.expect = "safe",
	.scenario = "any: migration, host preemption, masterclock toggles, TSC frequency changes",
	.history = "mainline kvm_clock_read(): version window, rdtsc_ordered, flags inside, last_value "
		"fix-up when !STABLE (arch/x86/kernel/pvclock.c, v6.17)")

/* vread_pvclock(): vCPU 0's record only; !STABLE means fall back to the syscall. */
static u64 vread_pvclock(struct pvclock_guest *g)
{
	const struct pvclock_vcpu_time_info *pvti = &g->hv_clock[0].pvti;
	u32 version;
	u64 ret;

	/*
	 * We only do pvclock vdso timing at all if PVCLOCK_TSC_STABLE_BIT is
	 * set, and we interpret that bit to mean that all vCPUs have matching
	 * pvti and that the TSC is synced, so we can just look at vCPU 0's pvti.
	 */
	do {
		version = pvclock_read_begin(pvti);
		if (unlikely(!(READ_ONCE(pvti->flags) & PVCLOCK_TSC_STABLE_BIT)))
			return PVCLOCK_FALLBACK;
		ret = __pvclock_read_cycles(pvti, rdtsc_ordered());
	} while (pvclock_read_retry(pvti, version));

	return ret & S64_MAX;
}

PVCLOCK_READER(pvclock_vdso, vread_pvclock, true,
	.expect = "safe",
	.scenario = "any, including migration in the middle of the read",
	.history = "mainline vDSO vread_pvclock(): vCPU 0's record, STABLE tested inside the window, "
		"U64_MAX -> syscall (arch/x86/include/asm/vdso/gettimeofday.h; 6b078f5de7fc)")

/*
 * ptp_kvm's kvm_arch_ptp_get_crosststamp(): a KVM_HC_CLOCK_PAIRING hypercall
 * inside the version window.  Fine as long as the host does not republish
 * the record on every exit (CLK-25 is the host's bug).
 */
static u64 ptp_kvm_crosststamp(struct pvclock_guest *g)
{
	struct pvclock_vcpu_time_info *src;
	unsigned version;
	u64 ret, tsc;

	preempt_disable();
	src = this_cpu_pvti(g);
	do {
		/*
		 * We are using a TSC value read in the hosts kvm_hc_clock_pairing
		 * function, so we need the pvclock data of the same vCPU.
		 */
		version = pvclock_read_begin(src);
		tsc = kvm_hypercall2(KVM_HC_CLOCK_PAIRING, 0, 0);
		if ((s64)tsc < 0) {
			preempt_enable();
			return PVCLOCK_FALLBACK; /* -EOPNOTSUPP: ptp falls back */
		}
		ret = __pvclock_read_cycles(src, tsc);
	} while (pvclock_read_retry(src, version));
	preempt_enable();
	return ret;
}

PVCLOCK_READER(pvclock_ptp_kvm, ptp_kvm_crosststamp, false,
	.expect = "safe",
	.scenario = "a host in tsc_always_catchup mode (every exit republishes the record)",
	.history = "mainline ptp_kvm kvm_arch_ptp_get_crosststamp(): KVM_HC_CLOCK_PAIRING inside the "
		"pvclock retry loop (drivers/ptp/ptp_kvm_x86.c)")

/* -------------------------------------------------------- historical -- */

/* CLK-01: the per-vCPU computation returned directly. */
static u64 pvclock_read_no_last_value(struct pvclock_guest *g)
{
	struct pvclock_vcpu_time_info *src;
	unsigned version;
	u64 ret;

	preempt_disable();
	src = this_cpu_pvti(g);
	do {
		version = pvclock_read_begin(src);
		ret = __pvclock_read_cycles(src, rdtsc_ordered());
	} while (pvclock_read_retry(src, version));
	preempt_enable();
	return ret;
}

PVCLOCK_READER(pvclock_reader_no_last_value, pvclock_read_no_last_value, false,
	.bug = "CLK-01",
	.partner = "kvm_pvclock_writer_2010",
	.expect = "monotonic|linearizable",
	.scenario = "records anchored at different host times on a coarse host clock (STABLE clear); a task "
		"reads on vCPU A, migrates, reads on vCPU B",
	.history = "pre-2010 pvclock_clocksource_read() without the global last_value fix-up "
		"(489fb490dbf8 \"x86, paravirt: Add a global synchronization point for pvclock\")")

/*
 * CLK-05: the 3.8-4.4 vDSO reader.  It trusted cpu == cpu1 and an unchanged
 * version to mean "no migration", which the hypervisor cannot promise.
 */
static u64 vread_pvclock_percpu(struct pvclock_guest *g)
{
	const struct pvclock_vcpu_time_info *pvti;
	unsigned cpu, cpu1, version;
	u64 ret;
	u8 flags;

	do {
		cpu = (unsigned)smp_processor_id(); /* __getcpu() */
		pvti = &g->hv_clock[cpu].pvti;
		version = READ_ONCE(pvti->version);
		rmb(); /* rdtsc_barrier() */
		ret = __pvclock_read_cycles(pvti, rdtsc());
		flags = READ_ONCE(pvti->flags);
		rmb();
		/*
		 * Test we're still on the cpu as well as the version.  We could
		 * have been migrated just after the first vgetcpu but before
		 * fetching the version, so we wouldn't notice a version change.
		 */
		cpu1 = (unsigned)smp_processor_id();
	} while (unlikely(cpu != cpu1 || (READ_ONCE(pvti->version) & 1) ||
			  READ_ONCE(pvti->version) != version));

	if (unlikely(!(flags & PVCLOCK_TSC_STABLE_BIT)))
		return PVCLOCK_FALLBACK; /* *mode = VCLOCK_NONE */
	return ret;
}

PVCLOCK_READER(pvclock_vdso_percpu_getcpu, vread_pvclock_percpu, true,
	.fixed = "pvclock_vdso",
	.bug = "CLK-05",
	.partner = "kvm_pvclock_writer_stable_unmatched",
	.expect = "monotonic|linearizable|plausibility|reference|postcondition",
	.scenario = "STABLE with per-vCPU TSC offsets the host anchors per record; the task migrates "
		"A -> B -> A between the getcpu()s and combines A's record with B's TSC",
	.history = "3.8-4.4 vDSO vread_pvclock() with per-CPU records and the getcpu double-check "
		"(arch/x86/vdso/vclock_gettime.c @04421fe2; replaced by 6b078f5de7fc)")

/*
 * CLK-06: the reader posted in Dec 2015 tested STABLE once, before the
 * version loop, so the flag and the data can come from different generations.
 */
static u64 vread_pvclock_stable_outside(struct pvclock_guest *g)
{
	const struct pvclock_vcpu_time_info *pvti = &g->hv_clock[0].pvti;
	u64 ret, tsc, pvti_tsc, pvti_system_time, delta;
	u32 version, pvti_tsc_to_system_mul;
	s8 pvti_tsc_shift;

	if (unlikely(!(READ_ONCE(pvti->flags) & PVCLOCK_TSC_STABLE_BIT)))
		return PVCLOCK_FALLBACK;

	do {
		version = READ_ONCE(pvti->version);
		/* This is also a read barrier, so we'll read version first. */
		tsc = rdtsc_ordered();
		pvti_tsc_to_system_mul = READ_ONCE(pvti->tsc_to_system_mul);
		pvti_tsc_shift = READ_ONCE(pvti->tsc_shift);
		pvti_system_time = READ_ONCE(pvti->system_time);
		pvti_tsc = READ_ONCE(pvti->tsc_timestamp);
		/* Make sure that the version double-check is last. */
		smp_rmb();
	} while (unlikely((version & 1) || version != READ_ONCE(pvti->version)));

	delta = tsc - pvti_tsc;
	ret = pvti_system_time + pvclock_scale_delta(delta, pvti_tsc_to_system_mul, pvti_tsc_shift);
	return ret & S64_MAX;
}

PVCLOCK_READER(pvclock_vdso_stable_outside, vread_pvclock_stable_outside, true,
	.fixed = "pvclock_vdso",
	.bug = "CLK-06",
	.expect = "fallback|flag_coherence",
	.scenario = "reader sees STABLE, the host turns the masterclock off (new non-STABLE records), the "
		"reader computes from a record it should have refused",
	.history = "Dec 2015 posted vread_pvclock() testing PVCLOCK_TSC_STABLE_BIT outside the version "
		"loop (ML id 37308353084); fixed by 3aed64f6d341 \"pvclock: introduce seqcount-like API\"")

/*
 * The mutations below start from vread_pvclock(): under KVM a vCPU's own
 * record only changes while that vCPU is in the host, so the races they
 * open are seen by a reader on another vCPU reading vCPU 0's record - the
 * vDSO's situation.
 */

/* CLK-S1: pvclock_read_begin() without "& ~1". */
static u64 vread_pvclock_odd_version(struct pvclock_guest *g)
{
	const struct pvclock_vcpu_time_info *pvti = &g->hv_clock[0].pvti;
	u32 version;
	u64 ret;

	do {
		version = READ_ONCE(pvti->version); /* the mutation: no "& ~1" */
		virt_rmb();
		if (unlikely(!(READ_ONCE(pvti->flags) & PVCLOCK_TSC_STABLE_BIT)))
			return PVCLOCK_FALLBACK;
		ret = __pvclock_read_cycles(pvti, rdtsc_ordered());
	} while (pvclock_read_retry(pvti, version));

	return ret & S64_MAX;
}

PVCLOCK_READER(pvclock_reader_odd_version, vread_pvclock_odd_version, true,
	.fixed = "pvclock_vdso",
	.bug = "CLK-S1",
	.expect = "torn_snapshot|flag_coherence",
	.scenario = "a reader on vCPU 1 starts while vCPU 0 is between its odd and even version "
		"stores and finishes before the even store",
	.history = "synthetic mutation of pvclock_read_begin(): accepts an odd (in-progress) "
		"version (fuzzing-conventions.md 6.2)")

/* CLK-S2: the version is read but never re-checked. */
static u64 vread_pvclock_no_retry(struct pvclock_guest *g)
{
	const struct pvclock_vcpu_time_info *pvti = &g->hv_clock[0].pvti;
	u64 ret;

	(void)pvclock_read_begin(pvti);
	if (unlikely(!(READ_ONCE(pvti->flags) & PVCLOCK_TSC_STABLE_BIT)))
		return PVCLOCK_FALLBACK;
	ret = __pvclock_read_cycles(pvti, rdtsc_ordered());
	return ret & S64_MAX;
}

PVCLOCK_READER(pvclock_reader_no_retry, vread_pvclock_no_retry, true,
	.fixed = "pvclock_vdso",
	.bug = "CLK-S2",
	.expect = "torn_snapshot|flag_coherence|reference",
	.scenario = "vCPU 0 rewrites its record between the field loads of a reader on vCPU 1",
	.history = "synthetic mutation of vread_pvclock(): no pvclock_read_retry()")

/*
 * CLK-08: plain RDTSC, which can execute before the version load completes,
 * pairing new parameters with an old TSC (negative delta -> huge value).
 */
static u64 vread_pvclock_rdtsc_unordered(struct pvclock_guest *g)
{
	const struct pvclock_vcpu_time_info *pvti = &g->hv_clock[0].pvti;
	u32 version;
	u64 ret;

	do {
		version = pvclock_read_begin(pvti);
		if (unlikely(!(READ_ONCE(pvti->flags) & PVCLOCK_TSC_STABLE_BIT)))
			return PVCLOCK_FALLBACK;
		ret = __pvclock_read_cycles(pvti, rdtsc()); /* the bug: not rdtsc_ordered() */
	} while (pvclock_read_retry(pvti, version));

	return ret & S64_MAX;
}

PVCLOCK_READER(pvclock_reader_rdtsc_unordered, vread_pvclock_rdtsc_unordered, true,
	.fixed = "pvclock_vdso",
	.bug = "CLK-08",
	.expect = "reference|linearizable|monotonic|plausibility",
	.scenario = "RDTSC completes before the version load (hoisting on); vCPU 0 publishes a "
		"record with tsc_timestamp beyond that TSC; the reader accepts it: negative delta",
	.history = "vread_pvclock() with a plain rdtsc() in the version window (before "
		"03b9730b769f \"x86/asm/tsc: Add rdtsc_ordered() and use it in trivial call sites\")")

/* ------------------------------------------- the guest's kvmclock driver -- */

/*
 * CLK-S5: kvm_check_and_clear_guest_paused() reordered by a patch: it
 * touches the watchdogs, then stores the flags it loaded before, minus
 * GUEST_STOPPED - a load and a separate store, not one RMW.  A VM exit can
 * land between the two; the host then rewrites the record and the guest's
 * store puts back the flags it loaded - the previous generation's STABLE
 * bit, outside any odd window.
 */
static bool kvm_check_and_clear_guest_paused_split(struct pvclock_guest *g)
{
	struct pvclock_vcpu_time_info *src = this_cpu_pvti(g);
	u8 flags = READ_ONCE(src->flags);

	if ((flags & PVCLOCK_GUEST_STOPPED) != 0) {
		/* pvclock_touch_watchdogs() first: four watchdogs, four calls */
		for (int i = 0; i < 4; i++)
			barrier();
		/* the mutation: the flags loaded above stored back, not one read-modify-write */
		WRITE_ONCE(src->flags, flags & (u8)~PVCLOCK_GUEST_STOPPED);
		return true;
	}
	return false;
}

static const struct pvclock_reader_ops pvclock_guest_paused_split_rmw_ops = {
	.read = kvm_clock_read,
	.check_and_clear_guest_paused = kvm_check_and_clear_guest_paused_split,
};

PVCLOCK_READER_OPS(pvclock_guest_paused_split_rmw, pvclock_guest_paused_split_rmw_ops,
	.bug = "CLK-S5",
	.expect = "ownership",
	.scenario = "KVM_KVMCLOCK_CTRL and a clock update put GUEST_STOPPED in vCPU v's record; the "
		"watchdog on v loads the flags, the host rewrites v's record with STABLE changed (a TSC "
		"write toggles the masterclock), the guest stores the flags it loaded",
	.history = "synthetic mutation of kvm_check_and_clear_guest_paused() "
		"(arch/x86/kernel/kvmclock.c): the `&=` split into a load and a store")

/*
 * CLK-26: before kvmclock_disable() moved into kvm_guest_cpu_offline(), only
 * the CPU running machine_shutdown() (the BSP) unregistered its record; an
 * AP taken down for kexec or hibernation left its MSR enabled, and the host
 * kept writing into memory the next kernel (or the restored image) uses.
 */
static void kvmclock_disable_bsp_only(struct pvclock_guest *g)
{
	if (smp_processor_id() == 0)
		kvmclock_disable(g);
}

static const struct pvclock_reader_ops kvmclock_guest_offline_keeps_clock_ops = {
	.read = kvm_clock_read,
	.cpu_offline = kvmclock_disable_bsp_only,
};

PVCLOCK_READER_OPS(kvmclock_guest_offline_keeps_clock, kvmclock_guest_offline_keeps_clock_ops,
	.bug = "CLK-26",
	.expect = "ownership",
	.scenario = "an AP goes down (kexec, hibernation) and its record's memory is used for other "
		"data: the MSR still points there, so the guest writes into a record the host owns "
		"(and the host overwrites the new data)",
	.history = "kvm_shutdown()/kvm_crash_shutdown() wrote MSR_KVM_SYSTEM_TIME only on the CPU "
		"running them (\"After the clock is registered, the host will keep writing to the "
		"registered memory location\"); kvmclock_disable() later went into "
		"kvm_guest_cpu_offline() and kvm_save_sched_clock_state() (arch/x86/kernel/kvm.c, "
		"kvmclock.c; diffs seen, hashes not verified)")
