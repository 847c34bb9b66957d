// SPDX-License-Identifier: MIT
/*
 * The pvclock scenario in the simulator: a KVM host fiber running a writer
 * variant against guest tasks running a reader variant, with the schedule,
 * page images and events taken from the fuzzer's input, and the oracles.
 *
 * Input head (front), each byte defaulting when the input runs out:
 *   mode      sim mode bits (sim.h)
 *   shape     vCPUs 1-4 | readers 1-3 | reads per reader 1-4
 *   updates   writer updates 0-7 | adversarial images | always-catchup
 *   rate      TSC ticks per step (64..319)
 *   skew[4]   per-vCPU TSC offsets (SIM_MODE_SKEW only)
 *   gran      coarse host clock granularity
 *   then, lazily: per update an action byte, a delay byte and, in adversarial
 *   mode, a 32-byte record image.
 *
 * A host-side reader variant (ops->host, KVM_GET_CLOCK) runs as a "vmm" host
 * fiber doing `reads` ioctls, while the guest readers run mainline
 * pvclock_kernel.  Its oracle: the (flag, value) it returns must come from
 * the master-copy generation its pvclock_sc read section validated (CO6
 * flag_coherence, CO3 torn_snapshot), and a TSC_STABLE value takes part in
 * CO1/CO2/CO8 with the guest's reads.
 */
#include <stdio.h>
#include <string.h>

#include "clock/pvclock_harness.h"
#include "oracle/oracle.h"
#include "sim/sim.h"

#define MAX_GENS 48
#define MAX_READERS 3

struct gen {
	struct pvclock_vcpu_time_info rec;
	u64 step;
};

/* One pvclock_sc generation: the master copy a write section published. */
struct mgen {
	unsigned seq;
	bool use_master_clock;
	u64 master_kernel_ns, master_cycle_now;
	s64 kvmclock_offset;
};

struct pvclock_world {
	const struct pvclock_reader_ops *rops;
	const struct pvclock_reader_ops *hops; /* host-side reader, or NULL */
	const struct pvclock_writer_ops *wops;
	struct kvm_clock_host *h;
	struct pvclock_guest guest;
	struct fdp *in;
	int nr_readers, nr_reads, nr_updates;
	bool adversarial;
	u64 coarse_gran_ns;
	u32 pending_khz;
	int order_rot;
	struct gen gens[PV_MAX_VCPUS][MAX_GENS];
	int ngens[PV_MAX_VCPUS];
	int reader_id[MAX_READERS];
	struct mgen mgens[MAX_GENS];
	int nmgens;
	int vmm;              /* the vmm fiber's id, -1 if none */
	u64 vmm_tsc, vmm_ns;  /* its last host TSC / host ns read in the current ioctl */
};

static struct pvclock_world W;

/* ------------------------------------------------------ host world --- */

static u64 khz_of_rate(u32 rate)
{
	/* rate ticks per SIM_NS_PER_STEP ns */
	return (u64)rate * 1000000ULL / SIM_NS_PER_STEP;
}

static u64 w_host_ns(struct kvm_clock_host *h)
{
	if (sim_self() >= 0)
		sim_yield("host: get_kvmclock_base_ns");
	if (sim_self() == W.vmm && W.vmm >= 0)
		W.vmm_ns = sim_true_ns();
	return sim_true_ns();
}

static u64 w_host_coarse_ns(struct kvm_clock_host *h)
{
	if (sim_self() >= 0)
		sim_yield("host: coarse kernel time");
	return sim_true_ns() / W.coarse_gran_ns * W.coarse_gran_ns;
}

static u64 w_host_tsc(struct kvm_clock_host *h)
{
	if (sim_self() >= 0)
		sim_yield("host: rdtsc");
	if (sim_self() == W.vmm && W.vmm >= 0)
		W.vmm_tsc = sim_cpu_tsc(SIM_HOST_CPU);
	return sim_cpu_tsc(SIM_HOST_CPU);
}

static void w_host_ns_and_tsc(struct kvm_clock_host *h, u64 *ns, u64 *tsc)
{
	if (sim_self() >= 0)
		sim_yield("host: kvm_get_time_and_clockread");
	*ns = sim_true_ns();
	*tsc = sim_cpu_tsc(SIM_HOST_CPU);
}

static void w_vcpu_in_host(struct kvm_clock_host *h, int v, bool in_host)
{
	sim_vcpu_in_host(v, in_host);
}

/* vCPU threads process their requests in parallel: any order, from the input */
static int w_vcpu_order(struct kvm_clock_host *h, int k)
{
	return (k + W.order_rot) % h->nr_vcpus;
}

static u64 rec_value(const struct pvclock_vcpu_time_info *r, u64 tsc)
{
	return __pvclock_read_cycles_snap(r->tsc_timestamp, r->system_time, r->tsc_to_system_mul,
					  r->tsc_shift, tsc);
}

/*
 * The record's line extended to any TSC, also before its own timestamp (a
 * vCPU may re-anchor at an earlier instant, e.g. from the master copy).
 */
static s64 rec_line(const struct pvclock_vcpu_time_info *r, u64 tsc)
{
	if ((s64)(tsc - r->tsc_timestamp) >= 0)
		return (s64)rec_value(r, tsc);
	return (s64)r->system_time -
	       (s64)pvclock_scale_delta(r->tsc_timestamp - tsc, r->tsc_to_system_mul, r->tsc_shift);
}

/* Ground truth: every record a writer means to publish, and CO5 on it. */
static void w_publish(struct kvm_clock_host *h, int v, const struct pvclock_vcpu_time_info *rec)
{
	int n = W.ngens[v];
	if (!W.adversarial && n > 0) {
		const struct pvclock_vcpu_time_info *old = &W.gens[v][(n - 1) % MAX_GENS].rec;
		s64 before = rec_line(old, rec->tsc_timestamp);
		s64 after = (s64)rec->system_time;
		/* 1 ns: the old line is truncated differently on either side of its anchor */
		if (after < before - 1) {
			char what[96];
			snprintf(what, sizeof(what), "vCPU %d record re-anchored %lld ns backwards", v,
				 (long long)(before - after));
			oracle_continuity(what, (u64)before, (u64)after);
		}
	}
	struct gen *g = &W.gens[v][n % MAX_GENS];
	g->rec = *rec;
	g->step = sim_step();
	W.ngens[v] = n + 1;
	if (sim_self() >= 0)
		sim_note("publish-generation", (u64)n);
}

/* Ground truth: generation n of the master copy ends its write section with seq 2n. */
static void w_publish_master(struct kvm_clock_host *h, bool use_master_clock, u64 master_kernel_ns,
			     u64 master_cycle_now)
{
	struct mgen *g = &W.mgens[W.nmgens % MAX_GENS];
	g->seq = 2u * (unsigned)W.nmgens;
	g->use_master_clock = use_master_clock;
	g->master_kernel_ns = master_kernel_ns;
	g->master_cycle_now = master_cycle_now;
	g->kvmclock_offset = h->kvmclock_offset; /* KVM_SET_CLOCK is not modelled: constant */
	W.nmgens++;
	if (sim_self() >= 0)
		sim_note("publish-master-copy", g->seq);
}

static void w_apply_khz(struct kvm_clock_host *h, u32 khz)
{
	u32 rate = (u32)((u64)khz * SIM_NS_PER_STEP / 1000000ULL);
	sim_set_tsc_rate(-1, rate);
	sim_note("tsc-rate-change", rate);
}

/*
 * CO10/CO6 on every store that becomes visible: the record's data only
 * changes while its version is odd, and the version moves by +1 per store.
 */
static void on_commit(void *ctx, volatile void *p, unsigned size, u64 value)
{
	const u8 *a = (const u8 *)p, *base = (const u8 *)W.guest.hv_clock;
	if (sim_self() < 0)
		return; /* boot: kvmclock being enabled before the guest runs */
	if (!W.guest.hv_clock || a < base || a >= base + PV_MAX_VCPUS * sizeof(W.guest.hv_clock[0]))
		return;
	int v = (int)((a - base) / sizeof(W.guest.hv_clock[0]));
	const struct pvclock_vcpu_time_info *r = &W.guest.hv_clock[v].pvti;
	size_t off = (size_t)(a - (const u8 *)r);
	u32 cur = r->version;
	char what[128];
	if (off == 0 && size >= 4) {
		u32 nv = (u32)value;
		if (nv != cur && nv != cur + 1) {
			snprintf(what, sizeof(what), "vCPU %d version stored %u over %u: not the odd/even +1 "
				 "protocol", v, nv, cur);
			oracle_writer_discipline(what);
		}
		return;
	}
	if (off >= 32)
		return; /* the rest of the cache line is not the record */
	if (!(cur & 1)) {
		snprintf(what, sizeof(what), "vCPU %d record bytes %zu..%zu changed while its version %u "
			 "is even (outside the odd window)", v, off, off + size - 1, cur);
		oracle_writer_discipline(what);
	}
}

/* ---------------------------------------------------------- events --- */

static void on_event(void *ctx, enum sim_event ev, u8 arg)
{
	/*
	 * Not with a KVM_GET_CLOCK reader: the masterclock needs a TSC-based
	 * host clocksource, i.e. CONSTANT_TSC, and there get_cpu_tsc_khz()
	 * never changes; the model otherwise lets the ioctl scale an old master
	 * copy with a new kHz figure, which no host does.
	 */
	if (ev == SIM_EV_TSC_FREQ && !W.adversarial && !W.hops) {
		/* cpufreq: a new TSC rate, handled by the host fiber's notifier */
		u32 rate = 64 + arg;
		W.pending_khz = (u32)khz_of_rate(rate);
	}
}

static u64 on_exit(void *ctx, int cpu, enum pv_exit_reason r, u64 a0, u64 a1)
{
	return kvm_vcpu_handle_exit(W.h, W.wops, cpu, r, a0, a1);
}

/* ---------------------------------------------------------- writer --- */

static void image_record(struct pvclock_vcpu_time_info *r)
{
	u8 img[32] = { 0 };
	fdp_bytes(W.in, img, sizeof(img));
	memcpy(r, img, sizeof(*r));
}

static void writer_fiber(void *arg)
{
	struct kvm_clock_host *h = W.h;
	for (int i = 0; i < W.nr_updates; i++) {
		u8 action = fdp_u8(W.in, 0);
		u8 delay = fdp_u8(W.in, 4);
		for (int d = 0; d < (delay & 15); d++)
			sim_yield("host: idle");
		if (W.pending_khz) {
			u32 khz = W.pending_khz;
			W.pending_khz = 0;
			/*
			 * Only a !CONSTANT_TSC host changes TSC frequency, and
			 * its clocksource is not the TSC: the masterclock goes
			 * (pvclock_gtod_notify) before cpufreq is followed.
			 */
			if (!h->host_tsc_unstable) {
				h->host_tsc_unstable = true;
				W.wops->masterclock_update(h);
			}
			if (W.wops->tsc_khz_change)
				W.wops->tsc_khz_change(h, khz, w_apply_khz);
			else
				kvmclock_cpufreq_notifier_with(h, khz, w_apply_khz,
							       W.wops->masterclock_update);
			continue;
		}
		int v = (action >> 2) % h->nr_vcpus;
		W.order_rot = action >> 4;
		if (W.adversarial) {
			struct pvclock_vcpu_time_info r;
			image_record(&r);
			kvm_vcpu_write_record(h, W.wops, v, &r);
			continue;
		}
		switch (action & 3) {
		case 0:
			W.wops->masterclock_update(h);
			break;
		case 1:
			kvm_vcpu_run_request(h, v, W.wops->guest_time_update);
			break;
		case 2:
			/* TSC matching changes (a TSC write): the masterclock toggles */
			if (!(sim_mode() & SIM_MODE_SKEW))
				h->tsc_matched = !h->tsc_matched;
			W.wops->masterclock_update(h);
			break;
		case 3:
			/* kvmclock_update_work: every vCPU, no master copy refresh */
			for (int k = 0; k < h->nr_vcpus; k++)
				kvm_vcpu_run_request(h, h->vcpu_order(h, k), W.wops->guest_time_update);
			break;
		}
	}
}

/* ---------------------------------------------------------- reader --- */

/* The record whose fields this op loaded, and the generation it matches. */
static void check_snapshot(int reader, u64 value, bool fell_back)
{
	int best = -1;
	u64 best_step = 0;
	struct pvclock_vcpu_time_info snap;
	for (int v = 0; v < W.h->nr_vcpus; v++) {
		const struct pvclock_vcpu_time_info *g = &W.guest.hv_clock[v].pvti;
		u64 T, S, mul, shift, when;
		/* the record the reader computed from: the one whose data it loaded last */
		if (sim_op_seen_at(&g->tsc_timestamp, 8, &T, &when) && sim_op_seen(&g->system_time, 8, &S) &&
		    sim_op_seen(&g->tsc_to_system_mul, 4, &mul) && sim_op_seen(&g->tsc_shift, 1, &shift) &&
		    (best < 0 || when > best_step)) {
			best = v;
			best_step = when;
			snap.tsc_timestamp = T;
			snap.system_time = S;
			snap.tsc_to_system_mul = (u32)mul;
			snap.tsc_shift = (s8)shift;
		}
	}
	if (best < 0)
		return; /* a reader that fell back before loading anything */

	/* prefer a generation that also explains the flags the reader loaded */
	u64 flags;
	bool have_flags = sim_op_seen(&W.guest.hv_clock[best].pvti.flags, 1, &flags);
	const struct gen *match = NULL;
	int n = W.ngens[best];
	for (int pass = 0; pass < 2 && !match; pass++) {
		for (int k = n - 1; k >= 0 && k >= n - MAX_GENS; k--) {
			const struct gen *g = &W.gens[best][k % MAX_GENS];
			if (g->rec.tsc_timestamp == snap.tsc_timestamp && g->rec.system_time == snap.system_time &&
			    g->rec.tsc_to_system_mul == snap.tsc_to_system_mul &&
			    g->rec.tsc_shift == snap.tsc_shift &&
			    (pass == 1 || !have_flags ||
			     (flags & PVCLOCK_TSC_STABLE_BIT) == (g->rec.flags & PVCLOCK_TSC_STABLE_BIT))) {
				match = g;
				break;
			}
		}
	}
	if (!match) {
		char what[160];
		snprintf(what, sizeof(what),
			 "reader=%d accepted vCPU %d fields T=%llu S=%llu mul=%u shift=%d from no single "
			 "generation", reader, best, (unsigned long long)snap.tsc_timestamp,
			 (unsigned long long)snap.system_time, snap.tsc_to_system_mul, snap.tsc_shift);
		oracle_torn_snapshot(what);
		return;
	}
	if (have_flags && (flags & PVCLOCK_TSC_STABLE_BIT) != (match->rec.flags & PVCLOCK_TSC_STABLE_BIT)) {
		char what[128];
		snprintf(what, sizeof(what), "reader=%d saw STABLE=%d with data of a generation published "
			 "with STABLE=%d", reader, (int)(flags & 1), match->rec.flags & 1);
		oracle_flag_coherence(what);
	}
	if (W.rops->userspace && !fell_back && !(match->rec.flags & PVCLOCK_TSC_STABLE_BIT)) {
		char what[128];
		snprintf(what, sizeof(what), "reader=%d computed from a !STABLE record of vCPU %d instead of "
			 "falling back to the syscall", reader, best);
		oracle_fallback(what);
	}

	/* the value must come from this record and a TSC the reader read (CO3/CO4) */
	const u64 *tscs;
	int nt = sim_op_tscs(&tscs);
	if (nt == 0)
		return; /* the TSC came from the host (ptp_kvm): nothing local to compare */
	u64 last = (u64)W.guest.last_value->counter;
	bool fixup_ok = false;
	for (int i = nt - 1; i >= 0; i--) {
		u64 want = rec_value(&match->rec, tscs[i]);
		if (value == want || (W.rops->userspace && value == (want & S64_MAX))) {
			if (!W.adversarial && ref_pvclock_negative(match->rec.tsc_timestamp, tscs[i]))
				oracle_reference("TSC read before the record's tsc_timestamp: the negative "
						 "delta wrapped", value, match->rec.system_time);
			return;
		}
		/* the last_value fix-up returns a later reader's value, never less */
		if (want < value && value <= last)
			fixup_ok = true;
	}
	if (fixup_ok || W.adversarial)
		return;
	char what[128];
	snprintf(what, sizeof(what), "reader=%d returned %llu: not this record at any TSC it read",
		 reader, (unsigned long long)value);
	oracle_torn_snapshot(what);
}

static u64 fallback_read(struct pvclock_guest *g)
{
	/* the syscall: clock_gettime() in the kernel uses kvm_clock_read() */
	const struct pv_variant *k = pv_variant_find("pvclock_kernel");
	return ((const struct pvclock_reader_ops *)k->ops)->read(g);
}

static void reader_fiber(void *arg)
{
	int id = *(int *)arg;
	for (int i = 0; i < W.nr_reads; i++) {
		struct clock_read r;
		sim_op_begin("pvclock_read");
		clock_read_begin(&r);
		u64 v = W.rops->read(&W.guest);
		bool fell_back = v == PVCLOCK_FALLBACK;
		if (!fell_back)
			check_snapshot(id, v, false);
		if (fell_back) {
			v = fallback_read(&W.guest);
			check_snapshot(id, v, true);
		}
		clock_read_end(&r, id, v);
		sim_op_end();
		sim_yield("guest: between reads");
	}
}

/* ------------------------------------------------- host-side reader --- */

static __noinline void check_get_clock(struct clock_read *r, const struct kvm_clock_data *d)
{
	struct kvm_clock_host *h = W.h;
	u64 seq;
	char what[200];

	if (!sim_op_seen(&h->pvclock_sc.sequence, sizeof(h->pvclock_sc.sequence), &seq))
		return; /* no read section: nothing ties the answer to a generation */
	const struct mgen *g = NULL;
	for (int k = W.nmgens - 1; k >= 0 && k >= W.nmgens - MAX_GENS; k--)
		if (W.mgens[k % MAX_GENS].seq == (unsigned)seq)
			g = &W.mgens[k % MAX_GENS];
	if (!g) {
		snprintf(what, sizeof(what), "KVM_GET_CLOCK validated pvclock_sc=%u, which no write "
			 "section ended with", (unsigned)seq);
		oracle_torn_snapshot(what);
		return;
	}
	bool stable = d->flags & KVM_CLOCK_TSC_STABLE;
	if (stable != g->use_master_clock) {
		snprintf(what, sizeof(what), "KVM_GET_CLOCK returned TSC_STABLE=%d with a clock of "
			 "master-copy generation seq=%u (use_master_clock=%d)", stable, g->seq,
			 g->use_master_clock);
		oracle_flag_coherence(what);
		return;
	}
	u64 want;
	if (g->use_master_clock) {
		u64 khz;
		s8 shift;
		u32 mul;
		if (!sim_op_seen(&h->tsc_khz, sizeof(h->tsc_khz), &khz))
			khz = h->tsc_khz;
		kvm_get_time_scale(NSEC_PER_SEC, khz * 1000ULL, &shift, &mul);
		want = __pvclock_read_cycles_snap(g->master_cycle_now,
						  g->master_kernel_ns + (u64)g->kvmclock_offset, mul,
						  shift, W.vmm_tsc);
	} else {
		want = W.vmm_ns + (u64)g->kvmclock_offset;
	}
	if (d->clock != want) {
		snprintf(what, sizeof(what), "KVM_GET_CLOCK returned %llu, generation seq=%u "
			 "(use_master_clock=%d) gives %llu at the host time it read",
			 (unsigned long long)d->clock, g->seq, g->use_master_clock,
			 (unsigned long long)want);
		oracle_torn_snapshot(what);
		return;
	}
	/* a TSC_STABLE answer is kvmclock: monotonic with the guest's reads */
	if (stable)
		clock_read_end(r, MAX_READERS, d->clock);
}

static void vmm_fiber(void *arg)
{
	/* a VMM polls the clock (migration, kvmclock state save): 4 ioctls per guest read */
	for (int i = 0; i < 4 * W.nr_reads; i++) {
		struct clock_read r;
		struct kvm_clock_data d = { 0 };
		sim_op_begin("KVM_GET_CLOCK");
		clock_read_begin(&r);
		W.vmm_tsc = W.vmm_ns = 0;
		W.hops->get_clock(W.h, &d);
		check_get_clock(&r, &d);
		sim_op_end();
		sim_yield("vmm: between ioctls");
	}
}

/* --------------------------------------------------------- scenario --- */

static struct pvclock_writer_ops wops_resolved;

void pvclock_scenario_run(const struct pvclock_reader_ops *rops, const struct pvclock_writer_ops *wops,
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
	u8 gran = fdp_u8(in, 7);
	cfg.on_event = on_event;
	cfg.on_exit = on_exit;
	cfg.on_commit = on_commit;
	cfg.variant = label;

	memset(&W, 0, sizeof(W));
	W.vmm = -1;
	if (rops->host) {
		/* the guest side of a host-reader scenario: mainline kvmclock readers */
		W.hops = rops;
		rops = pv_variant_find("pvclock_kernel")->ops;
	}
	W.rops = rops;
	pvclock_writer_ops_resolve(&wops_resolved, wops);
	W.wops = &wops_resolved;
	W.in = in;
	W.nr_readers = 1 + (shape >> 2) % MAX_READERS;
	W.nr_reads = 1 + ((shape >> 4) & 3);
	W.nr_updates = upd & 7; /* 0: boot records only (a seed no variant fails on) */
	W.adversarial = upd & 0x10;
	W.coarse_gran_ns = (1 + (gran & 63)) * 8 * SIM_NS_PER_STEP;

	sim_reset(&cfg, in);

	struct kvm_clock_host *h = sim_shared_alloc(sizeof(*h), 64);
	h->guest = sim_shared_alloc(sizeof(struct pvclock_vsyscall_time_info) * PV_MAX_VCPUS, 64);
	h->nr_vcpus = cfg.nr_cpus;
	h->tsc_matched = !(cfg.mode & SIM_MODE_SKEW);
	h->tsc_always_catchup = upd & 0x20;
	h->tsc_khz = (u32)khz_of_rate(cfg.tsc_rate);
	h->kvmclock_offset = 0;
	for (int v = 0; v < PV_MAX_VCPUS; v++)
		h->vcpu[v].tsc_offset = cfg.tsc_skew[v];
	h->host_ns = w_host_ns;
	h->host_coarse_ns = w_host_coarse_ns;
	h->host_tsc = w_host_tsc;
	h->host_ns_and_tsc = w_host_ns_and_tsc;
	h->vcpu_in_host = w_vcpu_in_host;
	h->vcpu_order = w_vcpu_order;
	h->publish = w_publish;
	h->publish_master = w_publish_master;
	h->ops = W.wops;
	W.h = h;
	w_publish_master(h, false, 0, 0); /* generation 0: the zeroed master copy, seq 0 */

	W.guest.hv_clock = h->guest;
	W.guest.nr_cpus = cfg.nr_cpus;
	W.guest.last_value = sim_shared_alloc(sizeof(atomic64_t), 8);
	W.guest.valid_flags = PVCLOCK_TSC_STABLE_BIT;

	struct clock_oracle_cfg oc = { .check_time = !W.adversarial, .unit_ns = 1, .base = 0,
				       .tolerance = SIM_HARD_LIMIT * SIM_NS_PER_STEP / 8 };
	clock_oracle_reset(&oc);

	/* boot: kvmclock enabled on every vCPU before the guest runs */
	for (int v = 0; v < h->nr_vcpus; v++) {
		if (W.adversarial) {
			struct pvclock_vcpu_time_info r;
			image_record(&r);
			r.version &= ~1u;
			w_publish(h, v, &r);
			sim_host_write(&h->guest[v].pvti, &r, sizeof(r));
			h->vcpu[v].hv_clock = r;
		}
	}
	/* the writer under test brings the records up (a writer's own invariants from boot) */
	if (!W.adversarial)
		W.wops->masterclock_update(h);

	sim_spawn("kvm", writer_fiber, NULL, SIM_HOST_CPU, false);
	if (W.hops)
		W.vmm = sim_spawn("vmm", vmm_fiber, NULL, SIM_HOST_CPU, false);
	for (int i = 0; i < W.nr_readers; i++) {
		W.reader_id[i] = i;
		sim_spawn(i == 0 ? "reader0" : i == 1 ? "reader1" : "reader2", reader_fiber,
			  &W.reader_id[i], i, true);
	}
	sim_run();
}
