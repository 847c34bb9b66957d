// SPDX-License-Identifier: MIT
/*
 * KVM's Hyper-V reference TSC page, modelled on arch/x86/kvm/hyperv.c and
 * the clock paths of arch/x86/kvm/x86.c (v6.17): kvm_hv_setup_tsc_page()
 * with its status machine, kvm_hv_request_tsc_page_update(), the
 * TIME_REF_COUNT MSR (get_time_ref_counter) and KVM_SET_CLOCK.  The
 * kvmclock side (records, masterclock, freeze) is pvclock_kvm.c's.  Built
 * into both worlds.
 */
#include "pvfuzz/hv_tscpage.h"

/*
 * Don't touch TSC page values if the guest has opted for TSC emulation after
 * migration: KVM doesn't fully support reenlightenment notifications and TSC
 * access emulation, so the guest keeps the parameters it has.
 */
bool tsc_page_update_unsafe(struct kvm_hv *hv)
{
	return (hv->hv_tsc_page_status != HV_TSC_PAGE_GUEST_CHANGED) &&
	       hv->hv_tsc_emulation_control;
}

void kvm_hv_setup_tsc_page(struct kvm_hv_vm *vm, const struct pvclock_vcpu_time_info *hv_clock)
{
	struct kvm_hv *hv = &vm->hv;
	struct ms_hyperv_tsc_page *page = hv->tsc_page;
	u32 tsc_seq;
	u64 scale;
	s64 offset;

	/* mutex_lock(&hv->hv_lock): the host side is one fiber */
	if (hv->hv_tsc_page_status == HV_TSC_PAGE_BROKEN ||
	    hv->hv_tsc_page_status == HV_TSC_PAGE_SET ||
	    hv->hv_tsc_page_status == HV_TSC_PAGE_UNSET)
		return;

	if (!(hv->hv_tsc_page & HV_X64_MSR_TSC_REFERENCE_ENABLE))
		return;

	/* kvm_read_guest(kvm, gfn_to_gpa(gfn), &tsc_seq, sizeof(tsc_seq)) */
	tsc_seq = READ_ONCE(page->tsc_sequence);

	if (tsc_seq && tsc_page_update_unsafe(hv)) {
		/* the guest keeps its page: remember what it holds */
		hv->tsc_ref.tsc_sequence = tsc_seq;
		hv->tsc_ref.tsc_scale = READ_ONCE(page->tsc_scale);
		hv->tsc_ref.tsc_offset = READ_ONCE(page->tsc_offset);
		hv->hv_tsc_page_status = HV_TSC_PAGE_SET;
		return;
	}

	/*
	 * While we're computing and writing the parameters, force the
	 * guest to use the time reference count MSR.
	 */
	hv->tsc_ref.tsc_sequence = 0;
	WRITE_ONCE(page->tsc_sequence, 0);

	if (!compute_tsc_page_parameters(hv_clock, &scale, &offset))
		goto out_err;
	hv->tsc_ref.tsc_scale = scale;
	hv->tsc_ref.tsc_offset = offset;

	/* Ensure sequence is zero before writing the rest of the struct. */
	smp_wmb();
	pv_memcpy(page, &hv->tsc_ref, HV_TSC_PAGE_HDR);

	/* Now switch to the TSC page mechanism by writing the sequence. */
	tsc_seq++;
	if (tsc_seq == 0xFFFFFFFF || tsc_seq == 0)
		tsc_seq = 1;

	/* Write the struct entirely before the non-zero sequence. */
	smp_wmb();

	hv->tsc_ref.tsc_sequence = tsc_seq;
	hv_publish(vm, &hv->tsc_ref);
	WRITE_ONCE(page->tsc_sequence, tsc_seq);

	hv->hv_tsc_page_status = HV_TSC_PAGE_SET;
	return;

out_err:
	hv->hv_tsc_page_status = HV_TSC_PAGE_BROKEN;
}

void kvm_hv_request_tsc_page_update(struct kvm_hv_vm *vm)
{
	struct kvm_hv *hv = &vm->hv;

	if (hv->hv_tsc_page_status == HV_TSC_PAGE_SET && !tsc_page_update_unsafe(hv))
		hv->hv_tsc_page_status = HV_TSC_PAGE_HOST_CHANGED;
}

/* kvm_guest_time_update(): the kvmclock record, then the page (every vCPU). */
void kvm_hv_guest_time_update(struct kvm_hv_vm *vm, int v)
{
	struct kvm_clock_host *h = &vm->clock;
	struct pvclock_vcpu_time_info hv_clock;

	if (!kvm_guest_time_compute(h, v, &hv_clock))
		return;
	kvm_setup_guest_pvclock(h, v, &hv_clock);
	hv_setup_tsc_page(vm, &h->vcpu[v].hv_clock);
}

/*
 * kvm_update_masterclock(): kvm_hv_request_tsc_page_update(), then the
 * freeze; every vCPU processes KVM_REQ_CLOCK_UPDATE on its own thread
 * before it re-enters the guest, and the first one through
 * kvm_hv_setup_tsc_page() rewrites the page - so no vCPU runs guest code
 * with new kvmclock parameters and the old page.
 */
void kvm_hv_update_masterclock_with(struct kvm_hv_vm *vm, void (*update)(struct kvm_hv_vm *vm, int v),
				    bool request)
{
	struct kvm_clock_host *h = &vm->clock;

	if (request)
		hv_request_tsc_page_update(vm);
	kvm_start_pvclock_update(h);
	pvclock_update_vm_gtod_copy(h);
	for (int k = 0; k < h->nr_vcpus; k++) {
		int v = h->vcpu_order(h, k);
		update(vm, v);
		h->vcpu_in_host(h, v, false);
	}
	kvm_end_pvclock_update(h);
}

void kvm_hv_update_masterclock(struct kvm_hv_vm *vm)
{
	kvm_hv_update_masterclock_with(vm, hv_guest_time_update, true);
}

/* get_kvmclock_ns() / __get_kvmclock() */
u64 kvm_get_kvmclock_ns(struct kvm_clock_host *h)
{
	if (h->use_master_clock && h->tsc_khz) {
		s8 shift;
		u32 mul;
		u64 tsc = h->host_tsc(h);

		kvm_get_time_scale(NSEC_PER_SEC, h->tsc_khz * 1000ULL, &shift, &mul);
		return __pvclock_read_cycles_snap(h->master_cycle_now,
						  h->master_kernel_ns + (u64)h->kvmclock_offset,
						  mul, shift, tsc);
	}
	return get_kvmclock_base_ns(h) + (u64)h->kvmclock_offset;
}

/*
 * KVM_SET_CLOCK (kvm_vm_ioctl_set_clock): the VM's clock becomes
 * kvmclock + delta_ns; every vCPU then rewrites its record (and the page).
 */
void kvm_hv_set_clock_with(struct kvm_hv_vm *vm, u64 delta_ns,
			   void (*update)(struct kvm_hv_vm *vm, int v), bool request)
{
	struct kvm_clock_host *h = &vm->clock;
	u64 clock = kvm_get_kvmclock_ns(h) + delta_ns;
	u64 now_raw_ns;

	if (request)
		hv_request_tsc_page_update(vm);
	kvm_start_pvclock_update(h);
	pvclock_update_vm_gtod_copy(h);
	if (h->use_master_clock)
		now_raw_ns = h->master_kernel_ns;
	else
		now_raw_ns = get_kvmclock_base_ns(h);
	h->kvmclock_offset = (s64)(clock - now_raw_ns);
	for (int k = 0; k < h->nr_vcpus; k++) {
		int v = h->vcpu_order(h, k);
		update(vm, v);
		h->vcpu_in_host(h, v, false);
	}
	kvm_end_pvclock_update(h);
}

void kvm_hv_set_clock(struct kvm_hv_vm *vm, u64 delta_ns)
{
	kvm_hv_set_clock_with(vm, delta_ns, hv_guest_time_update, true);
}

/*
 * An explicit page image (adversarial input), published the KVM way:
 * seq = 0, the data, then the image's sequence.
 */
void kvm_hv_write_page(struct kvm_hv_vm *vm, const struct ms_hyperv_tsc_page *img)
{
	struct kvm_hv *hv = &vm->hv;
	struct ms_hyperv_tsc_page *page = hv->tsc_page;

	/* no page to write while the guest has it disabled */
	if (!(hv->hv_tsc_page & HV_X64_MSR_TSC_REFERENCE_ENABLE))
		return;

	hv->tsc_ref.tsc_sequence = 0;
	WRITE_ONCE(page->tsc_sequence, 0);
	hv->tsc_ref.tsc_scale = img->tsc_scale;
	hv->tsc_ref.tsc_offset = img->tsc_offset;
	smp_wmb();
	pv_memcpy(page, &hv->tsc_ref, HV_TSC_PAGE_HDR);
	smp_wmb();
	hv->tsc_ref.tsc_sequence = img->tsc_sequence;
	hv_publish(vm, &hv->tsc_ref);
	WRITE_ONCE(page->tsc_sequence, img->tsc_sequence);
	hv->hv_tsc_page_status = img->tsc_sequence ? HV_TSC_PAGE_SET : HV_TSC_PAGE_BROKEN;
}

/* An explicit kvmclock record for vCPU v (adversarial), then the page from it. */
void kvm_hv_write_record(struct kvm_hv_vm *vm, int v, const struct pvclock_vcpu_time_info *rec)
{
	hv_request_tsc_page_update(vm);
	kvm_write_record(&vm->clock, v, rec);
	hv_setup_tsc_page(vm, &vm->clock.vcpu[v].hv_clock);
}

void hv_writer_ops_resolve(struct hv_writer_ops *out, const struct hv_writer_ops *ops)
{
	*out = *ops;
	if (!out->setup_tsc_page)
		out->setup_tsc_page = kvm_hv_setup_tsc_page;
	if (!out->request_tsc_page_update)
		out->request_tsc_page_update = kvm_hv_request_tsc_page_update;
	if (!out->masterclock_update)
		out->masterclock_update = kvm_hv_update_masterclock;
	if (!out->guest_time_update)
		out->guest_time_update = kvm_hv_guest_time_update;
	if (!out->set_clock)
		out->set_clock = kvm_hv_set_clock;
	if (!out->write_page)
		out->write_page = kvm_hv_write_page;
	if (!out->write_record)
		out->write_record = kvm_hv_write_record;
}

/* get_time_ref_counter(): the MSR agrees with the page while it is SET. */
u64 kvm_hv_get_time_ref_counter(struct kvm_hv_vm *vm)
{
	struct kvm_clock_host *h = &vm->clock;
	struct kvm_hv *hv = &vm->hv;
	u64 tsc;

	/*
	 * Fall back to get_kvmclock_ns() when TSC page hasn't been set up,
	 * is broken, disabled or being updated.
	 */
	if (hv->hv_tsc_page_status != HV_TSC_PAGE_SET)
		return kvm_get_kvmclock_ns(h) / 100;

	/* kvm_read_l1_tsc(vcpu0, rdtsc()) */
	tsc = h->host_tsc(h) + (u64)h->vcpu[0].tsc_offset;
	return mul_u64_u64_shr(tsc, hv->tsc_ref.tsc_scale, 64) + (u64)hv->tsc_ref.tsc_offset;
}

u64 kvm_hv_get_msr(struct kvm_hv_vm *vm, int v, u32 msr)
{
	switch (msr) {
	case HV_X64_MSR_TIME_REF_COUNT:
		return kvm_hv_get_time_ref_counter(vm);
	case HV_X64_MSR_REFERENCE_TSC:
		return vm->hv.hv_tsc_page;
	case HV_X64_MSR_TSC_EMULATION_CONTROL:
		return vm->hv.hv_tsc_emulation_control;
	case HV_X64_MSR_TSC_EMULATION_STATUS:
		return vm->hv.hv_tsc_emulation_status;
	default:
		return 0;
	}
}

void kvm_hv_set_msr(struct kvm_hv_vm *vm, int v, u32 msr, u64 data)
{
	struct kvm_hv *hv = &vm->hv;

	switch (msr) {
	case HV_X64_MSR_REFERENCE_TSC:
		hv->hv_tsc_page = data;
		if (hv->hv_tsc_page & HV_X64_MSR_TSC_REFERENCE_ENABLE)
			hv->hv_tsc_page_status = HV_TSC_PAGE_GUEST_CHANGED;
		else
			hv->hv_tsc_page_status = HV_TSC_PAGE_UNSET;
		/* KVM_REQ_MASTERCLOCK_UPDATE: the caller's writer runs it */
		break;
	case HV_X64_MSR_TSC_EMULATION_CONTROL:
		hv->hv_tsc_emulation_control = data;
		break;
	case HV_X64_MSR_TSC_EMULATION_STATUS:
		/* d2547cf59793: the guest may only clear it */
		if (!data)
			hv->hv_tsc_emulation_status = data;
		break;
	default:
		break;
	}
}
