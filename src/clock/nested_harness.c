// SPDX-License-Identifier: MIT
/*
 * The nested scenario (seed 002): L0 migrates L1 while L2 guests read
 * kvmclock.  Simulated vCPUs 0-3 are L1's vCPUs, each running one L2 vCPU;
 * the L2 readers are guest tasks on them.  Two host fibers: "l1-kvm" (L1's
 * KVM: boot-time masterclock, the reenlightenment work, extra masterclock
 * updates) and "l0" (the migration).  The TSC every level reads is the
 * simulator's; L0's emulation keeps its old rate until L0 stops emulating.
 *
 * Input head (front), each byte defaulting when the input runs out:
 *   mode      sim mode bits (sim.h)
 *   shape     vCPUs 1-4 | L2 readers 1-3 | reads per reader 1-4
 *   rate      boot TSC ticks per step (64..319)
 *   dest      the destination host's rate (32..543)
 *   when      steps before L0 migrates L1 (0..255)
 *   notify    steps before the reenlightenment work runs (0..63) | extra
 *             masterclock updates 0-3
 *   think     2 bits per reader: steps between its reads (0-12)
 *
 * Oracles across the three levels, all against L0's (the simulator's) time:
 *   L1   the page's scale never runs L1's clock faster than its TSC (rate),
 *        and L1's clock stays within 1 us of L0's (plausibility);
 *   L2   monotonic per reader, linearizable across readers (the records are
 *        STABLE), within 1 us of L0's time (plausibility), never read with a
 *        scale for a slower TSC than the one read (rate, CO12); with a
 *        kvmclock-based L1 no L2 record may claim STABLE (flag_coherence).
 */
#include <stdio.h>
#include <string.h>

#include "clock/nested_harness.h"
#include "oracle/oracle.h"
#include "sim/sim.h"

#define MAX_READERS 3
#define L2_SLACK_NS 1000

struct nested_world {
	const struct nested_l1_ops *l1ops;
	const struct nested_l0_ops *l0ops;
	struct nested_l1 *l1;
	struct nested_l0 *l0;
	const struct hv_reader_ops *page_reader;
	int nr_readers, nr_reads, think[MAX_READERS];
	u32 when, notify, extra;
	int reader_id[MAX_READERS];
	int l1_up, l0_done;
};

static struct nested_world W;

static u64 khz_of_rate(u32 rate)
{
	return (u64)rate * 1000000ULL / SIM_NS_PER_STEP;
}

/* ---------------------------------------------------------------- L0 ---- */

static void l0_set_tsc_rate(struct nested_l0 *l0, u32 rate)
{
	sim_set_tsc_rate(-1, rate);
	sim_note("L0: TSC rate seen by L1 and L2", rate);
}

/*
 * L0 republishes L1's page for the rate L1 now sees, continuous at this
 * instant (Hyper-V's own writer is not under test: one atomic update).
 */
static void l0_update_tsc_page(struct nested_l0 *l0)
{
	struct ms_hyperv_tsc_page *p = l0->tsc_page;
	u64 tsc = sim_cpu_tsc(SIM_HOST_CPU);
	u64 scale = (u64)(((unsigned __int128)1 << 64) / l0->tsc_rate); /* 100 ns per rate ticks */
	s64 offset = (s64)(sim_true_ns() / 100) - (s64)mul_u64_u64_shr(tsc, scale, 64);
	u32 seq = p->tsc_sequence + 1;

	if (seq == 0 || seq == 0xFFFFFFFF)
		seq = 1;
	p->tsc_scale = scale;
	p->tsc_offset = offset;
	p->tsc_sequence = seq;
	sim_note("L0: reference TSC page for rate", l0->tsc_rate);
}

static void l0_fiber(void *arg)
{
	/* L1 is migrated once it runs: its kernel and KVM are up */
	while (!READ_ONCE(W.l1_up))
		sim_yield("L0: L1 booting");
	for (u32 i = 0; i < W.when; i++)
		sim_yield("L0: idle");
	sim_note("L0: migrating L1 to a host with rate", W.l0->dest_rate);
	W.l0ops->migrate(W.l0);
	WRITE_ONCE(W.l0_done, 1);
}

/* ---------------------------------------------------------------- L1 ---- */

/* L1 read its page between true times t0 and t1 */
static void check_l1_clock(u64 page_time, u64 t0, u64 t1)
{
	const struct ms_hyperv_tsc_page *p = W.l0->tsc_page;
	u32 rate = sim_cpu_tsc_rate(SIM_HOST_CPU);
	char what[200];

	/* 100 ns per 2^64/scale ticks, against 100 ns per rate ticks */
	unsigned __int128 got = (unsigned __int128)p->tsc_scale * rate, real = (unsigned __int128)1 << 64;
	if (got / 1000001 * 1000000 > real) {
		snprintf(what, sizeof(what), "L1 read its reference TSC page (scale %#llx) on a TSC of %u "
			 "ticks/100ns: L1 time runs %llu ppm fast", (unsigned long long)p->tsc_scale, rate,
			 (unsigned long long)((got - real) * 1000000 / real));
		oracle_rate(what);
	}
	u64 ns = page_time * 100;
	if (ns > t1 + L2_SLACK_NS || ns + L2_SLACK_NS < t0)
		oracle_plausibility(-1, ns, t0 > L2_SLACK_NS ? t0 - L2_SLACK_NS : 0, t1 + L2_SLACK_NS);
}

/* L1's clocksource: the reference TSC page (vgettsc(), HVCLOCK) or kvmclock. */
static void l1_ns_and_tsc(struct kvm_clock_host *h, u64 *ns, u64 *tsc)
{
	u64 t;

	if (!W.l1->clocksource_hvclock) {
		sim_yield("L1: kvmclock read");
		*tsc = sim_cpu_tsc(SIM_HOST_CPU);
		*ns = sim_true_ns();
		return;
	}
	u64 t0 = sim_true_ns();
	while (!W.page_reader->read(W.l0->tsc_page, tsc, &t))
		sim_yield("L1: page invalid");
	check_l1_clock(t, t0, sim_true_ns());
	*ns = t * 100;
}

static u64 l1_host_ns(struct kvm_clock_host *h)
{
	u64 ns, tsc;
	l1_ns_and_tsc(h, &ns, &tsc);
	return ns;
}

static u64 l1_host_tsc(struct kvm_clock_host *h)
{
	sim_yield("L1: rdtsc");
	return sim_cpu_tsc(SIM_HOST_CPU);
}

static void w_vcpu_in_host(struct kvm_clock_host *h, int v, bool in_host)
{
	sim_vcpu_in_host(v, in_host);
}

static int w_vcpu_order(struct kvm_clock_host *h, int k)
{
	return k % h->nr_vcpus;
}

static void w_publish(struct kvm_clock_host *h, int v, const struct pvclock_vcpu_time_info *rec)
{
	sim_note("L1: L2 kvmclock record of vcpu", (u64)v);
	if (W.l0ops->l1_clocksource_kvmclock && (rec->flags & PVCLOCK_TSC_STABLE_BIT)) {
		char what[128];
		snprintf(what, sizeof(what), "L1 offered L2 vCPU %d a STABLE kvmclock although L1's own "
			 "clocksource is kvmclock (no masterclock possible)", v);
		oracle_flag_coherence(what);
	}
}

static void l1_fiber(void *arg)
{
	struct nested_l1 *l1 = W.l1;

	/* boot: reenlightenment on (if L1 runs on the page), the masterclock up */
	if (l1->clocksource_hvclock)
		set_hv_tscchange_cb(l1);
	kvm_update_masterclock(&l1->kvm);
	WRITE_ONCE(W.l1_up, 1);
	for (u32 k = 0; k < W.extra; k++) {
		for (u32 i = 0; i < 16; i++)
			sim_yield("L1: idle");
		kvm_update_masterclock(&l1->kvm);
	}
	/* the reenlightenment interrupt schedules hv_reenlightenment_work (L0 sends it or not) */
	while (!READ_ONCE(W.l0->interrupt_pending) && !READ_ONCE(W.l0_done))
		sim_yield("L1: waiting");
	if (READ_ONCE(W.l0->interrupt_pending)) {
		for (u32 i = 0; i < W.notify; i++)
			sim_yield("L1: reenlightenment work delayed");
		WRITE_ONCE(W.l0->interrupt_pending, 0);
		/* hv_reenlightenment_notify(): only while TSC accesses are emulated */
		if (nested_rdmsr(l1, HV_X64_MSR_TSC_EMULATION_STATUS) & HV_TSC_EMULATION_INPROGRESS) {
			sim_note("L1: reenlightenment callback", 0);
			W.l1ops->tsc_notifier(l1);
		}
	}
}

/* ---------------------------------------------------------------- L2 ---- */

static void check_l2_rate(int reader, u32 mul, s8 shift, u32 rate)
{
	char what[200];
	u64 ppm;

	if (!kvmclock_scale_runs_fast(mul, shift, rate, &ppm))
		return;
	snprintf(what, sizeof(what), "L2 reader %d used a kvmclock scale for a slower TSC than the one "
		 "it read (%u ticks/step): L2 time runs %llu ppm fast", reader, rate,
		 (unsigned long long)ppm);
	oracle_rate(what);
}

static void l2_reader(void *arg)
{
	int id = *(int *)arg;

	for (int i = 0; i < W.nr_reads; i++) {
		struct pvclock_vcpu_time_info *src = &W.l1->kvm.guest[smp_processor_id()].pvti;
		struct clock_read r;
		unsigned version;
		u64 tsc, ns;
		u32 mul, rate;
		s8 shift;

		for (int t = 0; t < W.think[id]; t++)
			sim_yield("L2: guest code");
		sim_op_begin("L2 kvmclock read");
		clock_read_begin(&r);
		do {
			version = pvclock_read_begin(src);
			tsc = rdtsc_ordered();
			rate = sim_cpu_tsc_rate(smp_processor_id());
			u64 T = READ_ONCE(src->tsc_timestamp);
			mul = READ_ONCE(src->tsc_to_system_mul);
			shift = READ_ONCE(src->tsc_shift);
			u64 S = READ_ONCE(src->system_time);
			ns = S + pvclock_scale_delta(tsc - T, mul, shift);
		} while (pvclock_read_retry(src, version));
		check_l2_rate(id, mul, shift, rate);
		clock_read_end(&r, id, ns);
		sim_op_end();
	}
}

/* ---------------------------------------------------------- scenario --- */

void nested_scenario_run(const struct nested_l1_ops *l1ops, const struct nested_l0_ops *l0ops,
			 const char *label, struct fdp *in)
{
	struct sim_config cfg = { 0 };
	cfg.mode = fdp_u8(in, 0);
	u8 shape = fdp_u8(in, 0x15);
	cfg.tsc_rate = 64 + fdp_u8(in, 128);
	u32 dest = 32 + 2u * fdp_u8(in, 96);
	u8 when = fdp_u8(in, 40), notify = fdp_u8(in, 0x08), think = fdp_u8(in, 0x15);
	cfg.nr_cpus = 1 + (shape & 3);
	cfg.variant = label;
	cfg.mode &= (u8)~SIM_MODE_SKEW; /* one TSC for every level, as Hyper-V exposes it */

	memset(&W, 0, sizeof(W));
	W.l1ops = l1ops;
	W.l0ops = l0ops;
	W.nr_readers = 1 + (shape >> 2) % MAX_READERS;
	W.nr_reads = 1 + ((shape >> 4) & 3);
	W.when = when;
	W.notify = notify & 63;
	W.extra = notify >> 6;
	for (int i = 0; i < MAX_READERS; i++)
		W.think[i] = 4 * ((think >> (2 * i)) & 3);
	W.page_reader = pv_variant_find("hv_reader_mainline")->ops;

	sim_reset(&cfg, in);

	struct nested_l0 *l0 = sim_shared_alloc(sizeof(*l0), 64);
	struct nested_l1 *l1 = sim_shared_alloc(sizeof(*l1), 64);
	W.l0 = l0;
	W.l1 = l1;
	l0->tsc_page = sim_shared_alloc(HV_TSC_PAGE_HDR, 64);
	l0->tsc_rate = cfg.tsc_rate;
	l0->dest_rate = dest;
	l0->set_tsc_rate = l0_set_tsc_rate;
	l0->update_tsc_page = l0_update_tsc_page;
	l0->ops = l0ops;
	l0_update_tsc_page(l0);

	struct kvm_clock_host *h = &l1->kvm;
	h->guest = sim_shared_alloc(sizeof(struct pvclock_vsyscall_time_info) * PV_MAX_VCPUS, 64);
	h->nr_vcpus = cfg.nr_cpus;
	h->tsc_matched = true;
	l1->clocksource_hvclock = !l0ops->l1_clocksource_kvmclock;
	/* the masterclock needs a TSC-based clocksource: HVCLOCK is one, kvmclock is not */
	h->host_tsc_unstable = !l1->clocksource_hvclock;
	l1->tsc_khz = (u32)khz_of_rate(cfg.tsc_rate);
	h->tsc_khz = l1->tsc_khz;
	h->host_ns = l1_host_ns;
	h->host_coarse_ns = l1_host_ns;
	h->host_tsc = l1_host_tsc;
	h->host_ns_and_tsc = l1_ns_and_tsc;
	h->vcpu_in_host = w_vcpu_in_host;
	h->vcpu_order = w_vcpu_order;
	h->publish = w_publish;
	l1->l0 = l0;
	l1->ops = l1ops;

	struct clock_oracle_cfg oc = { .check_time = true, .unit_ns = 1, .base = 0,
				       .tolerance = L2_SLACK_NS };
	clock_oracle_reset(&oc);

	sim_spawn("l1-kvm", l1_fiber, NULL, SIM_HOST_CPU, false);
	sim_spawn("l0", l0_fiber, NULL, SIM_HOST_CPU, false);
	for (int i = 0; i < W.nr_readers; i++) {
		static const char *const names[] = { "l2-reader0", "l2-reader1", "l2-reader2" };
		W.reader_id[i] = i;
		sim_pin(sim_spawn(names[i], l2_reader, &W.reader_id[i], i, true));
	}
	/* L2 vCPUs wait for L1 KVM to bring up their records */
	sim_vcpu_in_host(-1, true);
	sim_run();
}
