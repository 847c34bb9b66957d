// SPDX-License-Identifier: MIT
/*
 * pvclock writers: mainline KVM and the historical / mutated hosts of
 * known-bugs.md.  The building blocks are in pvclock_kvm.c.
 */
#include "pvfuzz/pvclock.h"

/* ---------------------------------------------------------- mainline -- */

static const struct pvclock_writer_ops kvm_pvclock_writer_ops = {
	.hypercall = kvm_pv_clock_pairing,
};

PVCLOCK_WRITER(kvm_pvclock_writer, kvm_pvclock_writer_ops,
	.flags = PV_MAINLINE,
	.expect = "safe",
	.scenario = "any",
	.history = "mainline KVM: odd -> copy -> even with smp_wmb (kvm_setup_guest_pvclock), "
		   "masterclock updated in lockstep under MCLOCK_INPROGRESS (arch/x86/kvm/x86.c, v6.17)")

/* ------------------------------------------- pre-masterclock (2010) --- */

/*
 * 2010 kvm_write_guest_time(): per-vCPU anchors from the host's coarse
 * kernel time and a separate TSC read; never STABLE.  With 1d5f066e0b63 the
 * new anchor is never below what the guest may already have seen.
 */
static bool kvm_2010_compute(struct kvm_clock_host *h, int v, struct pvclock_vcpu_time_info *hv,
			     bool no_warp, bool stable)
{
	struct kvm_vcpu_clock *vc = &h->vcpu[v];
	u64 kernel_ns, tsc_timestamp;

	kernel_ns = h->host_coarse_ns(h);
	tsc_timestamp = h->host_tsc(h) + (u64)vc->tsc_offset;
	if (h->tsc_khz == 0)
		return false;
	if (vc->hw_tsc_khz != h->tsc_khz) {
		kvm_get_time_scale(NSEC_PER_SEC, h->tsc_khz * 1000ULL, &vc->pvclock_tsc_shift,
				   &vc->pvclock_tsc_mul);
		vc->hw_tsc_khz = h->tsc_khz;
	}
	*hv = vc->hv_clock;
	hv->tsc_timestamp = tsc_timestamp;
	if (no_warp && vc->hv_clock.tsc_timestamp) {
		/*
		 * Kernel time, which advances in discrete steps, may progress
		 * much slower than TSC: compute the clock as potentially
		 * observed by the guest so it does not go backwards.  In host
		 * time (max_kernel_ns), so a KVM_SET_CLOCK (kvmclock_offset)
		 * still steps the clock where the VMM put it.
		 */
		const struct pvclock_vcpu_time_info *o = &vc->hv_clock;
		u64 max_kernel_ns = __pvclock_read_cycles_snap(o->tsc_timestamp, vc->last_kernel_ns,
							       o->tsc_to_system_mul, o->tsc_shift,
							       tsc_timestamp);
		if ((s64)(max_kernel_ns - kernel_ns) > 0)
			kernel_ns = max_kernel_ns;
	}
	vc->last_kernel_ns = kernel_ns;
	hv->system_time = kernel_ns + (u64)h->kvmclock_offset;
	hv->tsc_to_system_mul = vc->pvclock_tsc_mul;
	hv->tsc_shift = vc->pvclock_tsc_shift;
	hv->flags = stable ? PVCLOCK_TSC_STABLE_BIT : 0;
	return true;
}

/*
 * kvm_write_tsc() of the time: a reset of the TSC turns the overshoot
 * protection off (the old record's line lives in the old TSC space).
 */
static bool kvm_2010_synchronize_tsc(struct kvm_clock_host *h, int v, const u64 *user_value)
{
	bool ret = kvm_synchronize_tsc(h, v, user_value);

	h->vcpu[v].hv_clock.tsc_timestamp = 0;
	return ret;
}

/* No master copy and no freeze: every vCPU gets KVM_REQ_CLOCK_UPDATE. */
static void kvm_2010_all(struct kvm_clock_host *h)
{
	for (int k = 0; k < h->nr_vcpus; k++)
		kvm_vcpu_run_request(h, h->vcpu_order(h, k), kvm_guest_time_update);
}

static bool kvm_2010_no_warp_compute(struct kvm_clock_host *h, int v, struct pvclock_vcpu_time_info *hv)
{
	return kvm_2010_compute(h, v, hv, true, false);
}

/*
 * The KVM of 2010: KVM_SET_CLOCK/KVM_GET_CLOCK without flags, no
 * KVM_KVMCLOCK_CTRL, no masterclock; records on the coarse CLOCK_BOOTTIME.
 */
#define KVM_2010_HOST .kvm_lacks = KVM_LACKS_CLOCK_FLAGS | KVM_LACKS_KVMCLOCK_CTRL, \
		      .anchor = PVCLOCK_ANCHOR_BOOTTIME_COARSE

static const struct pvclock_writer_ops kvm_pvclock_writer_2010_ops = {
	.guest_time_compute = kvm_2010_no_warp_compute,
	.masterclock_update = kvm_2010_all,
	.synchronize_tsc = kvm_2010_synchronize_tsc,
	.hypercall = kvm_pv_clock_pairing,
	KVM_2010_HOST,
};

/*
 * Safe with every safe reader once the host is the KVM of its time
 * (KVM_2010_HOST): its own ioctls against the clock its records follow.  A
 * 2010 writer under mainline's KVM_SET_CLOCK/KVM_GET_CLOCK (offsets against
 * the raw clock, KVM_CLOCK_REALTIME restores) was a host that never existed,
 * and that is what made ptp_kvm and KVM_GET_CLOCK see it step back; with the
 * era's ioctls, pvclock_ptp_kvm+kvm_pvclock_writer_2010 ran 2,000,000
 * release runs clean (docs/clock-contracts.md §3).
 */
PVCLOCK_WRITER(kvm_pvclock_writer_2010, kvm_pvclock_writer_2010_ops,
	.partner = "pvclock_kernel",
	.expect = "safe",
	.scenario = "safe for readers with the last_value fix-up; CLK-01's reader is not",
	.history = "2010 per-vCPU kvm_write_guest_time(): coarse host time, no STABLE, with "
		   "1d5f066e0b63 \"KVM: x86: Fix a possible backwards warp of kvmclock\"")

/* CLK-02: the same without the catch-up. */
static bool kvm_2010_warp_compute(struct kvm_clock_host *h, int v, struct pvclock_vcpu_time_info *hv)
{
	return kvm_2010_compute(h, v, hv, false, false);
}

static const struct pvclock_writer_ops kvm_pvclock_writer_2010_warp_ops = {
	.guest_time_compute = kvm_2010_warp_compute,
	.masterclock_update = kvm_2010_all,
	.synchronize_tsc = kvm_2010_synchronize_tsc,
	.hypercall = kvm_pv_clock_pairing,
	KVM_2010_HOST,
};

PVCLOCK_WRITER(kvm_pvclock_writer_2010_warp, kvm_pvclock_writer_2010_warp_ops,
	.bug = "CLK-02",
	.expect = "continuity",
	.scenario = "two updates of one vCPU; the coarse host clock advanced less than the TSC "
		    "since the last anchor, so the new record starts below the old one's value",
	.history = "kvmclock re-anchored on coarse kernel_ns before 1d5f066e0b63 \"KVM: x86: Fix "
		   "a possible backwards warp of kvmclock\" (Zachary Amsden, 2010)")

/* CLK-03: per-vCPU anchors with STABLE set, one vCPU at a time. */
static bool kvm_percpu_stable_compute(struct kvm_clock_host *h, int v, struct pvclock_vcpu_time_info *hv)
{
	return kvm_2010_compute(h, v, hv, true, true);
}

static const struct pvclock_writer_ops kvm_pvclock_writer_percpu_stable_ops = {
	.guest_time_compute = kvm_percpu_stable_compute,
	.masterclock_update = kvm_2010_all,
	.synchronize_tsc = kvm_2010_synchronize_tsc,
	.hypercall = kvm_pv_clock_pairing,
	.anchor = PVCLOCK_ANCHOR_BOOTTIME_COARSE, /* a hypothetical host of 2012: mainline's ioctls */
};

PVCLOCK_WRITER(kvm_pvclock_writer_percpu_stable, kvm_pvclock_writer_percpu_stable_ops,
	.bug = "CLK-03",
	.expect = "monotonic|linearizable|continuity",
	.scenario = "vCPUs anchored from separate coarse host-time reads while STABLE lets the "
		    "guest skip last_value; read on one vCPU, then on the other (or one vCPU "
		    "re-anchored on the coarse clock after a host TSC write, still STABLE)",
	.history = "STABLE without a master copy / lockstep update: the M < N problem that "
		   "d828199e8444 \"KVM: x86: implement PVCLOCK_TSC_STABLE_BIT pvclock flag\" solved")

/* CLK-05's premise: STABLE although the vCPUs' TSC offsets differ. */
static void kvm_stable_unmatched_gtod(struct kvm_clock_host *h)
{
	h->tsc_matched = true; /* the bug: ignores nr_vcpus_matched_tsc */
	kvm_update_masterclock_with(h, kvm_guest_time_update);
}

static const struct pvclock_writer_ops kvm_pvclock_writer_stable_unmatched_ops = {
	.masterclock_update = kvm_stable_unmatched_gtod,
	.hypercall = kvm_pv_clock_pairing,
};

PVCLOCK_WRITER(kvm_pvclock_writer_stable_unmatched, kvm_pvclock_writer_stable_unmatched_ops,
	.bug = "CLK-05",
	.partner = "pvclock_vdso",
	.expect = "monotonic|linearizable|plausibility|reference",
	.scenario = "per-vCPU TSC skew; records are right for their own vCPU, but STABLE tells "
		    "user space any vCPU's record fits any vCPU's TSC",
	.history = "a host setting PVCLOCK_TSC_STABLE_BIT with unmatched TSC offsets: the "
		   "assumption under the per-CPU vDSO reader (CLK-05) and vread_pvclock()")

/* CLK-04: version += 2 privately, then one copy of the whole struct. */
static void kvm_write_guest_time_single_copy(struct kvm_clock_host *h, int v,
					     struct pvclock_vcpu_time_info *hv)
{
	struct kvm_vcpu_clock *vc = &h->vcpu[v];

	/*
	 * The interface expects us to write an even number signaling that the
	 * update is finished.  Since the guest won't see the intermediate
	 * state, we just increase by 2 at the end.
	 */
	struct pvclock_vcpu_time_info *guest = kvm_pvclock_record(h, v);

	if (!guest)
		return;
	hv->version = vc->hv_clock.version + 2;
	h->publish(h, v, hv);
	pv_memcpy(guest, hv, sizeof(*hv)); /* rep movs: any order */
	vc->hv_clock = *hv;
}

static const struct pvclock_writer_ops kvm_pvclock_writer_single_copy_ops = {
	.setup_guest_pvclock = kvm_write_guest_time_single_copy,
	.hypercall = kvm_pv_clock_pairing,
};

PVCLOCK_WRITER(kvm_pvclock_writer_single_copy, kvm_pvclock_writer_single_copy_ops,
	.bug = "CLK-04",
	.partner = "pvclock_vdso",
	.expect = "writer_discipline|torn_snapshot",
	.scenario = "the copy writes the version before some data; a reader on another vCPU "
		    "sees the new even version with old data",
	.history = "2.6.3x kvm_write_guest_time(): \"we just increase by 2 at the end\", one "
		   "memcpy through kmap_atomic (archive copy 41203320742)")

/* CLK-17: STABLE cleared in the published record after the even version. */
static void kvm_flag_outside_update(struct kvm_clock_host *h, int v)
{
	struct pvclock_vcpu_time_info hv, meant;
	struct pvclock_vcpu_time_info *guest = kvm_pvclock_record(h, v);

	if (!guest || !kvm_guest_time_compute(h, v, &hv))
		return;
	kvm_setup_guest_pvclock(h, v, &hv);
	if (!(hv.flags & PVCLOCK_TSC_STABLE_BIT))
		return;
	/* KVM_XEN_HVM_CONFIG_PVCLOCK_TSC_UNSTABLE, v2: the wrong side of the memcpy */
	meant = h->vcpu[v].hv_clock;
	meant.flags &= ~PVCLOCK_TSC_STABLE_BIT;
	h->publish(h, v, &meant);
	WRITE_ONCE(guest->flags, meant.flags);
	h->vcpu[v].hv_clock = meant;
}

/* The masterclock update runs it on every vCPU; explicit records are mainline's. */
static const struct pvclock_writer_ops kvm_pvclock_writer_flag_outside_ops = {
	.guest_time_update = kvm_flag_outside_update,
	.hypercall = kvm_pv_clock_pairing,
};

PVCLOCK_WRITER(kvm_pvclock_writer_flag_outside_window, kvm_pvclock_writer_flag_outside_ops,
	.bug = "CLK-17",
	.partner = "pvclock_vdso",
	.expect = "writer_discipline|flag_coherence|torn_snapshot",
	.scenario = "reader reads the record between the even version store and the in-place "
		    "STABLE clear: it acts on a flag of no generation",
	.history = "KVM Xen PVCLOCK_TSC_UNSTABLE v2 cleared STABLE after the copy; v3: \"Moved "
		   "clearing of PVCLOCK_TSC_STABLE_BIT the right side of the memcpy()\" (ML id 2115732134)")

/* CLK-S3: kvm_setup_guest_pvclock() without its smp_wmb()s. */
static void kvm_setup_guest_pvclock_no_wmb(struct kvm_clock_host *h, int v,
					   struct pvclock_vcpu_time_info *ref)
{
	struct pvclock_vcpu_time_info *guest = kvm_pvclock_record(h, v);
	struct pvclock_vcpu_time_info hv = *ref;

	if (!guest)
		return;
	hv.version = (READ_ONCE(guest->version) + 1) | 1;
	WRITE_ONCE(guest->version, hv.version);
	hv.flags |= READ_ONCE(guest->flags) & PVCLOCK_GUEST_STOPPED;
	h->publish(h, v, &hv);
	pv_memcpy(guest, &hv, sizeof(*guest)); /* may sink below the even store */
	hv.version++;
	WRITE_ONCE(guest->version, hv.version);
	h->vcpu[v].hv_clock = hv;
}

static const struct pvclock_writer_ops kvm_pvclock_writer_no_wmb_ops = {
	.setup_guest_pvclock = kvm_setup_guest_pvclock_no_wmb,
	.hypercall = kvm_pv_clock_pairing,
};

PVCLOCK_WRITER(kvm_pvclock_writer_no_wmb, kvm_pvclock_writer_no_wmb_ops,
	.bug = "CLK-S3",
	.partner = "pvclock_vdso",
	.expect = "writer_discipline|torn_snapshot|monotonic|linearizable",
	.scenario = "compiler reordering on: the memcpy sinks below the even version store; a reader "
		    "accepts old (or partly old) data under the new version and its value steps back "
		    "against a read of the new record",
	.history = "synthetic barrier deletion: kvm_setup_guest_pvclock() without smp_wmb()")

/* CLK-25: KVM_HC_CLOCK_PAIRING served although every exit republishes the record. */
static u64 kvm_pv_clock_pairing_pre_fix(struct kvm_clock_host *h, int v, u64 nr, u64 arg)
{
	if (nr != KVM_HC_CLOCK_PAIRING || !READ_ONCE(h->use_master_clock))
		return (u64)-KVM_EOPNOTSUPP;
	return h->host_tsc(h) + (u64)h->vcpu[v].tsc_offset;
}

static const struct pvclock_writer_ops kvm_pvclock_writer_clock_pairing_catchup_ops = {
	.hypercall = kvm_pv_clock_pairing_pre_fix,
};

PVCLOCK_WRITER(kvm_pvclock_writer_clock_pairing_catchup, kvm_pvclock_writer_clock_pairing_catchup_ops,
	.bug = "CLK-25",
	.partner = "pvclock_ptp_kvm",
	.expect = "liveness",
	.scenario = "tsc_always_catchup: every exit republishes the record; ptp_kvm's hypercall "
		    "inside its version window retries forever",
	.history = "kvm_pv_clock_pairing() before 3a55f729240a (Anton Romanov, 2022): no "
		   "-KVM_EOPNOTSUPP when tsc_always_catchup is set")

/* -------------------------------------- KVM's copy of the host clock --- */

/*
 * CLK-28: before 53fafdbb8b21 ("KVM: x86: switch KVMCLOCK base to monotonic
 * raw clock") the masterclock anchored kvmclock on the host's BOOTTIME,
 * i.e. CLOCK_MONOTONIC - which NTP steers - while the guest extrapolates
 * at the TSC's rate.  Every masterclock update then re-anchors onto a clock
 * that ran faster or slower than kvmclock did since the last one.
 */
static bool kvm_get_time_and_clockread_boottime(struct kvm_clock_host *h, s64 *kernel_ns, u64 *tsc)
{
	struct kvm_gtod_data g = { 0 };
	u64 ns;

	if (!h->gtod)
		return kvm_get_time_and_clockread(h, kernel_ns, tsc);
	if (!gtod_is_based_on_tsc(kvm_gtod_snapshot(h, &g, tsc, KVM_GTOD_RAW | KVM_GTOD_MONO)))
		return false;
	/* do_monotonic_boot(): the NTP-steered clock plus the boot offset */
	ns = g.clock.base_cycles + ((*tsc - g.clock.cycle_last) & g.clock.mask) * g.clock.mult;
	ns >>= g.clock.shift & 63;
	*kernel_ns = (s64)(ns + g.clock.offset + g.offs_boot);
	return true;
}

static const struct pvclock_writer_ops kvm_pvclock_writer_boottime_base_ops = {
	.get_time_and_clockread = kvm_get_time_and_clockread_boottime,
	.hypercall = kvm_pv_clock_pairing,
};

PVCLOCK_WRITER(kvm_pvclock_writer_boottime_base, kvm_pvclock_writer_boottime_base_ops,
	.bug = "CLK-28",
	.expect = "reference|continuity",
	.scenario = "the host's NTP frequency is not 0: at each masterclock update the new anchor "
		    "(NTP-steered boottime) and kvmclock's extrapolation (TSC rate) disagree, a slower "
		    "NTP clock re-anchors kvmclock backwards",
	.history = "masterclock anchored on ktime_get_boot_ns(), before 53fafdbb8b21 \"KVM: x86: "
		   "switch KVMCLOCK base to monotonic raw clock\" (Marcelo Tosatti, 2019; the Fixes: "
		   "target of 917f9475c0a8)")

/*
 * CLK-16 at the protocol level: do_monotonic_raw() as 53fafdbb8b21 had it,
 * shifting the raw clock's accumulation by the MONOTONIC clock's shift.
 * Harmless while the two shifts are equal (every Linux timekeeper); the
 * host state that tells it apart is a timekeeper publishing tkr_mono at a
 * finer shift (the harness's host byte, bit 4).
 */
static bool kvm_get_time_and_clockread_mono_shift(struct kvm_clock_host *h, s64 *kernel_ns, u64 *tsc)
{
	struct kvm_gtod_data g = { 0 };
	u64 ns;

	if (!h->gtod)
		return kvm_get_time_and_clockread(h, kernel_ns, tsc);
	if (!gtod_is_based_on_tsc(kvm_gtod_snapshot(h, &g, tsc, KVM_GTOD_RAW | KVM_GTOD_MONO)))
		return false;
	ns = g.raw_clock.base_cycles + ((*tsc - g.raw_clock.cycle_last) & g.raw_clock.mask) * g.raw_clock.mult;
	ns >>= g.clock.shift & 63; /* the bug: gtod->clock.shift */
	*kernel_ns = (s64)(ns + g.raw_clock.offset + g.offs_boot);
	return true;
}

static const struct pvclock_writer_ops kvm_pvclock_writer_raw_mono_shift_ops = {
	.get_time_and_clockread = kvm_get_time_and_clockread_mono_shift,
	.hypercall = kvm_pv_clock_pairing,
};

PVCLOCK_WRITER(kvm_pvclock_writer_raw_mono_shift, kvm_pvclock_writer_raw_mono_shift_ops,
	.bug = "CLK-16",
	.expect = "reference|continuity|plausibility",
	.scenario = "a host timekeeper whose tkr_mono is published at a finer shift than tkr_raw "
		    "(the same clock); the first masterclock snapshot computes raw time 4x too small",
	.history = "do_monotonic_raw() used gtod->clock.shift; fixed by 917f9475c0a8 \"KVM: x86: "
		   "reorganize pvclock_gtod_data members\" (\"a (usually harmless) typo\"; Fixes 53fafdbb8b21)")

/* ------------------------------------------------- guest MSR writes --- */

/*
 * CLK-27: kvm_set_msr_common() before the CVE-2013-1796 fix: the record's
 * page is mapped and the 32 bytes written at the page offset the guest
 * gave, with nothing stopping them at the page's end.
 */
static int kvm_set_msr_system_time_2013(struct kvm_clock_host *h, int v, u32 msr, u64 data)
{
	struct kvm_vcpu_clock *vc = &h->vcpu[v];
	u64 gpa = data & ~1ULL;

	if (msr != MSR_KVM_SYSTEM_TIME_NEW && msr != MSR_KVM_SYSTEM_TIME)
		return kvm_set_msr_common(h, v, msr, data);
	vc->time = data;
	vc->clock_update_request = true;
	/* we verify if the enable bit is set... */
	if (!(data & 1) || !h->guest_mem || gpa >= h->guest_mem_size) {
		vc->pv_time = NULL;
		return 0;
	}
	/* ...but clean it before doing the actual write: kmap(time_page) + time_offset */
	vc->pv_time = (struct pvclock_vcpu_time_info *)pvclock_guest_mem_at(h->guest_mem, gpa);
	return 0;
}

static const struct pvclock_writer_ops kvm_pvclock_writer_page_cross_ops = {
	.wrmsr = kvm_set_msr_system_time_2013,
	.hypercall = kvm_pv_clock_pairing,
};

PVCLOCK_WRITER(kvm_pvclock_writer_page_cross, kvm_pvclock_writer_page_cross_ops,
	.bug = "CLK-27",
	.expect = "ownership",
	.scenario = "an AP's guest writes MSR_KVM_SYSTEM_TIME_NEW with a record address 16 bytes "
		    "before a page end: the clock update writes past the mapped page",
	.history = "kvm_set_msr_common() before \"KVM: x86: fix for buffer overflow in handling of "
		   "MSR_KVM_SYSTEM_TIME (CVE-2013-1796)\", which added \"Check that the address is "
		   "32-byte aligned\" (patch text seen; hash not verified)")

/* ------------------------------------------------------ VMM ioctls --- */

/*
 * CLK-S6: KVM_SET_CLOCK with KVM_CLOCK_REALTIME without "Avoid stepping the
 * kvmclock backwards": a realtime later than the host's own (the host's
 * clock was set back since the VMM read it) makes the u64 addition wrap
 * and sets kvmclock behind the value the VMM gave.
 */
static int kvm_vm_ioctl_set_clock_realtime_unchecked(struct kvm_clock_host *h,
						     const struct kvm_clock_data *in)
{
	struct kvm_clock_data data = *in;

	if ((data.flags & KVM_CLOCK_REALTIME) && h->host_tk) {
		u64 now_real_ns = (u64)ktime_get_real(h->host_tk);
		data.clock += now_real_ns - data.realtime; /* the mutation: no "if (now > realtime)" */
	}
	data.flags &= ~KVM_CLOCK_REALTIME;
	return kvm_vm_ioctl_set_clock(h, &data);
}

static const struct pvclock_writer_ops kvm_pvclock_writer_set_clock_realtime_backwards_ops = {
	.set_clock = kvm_vm_ioctl_set_clock_realtime_unchecked,
	.hypercall = kvm_pv_clock_pairing,
};

PVCLOCK_WRITER(kvm_pvclock_writer_set_clock_realtime_backwards,
	       kvm_pvclock_writer_set_clock_realtime_backwards_ops,
	.bug = "CLK-S6",
	.expect = "postcondition",
	.scenario = "KVM_GET_CLOCK, the host's settimeofday() steps CLOCK_REALTIME back, then "
		    "KVM_SET_CLOCK(saved clock, KVM_CLOCK_REALTIME): kvmclock lands behind the value set",
	.history = "synthetic mutation of kvm_vm_ioctl_set_clock() (arch/x86/kvm/x86.c, v6.17): the "
		   "now_real_ns > data.realtime guard deleted")

/*
 * CLK-S7: kvm_setup_guest_pvclock() without carrying the guest copy's
 * GUEST_STOPPED into the new record: a second update before the guest's watchdog ran
 * drops the flag, and the guest never learns it was stopped.
 */
static void kvm_setup_guest_pvclock_drop_stopped(struct kvm_clock_host *h, int v,
						 struct pvclock_vcpu_time_info *ref)
{
	struct pvclock_vcpu_time_info *guest = kvm_pvclock_record(h, v);
	struct pvclock_vcpu_time_info hv = *ref;

	if (!guest)
		return;
	hv.version = (READ_ONCE(guest->version) + 1) | 1;
	WRITE_ONCE(guest->version, hv.version);
	smp_wmb();
	/* the mutation: guest->flags & PVCLOCK_GUEST_STOPPED not carried over */
	h->publish(h, v, &hv);
	pv_memcpy(guest, &hv, sizeof(*guest));
	smp_wmb();
	hv.version++;
	WRITE_ONCE(guest->version, hv.version);
	h->vcpu[v].hv_clock = hv;
}

static const struct pvclock_writer_ops kvm_pvclock_writer_drop_guest_stopped_ops = {
	.setup_guest_pvclock = kvm_setup_guest_pvclock_drop_stopped,
	.hypercall = kvm_pv_clock_pairing,
};

PVCLOCK_WRITER(kvm_pvclock_writer_drop_guest_stopped, kvm_pvclock_writer_drop_guest_stopped_ops,
	.bug = "CLK-S7",
	.expect = "flag_contract",
	.scenario = "KVM_KVMCLOCK_CTRL publishes GUEST_STOPPED on vCPU v; another update of v comes "
		    "before the guest's watchdog consumed it and drops it",
	.history = "synthetic mutation of kvm_setup_guest_pvclock() (arch/x86/kvm/x86.c, v6.17): the "
		   "guest copy's GUEST_STOPPED is not carried into the new record")
