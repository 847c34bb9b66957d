// SPDX-License-Identifier: MIT
/*
 * KVM's pvclock writer, modelled on arch/x86/kvm/x86.c (v6.17):
 * kvm_setup_guest_pvclock(), kvm_guest_time_update(), the masterclock
 * (pvclock_update_vm_gtod_copy / kvm_update_masterclock), the cpufreq
 * notifier and KVM_HC_CLOCK_PAIRING; the VMM's clock ioctls (KVM_SET_CLOCK,
 * KVM_GET_CLOCK, KVM_KVMCLOCK_CTRL), host-initiated TSC writes through
 * kvm_synchronize_tsc(), and the guest's MSR_KVM_SYSTEM_TIME_NEW writes.
 * Built into both worlds.
 */
#include "pvfuzz/pvclock.h"

void kvm_setup_guest_pvclock(struct kvm_clock_host *h, int v, struct pvclock_vcpu_time_info *ref)
{
	struct pvclock_vcpu_time_info *guest = kvm_pvclock_record(h, v);
	struct pvclock_vcpu_time_info hv = *ref;

	/* kvm_gpc_check() failing for good: kvmclock is not enabled here */
	if (!guest)
		return;

	/*
	 * This VCPU is paused, but it's legal for a guest to read another
	 * VCPU's kvmclock, so the version must be odd while the data changes
	 * and even once it is consistent.
	 */
	hv.version = (READ_ONCE(guest->version) + 1) | 1;
	WRITE_ONCE(guest->version, hv.version);
	smp_wmb();

	/* a GUEST_STOPPED the guest has not consumed yet survives the rewrite */
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

/* Ground truth: the generation this write section ends with (the harness's). */
static void __kvm_end_pvclock_update(struct kvm_clock_host *h)
{
	/* READ_ONCE: the section's own stores may still sit in this CPU's store buffer */
	if (h->publish_master) {
		bool use_master_clock = READ_ONCE(h->use_master_clock);
		u64 ns = READ_ONCE(h->master_kernel_ns);
		u64 tsc = READ_ONCE(h->master_cycle_now);
		h->publish_master(h, use_master_clock, ns, tsc);
	}
	write_seqcount_end(&h->pvclock_sc);
	/* raw_spin_unlock_irq(&ka->tsc_write_lock) */
}

static void kvm_set_master_copy(struct kvm_clock_host *h, bool use_master_clock, u64 master_kernel_ns,
				u64 master_cycle_now)
{
	WRITE_ONCE(h->use_master_clock, use_master_clock);
	if (use_master_clock) {
		WRITE_ONCE(h->master_kernel_ns, master_kernel_ns);
		WRITE_ONCE(h->master_cycle_now, master_cycle_now);
	}
}

void kvm_write_master_copy(struct kvm_clock_host *h, bool use_master_clock, u64 master_kernel_ns,
			   u64 master_cycle_now)
{
	__kvm_start_pvclock_update(h);
	kvm_set_master_copy(h, use_master_clock, master_kernel_ns, master_cycle_now);
	__kvm_end_pvclock_update(h);
}

void __pvclock_update_vm_gtod_copy(struct kvm_clock_host *h)
{
	bool vcpus_matched = h->tsc_matched;
	bool host_tsc_clocksource, use_master_clock;
	s64 ns = 0;
	u64 tsc = 0;

	/* If the host uses TSC clock, then passthrough TSC as stable to the guest. */
	host_tsc_clocksource = pv_get_time_and_clockread(h, &ns, &tsc);

	/* backwards_tsc_observed: the model's host_tsc_unstable */
	use_master_clock = host_tsc_clocksource && vcpus_matched && !h->host_tsc_unstable;
	kvm_set_master_copy(h, use_master_clock, (u64)ns, tsc);
}

void pvclock_update_vm_gtod_copy(struct kvm_clock_host *h)
{
	__kvm_start_pvclock_update(h);
	__pvclock_update_vm_gtod_copy(h);
	__kvm_end_pvclock_update(h);
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
		/*
		 * rdtsc() and get_kvmclock_base_ns() with IRQs off on the host:
		 * tens of ns apart in the kernel; the world takes both at one
		 * instant, so the model's 100 ns per access does not turn that
		 * gap into microseconds of anchor error.
		 */
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
	struct kvm_vcpu_clock *vc = &h->vcpu[v];
	struct pvclock_vcpu_time_info hv;

	if (!pv_guest_time_compute(h, v, &hv))
		return;

	if (kvm_pvclock_record(h, v)) {
		/*
		 * GUEST_STOPPED is only supported by kvmclock, and KVM's historic
		 * behavior is to only process the request if kvmclock is enabled.
		 */
		if (vc->pvclock_set_guest_stopped_request) {
			hv.flags |= PVCLOCK_GUEST_STOPPED;
			vc->pvclock_set_guest_stopped_request = false;
		}
		pv_setup_guest_pvclock(h, v, &hv);
	} else {
		/* the reference copy still moves on (the Hyper-V page derives from it) */
		vc->hv_clock = hv;
	}
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
	/* the thread is done with the request before its vCPU runs (and exits) again */
	vcpu_thread_put(h, v);
	h->vcpu_in_host(h, v, false);
}

/* vcpu_enter_guest(): what the vCPU's requests ask for, before it runs again */
static void kvm_vcpu_process_requests(struct kvm_clock_host *h, const struct pvclock_writer_ops *ops, int v)
{
	struct kvm_vcpu_clock *vc = &h->vcpu[v];

	/* tsc_always_catchup: every exit requests KVM_REQ_CLOCK_UPDATE */
	if (h->tsc_always_catchup)
		vc->clock_update_request = true;
	if (vc->clock_update_request) {
		vc->clock_update_request = false;
		ops->guest_time_update(h, v);
	}
}

void kvm_vcpu_write_record(struct kvm_clock_host *h, const struct pvclock_writer_ops *ops, int v,
			   const struct pvclock_vcpu_time_info *rec)
{
	vcpu_thread_get(h, v);
	h->vcpu_in_host(h, v, true);
	ops->write_record(h, v, rec);
	vcpu_thread_put(h, v);
	h->vcpu_in_host(h, v, false);
}

u64 kvm_vcpu_handle_exit(struct kvm_clock_host *h, const struct pvclock_writer_ops *ops, int v,
			 enum pv_exit_reason reason, u64 a0, u64 a1)
{
	u64 ret = (u64)-KVM_EOPNOTSUPP;

	vcpu_thread_get(h, v);
	/* NULL: the mainline handlers, as documented */
	if (reason == PV_EXIT_HYPERCALL)
		ret = (ops->hypercall ? ops->hypercall : kvm_pv_clock_pairing)(h, v, a0, a1);
	else if (reason == PV_EXIT_WRMSR)
		ret = (u64)(ops->wrmsr ? ops->wrmsr : kvm_set_msr_common)(h, v, (u32)a0, a1);
	kvm_vcpu_process_requests(h, ops, v);
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
 * kvm_end_pvclock_update() after a master copy change: every vCPU thread
 * processes its KVM_REQ_CLOCK_UPDATE before it lets its vCPU run again.
 */
static void kvm_end_pvclock_update_with(struct kvm_clock_host *h,
					void (*update)(struct kvm_clock_host *h, int v))
{
	for (int k = 0; k < h->nr_vcpus; k++) {
		int v = h->vcpu_order(h, k);
		vcpu_thread_get(h, v);
		update(h, v);
		vcpu_thread_put(h, v);
		h->vcpu_in_host(h, v, false);
	}
	kvm_end_pvclock_update(h);
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
	kvm_end_pvclock_update_with(h, update);
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
	struct timespec64 ts;
	u32 khz = 0;

	data->flags = 0;
	data->host_tsc = 0;
	data->realtime = 0;
	/* static_cpu_has(X86_FEATURE_CONSTANT_TSC) || __this_cpu_read(cpu_tsc_khz) */
	if (READ_ONCE(h->use_master_clock) && (khz = READ_ONCE(h->tsc_khz)) != 0) {
		if (kvm_get_walltime_and_clockread(h, &ts, &data->host_tsc)) {
			data->realtime = (u64)ts.tv_nsec + NSEC_PER_SEC * (u64)ts.tv_sec;
			data->flags |= KVM_CLOCK_REALTIME | KVM_CLOCK_HOST_TSC;
		} else {
			data->host_tsc = h->host_tsc(h);
		}
		data->flags |= KVM_CLOCK_TSC_STABLE;
		hv_clock.tsc_timestamp = READ_ONCE(h->master_cycle_now);
		hv_clock.system_time = READ_ONCE(h->master_kernel_ns);
		hv_clock.system_time += (u64)READ_ONCE(h->kvmclock_offset);
		kvm_get_time_scale(NSEC_PER_SEC, khz * 1000ULL, &hv_clock.tsc_shift,
				   &hv_clock.tsc_to_system_mul);
		data->clock = __pvclock_read_cycles_snap(hv_clock.tsc_timestamp, hv_clock.system_time,
							 hv_clock.tsc_to_system_mul, hv_clock.tsc_shift,
							 data->host_tsc);
	} else {
		data->clock = get_kvmclock_base_ns(h);
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

/* ---------------------------------------------------- VMM ioctls ------ */

#define KVM_CLOCK_VALID_FLAGS (KVM_CLOCK_TSC_STABLE | KVM_CLOCK_REALTIME | KVM_CLOCK_HOST_TSC)

int kvm_vm_ioctl_set_clock(struct kvm_clock_host *h, const struct kvm_clock_data *in)
{
	struct kvm_clock_data data = *in;
	u64 now_raw_ns;

	/* Only KVM_CLOCK_REALTIME is used, but KVM_GET_CLOCK's result may come back. */
	if (data.flags & ~KVM_CLOCK_VALID_FLAGS)
		return -22;

	kvm_start_pvclock_update(h);
	__kvm_start_pvclock_update(h);
	__pvclock_update_vm_gtod_copy(h);

	/*
	 * With the masterclock, system_time is master_kernel_ns + offset, so
	 * the offset is taken against master_kernel_ns, not the slightly later
	 * get_kvmclock_ns(): a small data.clock must not make system_time
	 * negative.
	 */
	if ((data.flags & KVM_CLOCK_REALTIME) && h->host_tk) {
		u64 now_real_ns = (u64)ktime_get_real(h->host_tk);

		/* Avoid stepping the kvmclock backwards. */
		if (now_real_ns > data.realtime)
			data.clock += now_real_ns - data.realtime;
	}

	if (READ_ONCE(h->use_master_clock))
		now_raw_ns = READ_ONCE(h->master_kernel_ns);
	else
		now_raw_ns = get_kvmclock_base_ns(h);
	/* a plain store, as KVM's: every reader of it runs after this section */
	h->kvmclock_offset = (s64)(data.clock - now_raw_ns);
	__kvm_end_pvclock_update(h);
	kvm_end_pvclock_update_with(h, pv_guest_time_update);
	return 0;
}

/*
 * get_kernel_ns() of v2.6.37-v3.x (ktime_get_ts() + monotonic_to_bootbased()):
 * CLOCK_BOOTTIME, the clock the KVM of that era anchored kvmclock to.
 */
static u64 get_kernel_ns(struct kvm_clock_host *h)
{
	if (!h->host_tk)
		return h->host_ns(h); /* the world's own host clock */
	return (u64)ktime_get_boottime(h->host_tk);
}

/*
 * KVM_SET_CLOCK as kvm_arch_vm_ioctl() had it from v2.6.32 (the ioctl's
 * first version) until the masterclock: any flag is -EINVAL, and the offset
 * is taken against get_kernel_ns().  The vCPUs take it up at their next
 * clock update, which the KVM of the time did when a vCPU was loaded
 * (VMMs set the clock with the VM stopped); the model requests it on every
 * vCPU before they run again, as mainline's ioctl does, so the
 * postcondition (CO14) holds for the same reason.
 */
int kvm_vm_ioctl_set_clock_noflags(struct kvm_clock_host *h, const struct kvm_clock_data *data)
{
	if (data->flags)
		return -22;
	kvm_start_pvclock_update(h);
	h->kvmclock_offset = (s64)(data->clock - get_kernel_ns(h));
	kvm_end_pvclock_update_with(h, pv_guest_time_update);
	return 0;
}

/* KVM_GET_CLOCK of the same era: flags 0, the clock against get_kernel_ns() */
void get_kvmclock_noflags(struct kvm_clock_host *h, struct kvm_clock_data *data)
{
	data->flags = 0;
	data->realtime = 0;
	data->host_tsc = 0;
	data->clock = get_kernel_ns(h) + (u64)READ_ONCE(h->kvmclock_offset);
}

/* No KVM_KVMCLOCK_CTRL (before v3.5): an unknown vCPU ioctl, -EINVAL, nothing published */
static int kvm_set_guest_paused_absent(struct kvm_clock_host *h, int v)
{
	return -22;
}

int kvm_set_guest_paused(struct kvm_clock_host *h, int v)
{
	int ret = -22;

	/*
	 * A vCPU ioctl: it runs on the vCPU's thread (vcpu->mutex), so the
	 * request cannot land in the middle of that thread's own clock update.
	 */
	vcpu_thread_get(h, v);
	h->vcpu_in_host(h, v, true);
	if (kvm_pvclock_record(h, v)) {
		h->vcpu[v].pvclock_set_guest_stopped_request = true;
		/* KVM_REQ_CLOCK_UPDATE: published before the vCPU runs again */
		pv_guest_time_update(h, v);
		ret = 0;
	}
	vcpu_thread_put(h, v);
	h->vcpu_in_host(h, v, false);
	return ret;
}

/* kvm_get_time_scale() of the ns -> cycles direction: nsec_to_cycles() */
static u64 nsec_to_cycles(struct kvm_clock_host *h, u64 nsec)
{
	s8 shift;
	u32 mult;

	kvm_get_time_scale((u64)h->tsc_khz * 1000, NSEC_PER_SEC, &shift, &mult);
	return pvclock_scale_delta(nsec, mult, shift);
}

u64 kvm_vcpu_read_tsc(struct kvm_clock_host *h, int v)
{
	return h->host_tsc(h) + (u64)h->vcpu[v].tsc_offset;
}

static void kvm_vcpu_write_tsc_offset(struct kvm_clock_host *h, int v, s64 offset)
{
	if (h->set_guest_tsc_offset && offset != h->vcpu[v].tsc_offset)
		h->set_guest_tsc_offset(h, v, offset);
	h->vcpu[v].tsc_offset = offset;
}

/*
 * kvm_track_tsc_matching(): the masterclock needs a TSC-based host
 * clocksource and every vCPU in one TSC generation; a masterclock update is
 * requested when that toggles, or when a new generation starts while the
 * masterclock is on (the snapshot must be taken after the new generation).
 */
static bool kvm_track_tsc_matching(struct kvm_clock_host *h, bool new_generation)
{
	bool host_tsc = !h->gtod || gtod_is_based_on_tsc(READ_ONCE(h->gtod->clock.vclock_mode));
	bool use_master_clock = h->nr_vcpus_matched_tsc + 1 == h->nr_vcpus && host_tsc;

	h->tsc_matched = h->nr_vcpus_matched_tsc + 1 == h->nr_vcpus;
	bool in_use = READ_ONCE(h->use_master_clock);

	return (in_use && new_generation) || in_use != use_master_clock;
}

static bool __kvm_synchronize_tsc(struct kvm_clock_host *h, int v, s64 offset, u64 tsc, u64 ns,
				  bool matched, bool user_set_tsc)
{
	struct kvm_vcpu_clock *vc = &h->vcpu[v];

	if (user_set_tsc)
		h->user_set_tsc = true;

	/* the most recent write, so the matching interval extends with each */
	h->last_tsc_nsec = ns;
	h->last_tsc_write = tsc;
	h->last_tsc_khz = h->tsc_khz;
	h->last_tsc_offset = (u64)offset;
	vc->last_guest_tsc = tsc;

	kvm_vcpu_write_tsc_offset(h, v, offset);

	if (!matched) {
		/* a new generation: its own ns, write and offset */
		h->cur_tsc_generation++;
		h->cur_tsc_nsec = ns;
		h->cur_tsc_write = tsc;
		h->cur_tsc_offset = (u64)offset;
		h->nr_vcpus_matched_tsc = 0;
	} else if (vc->this_tsc_generation != h->cur_tsc_generation) {
		h->nr_vcpus_matched_tsc++;
	}

	vc->this_tsc_generation = h->cur_tsc_generation;
	vc->this_tsc_nsec = h->cur_tsc_nsec;
	vc->this_tsc_write = h->cur_tsc_write;

	return kvm_track_tsc_matching(h, !matched);
}

bool kvm_synchronize_tsc(struct kvm_clock_host *h, int v, const u64 *user_value)
{
	u64 data = user_value ? *user_value : 0;
	s64 offset;
	u64 ns, elapsed;
	bool matched = false, synchronizing = false;

	/* raw_spin_lock_irqsave(&kvm->arch.tsc_write_lock): the host side is one fiber */
	offset = (s64)(data - h->host_tsc(h)); /* kvm_compute_l1_tsc_offset() */
	ns = get_kvmclock_base_ns(h);
	elapsed = ns - h->last_tsc_nsec;

	if (h->tsc_khz) {
		if (data == 0) {
			/* vCPU creation, or userspace writing 0: always synchronise */
			synchronizing = true;
		} else if (h->user_set_tsc) {
			u64 tsc_exp = h->last_tsc_write + nsec_to_cycles(h, elapsed);
			u64 tsc_hz = (u64)h->tsc_khz * 1000;

			/*
			 * UAPI baggage: a user write within one second of virtual
			 * cycles of the previous one was meant to be in sync (the
			 * legacy API is racy), once userspace has set a TSC.
			 */
			synchronizing = data < tsc_exp + tsc_hz && data + tsc_hz > tsc_exp;
		}
	}

	/*
	 * A reliable TSC matches offsets; an unstable one adds the elapsed time
	 * instead.
	 */
	if (synchronizing && h->tsc_khz == h->last_tsc_khz) {
		if (!h->host_tsc_unstable) {
			offset = (s64)h->cur_tsc_offset;
		} else {
			data += nsec_to_cycles(h, elapsed);
			offset = (s64)(data - h->host_tsc(h));
		}
		matched = true;
	}

	return __kvm_synchronize_tsc(h, v, offset, data, ns, matched, user_value != NULL);
}

bool kvm_vcpu_set_tsc_offset(struct kvm_clock_host *h, int v, s64 offset)
{
	bool matched = h->tsc_khz && h->last_tsc_khz == h->tsc_khz && h->last_tsc_offset == (u64)offset;
	u64 tsc = h->host_tsc(h) + (u64)offset;
	u64 ns = get_kvmclock_base_ns(h);

	h->user_set_tsc = true;
	return __kvm_synchronize_tsc(h, v, offset, tsc, ns, matched, true);
}

/* ------------------------------------------------ guest MSR writes ----- */

/*
 * kvm_gpc_activate() + its first refresh: the record must lie in guest
 * memory and must not cross a page (the cache maps one page).
 */
static struct pvclock_vcpu_time_info *kvm_gpc_activate(struct kvm_clock_host *h, u64 gpa, u64 len)
{
	if (!h->guest_mem || gpa >= h->guest_mem_size || len > h->guest_mem_size - gpa)
		return NULL;
	/* If the region would cross a page, fail */
	if (gpa % PVCLOCK_GUEST_PAGE_SIZE + len > PVCLOCK_GUEST_PAGE_SIZE)
		return NULL;
	return (struct pvclock_vcpu_time_info *)pvclock_guest_mem_at(h->guest_mem, gpa);
}

static void kvm_write_system_time(struct kvm_clock_host *h, int v, u64 system_time)
{
	struct kvm_vcpu_clock *vc = &h->vcpu[v];

	vc->time = system_time;
	/*
	 * KVM_REQ_GLOBAL_CLOCK_UPDATE: this vCPU's record now, the others'
	 * from kvmclock_update_work 100 ms later (beyond the model's runs).
	 */
	vc->clock_update_request = true;

	/* we verify if the enable bit is set... */
	if (system_time & 1)
		vc->pv_time = kvm_gpc_activate(h, system_time & ~1ULL, sizeof(struct pvclock_vcpu_time_info));
	else
		vc->pv_time = NULL; /* kvm_gpc_deactivate() */
}

int kvm_set_msr_common(struct kvm_clock_host *h, int v, u32 msr, u64 data)
{
	switch (msr) {
	case MSR_KVM_SYSTEM_TIME_NEW:
	case MSR_KVM_SYSTEM_TIME:
		kvm_write_system_time(h, v, data);
		return 0;
	case MSR_KVM_WALL_CLOCK_NEW:
	case MSR_KVM_WALL_CLOCK:
		return 0; /* kvm_write_wall_clock(): not modelled (nobody reads it) */
	default:
		return 1;
	}
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
	/* the host interface of the KVM the writer declares (kvm_lacks) */
	if (!out->set_clock)
		out->set_clock = ops->kvm_lacks & KVM_LACKS_CLOCK_FLAGS ? kvm_vm_ioctl_set_clock_noflags
									: kvm_vm_ioctl_set_clock;
	if (!out->get_clock)
		out->get_clock = ops->kvm_lacks & KVM_LACKS_CLOCK_FLAGS ? get_kvmclock_noflags : get_kvmclock;
	if (!out->set_guest_paused)
		out->set_guest_paused = ops->kvm_lacks & KVM_LACKS_KVMCLOCK_CTRL ? kvm_set_guest_paused_absent
										 : kvm_set_guest_paused;
	if (!out->wrmsr)
		out->wrmsr = kvm_set_msr_common;
	if (!out->synchronize_tsc)
		out->synchronize_tsc = kvm_synchronize_tsc;
}
