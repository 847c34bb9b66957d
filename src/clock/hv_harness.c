// SPDX-License-Identifier: MIT
/*
 * The Hyper-V reference TSC page scenario in the simulator: a KVM host fiber
 * running a writer variant (the page on top of kvmclock's masterclock)
 * against guest tasks that read the page with a reader variant (falling back
 * to the TIME_REF_COUNT MSR), the MSR itself, or their vCPU's kvmclock, with
 * the schedule, page images and events from the fuzzer's input.
 *
 * Input head (front), each byte defaulting when the input runs out:
 *   mode      sim mode bits (sim.h)
 *   shape     vCPUs 1-4 | readers 1-3 | reads per reader 1-4 |
 *             reenlightenment opt-in by reader 0 before its read 1-3 (0: never)
 *   updates   writer updates 1-8 | the page's lifecycle is suspend/resume |
 *             adversarial images | reader 0 rewrites HV_X64_MSR_REFERENCE_TSC
 *             before its read 1-3 (0: never) | (unused: memory reuse)
 *   rate      TSC ticks per step (64..319)
 *   skew[4]   per-vCPU TSC offsets (SIM_MODE_SKEW only)
 *   kinds[r]  per reader, 2 bits per read: page, page, MSR, kvmclock
 *   then, lazily: per update an action byte, a delay byte and, in adversarial
 *   mode, a 24-byte page image or a 32-byte kvmclock record image (XORed
 *   onto vCPU v's current record).
 *
 * Oracles: torn snapshot (the accepted (seq, scale, offset) is one published
 * generation, CO3), the value is the page formula at a TSC the read took
 * (CO4), CO9 (seq 0 or a !STABLE clock must lead to the MSR), CO10 (never
 * 0xFFFFFFFF; a failed computation leaves seq 0), CO11 (no (scale, offset)
 * change while the guest opted into reenlightenment), CO13 ownership (no
 * host store into the page while the guest has it disabled, no guest store
 * into it while enabled), the derivation (every page KVM computes from a
 * kvmclock record - adversarial ones included - tells that record's time,
 * H4: reference), and CO1/CO2/CO8 over page, MSR and kvmclock reads
 * together, in 100 ns units.
 *
 * The page's lifecycle (the updates byte): by default reader 0 writes the
 * MSR again with its current value (a second clocksource init); with the
 * suspend bit it disables the page (hv_cs_suspend) and enables it again
 * (hv_cs_resume) before that read (memory reuse meanwhile: not yet, see
 * hv_scenario_run()).
 */
#include <stdio.h>
#include <string.h>

#include "clock/hv_harness.h"
#include "oracle/oracle.h"
#include "sim/sim.h"

#define MAX_GENS 48
#define MAX_READERS 3
#define KVMCLOCK_BOOT_NS 1000000000ULL /* kvmclock at boot: 1 s, so 0 is implausible */
/*
 * H4: the page is KVM's kvmclock record rounded three times (S/100,
 * tsc*scale >> 64, T*scale >> 64), kvmclock/100 once more: page, MSR and
 * kvmclock values of one instant differ by up to 3 units (300 ns).
 */
#define HV_ROUNDING_UNITS 3

struct hv_gen {
	u32 seq;
	u64 scale;
	s64 offset;
	u64 step;
};

struct hv_world {
	const struct hv_reader_ops *rops;
	const struct hv_writer_ops *wops; /* the writer, NULL members resolved */
	struct kvm_hv_vm vm;
	struct ms_hyperv_tsc_page *page;
	struct pvclock_guest guest;
	const struct pvclock_reader_ops *kvmclock;
	struct fdp *in;
	int nr_readers, nr_reads, nr_updates;
	int reenl_at;
	int msr_rewrite_at;
	bool suspend;          /* the MSR rewrite is a suspend (disable) and resume */
	bool reuse;            /* ... with the page's memory used for other data meanwhile */
	u64 ref_tsc_msr;       /* HV_X64_MSR_REFERENCE_TSC as the host last handled it (CO13) */
	u64 boot_ref_tsc_msr;  /* what the guest enabled at boot */
	const struct pvclock_vcpu_time_info *derived_from; /* the record a page update derives from */
	struct pvclock_vcpu_time_info last_rec;
	bool writing_image;    /* an adversarial page image, not a derivation */
	bool kvm_lock;            /* a page writer runs (kvm->lock, hv_lock) */
	bool wrmsr_pending;       /* a guest MSR write waits for the lock */
	int pending_cpu;
	u32 pending_msr;
	u64 pending_data;
	bool adversarial;
	int order_rot;
	int host_fiber;
	struct hv_gen gens[MAX_GENS];
	int ngens;
	u8 kinds[MAX_READERS];
	u8 rec_flags[PV_MAX_VCPUS];
	int reader_id[MAX_READERS];
};

static struct hv_world W;

/* ------------------------------------------------------ host world --- */

static u64 khz_of_rate(u32 rate)
{
	return (u64)rate * 1000000ULL / SIM_NS_PER_STEP;
}

/* Only the host fiber's reads of host time are scheduling points: an MSR exit is atomic. */
static void host_point(const char *why)
{
	if (sim_self() >= 0 && sim_self() == W.host_fiber)
		sim_yield(why);
}

static u64 w_host_ns(struct kvm_clock_host *h)
{
	host_point("host: get_kvmclock_base_ns");
	return sim_true_ns();
}

static u64 w_host_tsc(struct kvm_clock_host *h)
{
	host_point("host: rdtsc");
	return sim_cpu_tsc(SIM_HOST_CPU);
}

static void w_host_ns_and_tsc(struct kvm_clock_host *h, u64 *ns, u64 *tsc)
{
	host_point("host: kvm_get_time_and_clockread");
	*ns = sim_true_ns();
	*tsc = sim_cpu_tsc(SIM_HOST_CPU);
}

static void w_vcpu_in_host(struct kvm_clock_host *h, int v, bool in_host)
{
	sim_vcpu_in_host(v, in_host);
}

static int w_vcpu_order(struct kvm_clock_host *h, int k)
{
	return (k + W.order_rot) % h->nr_vcpus;
}

/* kvmclock records: remember each vCPU's STABLE bit (H7 ground truth). */
static void w_publish_record(struct kvm_clock_host *h, int v, const struct pvclock_vcpu_time_info *rec)
{
	W.rec_flags[v] = rec->flags;
	W.last_rec = *rec;
	if (sim_self() >= 0)
		sim_note("kvmclock-record", (u64)v);
}

static bool clock_all_unstable(void)
{
	for (int v = 0; v < W.vm.clock.nr_vcpus; v++)
		if (W.rec_flags[v] & PVCLOCK_TSC_STABLE_BIT)
			return false;
	return true;
}

/*
 * The derivation (compute_tsc_page_parameters()'s contract): a page KVM
 * derives from a valid kvmclock record (STABLE, |shift| <= 31, mul below
 * max_mul) tells that record's time: at the record's own timestamp and
 * 2^20 ticks later, page * 100 is the record's ns within the page's 100 ns
 * unit, the two truncations, and the record's own resolution for a
 * negative shift.  Judged on every record, adversarial ones included.
 *
 * derivation_error(): how far the page is from record r's time, beyond
 * that tolerance (0: within it, or r is no valid record to derive from);
 * *off and *at say where.
 */
static u64 derivation_error(const struct ms_hyperv_tsc_page *ref, const struct pvclock_vcpu_time_info *r,
			    s64 *off, u64 *at, u64 *got, u64 *want)
{
	u64 scale;
	s64 offset;

	if (!compute_tsc_page_parameters(r, &scale, &offset))
		return 0;
	u64 quantum = r->tsc_shift < 0 ? (((u64)1 << -r->tsc_shift) * r->tsc_to_system_mul >> 32) + 1 : 0;
	for (int k = 0; k < 2; k++) {
		u64 d = k ? 1ULL << 20 : 0;
		/* the record's own arithmetic wraps past 2^64 >> shift: judge within its range */
		if (r->tsc_shift > 0 && (d >> (64 - r->tsc_shift)))
			continue;
		u64 t = r->tsc_timestamp + d;
		/* the page's line is in absolute TSC, the record's in TSC - T: not past the TSC's wrap */
		if (t < r->tsc_timestamp)
			continue;
		u64 ns = ref_pvclock_ns(r->tsc_timestamp, r->system_time, r->tsc_to_system_mul, r->tsc_shift, t);
		u64 page = ref_hv_time(t, ref->tsc_scale, ref->tsc_offset);
		s64 diff = (s64)(page * 100 - ns);
		if (diff > 200 + (s64)quantum || diff < -(200 + (s64)quantum)) {
			*off = diff;
			*at = d;
			*got = page * 100;
			*want = ns;
			return diff < 0 ? (u64)-diff : (u64)diff;
		}
	}
	return 0;
}

/*
 * A page update derives from one vCPU's record (mainline: vCPU 0's, in
 * its own clock update; a patch may pass another vCPU's): the page must
 * tell the time of the record last published or of some vCPU's current
 * record.  Reported against the record last published.
 */
static void check_derivation(const struct ms_hyperv_tsc_page *ref, const char *who)
{
	const struct pvclock_vcpu_time_info *r = &W.last_rec;
	s64 off = 0;
	u64 at = 0, got = 0, want = 0;

	if (W.writing_image || !ref->tsc_sequence || !derivation_error(ref, r, &off, &at, &got, &want))
		return;
	for (int v = 0; v < W.vm.clock.nr_vcpus; v++) {
		s64 o;
		u64 a, g, w;
		if (!derivation_error(ref, &W.vm.clock.vcpu[v].hv_clock, &o, &a, &g, &w))
			return;
	}
	char what[288];
	snprintf(what, sizeof(what), "page (scale=%llu, offset=%lld) published by %s from kvmclock "
		 "record (T=%llu, S=%llu, mul=%u, shift=%d) is %lld ns off at TSC T+%llu (and tells no "
		 "vCPU's current record's time either)", (unsigned long long)ref->tsc_scale,
		 (long long)ref->tsc_offset, who, (unsigned long long)r->tsc_timestamp,
		 (unsigned long long)r->system_time, r->tsc_to_system_mul, r->tsc_shift, (long long)off,
		 (unsigned long long)at);
	oracle_reference(what, got, want);
}

static const char *publisher(void)
{
	return sim_self() >= 0 ? sim_fiber_name(sim_self()) : "set-up";
}

/* Ground truth: every page generation a writer means to publish; CO10, CO11. */
static void w_publish_page(struct kvm_hv_vm *vm, const struct ms_hyperv_tsc_page *ref)
{
	int n = W.ngens;
	char who[64];
	snprintf(who, sizeof(who), "%s", publisher());
	if (!W.adversarial && ref->tsc_sequence == 0xFFFFFFFF) {
		char what[224];
		snprintf(what, sizeof(what), "the writer (%s) publishes sequence 0xFFFFFFFF, which "
			 "TLFS-4.0b readers take for invalid and KVM never uses", who);
		oracle_writer_discipline(what);
	}
	check_derivation(ref, who);
	/* a rewrite the guest asked for (REFERENCE_TSC MSR write) needs no notification */
	if (!W.adversarial && n > 0 && vm->hv.hv_tsc_emulation_control &&
	    vm->hv.hv_tsc_page_status != HV_TSC_PAGE_GUEST_CHANGED) {
		const struct hv_gen *old = &W.gens[(n - 1) % MAX_GENS];
		if (old->scale != ref->tsc_scale || old->offset != ref->tsc_offset) {
			char what[192];
			snprintf(what, sizeof(what),
				 "guest opted into reenlightenment (TSC_EMULATION_CONTROL=1), page changed "
				 "scale %llu -> %llu offset %lld -> %lld with no notification",
				 (unsigned long long)old->scale, (unsigned long long)ref->tsc_scale,
				 (long long)old->offset, (long long)ref->tsc_offset);
			oracle_notification(what);
		}
	}
	struct hv_gen *g = &W.gens[n % MAX_GENS];
	g->seq = ref->tsc_sequence;
	g->scale = ref->tsc_scale;
	g->offset = ref->tsc_offset;
	g->step = sim_step();
	W.ngens = n + 1;
	if (sim_self() >= 0)
		sim_note("publish-page-generation", (u64)n);
}

/* ------------------------------------------------------- ownership --- */

/*
 * CO13: the page belongs to the host while the guest's
 * HV_X64_MSR_REFERENCE_TSC enables it, and to the guest otherwise.
 */
static void on_commit(void *ctx, volatile void *p, unsigned size, u64 value)
{
	const u8 *a = (const u8 *)p, *pg = (const u8 *)W.page;
	char what[240];
	int f = sim_commit_fiber();

	if (!W.page || a < pg || a >= pg + sizeof(*W.page) || f < 0)
		return;
	bool enabled = W.ref_tsc_msr & HV_X64_MSR_TSC_REFERENCE_ENABLE;
	if (sim_commit_by_host() && !enabled) {
		snprintf(what, sizeof(what), "%s (host) stored %u bytes at TSC page offset %zu while the "
			 "guest has HV_X64_MSR_REFERENCE_TSC disabled", sim_fiber_name(f), size,
			 (size_t)(a - pg));
		oracle_ownership(what);
	} else if (!sim_commit_by_host() && enabled) {
		snprintf(what, sizeof(what), "guest task %s stored %u bytes at TSC page offset %zu while "
			 "the page is enabled (the host's)", sim_fiber_name(f), size, (size_t)(a - pg));
		oracle_ownership(what);
	}
}

/* ---------------------------------------------------------- exits --- */

/* The host side of a guest MSR write, under the page writers' lock. */
static void hv_wrmsr(int cpu, u32 msr, u64 data)
{
	struct kvm_hv_vm *vm = &W.vm;
	/* the host handles the guest's write: from here on the page is where it says */
	if (msr == HV_X64_MSR_REFERENCE_TSC)
		W.ref_tsc_msr = data;
	if (W.wops->set_msr) {
		W.wops->set_msr(vm, cpu, msr, data);
		return;
	}
	kvm_hv_set_msr(vm, cpu, msr, data);
	/* KVM_REQ_MASTERCLOCK_UPDATE, processed before the vCPU re-enters the guest */
	if (msr == HV_X64_MSR_REFERENCE_TSC)
		W.wops->masterclock_update(vm);
}

static u64 on_exit(void *ctx, int cpu, enum pv_exit_reason r, u64 a0, u64 a1)
{
	struct kvm_hv_vm *vm = &W.vm;
	if (r == PV_EXIT_RDMSR)
		return W.wops->get_msr ? W.wops->get_msr(vm, cpu, (u32)a0) : kvm_hv_get_msr(vm, cpu, (u32)a0);
	if (r != PV_EXIT_WRMSR)
		return 0;
	if (W.kvm_lock) {
		/*
		 * The host is in the middle of an update: it runs this write
		 * before it lets go of the lock, and the vCPU does not go on
		 * (reader_fiber() waits) until then.
		 */
		W.wrmsr_pending = true;
		W.pending_cpu = cpu;
		W.pending_msr = (u32)a0;
		W.pending_data = a1;
		return 0;
	}
	W.kvm_lock = true;
	hv_wrmsr(cpu, (u32)a0, a1);
	/*
	 * VM entry (VMRESUME) is serialising: what the handler stored on this
	 * CPU leaves its store buffer before the guest runs again.
	 */
	smp_mb();
	W.kvm_lock = false;
	return 0;
}

/* A guest MSR write: the vCPU runs again only once the host has handled it. */
static void guest_wrmsr(u32 msr, u64 data)
{
	pv_vm_exit(PV_EXIT_WRMSR, msr, data);
	while (W.wrmsr_pending)
		sim_yield("vcpu: MSR write still being handled");
}

/* ---------------------------------------------------------- writer --- */

static void writer_run_on_vcpu(int v, void (*fn)(struct kvm_hv_vm *vm, int v))
{
	struct kvm_clock_host *h = &W.vm.clock;
	h->vcpu_in_host(h, v, true);
	fn(&W.vm, v);
	h->vcpu_in_host(h, v, false);
}

static void adversarial_update(u8 action, int v)
{
	struct kvm_clock_host *h = &W.vm.clock;
	if (action & 2) {
		/*
		 * A kvmclock record for vCPU v, and the page KVM derives from it.
		 * The image is XORed onto the record KVM last computed for v:
		 * every record is still reachable, and the mostly-zero inputs a
		 * fuzzer starts from become near neighbours of a live record (a
		 * new mul, a stepped system_time) - records
		 * compute_tsc_page_parameters() accepts, so the page is rewritten
		 * while the other vCPUs run - instead of random ones it rejects.
		 */
		u8 img[32] = { 0 };
		struct pvclock_vcpu_time_info rec = h->vcpu[v].hv_clock;
		fdp_bytes(W.in, img, sizeof(img));
		for (size_t b = 0; b < sizeof(rec); b++)
			((u8 *)&rec)[b] ^= img[b];
		h->vcpu_in_host(h, v, true);
		W.wops->write_record(&W.vm, v, &rec);
		h->vcpu_in_host(h, v, false); /* VM entry: the host's stores are visible */
		u64 scale;
		s64 offset;
		/* a disabled page is guest memory: whatever it holds is the guest's */
		if (!W.vm.hv.hv_tsc_emulation_control &&
		    (W.ref_tsc_msr & HV_X64_MSR_TSC_REFERENCE_ENABLE) &&
		    !compute_tsc_page_parameters(&h->vcpu[v].hv_clock, &scale, &offset) &&
		    W.page->tsc_sequence != 0) {
			char what[160];
			snprintf(what, sizeof(what), "compute_tsc_page_parameters() failed for vCPU %d's "
				 "record (flags=%u mul=%u shift=%d) but the page kept sequence %u (H7)", v,
				 h->vcpu[v].hv_clock.flags, h->vcpu[v].hv_clock.tsc_to_system_mul,
				 h->vcpu[v].hv_clock.tsc_shift, W.page->tsc_sequence);
			oracle_writer_discipline(what);
		}
	} else {
		/* a verbatim page image: (seq, reserved1, scale, offset) */
		u8 img[HV_TSC_PAGE_HDR] = { 0 };
		struct ms_hyperv_tsc_page tmp;
		fdp_bytes(W.in, img, sizeof(img));
		memcpy(&tmp, img, HV_TSC_PAGE_HDR);
		h->vcpu_in_host(h, v, true);
		W.writing_image = true;
		W.wops->write_page(&W.vm, &tmp);
		W.writing_image = false;
		h->vcpu_in_host(h, v, false);
	}
}

static void host_update(u8 action, u8 delay, int v);

static void writer_fiber(void *arg)
{
	struct kvm_clock_host *h = &W.vm.clock;
	for (int i = 0; i < W.nr_updates; i++) {
		u8 action = fdp_u8(W.in, 0);
		u8 delay = fdp_u8(W.in, 4);
		for (int d = 0; d < (delay & 15); d++)
			sim_yield("host: idle");
		int v = (action >> 2) % h->nr_vcpus;
		W.order_rot = action >> 4;
		while (W.kvm_lock)
			sim_yield("host: waiting for the masterclock lock");
		W.kvm_lock = true;
		host_update(action, delay, v);
		if (W.wrmsr_pending) {
			hv_wrmsr(W.pending_cpu, W.pending_msr, W.pending_data);
			W.wrmsr_pending = false;
		}
		W.kvm_lock = false;
	}
}

static void host_update(u8 action, u8 delay, int v)
{
	struct kvm_clock_host *h = &W.vm.clock;

	if (W.adversarial) {
		adversarial_update(action, v);
		return;
	}
	switch (action & 3) {
	case 0:
		W.wops->masterclock_update(&W.vm);
		break;
	case 1:
		/* KVM_REQ_CLOCK_UPDATE on one vCPU (vCPU migration, kvmclock_sync_fn) */
		writer_run_on_vcpu(v, W.wops->guest_time_update);
		break;
	case 2:
		/* a TSC write changes nr_vcpus_matched_tsc: the masterclock toggles */
		if (!(sim_mode() & SIM_MODE_SKEW))
			h->tsc_matched = !h->tsc_matched;
		W.wops->masterclock_update(&W.vm);
		break;
	case 3:
		/* KVM_SET_CLOCK forward (e.g. the migration source's later clock) */
		clock_oracle_step_forward((1 + (delay >> 4)) * 4000ULL / 100);
		W.wops->set_clock(&W.vm, (1 + (delay >> 4)) * 4000ULL);
		break;
	}
}

/* ---------------------------------------------------------- reader --- */

static void check_page_read(int reader, u64 value)
{
	const struct ms_hyperv_tsc_page *pg = W.page;
	u64 seq, scale, offset;
	if (!sim_op_seen(&pg->tsc_sequence, 4, &seq) || !sim_op_seen(&pg->tsc_scale, 8, &scale) ||
	    !sim_op_seen(&pg->tsc_offset, 8, &offset))
		return;

	char what[192];
	if (seq == 0) {
		snprintf(what, sizeof(what), "reader=%d computed %llu from a page with sequence 0 "
			 "(invalid: must use the MSR)", reader, (unsigned long long)value);
		oracle_fallback(what);
	}
	if (!W.adversarial && seq == 0xFFFFFFFF) {
		snprintf(what, sizeof(what), "reader=%d loaded sequence 0xFFFFFFFF from the page",
			 reader);
		oracle_writer_discipline(what);
	}

	const struct hv_gen *match = NULL;
	int same_seq = 0;
	for (int k = W.ngens - 1; k >= 0 && k >= W.ngens - MAX_GENS; k--) {
		const struct hv_gen *g = &W.gens[k % MAX_GENS];
		same_seq += g->seq == (u32)seq;
		if (!match && g->seq == (u32)seq && g->scale == scale && g->offset == (s64)offset)
			match = g;
	}
	/*
	 * An adversarial image may publish a sequence again with other data
	 * (ABA, a "lying writer"): a protocol limit, not a reader bug.
	 */
	if (!match && W.adversarial && same_seq > 1)
		return;
	if (!match) {
		snprintf(what, sizeof(what), "reader=%d accepted seq=%u scale=%llu offset=%lld from no "
			 "single generation", reader, (u32)seq, (unsigned long long)scale,
			 (long long)(s64)offset);
		oracle_torn_snapshot(what);
		return;
	}

	const u64 *tscs;
	int nt = sim_op_tscs(&tscs);
	bool found = nt == 0;
	for (int i = nt - 1; i >= 0 && !found; i--)
		found = value == ref_hv_time(tscs[i], scale, (s64)offset);
	if (!found)
		oracle_reference("the value is not the page formula at any TSC the read took", value,
				 nt ? ref_hv_time(tscs[nt - 1], scale, (s64)offset) : 0);

	/* H7: once every vCPU's kvmclock lost STABLE, the page must be invalid */
	if (!W.adversarial && clock_all_unstable() && !W.vm.hv.hv_tsc_emulation_control) {
		snprintf(what, sizeof(what), "reader=%d computed from page generation seq=%u although "
			 "kvmclock is no longer STABLE on any vCPU (the page must be invalid)",
			 reader, (u32)seq);
		oracle_fallback(what);
	}
}

enum read_kind { READ_PAGE, READ_PAGE2, READ_MSR, READ_KVMCLOCK };

static void reader_fiber(void *arg)
{
	int id = *(int *)arg;
	for (int i = 0; i < W.nr_reads; i++) {
		if (id == 0 && W.reenl_at == i + 1) {
			/* set_hv_tscchange_cb(): the guest opts into reenlightenment */
			guest_wrmsr(HV_X64_MSR_TSC_EMULATION_CONTROL, 1);
		}
		if (id == 0 && W.msr_rewrite_at == i + 1) {
			u64 msr = W.boot_ref_tsc_msr;
			if (W.suspend) {
				/* hv_cs_suspend(): the page off ... */
				guest_wrmsr(HV_X64_MSR_REFERENCE_TSC, msr & ~(u64)HV_X64_MSR_TSC_REFERENCE_ENABLE);
				if (W.reuse) {
					/* ... its memory the guest's to use meanwhile ... */
					u64 *w = (u64 *)(void *)W.page;
					for (unsigned k = 0; k < HV_TSC_PAGE_HDR / 8; k++)
						WRITE_ONCE(w[k], 0x5a5a5a5a5a5a5a5aULL + k);
				}
			}
			/* ... and on again (hv_cs_resume, kexec, a second clocksource init) */
			guest_wrmsr(HV_X64_MSR_REFERENCE_TSC, msr);
		}
		enum read_kind kind = (enum read_kind)((W.kinds[id] >> (2 * i)) & 3);
		/*
		 * A guest that opts into reenlightenment is a Hyper-V guest on the
		 * page: KVM freezes the page for it (0469f2f7ab4c) while kvmclock
		 * moves on (KVM_SET_CLOCK), so such a guest never reads kvmclock.
		 */
		if (kind == READ_KVMCLOCK && W.reenl_at)
			kind = READ_PAGE;
		struct clock_read r;
		u64 v, tsc;
		sim_op_begin(kind == READ_MSR ? "hv_msr_read" : kind == READ_KVMCLOCK ? "kvmclock_read"
											: "hv_tsc_page_read");
		clock_read_begin(&r);
		switch (kind) {
		case READ_MSR:
			v = hv_read_reference_counter();
			break;
		case READ_KVMCLOCK:
			v = W.kvmclock->read(&W.guest) / 100;
			break;
		default:
			/* read_hv_clock_tsc() */
			if (W.rops->read(W.page, &tsc, &v))
				check_page_read(id, v);
			else
				v = hv_read_reference_counter();
			break;
		}
		clock_read_end(&r, id, v);
		sim_op_end();
		sim_yield("guest: between reads");
	}
}

/* --------------------------------------------------------- scenario --- */

static struct hv_writer_ops wops_resolved;

void hv_scenario_run(const struct hv_reader_ops *rops, const struct hv_writer_ops *wops,
		     const char *label, struct fdp *in)
{
	struct sim_config cfg = { 0 };
	cfg.mode = fdp_u8(in, 0);
	u8 shape = fdp_u8(in, 0x15);
	u8 upd = fdp_u8(in, 0x03);
	cfg.tsc_rate = 64 + fdp_u8(in, 192);
	cfg.nr_cpus = 1 + (shape & 3);
	if (cfg.mode & SIM_MODE_SKEW)
		for (int c = 0; c < SIM_MAX_CPUS; c++)
			cfg.tsc_skew[c] = (s64)(s8)fdp_u8(in, 0) * 4096;
	cfg.on_exit = on_exit;
	cfg.on_commit = on_commit;
	/*
	 * PCT change points within the first 64 steps: that is where the
	 * host's first page rewrites run, and a window of two or three steps
	 * there (after the data stores, before the sequence) is what torn-page
	 * bugs need.  Later updates are reached through schedule events.
	 */
	cfg.change_span = 64;
	cfg.variant = label;

	memset(&W, 0, sizeof(W));
	W.rops = rops;
	hv_writer_ops_resolve(&wops_resolved, wops);
	W.wops = &wops_resolved;
	W.in = in;
	W.nr_readers = 1 + (shape >> 2) % MAX_READERS;
	W.nr_reads = 1 + ((shape >> 4) & 3);
	W.reenl_at = shape >> 6;
	W.nr_updates = 1 + (upd & 7);
	W.adversarial = upd & 0x10;
	W.msr_rewrite_at = (upd >> 5) & 3;
	/*
	 * A system suspend has every other CPU offline and every other task
	 * frozen: nobody reads the page while it is off.  The model has no CPU
	 * hotplug here, so the suspend runs only when reader 0 is the only
	 * reader.  Not yet: reusing the page's memory meanwhile also needs the
	 * resume's page setup done before the vCPU runs on; bit 0x80 is unused.
	 */
	W.suspend = (upd & 0x08) && W.nr_readers == 1;
	W.reuse = false;
	for (int i = 0; i < W.nr_readers; i++)
		W.kinds[i] = fdp_u8(in, 0);
	W.kvmclock = pv_variant_find("pvclock_kernel")->ops;

	sim_reset(&cfg, in);

	struct kvm_hv_vm *vm = &W.vm;
	struct kvm_clock_host *h = &vm->clock;
	h->guest = sim_shared_alloc(sizeof(struct pvclock_vsyscall_time_info) * PV_MAX_VCPUS, 64);
	h->nr_vcpus = cfg.nr_cpus;
	h->tsc_matched = !(cfg.mode & SIM_MODE_SKEW);
	h->tsc_khz = (u32)khz_of_rate(cfg.tsc_rate);
	h->kvmclock_offset = (s64)KVMCLOCK_BOOT_NS;
	for (int v = 0; v < PV_MAX_VCPUS; v++)
		h->vcpu[v].tsc_offset = cfg.tsc_skew[v];
	h->host_ns = w_host_ns;
	h->host_coarse_ns = w_host_ns;
	h->host_tsc = w_host_tsc;
	h->host_ns_and_tsc = w_host_ns_and_tsc;
	h->vcpu_in_host = w_vcpu_in_host;
	h->vcpu_order = w_vcpu_order;
	h->publish = w_publish_record;
	W.page = sim_shared_alloc(sizeof(struct ms_hyperv_tsc_page), 64);
	vm->hv.tsc_page = W.page;
	vm->hv.publish = w_publish_page;
	vm->ops = W.wops;

	W.guest.hv_clock = h->guest;
	W.guest.nr_cpus = cfg.nr_cpus;
	W.guest.last_value = sim_shared_alloc(sizeof(atomic64_t), 8);
	W.guest.valid_flags = PVCLOCK_TSC_STABLE_BIT;

	struct clock_oracle_cfg oc = { .check_time = !W.adversarial, .unit_ns = 100,
				       .base = (s64)(KVMCLOCK_BOOT_NS / 100),
				       .tolerance = 6000, .slack = HV_ROUNDING_UNITS };
	clock_oracle_reset(&oc);

	/*
	 * Boot: the guest enables the page (HV_X64_MSR_REFERENCE_TSC: GUEST_CHANGED
	 * and KVM_REQ_MASTERCLOCK_UPDATE), KVM sets up kvmclock and the page.
	 */
	W.boot_ref_tsc_msr = (0xfeedULL << HV_X64_MSR_TSC_REFERENCE_ADDRESS_SHIFT) |
			     HV_X64_MSR_TSC_REFERENCE_ENABLE;
	W.ref_tsc_msr = W.boot_ref_tsc_msr;
	kvm_hv_set_msr(vm, 0, HV_X64_MSR_REFERENCE_TSC, W.boot_ref_tsc_msr);
	W.wops->masterclock_update(vm);

	W.host_fiber = sim_spawn("kvm", writer_fiber, NULL, SIM_HOST_CPU, false);
	for (int i = 0; i < W.nr_readers; i++) {
		W.reader_id[i] = i;
		sim_spawn(i == 0 ? "reader0" : i == 1 ? "reader1" : "reader2", reader_fiber,
			  &W.reader_id[i], i, true);
	}
	sim_run();
}
