// SPDX-License-Identifier: MIT
/*
 * Hyper-V reference TSC page writers: mainline KVM and the historical /
 * mutated hosts of known-bugs.md.  The building blocks are in hv_kvm.c.
 */
#include "pvfuzz/hv_tscpage.h"

/* ---------------------------------------------------------- mainline -- */

/* Every member NULL: kvm_hv_setup_tsc_page() and the rest of hv_kvm.c. */
static const struct hv_writer_ops kvm_hv_writer_ops = { 0 };

HV_WRITER(kvm_hv_writer, kvm_hv_writer_ops,
	.flags = PV_MAINLINE,
	.expect = "safe",
	.scenario = "any",
	.history = "mainline KVM: kvm_hv_setup_tsc_page() from every vCPU's clock update with the "
		   "UNSET/GUEST_CHANGED/HOST_CHANGED/SET/BROKEN status machine, seq 0 -> wmb -> data "
		   "-> wmb -> seq+1 skipping 0 and 0xFFFFFFFF (arch/x86/kvm/hyperv.c, v6.17; "
		   "42dcbe7d8bac, cc9cfddb0433, 0469f2f7ab4c)")

/* ------------------------------------------------------------ CLK-09 -- */

/*
 * 5.11: only vCPU 0's kvm_guest_time_update() wrote the partition-wide
 * page, and nothing invalidated it before the masterclock update, so the
 * other vCPUs re-entered the guest with new kvmclock (and MSR) values while
 * the page still held the old (scale, offset).
 */
static void kvm_hv_vcpu0_time_update(struct kvm_hv_vm *vm, int v)
{
	struct kvm_clock_host *h = &vm->clock;
	struct pvclock_vcpu_time_info hv_clock;

	if (!kvm_guest_time_compute(h, v, &hv_clock))
		return;
	kvm_setup_guest_pvclock(h, v, &hv_clock);
	if (v == 0)
		kvm_hv_setup_tsc_page(vm, &h->vcpu[v].hv_clock);
}

/* The masterclock update and KVM_SET_CLOCK run it on every vCPU. */
static const struct hv_writer_ops kvm_hv_writer_vcpu0_only_ops = {
	.guest_time_update = kvm_hv_vcpu0_time_update,
};

HV_WRITER(kvm_hv_writer_vcpu0_only, kvm_hv_writer_vcpu0_only_ops,
	.bug = "CLK-09",
	.expect = "linearizable|monotonic|fallback",
	.scenario = "KVM_SET_CLOCK (or a masterclock update that moves kvmclock); vCPU 1 processes its "
		    "clock update and runs before vCPU 0 rewrites the page: a reader on vCPU 1 reads new "
		    "kvmclock / MSR time, then the old page (fallback: the masterclock went off and "
		    "vCPU 0, last, has not invalidated the page yet)",
	.history = "kvm_hv_setup_tsc_page() only from vCPU 0 and no invalidation before the "
		   "masterclock update, before e880c6ea55b9 \"KVM: x86: hyper-v: Prevent using "
		   "not-yet-updated TSC page by secondary CPUs\" (Vitaly Kuznetsov, 2021)")

/* ------------------------------------------------------------ CLK-10 -- */

/*
 * Before 0469f2f7ab4c: kvm_hv_setup_tsc_page() without the
 * tsc_page_update_unsafe() check - the guest's reenlightenment opt-in is not
 * looked at, so every host-side update rewrites (scale, offset).
 */
static void kvm_hv_setup_tsc_page_ignore_reenlightenment(struct kvm_hv_vm *vm,
							  const struct pvclock_vcpu_time_info *hv_clock)
{
	struct kvm_hv *hv = &vm->hv;
	struct ms_hyperv_tsc_page *page = hv->tsc_page;
	u32 tsc_seq;
	u64 scale;
	s64 offset;

	if (hv->hv_tsc_page_status != HV_TSC_PAGE_GUEST_CHANGED &&
	    hv->hv_tsc_page_status != HV_TSC_PAGE_HOST_CHANGED)
		return;
	if (!(hv->hv_tsc_page & HV_X64_MSR_TSC_REFERENCE_ENABLE))
		return;
	tsc_seq = READ_ONCE(page->tsc_sequence);

	hv->tsc_ref.tsc_sequence = 0;
	WRITE_ONCE(page->tsc_sequence, 0);
	if (!compute_tsc_page_parameters(hv_clock, &scale, &offset)) {
		hv->hv_tsc_page_status = HV_TSC_PAGE_BROKEN;
		return;
	}
	hv->tsc_ref.tsc_scale = scale;
	hv->tsc_ref.tsc_offset = offset;
	smp_wmb();
	pv_memcpy(page, &hv->tsc_ref, HV_TSC_PAGE_HDR);
	tsc_seq++;
	if (tsc_seq == 0xFFFFFFFF || tsc_seq == 0)
		tsc_seq = 1;
	smp_wmb();
	hv->tsc_ref.tsc_sequence = tsc_seq;
	hv_publish(vm, &hv->tsc_ref);
	WRITE_ONCE(page->tsc_sequence, tsc_seq);
	hv->hv_tsc_page_status = HV_TSC_PAGE_SET;
}

static void kvm_hv_request_ignore_reenlightenment(struct kvm_hv_vm *vm)
{
	if (vm->hv.hv_tsc_page_status == HV_TSC_PAGE_SET)
		vm->hv.hv_tsc_page_status = HV_TSC_PAGE_HOST_CHANGED;
}

/* KVM_SET_CLOCK: the page update is requested before the clock is read. */
static void kvm_hv_reenl_set_clock(struct kvm_hv_vm *vm, u64 delta_ns)
{
	kvm_hv_request_ignore_reenlightenment(vm);
	kvm_hv_set_clock_with(vm, delta_ns, kvm_hv_guest_time_update, false);
}

/* The adversarial record path is mainline's, opt-in check included. */
static void kvm_hv_reenl_write_record(struct kvm_hv_vm *vm, int v, const struct pvclock_vcpu_time_info *rec)
{
	kvm_hv_request_tsc_page_update(vm);
	kvm_write_record(&vm->clock, v, rec);
	kvm_hv_setup_tsc_page(vm, &vm->clock.vcpu[v].hv_clock);
}

static const struct hv_writer_ops kvm_hv_writer_ignore_reenlightenment_ops = {
	.setup_tsc_page = kvm_hv_setup_tsc_page_ignore_reenlightenment,
	.request_tsc_page_update = kvm_hv_request_ignore_reenlightenment,
	.set_clock = kvm_hv_reenl_set_clock,
	.write_record = kvm_hv_reenl_write_record,
};

HV_WRITER(kvm_hv_writer_ignore_reenlightenment, kvm_hv_writer_ignore_reenlightenment_ops,
	.bug = "CLK-10",
	.expect = "notification",
	.scenario = "the guest writes HV_X64_MSR_TSC_EMULATION_CONTROL = 1 (reenlightenment opt-in), "
		    "then KVM_SET_CLOCK or a masterclock update rewrites (scale, offset) with no "
		    "notification",
	.history = "KVM rewrote the TSC page after the guest opted into reenlightenment, before "
		   "0469f2f7ab4c \"Don't touch TSC page values when guest opted for re-enlightenment\" "
		   "(hyperv_clock.c stage 8, 2c7f76b4c42b)")

/* ------------------------------------------------------- CLK-11 writer -- */

/*
 * A writer coded to TLFS <= 4.0b: 0xFFFFFFFF marks the page invalid while it
 * is rewritten, and 0 is just another sequence number.  Real readers take
 * 0xFFFFFFFF for a valid sequence and read the half-written data.
 */
static void hv_setup_tsc_page_tlfs40b(struct kvm_hv_vm *vm, const struct pvclock_vcpu_time_info *hv_clock)
{
	struct kvm_hv *hv = &vm->hv;
	struct ms_hyperv_tsc_page *page = hv->tsc_page;
	u32 tsc_seq;
	u64 scale;
	s64 offset;

	if (hv->hv_tsc_page_status != HV_TSC_PAGE_GUEST_CHANGED &&
	    hv->hv_tsc_page_status != HV_TSC_PAGE_HOST_CHANGED)
		return;
	if (!(hv->hv_tsc_page & HV_X64_MSR_TSC_REFERENCE_ENABLE))
		return;
	tsc_seq = READ_ONCE(page->tsc_sequence);
	if (tsc_seq && tsc_page_update_unsafe(hv)) {
		hv->hv_tsc_page_status = HV_TSC_PAGE_SET;
		return;
	}

	hv->tsc_ref.tsc_sequence = 0xFFFFFFFF; /* "invalid" per the old spec */
	WRITE_ONCE(page->tsc_sequence, 0xFFFFFFFF);
	if (!compute_tsc_page_parameters(hv_clock, &scale, &offset)) {
		hv->hv_tsc_page_status = HV_TSC_PAGE_BROKEN;
		return;
	}
	hv->tsc_ref.tsc_scale = scale;
	hv->tsc_ref.tsc_offset = offset;
	smp_wmb();
	pv_memcpy(page, &hv->tsc_ref, HV_TSC_PAGE_HDR);
	tsc_seq++;
	if (tsc_seq == 0xFFFFFFFF)
		tsc_seq = 0;
	smp_wmb();
	hv->tsc_ref.tsc_sequence = tsc_seq;
	hv_publish(vm, &hv->tsc_ref);
	WRITE_ONCE(page->tsc_sequence, tsc_seq);
	hv->hv_tsc_page_status = HV_TSC_PAGE_SET;
}

static const struct hv_writer_ops kvm_hv_writer_tlfs_invalid_ffffffff_ops = {
	.setup_tsc_page = hv_setup_tsc_page_tlfs40b,
};

HV_WRITER(kvm_hv_writer_tlfs_invalid_ffffffff, kvm_hv_writer_tlfs_invalid_ffffffff_ops,
	.bug = "CLK-11",
	.expect = "writer_discipline|torn_snapshot",
	.scenario = "any page update: the reader loads seq 0xFFFFFFFF, which it must take for valid, "
		    "and the data being rewritten",
	.history = "a host coded to TLFS <= 4.0b (0xFFFFFFFF = invalid); KVM invalidates with 0 and "
		   "never publishes 0xFFFFFFFF (c35b82ef0294; MSDN HV_REFERENCE_TSC_SEQUENCE_INVALID)")

/* ------------------------------------------------------------ CLK-12 -- */

/*
 * ACRN's hyperv_setup_tsc_page() pattern on KVM's parameters: scale and
 * offset are rewritten in place under the live sequence, then seq+1.
 */
static void hv_setup_tsc_page_no_invalidate(struct kvm_hv_vm *vm,
					    const struct pvclock_vcpu_time_info *hv_clock)
{
	struct kvm_hv *hv = &vm->hv;
	struct ms_hyperv_tsc_page *page = hv->tsc_page;
	u32 tsc_seq;
	u64 scale;
	s64 offset;

	if (hv->hv_tsc_page_status != HV_TSC_PAGE_GUEST_CHANGED &&
	    hv->hv_tsc_page_status != HV_TSC_PAGE_HOST_CHANGED)
		return;
	if (!(hv->hv_tsc_page & HV_X64_MSR_TSC_REFERENCE_ENABLE))
		return;
	tsc_seq = READ_ONCE(page->tsc_sequence);
	if (tsc_seq && tsc_page_update_unsafe(hv)) {
		hv->hv_tsc_page_status = HV_TSC_PAGE_SET;
		return;
	}
	if (!compute_tsc_page_parameters(hv_clock, &scale, &offset)) {
		hv->tsc_ref.tsc_sequence = 0;
		WRITE_ONCE(page->tsc_sequence, 0);
		hv->hv_tsc_page_status = HV_TSC_PAGE_BROKEN;
		return;
	}
	/* the bug: no "tsc_sequence = 0" first */
	WRITE_ONCE(page->tsc_scale, scale);
	WRITE_ONCE(page->tsc_offset, offset);
	hv->tsc_ref.tsc_scale = scale;
	hv->tsc_ref.tsc_offset = offset;
	smp_wmb();
	tsc_seq++;
	if (tsc_seq == 0xFFFFFFFF || tsc_seq == 0)
		tsc_seq = 1;
	hv->tsc_ref.tsc_sequence = tsc_seq;
	hv_publish(vm, &hv->tsc_ref);
	WRITE_ONCE(page->tsc_sequence, tsc_seq);
	hv->hv_tsc_page_status = HV_TSC_PAGE_SET;
}

/*
 * ACRN sets the page up from the guest's HV_X64_MSR_REFERENCE_TSC write, on
 * the exiting vCPU, while the other vCPUs keep running.
 */
static void kvm_hv_noinv_set_msr(struct kvm_hv_vm *vm, int v, u32 msr, u64 data)
{
	kvm_hv_set_msr(vm, v, msr, data);
	if (msr == HV_X64_MSR_REFERENCE_TSC)
		hv_setup_tsc_page_no_invalidate(vm, &vm->clock.vcpu[v].hv_clock);
}

static const struct hv_writer_ops kvm_hv_writer_no_invalidate_ops = {
	.setup_tsc_page = hv_setup_tsc_page_no_invalidate,
	.set_msr = kvm_hv_noinv_set_msr,
};

HV_WRITER(kvm_hv_writer_no_invalidate, kvm_hv_writer_no_invalidate_ops,
	.bug = "CLK-12",
	.expect = "torn_snapshot",
	.scenario = "the guest rewrites HV_X64_MSR_REFERENCE_TSC after KVM_SET_CLOCK; on that exit the "
		    "page is rewritten while a reader on another vCPU loads seq N, the new offset and seq "
		    "N again: it accepts (N, new data), a generation that never was.  (Under KVM's "
		    "freeze - masterclock, KVM_SET_CLOCK - no reader runs during the rewrite.)",
	.history = "ACRN hyperv_setup_tsc_page() (projectacrn/acrn-hypervisor "
		   "hypervisor/arch/x86/guest/hyperv.c): scale, offset, barrier, seq+1 without zeroing "
		   "the sequence first")

/* ----------------------------------------------------- CLK-S3 (HV) -- */

/* kvm_hv_setup_tsc_page() without its two smp_wmb()s. */
static void hv_setup_tsc_page_no_wmb(struct kvm_hv_vm *vm, const struct pvclock_vcpu_time_info *hv_clock)
{
	struct kvm_hv *hv = &vm->hv;
	struct ms_hyperv_tsc_page *page = hv->tsc_page;
	u32 tsc_seq;
	u64 scale;
	s64 offset;

	if (hv->hv_tsc_page_status != HV_TSC_PAGE_GUEST_CHANGED &&
	    hv->hv_tsc_page_status != HV_TSC_PAGE_HOST_CHANGED)
		return;
	if (!(hv->hv_tsc_page & HV_X64_MSR_TSC_REFERENCE_ENABLE))
		return;
	tsc_seq = READ_ONCE(page->tsc_sequence);
	if (tsc_seq && tsc_page_update_unsafe(hv)) {
		hv->hv_tsc_page_status = HV_TSC_PAGE_SET;
		return;
	}
	hv->tsc_ref.tsc_sequence = 0;
	WRITE_ONCE(page->tsc_sequence, 0);
	if (!compute_tsc_page_parameters(hv_clock, &scale, &offset)) {
		hv->hv_tsc_page_status = HV_TSC_PAGE_BROKEN;
		return;
	}
	hv->tsc_ref.tsc_scale = scale;
	hv->tsc_ref.tsc_offset = offset;
	pv_memcpy(page, &hv->tsc_ref, HV_TSC_PAGE_HDR); /* may sink below the sequence store */
	tsc_seq++;
	if (tsc_seq == 0xFFFFFFFF || tsc_seq == 0)
		tsc_seq = 1;
	hv->tsc_ref.tsc_sequence = tsc_seq;
	hv_publish(vm, &hv->tsc_ref);
	WRITE_ONCE(page->tsc_sequence, tsc_seq);
	hv->hv_tsc_page_status = HV_TSC_PAGE_SET;
}

static const struct hv_writer_ops kvm_hv_writer_no_wmb_ops = {
	.setup_tsc_page = hv_setup_tsc_page_no_wmb,
};

HV_WRITER(kvm_hv_writer_no_wmb, kvm_hv_writer_no_wmb_ops,
	.bug = "CLK-S3",
	.expect = "torn_snapshot",
	.scenario = "compiler reordering on (SIM_MODE_REORDER): the copy of (scale, offset) sinks "
		    "below the new sequence store; a reader accepts the new seq with old data",
	.history = "synthetic barrier deletion: kvm_hv_setup_tsc_page() without the smp_wmb()s "
		   "between seq = 0, the data and the new seq")

/* ------------------------------------------------------------ CLK-13 -- */

/*
 * No BROKEN state: a failed compute_tsc_page_parameters() (STABLE clear,
 * mul >= max_mul) returns before the page is invalidated, so the guest
 * keeps using the previous (scale, offset) under a valid sequence while
 * kvmclock and the MSR follow the new clock.
 */
static void hv_setup_tsc_page_stale(struct kvm_hv_vm *vm, const struct pvclock_vcpu_time_info *hv_clock)
{
	struct kvm_hv *hv = &vm->hv;
	struct ms_hyperv_tsc_page *page = hv->tsc_page;
	u32 tsc_seq;
	u64 scale;
	s64 offset;

	if (hv->hv_tsc_page_status != HV_TSC_PAGE_GUEST_CHANGED &&
	    hv->hv_tsc_page_status != HV_TSC_PAGE_HOST_CHANGED)
		return;
	if (!(hv->hv_tsc_page & HV_X64_MSR_TSC_REFERENCE_ENABLE))
		return;
	tsc_seq = READ_ONCE(page->tsc_sequence);
	if (tsc_seq && tsc_page_update_unsafe(hv)) {
		hv->hv_tsc_page_status = HV_TSC_PAGE_SET;
		return;
	}
	/* the bug: computed before the invalidation, and failure leaves the page */
	if (!compute_tsc_page_parameters(hv_clock, &scale, &offset)) {
		hv->hv_tsc_page_status = HV_TSC_PAGE_BROKEN;
		return;
	}
	hv->tsc_ref.tsc_sequence = 0;
	WRITE_ONCE(page->tsc_sequence, 0);
	hv->tsc_ref.tsc_scale = scale;
	hv->tsc_ref.tsc_offset = offset;
	smp_wmb();
	pv_memcpy(page, &hv->tsc_ref, HV_TSC_PAGE_HDR);
	tsc_seq++;
	if (tsc_seq == 0xFFFFFFFF || tsc_seq == 0)
		tsc_seq = 1;
	smp_wmb();
	hv->tsc_ref.tsc_sequence = tsc_seq;
	hv_publish(vm, &hv->tsc_ref);
	WRITE_ONCE(page->tsc_sequence, tsc_seq);
	hv->hv_tsc_page_status = HV_TSC_PAGE_SET;
}

static const struct hv_writer_ops kvm_hv_writer_stale_on_failure_ops = {
	.setup_tsc_page = hv_setup_tsc_page_stale,
};

HV_WRITER(kvm_hv_writer_stale_on_failure, kvm_hv_writer_stale_on_failure_ops,
	.bug = "CLK-13",
	.expect = "fallback|linearizable|monotonic|writer_discipline",
	.scenario = "the masterclock turns off (TSC matching lost: STABLE clear) or an adversarial "
		    "record has mul >= max_mul; the page keeps its old (scale, offset) under a valid "
		    "sequence while kvmclock and the MSR move on (a reader that reads the MSR or "
		    "kvmclock and then the stale page sees its own time step back: monotonic)",
	.history = "failed compute_tsc_page_parameters() left the previous values published; "
		   "cc9cfddb0433 \"KVM: x86: hyper-v: Track Hyper-V TSC page status\" made it BROKEN "
		   "with seq = 0")
