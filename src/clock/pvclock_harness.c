// SPDX-License-Identifier: MIT
/*
 * The pvclock scenario in the simulator: the guest/host kvmclock interface
 * as a whole.  A KVM host fiber runs a writer variant and performs the
 * scenario's operations (include/pvfuzz/kvm_host_ops.h: KVM's own updates,
 * the VMM's ioctls, the host kernel's clock changes) against guest tasks
 * running a reader variant, which also perform the guest's side of the
 * interface (kvmclock enable/disable/relocation, memory reuse, consuming
 * GUEST_STOPPED).  Under KVM, the host kernel's timekeeper
 * (src/clock/timekeeping.c) ticks on its own host fiber, and KVM anchors
 * kvmclock on its gtod copy of it.
 *
 * Input head (front), each byte defaulting when the input runs out:
 *   mode      sim mode bits (sim.h)
 *   shape     vCPUs 1-4 | readers 1-3 | reads per reader 1-4
 *   updates   host operations 0-7 | adversarial record images | always-catchup |
 *             the whole interface (else only KVM's own updates and TSC writes)
 *   rate      TSC ticks per step (64..319)
 *   skew[4]   per-vCPU TSC offsets set by the VMM (SIM_MODE_SKEW only)
 *   gran      the host tick: every 128 * (1 + gran % 8) steps
 *   host      bits 0-2: the host's NTP frequency (a table of ppb), bit 3: the
 *             host boots on a non-TSC clocksource, bit 4: its timekeeper
 *             publishes tkr_mono at a finer shift than tkr_raw (same clock)
 *   then, lazily, per operation its kvm_host_ops encoding and, in
 *   adversarial mode, for KVM's own updates a 32-byte record image.
 *
 * A host-side reader variant (ops->host, KVM_GET_CLOCK) runs as a "vmm" host
 * fiber doing `reads` ioctls, while the guest readers run mainline
 * pvclock_kernel.  Its oracle: the (flag, value) it returns must come from
 * the master-copy generation its pvclock_sc read section validated (CO6
 * flag_coherence, CO3 torn_snapshot), and a TSC_STABLE value takes part in
 * CO1/CO2/CO8 with the guest's reads.
 *
 * Oracles, each derived from what the guest and the VMM asked for:
 *   CO3/CO4   an accepted snapshot is one published generation, and the
 *             value is its formula at a TSC the read took (else: torn, or
 *             arithmetic - `reference`)
 *   CO1/CO2/CO8 on returned values; with adversarial records (a host that
 *             may publish anything) only the order a reader guarantees by
 *             itself (the !STABLE last_value path) is judged
 *   CO5       a record re-anchored backwards, outside a deliberate clock step
 *   CO10      version protocol and odd window, naming who made the store
 *   CO13      ownership: host stores only inside an enabled record; guest
 *             stores into an enabled record only clear GUEST_STOPPED
 *   CO14      after KVM_SET_CLOCK returned, every record a guest read
 *             computes from says what the VMM set (plus elapsed host time)
 *   CO15      GUEST_STOPPED appears only after KVM_KVMCLOCK_CTRL and is
 *             removed only by the guest
 */
#include <stdio.h>
#include <string.h>

#include "clock/pvclock_harness.h"
#include "oracle/oracle.h"
#include "pvfuzz/kvm_host_ops.h"
#include "sim/sim.h"

#define MAX_GENS 96
#define MAX_READERS 3
#define MAX_GUEST_OPS 4
#define GUEST_PAGES 3
#define REC_SIZE sizeof(struct pvclock_vcpu_time_info)

struct gen {
	struct pvclock_vcpu_time_info rec;
	const u8 *addr;  /* where it was published */
	int vcpu;
	s64 tsc_offset;  /* the vCPU's TSC offset then: the TSC space of its timestamp */
	unsigned cs_switches; /* host clocksource switches before it */
	unsigned enables;     /* the vCPU's kvmclock (re-)enables before it */
	unsigned tsc_resets;  /* host TSC writes and TSC rate changes before it */
	int mgen;             /* the latest master-copy generation when it was published */
	u64 step;
};

/* One pvclock_sc generation: the master copy a write section published. */
struct mgen {
	unsigned seq;
	bool use_master_clock;
	u64 master_kernel_ns, master_cycle_now;
	s64 kvmclock_offset;
};

/* What KVM_SET_CLOCK promised, for CO14 (clock_set_postcondition()). */
struct set_clock_promise {
	bool active;
	u64 clock;
	bool realtime;
	u64 realtime_ns;
	u64 base_lo, base_hi; /* host raw+boot at the ioctl's start and end */
	u64 real_lo, real_hi; /* host realtime at the same instants */
	u64 end_step;
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
	bool whole_interface;  /* every kind of operation, not only KVM's updates and TSC writes */
	u32 tick_steps;
	u32 pending_khz;
	int order_rot;
	struct gen gens[MAX_GENS];
	int ngens;
	int reader_id[MAX_READERS];
	struct mgen mgens[MAX_GENS];
	int nmgens;
	int vmm;              /* the vmm fiber's id, -1 if none */
	u64 vmm_tsc, vmm_cs_tsc; /* its last host TSC / clocksource TSC in the current ioctl */

	/* the host kernel */
	struct timekeeping *tk;
	struct clocksource tsc_cs, hpet_cs;
	int tk_lock;          /* tk_core.lock: the tick and the VMM's clock changes */
	bool stop_machine;    /* a clocksource change: every CPU stopped, both clocks read at once */
	struct timekeeper tk_ref; /* ground truth: the state the last update published */
	struct timekeeper tk_prev; /* ... and the one before it */
	bool tk_ref_valid, tk_valid_prev;
	u64 coarsest_count_ns;    /* the longest clocksource count the host has used, ns */
	unsigned cs_switches;     /* host clocksource changes so far */
	u64 cs_tsc[SIM_MAX_FIBERS + 1]; /* host TSC at each fiber's last clocksource read */
	bool writer_done;

	/* the guest's side */
	u8 *mem;               /* GUEST_PAGES guest pages, every other host page */
	u64 msr[PV_MAX_VCPUS]; /* MSR_KVM_SYSTEM_TIME_NEW as the guest last wrote it */
	bool fresh[PV_MAX_VCPUS]; /* enabled since the host's last version store there */
	unsigned enables[PV_MAX_VCPUS]; /* kvmclock (re-)enables so far */
	unsigned tsc_resets[PV_MAX_VCPUS]; /* host TSC writes and TSC rate changes so far */
	bool stop_req[PV_MAX_VCPUS]; /* KVMCLOCK_CTRL done, not yet published */
	bool stop_inflight[PV_MAX_VCPUS]; /* KVMCLOCK_CTRL not returned yet */
	struct kvm_host_op guest_op[MAX_READERS][MAX_GUEST_OPS];
	bool watchdog[MAX_READERS]; /* the task's watchdog samples before each read */
	int cur_reader;
	int nguest_op[MAX_READERS];

	/* host operations in flight */
	bool clock_step;       /* a deliberate clock step is being published (no CO5) */
	s64 coarse_lag_max;    /* the most the coarse host clock lagged at an anchor read */
	s64 co8_base;          /* kvmclock - true time, as CO8 expects it now */
	bool beyond_ktime;     /* the VMM set kvmclock beyond 2^63 ns (or about to cross it) */
	struct set_clock_promise pc;
	struct kvm_clock_data last_get; /* the VMM's last KVM_GET_CLOCK */
};

static struct pvclock_world W;

/* ------------------------------------------------------ host world --- */

static u64 khz_of_rate(u32 rate)
{
	/* rate ticks per SIM_NS_PER_STEP ns */
	return (u64)rate * 1000000ULL / SIM_NS_PER_STEP;
}

static int fiber_slot(void)
{
	return sim_self() < 0 ? SIM_MAX_FIBERS : sim_self();
}

/* The host's clocksources: its TSC, and an HPET (14.318 MHz, 32 bits, no vDSO mode). */
static u64 cs_read_tsc(struct clocksource *cs)
{
	if (sim_self() >= 0 && !W.stop_machine)
		sim_yield("host: read clocksource tsc");
	W.cs_tsc[fiber_slot()] = sim_cpu_tsc(SIM_HOST_CPU);
	return W.cs_tsc[fiber_slot()];
}

static u64 hpet_counter_now(void)
{
	return sim_step() * 1431818ULL / 1000000ULL; /* 14.31818 MHz at 100 ns per step */
}

static u64 cs_read_hpet(struct clocksource *cs)
{
	if (sim_self() >= 0 && !W.stop_machine)
		sim_yield("host: read clocksource hpet");
	W.cs_tsc[fiber_slot()] = sim_cpu_tsc(SIM_HOST_CPU);
	return hpet_counter_now() & cs->mask;
}

/* tk_core.lock: one timekeeping writer at a time */
static void tk_lock(void)
{
	while (xchg(&W.tk_lock, 1))
		cpu_relax();
}

static void tk_unlock(void)
{
	smp_mb();
	WRITE_ONCE(W.tk_lock, 0);
}

/* Ground truth: every timekeeping update, as it is published. */
static void tk_truth_notifier(void *ctx, const struct timekeeper *tk, bool was_set)
{
	u64 count_ns = (tk->tkr_raw.mult >> tk->tkr_raw.shift) + 1;

	if (W.tk_ref_valid && W.tk_ref.tkr_raw.clock != tk->tkr_raw.clock)
		W.cs_switches++;
	W.tk_prev = W.tk_valid_prev ? W.tk_ref : *tk;
	W.tk_valid_prev = true;
	W.tk_ref = *tk;
	W.tk_ref_valid = true;
	if (count_ns > W.coarsest_count_ns)
		W.coarsest_count_ns = count_ns;
}

static u64 ref_counter_now(const struct tk_read_base *tkr)
{
	return tkr->clock == &W.hpet_cs ? hpet_counter_now() & W.hpet_cs.mask : sim_cpu_tsc(SIM_HOST_CPU);
}

/* Host CLOCK_MONOTONIC_RAW + offs_boot (kvmclock's base) now, by the reference arithmetic. */
static u64 ref_base_now(void)
{
	const struct tk_read_base *r = &W.tk_ref.tkr_raw;
	return tk_ref_ns(r, ref_counter_now(r)) + (u64)W.tk_ref.offs_boot;
}

static u64 ref_real_now(void)
{
	const struct tk_read_base *m = &W.tk_ref.tkr_mono;
	return tk_ref_ns(m, ref_counter_now(m)) + (u64)W.tk_ref.offs_real;
}

static u64 w_host_ns(struct kvm_clock_host *h)
{
	return get_kvmclock_base_ns(h);
}

static u64 w_host_coarse_ns(struct kvm_clock_host *h)
{
	u64 ns = (u64)ktime_get_coarse_boottime(W.tk);
	s64 lag = (s64)(ref_base_now() - ns);

	/* what the host's coarse clock said at an anchor: CO14's lower edge allows its lag */
	if (lag > W.coarse_lag_max)
		W.coarse_lag_max = lag;
	return ns;
}

static u64 w_host_tsc(struct kvm_clock_host *h)
{
	if (sim_self() >= 0)
		sim_yield("host: rdtsc");
	if (sim_self() == W.vmm && W.vmm >= 0)
		W.vmm_tsc = sim_cpu_tsc(SIM_HOST_CPU);
	return sim_cpu_tsc(SIM_HOST_CPU);
}

/*
 * rdtsc() and get_kvmclock_base_ns() at one instant: the raw clock's last
 * counter read, and the host TSC of that same step.
 */
static void w_host_ns_and_tsc(struct kvm_clock_host *h, u64 *ns, u64 *tsc)
{
	u64 raw = (u64)ktime_get_raw(W.tk); /* its own statement: a defined order of traced loads */

	*ns = raw + READ_ONCE(h->gtod->offs_boot);
	*tsc = W.cs_tsc[fiber_slot()];
	if (sim_self() == W.vmm && W.vmm >= 0)
		W.vmm_cs_tsc = *tsc;
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

/* KVM wrote a new L1 TSC offset: what the vCPU's RDTSC returns moves with it */
static void w_set_guest_tsc_offset(struct kvm_clock_host *h, int v, s64 offset)
{
	sim_adjust_tsc(v, (s64)((u64)offset - (u64)h->vcpu[v].tsc_offset)); /* mod 2^64, as KVM's u64 */
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

static const struct gen *last_gen_of(int v)
{
	for (int k = W.ngens - 1; k >= 0 && k >= W.ngens - MAX_GENS; k--)
		if (W.gens[k % MAX_GENS].vcpu == v)
			return &W.gens[k % MAX_GENS];
	return NULL;
}

/* The guest's enabled record of vCPU v (per its last MSR write), or NULL. */
static u8 *guest_record_of(int v)
{
	if (!(W.msr[v] & 1))
		return NULL;
	return pvclock_guest_mem_at(W.mem, W.msr[v] & ~1ULL);
}

/* Ground truth: every record a writer means to publish; CO5 and CO15 on it. */
static void w_publish(struct kvm_clock_host *h, int v, const struct pvclock_vcpu_time_info *rec)
{
	const struct gen *old = last_gen_of(v);
	const u8 *addr = (const u8 *)kvm_pvclock_record(h, v);
	char what[160];

	/* continuity holds for a record kept enabled: a re-enabled one starts anew */
	/*
	 * ... and across a host TSC write (or a TSC rate change) only for a
	 * STABLE record: the master clock keeps kvmclock host time whatever the
	 * TSC does, but without it KVM anchors the vCPU afresh ("Reset of TSC
	 * must disable overshoot protection"), the old record's line runs at
	 * the old rate, and the guest's last_value guard is what keeps it
	 * monotonic.  On a host whose TSC is unstable (cpufreq changes its
	 * rate under KVM: the host itself left the TSC clocksource) a !STABLE
	 * record promises no line at all.
	 */
	bool same_tsc = old && ((old->tsc_resets == W.tsc_resets[v] && !h->host_tsc_unstable) ||
				(rec->flags & PVCLOCK_TSC_STABLE_BIT));
	if (!W.adversarial && !W.clock_step && old && old->enables == W.enables[v] && same_tsc) {
		/* the old line in today's TSC space (a TSC write may have moved the offset) */
		u64 d = (u64)h->vcpu[v].tsc_offset - (u64)old->tsc_offset;
		s64 before = rec_line(&old->rec, rec->tsc_timestamp - d);
		s64 after = (s64)rec->system_time;
		/*
		 * 1 ns: the old line is truncated differently on either side of
		 * its anchor; and the host clock cannot anchor finer than one
		 * count of its clocksource (70 ns on an HPET), and loses up to
		 * one count at every clocksource switch since the old anchor.
		 */
		s64 slack = 1 + (s64)W.coarsest_count_ns * (2 + (s64)(W.cs_switches - old->cs_switches));
		if (after < before - slack) {
			snprintf(what, sizeof(what), "vCPU %d record re-anchored %lld ns backwards", v,
				 (long long)(before - after));
			oracle_continuity(what, (u64)before, (u64)after);
		}
	}
	/* GUEST_STOPPED: only after KVM_KVMCLOCK_CTRL, and only the guest removes it */
	const u8 *mine = guest_record_of(v);
	u8 mem_flags = mine && addr == mine ? ((const struct pvclock_vcpu_time_info *)mine)->flags : 0;
	if (!W.adversarial && (rec->flags & PVCLOCK_GUEST_STOPPED) && !W.stop_req[v] &&
	    !(mem_flags & PVCLOCK_GUEST_STOPPED)) {
		snprintf(what, sizeof(what), "vCPU %d record published with GUEST_STOPPED, but no "
			 "KVM_KVMCLOCK_CTRL asked for it since the guest cleared it", v);
		oracle_flag_contract(what);
	}
	if (!W.adversarial && !(rec->flags & PVCLOCK_GUEST_STOPPED) && addr && addr == mine &&
	    (mem_flags & PVCLOCK_GUEST_STOPPED)) {
		snprintf(what, sizeof(what), "vCPU %d record rewritten without the GUEST_STOPPED the "
			 "guest has not consumed yet", v);
		oracle_flag_contract(what);
	}
	if (!W.adversarial && W.stop_req[v] && !W.stop_inflight[v] && addr &&
	    !(rec->flags & PVCLOCK_GUEST_STOPPED)) {
		snprintf(what, sizeof(what), "vCPU %d: KVM_KVMCLOCK_CTRL returned, but the next record "
			 "published for it has no GUEST_STOPPED", v);
		oracle_flag_contract(what);
	}
	if (addr && ((rec->flags & PVCLOCK_GUEST_STOPPED) || !W.stop_inflight[v]))
		W.stop_req[v] = false;

	struct gen *g = &W.gens[W.ngens % MAX_GENS];
	g->rec = *rec;
	g->addr = addr;
	g->vcpu = v;
	g->tsc_offset = h->vcpu[v].tsc_offset;
	g->cs_switches = W.cs_switches;
	g->enables = W.enables[v];
	g->tsc_resets = W.tsc_resets[v];
	g->mgen = W.nmgens - 1;
	g->step = sim_step();
	W.ngens++;
	if (sim_self() >= 0)
		sim_note("publish-generation", (u64)(W.ngens - 1));
}

/*
 * CO4 on the host side: the masterclock's kernel_ns is the host's
 * CLOCK_MONOTONIC_RAW + offs_boot at master_cycle_now, as the timekeeper
 * had it (one of its last two states: a tick may publish in between).
 */
static bool raw_boot_at(const struct timekeeper *tk, u64 tsc, u64 want)
{
	const struct tk_read_base *r = &tk->tkr_raw;

	if (r->clock != &W.tsc_cs || (s64)(tsc - r->cycle_last) < 0)
		return false;
	return tk_ref_ns(r, tsc) + (u64)tk->offs_boot == want;
}

static void check_master_copy(bool use_master_clock, u64 master_kernel_ns, u64 master_cycle_now)
{
	if (!use_master_clock || W.adversarial || sim_self() < 0)
		return;
	if (raw_boot_at(&W.tk_ref, master_cycle_now, master_kernel_ns) ||
	    raw_boot_at(&W.tk_prev, master_cycle_now, master_kernel_ns))
		return;
	char what[200];
	snprintf(what, sizeof(what), "the masterclock's kernel_ns at host TSC %#llx is not the host's "
		 "CLOCK_MONOTONIC_RAW + offs_boot there (kvm_get_time_and_clockread)",
		 (unsigned long long)master_cycle_now);
	oracle_reference(what, master_kernel_ns,
			 tk_ref_ns(&W.tk_ref.tkr_raw, master_cycle_now) + (u64)W.tk_ref.offs_boot);
}

/* Ground truth: generation n of the master copy ends its write section with seq 2n. */
static void w_publish_master(struct kvm_clock_host *h, bool use_master_clock, u64 master_kernel_ns,
			     u64 master_cycle_now)
{
	check_master_copy(use_master_clock, master_kernel_ns, master_cycle_now);
	struct mgen *g = &W.mgens[W.nmgens % MAX_GENS];
	g->seq = 2u * (unsigned)W.nmgens;
	g->use_master_clock = use_master_clock;
	g->master_kernel_ns = master_kernel_ns;
	g->master_cycle_now = master_cycle_now;
	g->kvmclock_offset = h->kvmclock_offset;
	W.nmgens++;
	if (sim_self() >= 0)
		sim_note("publish-master-copy", g->seq);
}

static void w_apply_khz(struct kvm_clock_host *h, u32 khz)
{
	u32 rate = (u32)((u64)khz * SIM_NS_PER_STEP / 1000000ULL);
	sim_set_tsc_rate(-1, rate);
	sim_note("tsc-rate-change", rate);
	/* a record published before runs at the old rate from here on (CO5 starts anew) */
	for (int v = 0; v < PV_MAX_VCPUS; v++)
		W.tsc_resets[v]++;
}

/* ------------------------------------------------- who made the store --- */

static void describe_store(char *buf, size_t n)
{
	int f = sim_commit_fiber();

	if (f < 0)
		snprintf(buf, n, "set-up code");
	else if (!sim_fiber_is_guest(f))
		snprintf(buf, n, "host fiber %s", sim_fiber_name(f));
	else if (sim_commit_by_host())
		snprintf(buf, n, "KVM handling an exit of vCPU %d (task %s)", sim_fiber_cpu(f),
			 sim_fiber_name(f));
	else
		snprintf(buf, n, "guest task %s on vCPU %d", sim_fiber_name(f), sim_fiber_cpu(f));
}

/* The vCPU whose enabled record (guest's view) holds guest-memory byte a, or -1. */
static int record_holding(const u8 *a, const u8 **rec)
{
	for (int v = 0; v < W.h->nr_vcpus; v++) {
		const u8 *r = guest_record_of(v);
		if (r && a >= r && a < r + REC_SIZE) {
			*rec = r;
			return v;
		}
	}
	return -1;
}

/* CO10 on a host store to vCPU v's record r: odd window, version +1 per store. */
static void check_record_discipline(int v, const u8 *r, const u8 *a, unsigned size, u64 value,
				    const char *who)
{
	const struct pvclock_vcpu_time_info *rec = (const struct pvclock_vcpu_time_info *)r;
	size_t off = (size_t)(a - r);
	u32 cur = rec->version;
	char what[320];

	if (off == 0 && size >= 4) {
		u32 nv = (u32)value;
		if (W.fresh[v]) {
			/* the first update of a newly enabled record: odd over whatever was there */
			W.fresh[v] = false;
			if (nv & 1)
				return;
		}
		if (nv != cur && nv != cur + 1) {
			snprintf(what, sizeof(what), "vCPU %d version stored %u over %u: not the odd/even +1 "
				 "protocol (store by %s)", v, nv, cur, who);
			oracle_writer_discipline(what);
		}
		return;
	}
	if (!(cur & 1)) {
		snprintf(what, sizeof(what), "vCPU %d record bytes %zu..%zu changed while its version %u "
			 "is even (outside the odd window; store by %s)", v, off, off + size - 1, cur, who);
		oracle_writer_discipline(what);
	}
}

/*
 * Every store that becomes visible in guest memory: CO13 ownership (who may
 * store where, by the guest's MSR writes), then CO10 on host stores.
 */
static void on_commit(void *ctx, volatile void *p, unsigned size, u64 value)
{
	const u8 *a = (const u8 *)p;
	char who[96], what[320];
	const u8 *r = NULL;

	if (!W.mem || a < W.mem || a >= W.mem + GUEST_PAGES * PVCLOCK_GUEST_PAGE_STRIDE)
		return; /* not guest memory */
	if (sim_commit_fiber() < 0)
		return; /* boot: the records are being set up before the guest runs */
	describe_store(who, sizeof(who));
	size_t moff = (size_t)(a - W.mem);
	bool in_guest_page = moff % PVCLOCK_GUEST_PAGE_STRIDE + size <= PVCLOCK_GUEST_PAGE_SIZE;
	int v = record_holding(a, &r);
	int v_end = record_holding(a + size - 1, &r);

	if (sim_commit_by_host()) {
		if (!in_guest_page) {
			snprintf(what, sizeof(what), "%s stored %u bytes at host memory %#zx, past the end of "
				 "the guest page it maps (not guest memory)", who, size, moff);
			oracle_ownership(what);
		}
		if (v < 0 || v_end != v) {
			u64 gpa = moff / PVCLOCK_GUEST_PAGE_STRIDE * PVCLOCK_GUEST_PAGE_SIZE +
				  moff % PVCLOCK_GUEST_PAGE_STRIDE;
			snprintf(what, sizeof(what), "%s stored %u bytes at gpa %#llx, where the guest has no "
				 "kvmclock record enabled (disabled, moved or never there)", who, size,
				 (unsigned long long)gpa);
			oracle_ownership(what);
			return;
		}
		check_record_discipline(v, r, a, size, value, who);
		return;
	}
	/* the guest's own store */
	if (v < 0 && v_end < 0)
		return; /* memory the guest owns */
	if (v < 0)
		v = v_end;
	r = guest_record_of(v);
	const u8 *flags = r + offsetof(struct pvclock_vcpu_time_info, flags);
	if (size == 1 && a == flags && (u8)value == (*flags & (u8)~PVCLOCK_GUEST_STOPPED))
		return; /* consuming GUEST_STOPPED: the one store the contract gives the guest */
	snprintf(what, sizeof(what), "%s stored %u bytes at record bytes %zu..%zu of vCPU %d's enabled "
		 "kvmclock record: only clearing GUEST_STOPPED is the guest's while MSR_KVM_SYSTEM_TIME_NEW "
		 "points there", who, size, (size_t)(a - r), (size_t)(a - r) + size - 1, v);
	oracle_ownership(what);
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

static u64 vm_exit_hook(void *ctx, int cpu, enum pv_exit_reason r, u64 a0, u64 a1)
{
	return kvm_vcpu_handle_exit(W.h, W.wops, cpu, r, a0, a1);
}

/*
 * The guest's MSR write reaches the host: from here on the record is
 * wherever it says (ground truth for CO13), then the writer handles it.
 * The vCPU's thread handles it, so no update of this vCPU's record runs
 * between the guest's wrmsr and this point.
 */
static int (*writer_wrmsr)(struct kvm_clock_host *h, int v, u32 msr, u64 data);

static int w_wrmsr(struct kvm_clock_host *h, int v, u32 msr, u64 data)
{
	if (msr == MSR_KVM_SYSTEM_TIME_NEW || msr == MSR_KVM_SYSTEM_TIME) {
		W.msr[v] = data;
		W.fresh[v] = data & 1;
		W.enables[v] += data & 1;
	}
	return writer_wrmsr(h, v, msr, data);
}

/* ------------------------------------------------------ the host tick --- */

/* The host timer: update_wall_time() every tick_steps while the VM is being driven. */
static void tick_fiber(void *arg)
{
	while (!READ_ONCE(W.writer_done)) {
		sim_sleep(W.tick_steps);
		if (READ_ONCE(W.writer_done))
			break;
		tk_lock();
		timekeeping_tick(W.tk);
		tk_unlock();
	}
}

/* ---------------------------------------------------------- writer --- */

static void image_record(struct pvclock_vcpu_time_info *r)
{
	u8 img[32] = { 0 };
	fdp_bytes(W.in, img, sizeof(img));
	memcpy(r, img, sizeof(*r));
}

/*
 * The next operation.  Without the whole interface only the four a KVM host
 * does unprompted (its updates) or a VMM does at start-up (TSC writes) are
 * drawn, so scenarios about KVM's own writer stay dense.
 */
static void read_op(struct kvm_host_op *op)
{
	static const enum kvm_host_op_kind basic[4] = {
		KVM_HOP_MASTERCLOCK_UPDATE, KVM_HOP_CLOCK_UPDATE, KVM_HOP_WRITE_TSC,
		KVM_HOP_GLOBAL_CLOCK_UPDATE,
	};
	const u8 *p = W.in->data + W.in->front;
	size_t len = fdp_remaining(W.in), n;

	if (W.whole_interface) {
		n = kvm_host_op_decode(p, len, op);
	} else {
		/* the kind byte names one of the four; the rest is the encoding's */
		u8 buf[KVM_HOP_FIXED_BYTES + 8] = { 0 };
		size_t k = len < sizeof(buf) ? len : sizeof(buf);
		memcpy(buf, p, k);
		if (k)
			buf[0] = (u8)basic[buf[0] % 4];
		n = kvm_host_op_decode(buf, k, op);
	}
	W.in->front += n;
}

/* The VMM's KVM_GET_CLOCK: the selected host reader, mainline without one. */
static void vmm_get_clock(struct kvm_clock_data *d)
{
	if (W.hops)
		W.hops->get_clock(W.h, d);
	else
		W.wops->get_clock(W.h, d);
}

/* What kvmclock reads now: vCPU 0's latest record at vCPU 0's TSC (the harness's view). */
static u64 kvmclock_now(void)
{
	const struct gen *g = last_gen_of(0);

	if (!g)
		return (u64)W.h->kvmclock_offset + ref_base_now();
	return rec_value(&g->rec, sim_cpu_tsc(0));
}

/*
 * The host clock the writer's records follow (its declared anchor), now,
 * by the reference arithmetic: CO8 places kvmclock against it.
 */
static u64 ref_anchor_now(void)
{
	const struct tk_read_base *m = &W.tk_ref.tkr_mono;

	if (W.wops->anchor == PVCLOCK_ANCHOR_RAW)
		return ref_base_now();
	/* CLOCK_BOOTTIME; a coarse anchor lags it, which CO8's lower edge allows (co8_slack) */
	return tk_ref_ns(m, ref_counter_now(m)) + (u64)W.tk_ref.offs_boot;
}

/*
 * CO8's new base after the clock was set: the clock the writer follows plus
 * the offset KVM now applies, minus true time.  Not a record's value: a
 * record carries its own anchor's error (a coarse anchor lags by up to a
 * tick), and a base taken from it would misplace every other vCPU's record.
 */
static s64 co8_follow_clock(void)
{
	/* kvmclock values are u64: the differences wrap, as the clock does */
	s64 base = (s64)(ref_anchor_now() + (u64)W.h->kvmclock_offset - sim_true_ns());
	s64 delta = (s64)((u64)base - (u64)W.co8_base);

	W.co8_base = base;
	return delta;
}

/*
 * CO8's room for the clock the writer follows, derived (docs/clock-contracts.md
 * §4): a record runs at the TSC's rate from its anchor on, an NTP-steered
 * anchor clock runs up to MAXFREQ (500 ppm) off that rate, and CO8's base
 * runs at true time.  So a BOOTTIME writer's value may drift from the base by
 * 500 ppm of the time since its record's anchor, plus 500 ppm of the time
 * since the base was taken: at most 2 x 500 ppm of the time since boot, each
 * way.  A coarse anchor is also up to one tick behind: the longest the
 * host's coarse clock had been behind at any anchor read this run (the tick
 * as the host delivered it, late ticks included), below only.  A RAW writer
 * (mainline) follows the raw clock at its own rate: no room beyond the
 * window's.
 */
static void co8_slack(struct clock_read *r)
{
	u64 drift;

	if (W.wops->anchor == PVCLOCK_ANCHOR_RAW)
		return;
	drift = 2 * (sim_true_ns() * (u64)MAXFREQ_PPB / 1000000000ULL + 1);
	r->slack_lo = drift;
	r->slack_hi = drift;
	if (W.wops->anchor == PVCLOCK_ANCHOR_BOOTTIME_COARSE && W.coarse_lag_max > 0)
		r->slack_lo += (u64)W.coarse_lag_max;
}

/* KVM_KVMCLOCK_CTRL from the VMM (CO15 expects GUEST_STOPPED in the next record) */
static void vmm_kvmclock_ctrl(int v)
{
	bool earlier = W.stop_req[v];

	/* in flight, the ioctl may publish GUEST_STOPPED; once it returned, it must */
	W.stop_req[v] = true;
	W.stop_inflight[v] = true;
	if (W.wops->set_guest_paused(W.h, v))
		W.stop_req[v] = earlier; /* refused (kvmclock disabled): nothing new asked */
	W.stop_inflight[v] = false;
}

/* kvmclock's host base and realtime at the ioctl's edges, for CO14 */
static int set_clock_promised(const struct kvm_clock_data *d)
{
	struct set_clock_promise pc = { 0 };
	struct kvm_clock_data plain;

	pc.base_lo = ref_base_now();
	pc.real_lo = ref_real_now();
	W.pc.active = false;
	W.clock_step = true;
	int ret = W.wops->set_clock(W.h, d);
	if (ret == -22 && (d->flags & KVM_CLOCK_REALTIME)) {
		/*
		 * A KVM without KVM_CLOCK_REALTIME (kvm_lacks): the VMM sets
		 * the clock plainly, as QEMU does when the flag is not offered.
		 */
		plain = *d;
		plain.flags = 0;
		d = &plain;
		ret = W.wops->set_clock(W.h, d);
	}
	W.clock_step = false;
	if (ret)
		return ret;
	pc.base_hi = ref_base_now();
	pc.real_hi = ref_real_now();
	pc.clock = d->clock;
	pc.realtime = d->flags & KVM_CLOCK_REALTIME;
	pc.realtime_ns = d->realtime;
	pc.end_step = sim_step();
	pc.active = true;
	W.pc = pc;
	return 0;
}

static void clock_set(const struct kvm_clock_data *d)
{
	clock_oracle_step_begin();
	if (set_clock_promised(d)) {
		clock_oracle_rebase(0); /* refused: nothing changed */
		return;
	}
	/*
	 * CO1/CO2 start over, CO8 follows the clock KVM now publishes - unless
	 * that clock is beyond what a guest keeps time in (ktime: s64 ns, with
	 * room for the run): a reader may assume kvmclock < 2^63 ns, so then
	 * only CO3/CO4 (one generation, its exact formula) judge its reads.
	 */
	clock_oracle_restart(co8_follow_clock());
	W.beyond_ktime = kvmclock_now() > (u64)S64_MAX - 1000000000000ULL;
	sim_note("kvm_set_clock", d->clock);
}

static void op_set_clock(const struct kvm_host_op *op)
{
	struct kvm_clock_data d = { 0 }, now;

	switch (KVM_HOP_SET_CLOCK_MODE(op->arg)) {
	case KVM_HOP_SET_CLOCK_RELATIVE:
		vmm_get_clock(&now);
		d.clock = now.clock + op->value;
		d.realtime = now.realtime;
		break;
	case KVM_HOP_SET_CLOCK_ABSOLUTE:
		d.clock = op->value;
		d.realtime = W.last_get.realtime;
		break;
	case KVM_HOP_SET_CLOCK_STALE:
		d.clock = W.last_get.clock + op->value;
		d.realtime = W.last_get.realtime;
		break;
	default:
		d.clock = 0;
		d.realtime = W.last_get.realtime;
		break;
	}
	if (op->arg & KVM_HOP_SET_CLOCK_REALTIME)
		d.flags = KVM_CLOCK_REALTIME;
	clock_set(&d);
}

/* KVM_SET_MSRS(MSR_IA32_TSC) on vCPU v's thread (the vCPU mutex): true if a masterclock update is due */
static u64 tsc_write_value;
static bool tsc_write_masterclock;

static void tsc_write_on_vcpu_thread(struct kvm_clock_host *h, int v)
{
	tsc_write_masterclock = W.wops->synchronize_tsc(h, v, &tsc_write_value);
	/* any write: a writer may re-anchor afresh even for the same value (kvm_write_tsc() of 2010) */
	W.tsc_resets[v]++;
	/* KVM_REQ_CLOCK_UPDATE for the new offset, before the vCPU runs */
	if (!tsc_write_masterclock)
		W.wops->guest_time_update(h, v);
}

static bool vcpu_write_tsc(int v, u64 value)
{
	tsc_write_value = value;
	kvm_vcpu_run_request(W.h, v, tsc_write_on_vcpu_thread);
	return tsc_write_masterclock;
}

/*
 * A host-initiated MSR_IA32_TSC write.  KVM_SET_MSRS is a vCPU ioctl: the
 * vCPU is out of KVM_RUN meanwhile, and the requests the write raised
 * (KVM_REQ_MASTERCLOCK_UPDATE, or a clock update for the new offset) are
 * done before it runs again.
 */
static void op_write_tsc(const struct kvm_host_op *op, int v)
{
	struct kvm_clock_host *h = W.h;
	u64 cur = kvm_vcpu_read_tsc(h, v), value;

	switch (KVM_HOP_TSC_MODE(op->arg)) {
	case KVM_HOP_TSC_SAME: value = cur; break;
	case KVM_HOP_TSC_DELTA: value = cur + op->value; break;
	case KVM_HOP_TSC_ABSOLUTE: value = op->value; break;
	default: value = 0; break;
	}
	sim_vcpu_stop(v, true);
	if (vcpu_write_tsc(v, value))
		W.wops->masterclock_update(h);
	sim_vcpu_stop(v, false);
}

/*
 * A live migration onto this host, as QEMU does it: stop the VM, save the
 * clock (with realtime) and every vCPU's TSC; the blackout; restore the
 * TSCs (host-initiated writes), the clock, then KVMCLOCK_CTRL on every vCPU
 * and continue.  The guest runs on neither side of the blackout, so nothing
 * it can see steps back.  The source's realtime may be off this host's
 * either way: KVM_CLOCK_REALTIME must never step kvmclock back for it.
 */
static void op_migrate(const struct kvm_host_op *op)
{
	struct kvm_clock_host *h = W.h;
	struct kvm_clock_data saved, restore = { 0 };
	u64 tsc[PV_MAX_VCPUS];
	bool req = false;

	sim_vcpu_stop(-1, true);
	W.pc.active = false;
	/* a VMM thread's polls during the migration are judged with neither side */
	if (W.hops)
		clock_oracle_step_begin();
	vmm_get_clock(&saved);
	if (op->arg & 2) /* the source host's realtime was off this one's */
		saved.realtime += (u64)((s64)(s16)(op->value >> 8) * 1000);
	for (int v = 0; v < h->nr_vcpus; v++)
		tsc[v] = kvm_vcpu_read_tsc(h, v);
	for (u32 s = 0; s < 1 + (op->value % 64); s++)
		sim_yield("vmm: migration blackout");
	/* the destination: TSCs first (kvm_arch_put_registers), then the clock at "cont" */
	for (int v = 0; v < h->nr_vcpus; v++)
		req |= vcpu_write_tsc(v, tsc[v]);
	if (req)
		W.wops->masterclock_update(h);
	restore.clock = saved.clock;
	/* QEMU passes KVM_CLOCK_REALTIME on only if KVM_GET_CLOCK gave a realtime */
	if ((op->arg & 1) && (saved.flags & KVM_CLOCK_REALTIME)) {
		restore.flags = KVM_CLOCK_REALTIME;
		restore.realtime = saved.realtime;
	}
	/* the restore promises what any KVM_SET_CLOCK does (CO14) */
	(void)set_clock_promised(&restore);
	for (int v = 0; v < h->nr_vcpus; v++)
		vmm_kvmclock_ctrl(v);
	/*
	 * The guest saw nothing step back.  A VMM thread that polled the clock
	 * during the blackout did see it run on, and the restore set it back
	 * (without KVM_CLOCK_REALTIME): its reads start a new order.
	 */
	if (W.hops && !(restore.flags & KVM_CLOCK_REALTIME))
		clock_oracle_restart(co8_follow_clock());
	else
		clock_oracle_rebase(co8_follow_clock());
	sim_vcpu_stop(-1, false);
}

/*
 * timekeeping_notify(): change_clocksource() runs under stop_machine, so
 * the old clock's last read and the new clock's first are one instant.
 */
static void host_change_clocksource(struct clocksource *cs)
{
	W.stop_machine = true;
	timekeeping_change_clocksource(W.tk, cs);
	W.stop_machine = false;
}

/* The host kernel changes its clock under KVM (tk_core.lock held). */
static void op_host(const struct kvm_host_op *op)
{
	struct timespec64 ts;
	s64 ns;

	tk_lock();
	switch (op->kind) {
	case KVM_HOP_HOST_NTP_FREQ:
		timekeeping_set_frequency(W.tk, kvm_host_op_s32(op) % (MAXFREQ_PPB + 1));
		break;
	case KVM_HOP_HOST_SETTIME:
		ns = (s64)ref_real_now() + kvm_host_op_s64(op) % (1000LL * (s64)NSEC_PER_SEC);
		ts.tv_sec = ns / (s64)NSEC_PER_SEC;
		ts.tv_nsec = (long)(ns % (s64)NSEC_PER_SEC);
		(void)do_settimeofday64(W.tk, &ts);
		break;
	case KVM_HOP_HOST_CLOCKSOURCE:
		/* a TSC marked unstable (it changed frequency) is never selected again */
		if ((op->arg & 1) || !W.h->host_tsc_unstable)
			host_change_clocksource(op->arg & 1 ? &W.hpet_cs : &W.tsc_cs);
		break;
	default:
		break;
	}
	tk_unlock();
}

/*
 * Host suspend: KVM's PM notifier marks every vCPU with kvmclock paused,
 * the host sleeps (BOOTTIME counts it, the TSC keeps its value), and the
 * vCPUs publish GUEST_STOPPED before they run again.
 */
static void op_host_suspend(const struct kvm_host_op *op)
{
	struct kvm_clock_host *h = W.h;
	u64 sleep_ns = (1 + op->value % 1024) * 1000ULL;
	struct timespec64 d = { (s64)(sleep_ns / NSEC_PER_SEC), (long)(sleep_ns % NSEC_PER_SEC) };

	sim_vcpu_stop(-1, true);
	W.pc.active = false;
	tk_lock();
	timekeeping_inject_sleeptime64(W.tk, &d);
	tk_unlock();
	for (int v = 0; v < h->nr_vcpus; v++)
		if (kvm_pvclock_record(h, v))
			vmm_kvmclock_ctrl(v);
	/* kvmclock takes the sleep in at the next masterclock update: CO8 may see it */
	clock_oracle_step_forward(sleep_ns);
	sim_vcpu_stop(-1, false);
}

static void post_guest_op(const struct kvm_host_op *op)
{
	int r = (op->arg & 3) % W.nr_readers;
	if (W.nguest_op[r] < MAX_GUEST_OPS)
		W.guest_op[r][W.nguest_op[r]++] = *op;
}

static void host_operation(const struct kvm_host_op *op)
{
	struct kvm_clock_host *h = W.h;
	int v = kvm_host_op_vcpu(op, h->nr_vcpus);

	W.order_rot = op->arg >> 4;
	if (W.adversarial && kvm_host_op_who(op->kind) == KVM_HOP_BY_KVM) {
		/* KVM's own update, with a record image of the input's choosing */
		struct pvclock_vcpu_time_info r;
		image_record(&r);
		kvm_vcpu_write_record(h, W.wops, v, &r);
		return;
	}
	switch (op->kind) {
	case KVM_HOP_MASTERCLOCK_UPDATE:
		W.wops->masterclock_update(h);
		break;
	case KVM_HOP_CLOCK_UPDATE:
		kvm_vcpu_run_request(h, v, W.wops->guest_time_update);
		break;
	case KVM_HOP_GLOBAL_CLOCK_UPDATE:
		/* kvmclock_update_work: every vCPU, no master copy refresh */
		for (int k = 0; k < h->nr_vcpus; k++)
			kvm_vcpu_run_request(h, h->vcpu_order(h, k), W.wops->guest_time_update);
		break;
	case KVM_HOP_SET_CLOCK:
		op_set_clock(op);
		break;
	case KVM_HOP_GET_CLOCK:
		vmm_get_clock(&W.last_get);
		break;
	case KVM_HOP_KVMCLOCK_CTRL:
		vmm_kvmclock_ctrl(v);
		break;
	case KVM_HOP_WRITE_TSC:
		op_write_tsc(op, v);
		break;
	case KVM_HOP_MIGRATE:
		op_migrate(op);
		break;
	case KVM_HOP_PAUSE_VCPU:
		sim_host_preempt(v, 1 + (u32)(op->value % 64));
		if (op->arg & 4)
			vmm_kvmclock_ctrl(v);
		break;
	case KVM_HOP_HOST_SUSPEND:
		op_host_suspend(op);
		break;
	default:
		if (kvm_host_op_who(op->kind) == KVM_HOP_BY_HOST)
			op_host(op);
		else
			post_guest_op(op);
		break;
	}
}

/* cpufreq on a !CONSTANT_TSC host: its TSC is no clocksource any more */
static void tsc_frequency_change(u32 khz)
{
	struct kvm_clock_host *h = W.h;

	if (!h->host_tsc_unstable) {
		/* mark_tsc_unstable(): the clocksource watchdog moves the host to the HPET */
		tk_lock();
		host_change_clocksource(&W.hpet_cs);
		tk_unlock();
		h->host_tsc_unstable = true;
		WRITE_ONCE(h->gtod_masterclock_request, false);
		W.wops->masterclock_update(h);
	}
	if (W.wops->tsc_khz_change)
		W.wops->tsc_khz_change(h, khz, w_apply_khz);
	else
		kvmclock_cpufreq_notifier_with(h, khz, w_apply_khz, W.wops->masterclock_update);
}

static void writer_fiber(void *arg)
{
	struct kvm_clock_host *h = W.h;
	for (int i = 0; i < W.nr_updates; i++) {
		struct kvm_host_op op;
		read_op(&op);
		for (int d = 0; d < op.delay; d++)
			sim_yield("host: idle");
		/* pvclock_gtod_update_fn(): KVM_REQ_MASTERCLOCK_UPDATE on every vCPU */
		if (READ_ONCE(h->gtod_masterclock_request)) {
			WRITE_ONCE(h->gtod_masterclock_request, false);
			W.wops->masterclock_update(h);
		}
		if (W.pending_khz) {
			u32 khz = W.pending_khz;
			W.pending_khz = 0;
			tsc_frequency_change(khz);
			continue;
		}
		host_operation(&op);
	}
	WRITE_ONCE(W.writer_done, true);
}

/* ---------------------------------------------------------- reader --- */

/* The record an op computed from: the published generation whose fields it loaded last. */
static const struct gen *snapshot_generation(int reader, bool *have_flags, u64 *flags)
{
	const u8 *best = NULL;
	u64 best_step = 0;
	struct pvclock_vcpu_time_info snap = { 0 };
	/* every place a record can be: the boot array and the relocated slots */
	for (int k = W.ngens - 1; k >= 0 && k >= W.ngens - MAX_GENS; k--) {
		const u8 *a = W.gens[k % MAX_GENS].addr;
		if (!a || a == best)
			continue;
		const struct pvclock_vcpu_time_info *g = (const struct pvclock_vcpu_time_info *)a;
		u64 T, S, mul, shift, when;
		if (sim_op_seen_at(&g->tsc_timestamp, 8, &T, &when) && sim_op_seen(&g->system_time, 8, &S) &&
		    sim_op_seen(&g->tsc_to_system_mul, 4, &mul) && sim_op_seen(&g->tsc_shift, 1, &shift) &&
		    (!best || when > best_step)) {
			best = a;
			best_step = when;
			snap.tsc_timestamp = T;
			snap.system_time = S;
			snap.tsc_to_system_mul = (u32)mul;
			snap.tsc_shift = (s8)shift;
		}
	}
	if (!best)
		return NULL; /* a reader that fell back before loading anything */

	/* prefer a generation that also explains the flags the reader loaded */
	*have_flags = sim_op_seen(&((const struct pvclock_vcpu_time_info *)best)->flags, 1, flags);
	for (int pass = 0; pass < 2; pass++) {
		for (int k = W.ngens - 1; k >= 0 && k >= W.ngens - MAX_GENS; k--) {
			const struct gen *g = &W.gens[k % MAX_GENS];
			if (g->addr == best && g->rec.tsc_timestamp == snap.tsc_timestamp &&
			    g->rec.system_time == snap.system_time &&
			    g->rec.tsc_to_system_mul == snap.tsc_to_system_mul &&
			    g->rec.tsc_shift == snap.tsc_shift &&
			    (pass == 1 || !*have_flags ||
			     (*flags & PVCLOCK_TSC_STABLE_BIT) == (g->rec.flags & PVCLOCK_TSC_STABLE_BIT)))
				return g;
		}
	}
	char what[200];
	snprintf(what, sizeof(what),
		 "reader=%d accepted record fields T=%llu S=%llu mul=%u shift=%d from no single "
		 "generation", reader, (unsigned long long)snap.tsc_timestamp,
		 (unsigned long long)snap.system_time, snap.tsc_to_system_mul, snap.tsc_shift);
	oracle_torn_snapshot(what);
	return NULL;
}

/*
 * CO14: after KVM_SET_CLOCK returned, the record a read computes from must
 * say what the VMM set: clock (+ the host realtime elapsed since, with
 * KVM_CLOCK_REALTIME) + the host base elapsed since the ioctl.  The host
 * may anchor on its coarse clock, so the lower edge allows one tick, or
 * the most that clock lagged at an anchor (a late tick).
 */
static void clock_set_postcondition(int reader, const struct clock_read *r, u64 base_start,
				    const struct gen *match, u64 tsc)
{
	const struct set_clock_promise *pc = &W.pc;
	u64 base_end = ref_base_now();

	if (!pc->active || r->start_step <= pc->end_step || W.adversarial)
		return;
	u64 adj_lo = 0, adj_hi = 0;
	if (pc->realtime) {
		adj_lo = pc->real_lo > pc->realtime_ns ? pc->real_lo - pc->realtime_ns : 0;
		adj_hi = pc->real_hi > pc->realtime_ns ? pc->real_hi - pc->realtime_ns : 0;
	}
	u64 tick_ns = (u64)W.tick_steps * SIM_NS_PER_STEP;
	/*
	 * "Host time elapsed" is the raw clock's in mainline; a KVM that
	 * anchors on CLOCK_BOOTTIME (older ones) follows NTP, within 500 ppm
	 * of it.
	 */
	u64 ntp = (base_end - pc->base_lo) / 2000 + 1;
	if ((u64)W.coarse_lag_max > tick_ns)
		tick_ns = (u64)W.coarse_lag_max; /* a late tick: the coarse clock said less */
	u64 lo = pc->clock + adj_lo + (base_start - pc->base_hi) - tick_ns - 2 - ntp;
	u64 hi = pc->clock + adj_hi + (base_end - pc->base_lo) + 2 + ntp;
	u64 got = rec_value(&match->rec, tsc);
	if ((s64)(got - lo) < 0 || (s64)(hi - got) < 0) {
		char what[200];
		snprintf(what, sizeof(what), "reader=%d read vCPU %d's record (generation published at step "
			 "%llu) after KVM_SET_CLOCK(%llu%s) returned at step %llu", reader, match->vcpu,
			 (unsigned long long)match->step, (unsigned long long)pc->clock,
			 pc->realtime ? ", REALTIME" : "", (unsigned long long)pc->end_step);
		oracle_postcondition(what, got, lo, hi);
	}
}

/*
 * CO14 for every master-copy update (kvm_end_pvclock_update()): each vCPU
 * rewrites its own record before its next guest instruction, so a task
 * reading its own vCPU's record never computes from one published before
 * the latest master copy that existed when the read began.  (Other vCPUs'
 * records may still be old - the vDSO's cross-vCPU read sees that.)
 */
static void lockstep_postcondition(int reader, int mgen_at_start, const struct gen *match)
{
	int cpu = sim_fiber_cpu(sim_self());

	if (W.adversarial || match->vcpu != cpu || match->mgen >= mgen_at_start)
		return;
	char what[200];
	snprintf(what, sizeof(what), "reader=%d on vCPU %d computed from its own record published with "
		 "master copy %d, after master copy %d was in place: the vCPU ran before it rewrote its "
		 "record", reader, cpu, match->mgen, mgen_at_start);
	oracle_postcondition(what, (u64)match->mgen, (u64)mgen_at_start, (u64)(W.nmgens - 1));
}

/* The record whose fields this op loaded, and the generation it matches. */
static void check_snapshot(int reader, const struct clock_read *r, u64 base_start, u64 value,
			   bool fell_back, bool *guest_ordered, bool *fixup, int mgen_at_start)
{
	bool have_flags = false;
	u64 flags = 0;
	const struct gen *match = snapshot_generation(reader, &have_flags, &flags);
	char what[160];

	*guest_ordered = true;
	if (!match)
		return;
	if (have_flags && (flags & PVCLOCK_TSC_STABLE_BIT) != (match->rec.flags & PVCLOCK_TSC_STABLE_BIT)) {
		snprintf(what, sizeof(what), "reader=%d saw STABLE=%d with data of a generation published "
			 "with STABLE=%d", reader, (int)(flags & 1), match->rec.flags & 1);
		oracle_flag_coherence(what);
	}
	if (W.rops->userspace && !fell_back && !(match->rec.flags & PVCLOCK_TSC_STABLE_BIT)) {
		snprintf(what, sizeof(what), "reader=%d computed from a !STABLE record of vCPU %d instead of "
			 "falling back to the syscall", reader, match->vcpu);
		oracle_fallback(what);
	}
	/* a value from a STABLE record is the host's promise, not the reader's own order */
	*guest_ordered = !(match->rec.flags & PVCLOCK_TSC_STABLE_BIT);
	lockstep_postcondition(reader, mgen_at_start, match);

	/* the value must come from this record and a TSC the reader read (CO3/CO4) */
	const u64 *tscs;
	int nt = sim_op_tscs(&tscs);
	if (nt == 0) {
		/*
		 * The TSC came from the host (ptp_kvm): nothing local to
		 * compare.  The cross-timestamp has no last_value guard either,
		 * so a !STABLE record gives its value no guest-side order: with
		 * adversarial records (judged by that order only) nothing is
		 * promised about it.
		 */
		*guest_ordered = false;
		return;
	}
	clock_set_postcondition(reader, r, base_start, match, tscs[nt - 1]);
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
		/*
		 * the last_value fix-up returns a later reader's value, never
		 * less; the kernel compares as s64 ns (ktime), so a record
		 * beyond 2^63 ns counts as before last_value
		 */
		if ((s64)want < (s64)value && (s64)value <= (s64)last)
			fixup_ok = true;
	}
	if (fixup_ok) {
		*fixup = true; /* last_value: the guest's own order, not a time */
		return;
	}
	/* one generation's fields, but not its formula at any TSC read: arithmetic */
	snprintf(what, sizeof(what), "reader=%d's arithmetic: vCPU %d record (one generation) at the "
		 "TSC it read", reader, match->vcpu);
	oracle_reference(what, value, rec_value(&match->rec, tscs[nt - 1]));
}

static u64 fallback_read(struct pvclock_guest *g)
{
	/* the syscall: clock_gettime() in the kernel uses kvm_clock_read() */
	const struct pv_variant *k = pv_variant_find("pvclock_kernel");
	return ((const struct pvclock_reader_ops *)k->ops)->read(g);
}

/* The guest's kvmclock driver: the reader variant's hooks, mainline without them. */
static void guest_cpu_online(void)
{
	(W.rops->cpu_online ? W.rops->cpu_online : kvm_register_clock)(&W.guest);
}

static void guest_cpu_offline(void)
{
	(W.rops->cpu_offline ? W.rops->cpu_offline : kvmclock_disable)(&W.guest);
}

/*
 * Where AP cpu's record goes in a relocated layout (a kexec'd kernel, a
 * per-CPU area allocated anew): guest page 1, a 256-byte lane per CPU with
 * three 64-byte slots - or the last 16 bytes of page 1, a record that
 * crosses into page 2 (the guest's choice; KVM must refuse to map it).
 */
static struct pvclock_vcpu_time_info *alt_slot(int cpu, u64 which)
{
	u64 gpa = (which & 3) == 3 ? 2 * PVCLOCK_GUEST_PAGE_SIZE - 16
				   : PVCLOCK_GUEST_PAGE_SIZE + (u64)cpu * 256 + (which & 3) * 64;
	return (struct pvclock_vcpu_time_info *)pvclock_guest_mem_at(W.mem, gpa);
}

static void guest_watchdog(void);

/*
 * A guest operation, by the task that runs it, on its current CPU with
 * preemption off.  The BSP (vCPU 0) stays up: its record is the vDSO's.
 */
static void guest_operation(const struct kvm_host_op *op)
{
	int cpu;

	preempt_disable();
	cpu = smp_processor_id();
	switch (op->kind) {
	case KVM_HOP_GUEST_KVMCLOCK_MSR:
		if (cpu == 0)
			break;
		switch (KVM_HOP_MSR_MODE(op->arg)) {
		case KVM_HOP_MSR_DISABLE:
			/* down and up again: CPU hotplug, within the op (see below) */
			guest_cpu_offline();
			guest_cpu_online();
			break;
		case KVM_HOP_MSR_ENABLE:
			guest_cpu_offline();
			W.guest.per_cpu[cpu] = &W.guest.hv_clock[cpu].pvti;
			guest_cpu_online();
			break;
		case KVM_HOP_MSR_ENABLE_ELSEWHERE:
			guest_cpu_offline();
			W.guest.per_cpu[cpu] = alt_slot(cpu, op->value);
			guest_cpu_online();
			if ((op->value & 3) == 3) {
				/*
				 * A record across a page: allowed by msr.rst, refused
				 * by KVM since the CVE-2013-1796 fix (it maps one page).
				 * A guest asking for one gets no clock, so it goes back
				 * to its boot record before it reads.
				 */
				W.guest.per_cpu[cpu] = &W.guest.hv_clock[cpu].pvti;
				guest_cpu_online();
			}
			break;
		default: {
			/* the CPU goes away and its record's memory is reused for other data */
			struct pvclock_vcpu_time_info *old = this_cpu_pvti(&W.guest);
			u64 *words = (u64 *)(void *)old;
			guest_cpu_offline();
			for (unsigned w = 0; w < REC_SIZE / 8; w++)
				WRITE_ONCE(words[w], op->value * 0x0101010101010101ULL + w);
			W.guest.per_cpu[cpu] = &W.guest.hv_clock[cpu].pvti;
			/*
			 * ... and comes back (the next kernel, the resumed image)
			 * before anything runs on it again: no task, not even a
			 * user-space reader migrated here, sees it offline.
			 */
			guest_cpu_online();
			break;
		}
		}
		break;
	case KVM_HOP_GUEST_CHECK_PAUSED:
		/* the soft-lockup watchdog of this task's CPUs runs from now on (every sample) */
		W.watchdog[W.cur_reader] = true;
		guest_watchdog();
		break;
	default:
		break;
	}
	preempt_enable();
}

/* watchdog_timer_fn(): a host pause is not a soft lockup */
static void guest_watchdog(void)
{
	preempt_disable();
	(W.rops->check_and_clear_guest_paused ? W.rops->check_and_clear_guest_paused
					      : kvm_check_and_clear_guest_paused)(&W.guest);
	preempt_enable();
}

/*
 * A guest op brings the CPU it took down back up within the op (its
 * bring-up registers kvmclock anew, also when a faulty offline handler left
 * the MSR enabled); a CPU whose kvmclock is still off registers it before
 * its tasks read again.
 */
static void guest_cpu_ensure_online(void)
{
	preempt_disable();
	if (!(W.msr[smp_processor_id()] & 1))
		guest_cpu_online();
	preempt_enable();
}

static void reader_fiber(void *arg)
{
	int id = *(int *)arg;
	for (int i = 0; i < W.nr_reads; i++) {
		W.cur_reader = id;
		for (int k = 0; k < W.nguest_op[id]; k++)
			guest_operation(&W.guest_op[id][k]);
		W.nguest_op[id] = 0;
		guest_cpu_ensure_online();
		if (W.watchdog[id])
			guest_watchdog();

		struct clock_read r;
		bool ordered = true, fixup = false;
		sim_op_begin("pvclock_read");
		clock_read_begin(&r);
		int mgen = W.nmgens - 1;
		u64 base_start = ref_base_now();
		u64 v = W.rops->read(&W.guest);
		bool fell_back = v == PVCLOCK_FALLBACK;
		if (!fell_back)
			check_snapshot(id, &r, base_start, v, false, &ordered, &fixup, mgen);
		if (fell_back) {
			v = fallback_read(&W.guest);
			check_snapshot(id, &r, base_start, v, true, &ordered, &fixup, mgen);
		}
		if (W.beyond_ktime)
			; /* outside what a reader may assume: CO3/CO4 only */
		else if (fixup)
			clock_read_end_order_only(&r, id, v);
		else if (!W.adversarial || ordered) {
			co8_slack(&r);
			clock_read_end(&r, id, v);
		}
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
		/*
		 * get_kvmclock_base_ns() + offset: the host's raw clock, read in
		 * its own seqcount section; the timekeeper state of that read may
		 * be gone already, so the value is judged by CO1/CO2/CO8 only.
		 */
		return;
	}
	if (d->clock != want) {
		snprintf(what, sizeof(what), "KVM_GET_CLOCK returned %llu, generation seq=%u "
			 "(use_master_clock=%d) gives %llu at the host time it read",
			 (unsigned long long)d->clock, g->seq, g->use_master_clock,
			 (unsigned long long)want);
		oracle_torn_snapshot(what);
		return;
	}
	/*
	 * A TSC_STABLE answer is kvmclock: monotonic with the guest's reads -
	 * unless the records are adversarial: then the guest reads whatever
	 * was published, and its last_value guard orders only its own reads.
	 */
	if (stable && !W.beyond_ktime && !W.adversarial) {
		co8_slack(r);
		clock_read_end(r, MAX_READERS, d->clock);
	}
}

static void vmm_fiber(void *arg)
{
	/* a VMM polls the clock (migration, kvmclock state save): 4 ioctls per guest read */
	for (int i = 0; i < 4 * W.nr_reads; i++) {
		struct clock_read r;
		struct kvm_clock_data d = { 0 };
		sim_op_begin("KVM_GET_CLOCK");
		clock_read_begin(&r);
		W.vmm_tsc = W.vmm_cs_tsc = 0;
		W.hops->get_clock(W.h, &d);
		check_get_clock(&r, &d);
		sim_op_end();
		sim_yield("vmm: between ioctls");
	}
}

/* --------------------------------------------------------- scenario --- */

static struct pvclock_writer_ops wops_resolved;

/* the host's NTP frequency correction at boot, ppb */
static const s64 ntp_ppb[8] = { 0, 500000, -500000, 100000, -100000, 1000, -31337, 250000 };

static void host_kernel_boot(u8 host, u32 rate)
{
	W.tk = sim_shared_alloc(sizeof(struct timekeeping), 64);
	W.tsc_cs = (struct clocksource){ .read = cs_read_tsc, .mask = ~0ULL, .name = "tsc",
					 .vdso_clock_mode = VDSO_CLOCKMODE_TSC };
	W.hpet_cs = (struct clocksource){ .read = cs_read_hpet, .mask = CLOCKSOURCE_MASK(32),
					  .name = "hpet", .vdso_clock_mode = VDSO_CLOCKMODE_NONE };
	/* the TSC registered at the kHz KVM also uses (clocksource_register_khz(tsc_khz)) */
	clocksource_register_hz(&W.tsc_cs, khz_of_rate(rate) * 1000);
	clocksource_register_hz(&W.hpet_cs, 14318180);
	struct timekeeping_boot b = {
		.clock = host & 8 ? &W.hpet_cs : &W.tsc_cs,
		.wall_time = { 1700000000, 0 },
		.boot_offset = { 0, 0 },
		.ntp_interval_ns = (u64)W.tick_steps * SIM_NS_PER_STEP,
		.ntp_freq_ppb = ntp_ppb[host & 7],
		.mono_extra_shift = host & 0x10 ? 2 : 0,
	};
	timekeeping_init(W.tk, &b);
	timekeeping_register_notifier(W.tk, tk_truth_notifier, NULL);
}

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
	u8 host = fdp_u8(in, 0);
	cfg.on_event = on_event;
	cfg.on_exit = vm_exit_hook;
	cfg.on_commit = on_commit;
	cfg.preempt_exclusive = true; /* the guest's per-CPU kvmclock lifecycle */
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
	writer_wrmsr = wops_resolved.wrmsr;
	wops_resolved.wrmsr = w_wrmsr;
	W.wops = &wops_resolved;
	W.in = in;
	W.nr_readers = 1 + (shape >> 2) % MAX_READERS;
	W.nr_reads = 1 + ((shape >> 4) & 3);
	W.nr_updates = upd & 7; /* 0: boot records only (a seed no variant fails on) */
	W.adversarial = upd & 0x10;
	W.tick_steps = 128 * (1 + (gran & 7));
	W.whole_interface = upd & 0x40;

	sim_reset(&cfg, in);

	struct kvm_clock_host *h = sim_shared_alloc(sizeof(*h), 64);
	W.mem = sim_shared_alloc(GUEST_PAGES * PVCLOCK_GUEST_PAGE_STRIDE, PVCLOCK_GUEST_PAGE_SIZE);
	h->guest = (struct pvclock_vsyscall_time_info *)W.mem; /* hv_clock_boot: guest page 0 */
	h->guest_mem = W.mem;
	h->guest_mem_size = GUEST_PAGES * PVCLOCK_GUEST_PAGE_SIZE;
	h->nr_vcpus = cfg.nr_cpus;
	h->tsc_always_catchup = upd & 0x20;
	h->tsc_khz = (u32)khz_of_rate(cfg.tsc_rate);
	h->kvmclock_offset = 0;
	h->host_ns = w_host_ns;
	h->host_coarse_ns = w_host_coarse_ns;
	h->host_tsc = w_host_tsc;
	h->host_ns_and_tsc = w_host_ns_and_tsc;
	h->vcpu_in_host = w_vcpu_in_host;
	h->vcpu_order = w_vcpu_order;
	h->publish = w_publish;
	h->publish_master = w_publish_master;
	h->set_guest_tsc_offset = w_set_guest_tsc_offset;
	h->ops = W.wops;
	W.h = h;

	/* the host kernel, and KVM's copy of its clock */
	host_kernel_boot(host, cfg.tsc_rate);
	h->host_tk = W.tk;
	h->gtod = sim_shared_alloc(sizeof(struct pvclock_gtod_data), 64);
	timekeeping_register_notifier(W.tk, pvclock_gtod_notify, h);
	w_publish_master(h, false, 0, 0); /* generation 0: the zeroed master copy, seq 0 */

	/* the writer's own per-run state (no statics: see writer_priv) */
	memset(h->writer_priv, 0, sizeof(h->writer_priv));
	if (W.wops->reset)
		W.wops->reset(h);

	/*
	 * The VMM gives every vCPU its TSC offset (KVM_VCPU_TSC_OFFSET): equal
	 * ones make one TSC generation (the masterclock may be used), the skewed
	 * ones of SIM_MODE_SKEW as many generations as there are offsets.  The
	 * simulator's vCPU TSCs already run at those offsets.
	 */
	for (int v = 0; v < h->nr_vcpus; v++) {
		h->vcpu[v].tsc_offset = cfg.tsc_skew[v];
		kvm_vcpu_set_tsc_offset(h, v, cfg.tsc_skew[v]);
	}

	W.guest.hv_clock = h->guest;
	W.guest.nr_cpus = cfg.nr_cpus;
	W.guest.last_value = sim_shared_alloc(sizeof(atomic64_t), 8);
	W.guest.valid_flags = PVCLOCK_TSC_STABLE_BIT;
	W.guest.mem = W.mem;
	W.guest.mem_size = h->guest_mem_size;

	struct clock_oracle_cfg oc = { .check_time = true, .order_only = W.adversarial, .unit_ns = 1,
				       .base = 0, .tolerance = SIM_HARD_LIMIT * SIM_NS_PER_STEP / 8 };
	clock_oracle_reset(&oc);

	/* boot: kvmclock enabled on every vCPU before the guest runs (kvmclock_init) */
	for (int v = 0; v < h->nr_vcpus; v++) {
		W.wops->wrmsr(h, v, MSR_KVM_SYSTEM_TIME_NEW, pvclock_guest_pa(&W.guest, &h->guest[v].pvti) | 1);
		h->vcpu[v].clock_update_request = false;
		if (W.adversarial) {
			struct pvclock_vcpu_time_info r;
			image_record(&r);
			r.version &= ~1u;
			r.flags &= (u8)~PVCLOCK_GUEST_STOPPED;
			w_publish(h, v, &r);
			sim_host_write(&h->guest[v].pvti, &r, sizeof(r));
			h->vcpu[v].hv_clock = r;
		}
	}
	/* the writer under test brings the records up (a writer's own invariants from boot) */
	if (!W.adversarial)
		W.wops->masterclock_update(h);

	sim_spawn("kvm", writer_fiber, NULL, SIM_HOST_CPU, false);
	sim_spawn("tick", tick_fiber, NULL, SIM_HOST_CPU, false);
	if (W.hops)
		W.vmm = sim_spawn("vmm", vmm_fiber, NULL, SIM_HOST_CPU, false);
	for (int i = 0; i < W.nr_readers; i++) {
		W.reader_id[i] = i;
		sim_spawn(i == 0 ? "reader0" : i == 1 ? "reader1" : "reader2", reader_fiber,
			  &W.reader_id[i], i, true);
	}
	sim_run();
}
