// SPDX-License-Identifier: MIT
/*
 * KVM's pvclock writer, modelled on arch/x86/kvm/x86.c (v6.17):
 * kvm_setup_guest_pvclock(), kvm_guest_time_update(), the masterclock
 * (pvclock_update_vm_gtod_copy / kvm_update_masterclock), the cpufreq
 * notifier and KVM_HC_CLOCK_PAIRING.  Built into both worlds.
 */
#include "pvfuzz/pvclock.h"

void kvm_setup_guest_pvclock(struct kvm_clock_host *h, int v, struct pvclock_vcpu_time_info *ref)
{
	struct pvclock_vcpu_time_info *guest = &h->guest[v].pvti;
	struct pvclock_vcpu_time_info hv = *ref;

	/*
	 * This VCPU is paused, but it's legal for a guest to read another
	 * VCPU's kvmclock, so the version must be odd while the data changes
	 * and even once it is consistent.
	 */
	hv.version = (READ_ONCE(guest->version) + 1) | 1;
	WRITE_ONCE(guest->version, hv.version);
	smp_wmb();

	/* retain PVCLOCK_GUEST_STOPPED if set in guest copy */
	hv.flags |= READ_ONCE(guest->flags) & PVCLOCK_GUEST_STOPPED;
	h->publish(h, v, &hv);
	pv_memcpy(guest, &hv, sizeof(*guest));
	smp_wmb();

	hv.version++;
	WRITE_ONCE(guest->version, hv.version);
	h->vcpu[v].hv_clock = hv;
}

/*
 * The master copy: one (ns, tsc) pair read at one instant, shared by every
 * vCPU, so no two vCPUs can see distinct anchors (the M < N comment).
 */
static void __kvm_start_pvclock_update(struct kvm_clock_host *h)
{
	/*
	 * raw_spin_lock_irq(&ka->tsc_write_lock) serialises writers; the model
	 * has one host writer fiber, so only the seqcount is modelled.
	 */
	write_seqcount_begin(&h->pvclock_sc);
}

static void __kvm_end_pvclock_update(struct kvm_clock_host *h)
{
	write_seqcount_end(&h->pvclock_sc);
	/* raw_spin_unlock_irq(&ka->tsc_write_lock) */
}

void kvm_write_master_copy(struct kvm_clock_host *h, bool use_master_clock, u64 master_kernel_ns,
			   u64 master_cycle_now)
{
	__kvm_start_pvclock_update(h);
	WRITE_ONCE(h->use_master_clock, use_master_clock);
	if (use_master_clock) {
		WRITE_ONCE(h->master_kernel_ns, master_kernel_ns);
		WRITE_ONCE(h->master_cycle_now, master_cycle_now);
	}
	if (h->publish_master)
		h->publish_master(h, use_master_clock, master_kernel_ns, master_cycle_now);
	__kvm_end_pvclock_update(h);
}

void pvclock_update_vm_gtod_copy(struct kvm_clock_host *h)
{
	bool vcpus_matched = h->tsc_matched;
	bool host_tsc_clocksource, use_master_clock;
	s64 ns = 0;
	u64 tsc = 0;

	/* If the host uses TSC clock, then passthrough TSC as stable to the guest. */
	host_tsc_clocksource = pv_get_time_and_clockread(h, &ns, &tsc);

	use_master_clock = host_tsc_clocksource && vcpus_matched && !h->host_tsc_unstable;
	kvm_write_master_copy(h, use_master_clock, (u64)ns, tsc);
}

bool kvm_guest_time_compute(struct kvm_clock_host *h, int v, struct pvclock_vcpu_time_info *hv)
{
	struct kvm_vcpu_clock *vc = &h->vcpu[v];
	u64 host_tsc = 0, kernel_ns = 0;
	bool use_master_clock;
	u32 tgt_tsc_khz;
	unsigned seq;

	do {
		seq = read_seqcount_begin(&h->pvclock_sc);
		use_master_clock = READ_ONCE(h->use_master_clock);
		if (use_master_clock) {
			host_tsc = READ_ONCE(h->master_cycle_now);
			kernel_ns = READ_ONCE(h->master_kernel_ns);
		}
	} while (read_seqcount_retry(&h->pvclock_sc, seq));

	if (!use_master_clock) {
		/* with IRQs off on the host: one instant */
		h->host_ns_and_tsc(h, &kernel_ns, &host_tsc);
	}
	tgt_tsc_khz = h->tsc_khz;
	if (unlikely(tgt_tsc_khz == 0))
		return false; /* KVM re-requests KVM_REQ_CLOCK_UPDATE */

	if (unlikely(vc->hw_tsc_khz != tgt_tsc_khz)) {
		kvm_get_time_scale(NSEC_PER_SEC, tgt_tsc_khz * 1000ULL, &vc->pvclock_tsc_shift,
				   &vc->pvclock_tsc_mul);
		vc->hw_tsc_khz = tgt_tsc_khz;
	}

	*hv = vc->hv_clock;
	hv->tsc_timestamp = host_tsc + (u64)vc->tsc_offset; /* kvm_read_l1_tsc() */
	hv->system_time = kernel_ns + (u64)READ_ONCE(h->kvmclock_offset);
	hv->tsc_to_system_mul = vc->pvclock_tsc_mul;
	hv->tsc_shift = vc->pvclock_tsc_shift;
	hv->flags = use_master_clock ? PVCLOCK_TSC_STABLE_BIT : 0;
	return true;
}

void kvm_guest_time_update(struct kvm_clock_host *h, int v)
{
	struct pvclock_vcpu_time_info hv;

	if (pv_guest_time_compute(h, v, &hv))
		pv_setup_guest_pvclock(h, v, &hv);
}

/*
 * Only vCPU v's own thread writes vCPU v's record: a masterclock update
 * requests KVM_REQ_CLOCK_UPDATE and the vCPU thread does it when it is done
 * with whatever exit it is handling.  The model plays all vCPU threads from
 * a few fibers/threads, so it serialises them here.
 */
static void vcpu_thread_get(struct kvm_clock_host *h, int v)
{
	while (xchg(&h->vcpu[v].thread_busy, 1))
		cpu_relax();
}

static void vcpu_thread_put(struct kvm_clock_host *h, int v)
{
	smp_mb();
	WRITE_ONCE(h->vcpu[v].thread_busy, 0);
}

void kvm_vcpu_run_request(struct kvm_clock_host *h, int v, void (*fn)(struct kvm_clock_host *h, int v))
{
	vcpu_thread_get(h, v);
	h->vcpu_in_host(h, v, true);
	fn(h, v);
	h->vcpu_in_host(h, v, false);
	vcpu_thread_put(h, v);
}

void kvm_vcpu_write_record(struct kvm_clock_host *h, const struct pvclock_writer_ops *ops, int v,
			   const struct pvclock_vcpu_time_info *rec)
{
	vcpu_thread_get(h, v);
	h->vcpu_in_host(h, v, true);
	ops->write_record(h, v, rec);
	h->vcpu_in_host(h, v, false);
	vcpu_thread_put(h, v);
}

u64 kvm_vcpu_handle_exit(struct kvm_clock_host *h, const struct pvclock_writer_ops *ops, int v,
			 enum pv_exit_reason reason, u64 a0, u64 a1)
{
	u64 ret = (u64)-KVM_EOPNOTSUPP;

	vcpu_thread_get(h, v);
	if (reason == PV_EXIT_HYPERCALL) /* NULL: the mainline handler, as documented */
		ret = (ops->hypercall ? ops->hypercall : kvm_pv_clock_pairing)(h, v, a0, a1);
	/* tsc_always_catchup: every exit requests KVM_REQ_CLOCK_UPDATE */
	if (h->tsc_always_catchup)
		ops->guest_time_update(h, v);
	vcpu_thread_put(h, v);
	return ret;
}

void kvm_start_pvclock_update(struct kvm_clock_host *h)
{
	/* kvm_make_mclock_inprogress_request(): every vCPU out, no guest entries */
	h->vcpu_in_host(h, -1, true);
}

void kvm_end_pvclock_update(struct kvm_clock_host *h)
{
	h->vcpu_in_host(h, -1, false);
}

/*
 * KVM requests KVM_REQ_CLOCK_UPDATE on every vCPU *before* clearing
 * MCLOCK_INPROGRESS, so each vCPU rewrites its own record before its next
 * guest instruction - but the vCPU threads do so in parallel, and a vCPU
 * that is done runs guest code (and may read a record still being
 * rewritten) while the others are still at it.
 */
void kvm_update_masterclock_with(struct kvm_clock_host *h,
				 void (*update)(struct kvm_clock_host *h, int v))
{
	kvm_start_pvclock_update(h);
	pvclock_update_vm_gtod_copy(h);
	for (int k = 0; k < h->nr_vcpus; k++) {
		int v = h->vcpu_order(h, k);
		vcpu_thread_get(h, v);
		update(h, v);
		h->vcpu_in_host(h, v, false);
		vcpu_thread_put(h, v);
	}
	kvm_end_pvclock_update(h);
}

void kvm_update_masterclock(struct kvm_clock_host *h)
{
	kvm_update_masterclock_with(h, pv_guest_time_update);
}

/* Publish an explicit record (an adversarial page image) the KVM way. */
void kvm_write_record(struct kvm_clock_host *h, int v, const struct pvclock_vcpu_time_info *ref)
{
	struct pvclock_vcpu_time_info hv = *ref;
	pv_setup_guest_pvclock(h, v, &hv);
}

/*
 * KVM_HC_CLOCK_PAIRING (kvm_pv_clock_pairing).  Since 3a55f729240a it
 * refuses with -KVM_EOPNOTSUPP when every exit re-publishes the record
 * (tsc_always_catchup), because ptp_kvm calls it inside its retry loop.
 * The model returns the guest TSC of the pairing instead of writing a
 * struct kvm_clock_pairing to guest memory.
 */
u64 kvm_pv_clock_pairing(struct kvm_clock_host *h, int v, u64 nr, u64 arg)
{
	if (nr != KVM_HC_CLOCK_PAIRING || !READ_ONCE(h->use_master_clock))
		return (u64)-KVM_EOPNOTSUPP;
	if (h->tsc_always_catchup)
		return (u64)-KVM_EOPNOTSUPP;
	return h->host_tsc(h) + (u64)h->vcpu[v].tsc_offset;
}

/*
 * KVM_GET_CLOCK, as get_kvmclock() / __get_kvmclock() in v6.17: the whole
 * answer - flag and value - is computed inside one pvclock_sc read section
 * (55c0cefbdbda).  With the masterclock the master copy is extrapolated to a
 * fresh host TSC with pvclock arithmetic; without it the value is
 * get_kvmclock_base_ns() + kvmclock_offset.  KVM_CLOCK_REALTIME is not
 * modelled (the simulator has no wall clock).
 */
static void __get_kvmclock(struct kvm_clock_host *h, struct kvm_clock_data *data)
{
	struct pvclock_vcpu_time_info hv_clock = { 0 };
	u32 khz = 0;

	data->flags = 0;
	data->host_tsc = 0;
	/* static_cpu_has(X86_FEATURE_CONSTANT_TSC) || __this_cpu_read(cpu_tsc_khz) */
	if (READ_ONCE(h->use_master_clock) && (khz = READ_ONCE(h->tsc_khz)) != 0) {
		data->host_tsc = h->host_tsc(h);
		data->flags |= KVM_CLOCK_TSC_STABLE | KVM_CLOCK_HOST_TSC;
		hv_clock.tsc_timestamp = READ_ONCE(h->master_cycle_now);
		hv_clock.system_time = READ_ONCE(h->master_kernel_ns);
		hv_clock.system_time += (u64)READ_ONCE(h->kvmclock_offset);
		kvm_get_time_scale(NSEC_PER_SEC, khz * 1000ULL, &hv_clock.tsc_shift,
				   &hv_clock.tsc_to_system_mul);
		data->clock = __pvclock_read_cycles_snap(hv_clock.tsc_timestamp, hv_clock.system_time,
							 hv_clock.tsc_to_system_mul, hv_clock.tsc_shift,
							 data->host_tsc);
	} else {
		data->clock = h->host_ns(h);
		data->clock += (u64)READ_ONCE(h->kvmclock_offset);
	}
}

void get_kvmclock(struct kvm_clock_host *h, struct kvm_clock_data *data)
{
	unsigned seq;

	do {
		seq = read_seqcount_begin(&h->pvclock_sc);
		__get_kvmclock(h, data);
	} while (read_seqcount_retry(&h->pvclock_sc, seq));
}

u64 get_kvmclock_ns(struct kvm_clock_host *h)
{
	struct kvm_clock_data data;

	get_kvmclock(h, &data);
	return data.clock;
}

/*
 * kvmclock_cpufreq_notifier(): "We allow guests to temporarily run on
 * slowing clocks, provided we notify them after, or to run on accelerating
 * clocks, provided we notify them before.  Thus time never goes backwards."
 */
void kvmclock_cpufreq_notifier_with(struct kvm_clock_host *h, u32 new_khz,
				    void (*apply)(struct kvm_clock_host *h, u32 khz),
				    void (*update_all)(struct kvm_clock_host *h))
{
	bool up = new_khz > h->tsc_khz;

	if (up) { /* CPUFREQ_PRECHANGE */
		h->tsc_khz = new_khz;
		update_all(h);
		apply(h, new_khz);
	} else { /* CPUFREQ_POSTCHANGE */
		apply(h, new_khz);
		h->tsc_khz = new_khz;
		update_all(h);
	}
}

void kvmclock_cpufreq_notifier(struct kvm_clock_host *h, u32 new_khz,
			       void (*apply)(struct kvm_clock_host *h, u32 khz))
{
	kvmclock_cpufreq_notifier_with(h, new_khz, apply, kvm_update_masterclock);
}

void pvclock_writer_ops_resolve(struct pvclock_writer_ops *out, const struct pvclock_writer_ops *ops)
{
	*out = *ops;
	if (!out->guest_time_compute)
		out->guest_time_compute = kvm_guest_time_compute;
	if (!out->setup_guest_pvclock)
		out->setup_guest_pvclock = kvm_setup_guest_pvclock;
	if (!out->masterclock_update)
		out->masterclock_update = kvm_update_masterclock;
	if (!out->guest_time_update)
		out->guest_time_update = kvm_guest_time_update;
	if (!out->write_record)
		out->write_record = kvm_write_record;
	if (!out->get_time_and_clockread)
		out->get_time_and_clockread = kvm_get_time_and_clockread;
}
