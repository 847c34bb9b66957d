// SPDX-License-Identifier: MIT
/*
 * The generic vDSO scenario in the simulator.  A guest kernel keeps time with
 * the timekeeper of src/clock/timekeeping.c on one of four clocksources (the
 * TSC, kvm-clock, a 32-bit HPET and a 24-bit ACPI PM timer, the last two
 * without a vDSO mode); its tick, on vCPU 0, runs the writer variant's
 * update_vsyscall() inside the timekeeper's write section, as the kernel's
 * notifier does.  A KVM host fiber rewrites the kvmclock records the
 * kvm-clock clocksource and the vDSO's PVCLOCK mode read.  User tasks on any
 * vCPU (migratable, also mid-read) call clock_gettime() through the reader
 * variant, bracketed by the system call.
 *
 * Input head (front), each byte defaulting when the input runs out:
 *   mode     sim mode bits (sim.h); SKEW gives per-vCPU TSC offsets of up
 *            to +-2048 cycles (a TSC the kernel still trusts)
 *   shape    vCPUs 1-4 | readers 1-3 | reads per reader 1-4 | boot clocksource
 *   kernel   tick actions 0-15 | KVM masterclock updates 0-3 | hrtimer high res at boot
 *   rate     TSC ticks per 100 ns step (64..319)
 *   tick     the timekeeper's tick length, 4-31 steps (NTP_INTERVAL_LENGTH)
 *   skew[4]  per-vCPU TSC offsets (SIM_MODE_SKEW only)
 *   clk[r]   per reader, a byte per read choosing the clock id
 *   then, lazily, per kernel action: an action byte (kind in bits 0-2,
 *   argument in 3-7) and a delay byte; per KVM update a delay byte.
 *
 * Kernel actions: a tick, an NTP frequency change (adjtimex), settimeofday
 * (a REALTIME step either way), a clocksource change, a suspend/resume
 * (BOOTTIME moves on), the VM paused for up to 2^43 TSC cycles (no tick in
 * between), high-resolution timers switched on (hrtimer_res), two ticks.
 *
 * Oracles
 *   at every publication (a base's seq becoming even), against the
 *   timekeeper state update_vsyscall() was given:
 *     writer_discipline  a field changed while its base's seq is even, the
 *                        clock mode is not the clocksource's
 *     continuity         a base, the coarse times or hrtimer_res are not the
 *                        timekeeper's (the page lags the kernel)
 *   on every vDSO read:
 *     fallback           a time for a clock id the vDSO does not serve, or
 *                        computed from a page whose clock mode is NONE (V5)
 *     torn_snapshot      the fields it used are from no single generation (V1)
 *     reference          its result is not the vDSO formula (x86
 *                        vdso_calc_ns, 128-bit) for the generation it read, at
 *                        a counter value it read (CO4, V4)
 *     plausibility       outside [syscall before, syscall after] (V3), with an
 *                        allowance derived from the injected TSC skew and
 *                        the largest NTP mult step so far
 *     monotonic          MONOTONIC, BOOTTIME, MONOTONIC_RAW and
 *                        MONOTONIC_COARSE per reader (V2)
 *     linearizable       the same clocks across readers: a read that began
 *                        after another's returned is not earlier (CO2)
 *   liveness (CO7) from the simulator.
 *
 * Not modelled: time namespaces (VDSO_CLOCKMODE_TIMENS), aux clocks, the
 * Hyper-V TSC page mode, clock_getres() and gettimeofday()'s time zone.
 */
#include <stdio.h>
#include <string.h>

#include "clock/vdso_harness.h"
#include "oracle/oracle.h"
#include "sim/sim.h"

#define MAX_GENS 48
#define MAX_READERS 3
#define MAX_RECS 16
#define MAX_TKS 8
#define KVMCLOCK_BOOT_NS 1000000000ULL
#define TICK_NSEC 4000000u /* HZ=250: hrtimer_res before high-resolution mode */

enum { CS_TSC, CS_KVMCLOCK, CS_HPET, CS_ACPI_PM, NR_CS };

struct vgen {
	struct vdso_clock c;
	u64 from, until;
};

/* What update_vsyscall() was given, keyed by the even seq it will publish. */
struct tkpub {
	u32 seq_even;
	u32 hrtimer_res;
	struct timekeeper tk;
};

struct vreader {
	int id;
	u64 last[VDSO_BASES];
	bool have_last[VDSO_BASES];
};

struct vdso_world {
	const struct vdso_reader_ops *rops;
	const struct vdso_writer_ops *wops;
	struct fdp *in;
	struct timekeeping *tkd;
	struct clocksource cs[NR_CS];
	struct vdso_time_data *vd;
	struct vdso_user user;
	struct kvm_clock_host h;
	struct pvclock_guest guest;
	const struct pvclock_reader_ops *kvm_clock_read;
	bool kvmclock_stable;
	u32 rate;
	u64 tsc_hz;
	u64 max_skew;
	u64 tick_steps;
	u32 hrtimer_res;
	int nr_readers, nr_reads, nr_actions, nr_kvm;
	bool tick_done;
	bool running;
	u32 clock_sets;            /* settimeofday()s so far */
	u32 max_dmult;             /* largest NTP mult step of one update */
	u32 last_mult;
	int tick_fiber;
	u64 k_first_step;          /* the tick's first counter read in the action in progress, + 1 */
	u64 max_ntp_ns, max_cs_ns; /* what one update's span opened between the old and the new line */
	u8 clk[MAX_READERS];
	struct vgen gens[CS_BASES][MAX_GENS];
	int ngens[CS_BASES];
	struct pvclock_vcpu_time_info recs[MAX_RECS];
	int nrecs;
	struct pvclock_vcpu_time_info last_rec[PV_MAX_VCPUS];
	bool have_rec[PV_MAX_VCPUS];
	u64 kvm_back_ns;           /* the largest step back of a kvmclock re-anchor */
	struct tkpub tks[MAX_TKS];
	int ntks;
	struct vreader rd[MAX_READERS];
	/* CO2: per clock id, the latest time any read returned and passed its checks */
	u64 lin_hi[VDSO_BASES];
	bool have_lin[VDSO_BASES];
};

static struct vdso_world W;

/* --------------------------------------------------------- clocks ---- */

/* An update begins at the kernel's first counter read. */
static void kernel_counter_read(void)
{
	if (W.running && sim_self() == W.tick_fiber && !W.k_first_step)
		W.k_first_step = sim_step() + 1;
}

static u64 read_tsc(struct clocksource *cs)
{
	kernel_counter_read();
	return (u64)rdtsc_ordered();
}

static u64 read_kvm_clock(struct clocksource *cs)
{
	kernel_counter_read();
	return W.kvm_clock_read->read(&W.guest);
}

/*
 * A platform counter the TSC's crystal drives at another rate, of another
 * width.  It is one device for every CPU: the host's TSC, without the
 * vCPUs' skew (a skewed one would move back across CPUs, and the kernel's
 * negative-motion clamp does not cover a 32-bit counter whose max_cycles is
 * its mask: 300 s forward instead).
 */
static u64 read_scaled(struct clocksource *cs)
{
	kernel_counter_read();
	if (sim_self() >= 0)
		sim_yield("platform counter read");
	u64 tsc = sim_cpu_tsc(SIM_HOST_CPU);
	return (u64)(((u128)tsc * cs->freq_hz) / W.tsc_hz) & cs->mask;
}

static void setup_clocksources(void)
{
	static const struct {
		const char *name;
		u64 (*read)(struct clocksource *);
		unsigned bits;
		int mode;
	} tab[NR_CS] = {
		[CS_TSC] = { "tsc", read_tsc, 64, VDSO_CLOCKMODE_TSC },
		[CS_KVMCLOCK] = { "kvm-clock", read_kvm_clock, 64, VDSO_CLOCKMODE_PVCLOCK },
		[CS_HPET] = { "hpet", read_scaled, 32, VDSO_CLOCKMODE_NONE },
		[CS_ACPI_PM] = { "acpi_pm", read_scaled, 24, VDSO_CLOCKMODE_NONE },
	};
	static const u64 hz[NR_CS] = { 0, NSEC_PER_SEC, 14318180, 3579545 };

	for (int i = 0; i < NR_CS; i++) {
		struct clocksource *cs = &W.cs[i];
		memset(cs, 0, sizeof(*cs));
		cs->name = tab[i].name;
		cs->read = tab[i].read;
		cs->mask = CLOCKSOURCE_MASK(tab[i].bits);
		cs->vdso_clock_mode = tab[i].mode;
		clocksource_register_hz(cs, i == CS_TSC ? W.tsc_hz : hz[i]);
	}
	/* kvm_setup_vsyscall_timeinfo(): the vDSO reads kvmclock only when it is STABLE */
	if (!W.kvmclock_stable)
		W.cs[CS_KVMCLOCK].vdso_clock_mode = VDSO_CLOCKMODE_NONE;
}

/* ------------------------------------------------------- KVM host ---- */

static u64 w_host_ns(struct kvm_clock_host *h)
{
	if (sim_self() >= 0)
		sim_yield("host: get_kvmclock_base_ns");
	return sim_true_ns();
}

static u64 w_host_tsc(struct kvm_clock_host *h)
{
	if (sim_self() >= 0)
		sim_yield("host: rdtsc");
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

static int w_vcpu_order(struct kvm_clock_host *h, int k)
{
	return k % h->nr_vcpus;
}

/* A record's line at any TSC, also before its own timestamp. */
static s64 rec_line(const struct pvclock_vcpu_time_info *r, u64 tsc)
{
	if ((s64)(tsc - r->tsc_timestamp) >= 0)
		return (s64)__pvclock_read_cycles_snap(r->tsc_timestamp, r->system_time, r->tsc_to_system_mul,
						       r->tsc_shift, tsc);
	return (s64)r->system_time -
	       (s64)pvclock_scale_delta(r->tsc_timestamp - tsc, r->tsc_to_system_mul, r->tsc_shift);
}

/*
 * vCPU 0's records are what the vDSO's vread_pvclock() can have converted.
 * Each re-anchor's step back is KVM's (the quantised mul drifts from the
 * host clock: a long pause then a masterclock update, see pvclock's CO5);
 * clocks on kvm-clock may go back by as much, and no more.
 */
static void w_publish_record(struct kvm_clock_host *h, int v, const struct pvclock_vcpu_time_info *rec)
{
	if (W.have_rec[v]) {
		s64 before = rec_line(&W.last_rec[v], rec->tsc_timestamp), after = (s64)rec->system_time;
		if (before > after && (u64)(before - after) > W.kvm_back_ns)
			W.kvm_back_ns = (u64)(before - after);
	}
	W.last_rec[v] = *rec;
	W.have_rec[v] = true;
	if (v == 0)
		W.recs[W.nrecs++ % MAX_RECS] = *rec;
}

static void kvm_fiber(void *arg)
{
	for (int i = 0; i < W.nr_kvm; i++) {
		u8 delay = fdp_u8(W.in, 24);
		for (int d = 0; d < delay; d++)
			sim_yield("host: idle");
		kvm_update_masterclock(&W.h);
	}
	/* the writers are idle (liveness) only once the guest's tick is done too */
	while (!W.tick_done)
		sim_yield("host: idle");
}

/* ------------------------------------------------------ publication -- */

/*
 * The timekeeper's update_vsyscall() notifier.  The kernel's line is
 * continuous only at the update's counter read: a reader still on the old
 * generation between that read and this publication runs on the old line,
 * which an NTP mult step makes diverge by span * step / mult, and a
 * clocksource change (the old counter read, then the new one) by the whole
 * span.  The kernel changes clocksource under stop_machine() and adjusts
 * NTP with interrupts off, so its spans are short; the tick fiber here can
 * be descheduled in between: each span is measured.
 */
static void vsyscall_notifier(void *ctx, const struct timekeeper *tk, bool was_set)
{
	struct tkpub *p = &W.tks[W.ntks++ % MAX_TKS];
	const struct clocksource *prev = W.ntks > 1 ? W.tks[(W.ntks + MAX_TKS - 2) % MAX_TKS].tk.tkr_mono.clock : NULL;
	p->seq_even = READ_ONCE(W.vd->clock_data[CS_HRES_COARSE].seq) + 2;
	p->hrtimer_res = W.hrtimer_res;
	p->tk = *tk;
	u32 m = tk->tkr_mono.mult, d = m > W.last_mult ? m - W.last_mult : W.last_mult - m;
	bool same_clock = tk->tkr_mono.clock == prev;
	if (W.last_mult && same_clock && d > W.max_dmult)
		W.max_dmult = d;
	if (W.k_first_step) {
		u64 span_ns = (sim_step() + 1 - W.k_first_step) * SIM_NS_PER_STEP + 1;
		u64 ntp = W.last_mult && same_clock ? span_ns * d / m + 1 : 0;
		if (prev && !same_clock && span_ns > W.max_cs_ns)
			W.max_cs_ns = span_ns;
		if (ntp > W.max_ntp_ns)
			W.max_ntp_ns = ntp;
	}
	W.last_mult = m;
	W.wops->update_vsyscall(W.vd, tk, W.hrtimer_res);
}

static const struct tkpub *tkpub_for(u32 seq)
{
	for (int n = W.ntks - 1; n >= 0 && n >= W.ntks - MAX_TKS; n--)
		if (W.tks[n % MAX_TKS].seq_even == seq)
			return &W.tks[n % MAX_TKS];
	return NULL;
}

static u64 ts_ns(u64 sec, u64 nsec)
{
	return sec * NSEC_PER_SEC + nsec;
}

/* A base at cycle_last in ns: sec * 1e9 + (shifted nsec >> shift). */
static u64 base_ns(const struct vdso_clock *c, int clk)
{
	return ts_ns(c->basetime[clk].sec, 0) + (c->basetime[clk].nsec >> (c->shift & 63));
}

static void check_base(const char *what, int n, u64 kernel, u64 page)
{
	char buf[160];
	if (kernel == page)
		return;
	snprintf(buf, sizeof(buf), "generation %d: %s at its publication is not the timekeeper's", n, what);
	oracle_continuity_vs(buf, kernel, page);
}

static void publish_check(int b, int n, const struct vdso_clock *c, const struct tkpub *p)
{
	const struct timekeeper *tk = &p->tk;
	char what[160];

	if (c->clock_mode != tk->tkr_mono.clock->vdso_clock_mode) {
		snprintf(what, sizeof(what), "generation %d of base %d has clock mode %d, the clocksource "
			 "(%s) has %d", n, b, c->clock_mode, tk->tkr_mono.clock->name,
			 tk->tkr_mono.clock->vdso_clock_mode);
		oracle_writer_discipline(what);
	}
	if (b == CS_RAW) {
		if (c->clock_mode == VDSO_CLOCKMODE_NONE)
			return;
		check_base("CLOCK_MONOTONIC_RAW's mult", n, tk->tkr_raw.mult, c->mult);
		check_base("CLOCK_MONOTONIC_RAW's cycle_last", n, tk->tkr_raw.cycle_last, c->cycle_last);
		check_base("CLOCK_MONOTONIC_RAW", n, ts_ns(tk->raw_sec, tk->tkr_raw.xtime_nsec >> tk->tkr_raw.shift),
			   base_ns(c, CLOCK_MONOTONIC_RAW));
		return;
	}
	u64 real = ts_ns(tk->xtime_sec, tk->tkr_mono.xtime_nsec >> tk->tkr_mono.shift);
	s64 wtm = tk->wall_to_monotonic.tv_sec * (s64)NSEC_PER_SEC + tk->wall_to_monotonic.tv_nsec;
	u64 coarse_real = ts_ns(tk->xtime_sec, tk->coarse_nsec);
	check_base("CLOCK_REALTIME_COARSE", n, coarse_real, ts_ns(c->basetime[CLOCK_REALTIME_COARSE].sec,
								 c->basetime[CLOCK_REALTIME_COARSE].nsec));
	check_base("CLOCK_MONOTONIC_COARSE", n, coarse_real + (u64)wtm,
		   ts_ns(c->basetime[CLOCK_MONOTONIC_COARSE].sec, c->basetime[CLOCK_MONOTONIC_COARSE].nsec));
	check_base("hrtimer_res", n, p->hrtimer_res, W.vd->hrtimer_res); /* committed before the seq */
	if (c->clock_mode == VDSO_CLOCKMODE_NONE)
		return;
	check_base("CLOCK_REALTIME", n, real, base_ns(c, CLOCK_REALTIME));
	check_base("mult", n, tk->tkr_mono.mult, c->mult);
	check_base("cycle_last", n, tk->tkr_mono.cycle_last, c->cycle_last);
	check_base("CLOCK_MONOTONIC", n, real + (u64)wtm, base_ns(c, CLOCK_MONOTONIC));
	check_base("CLOCK_BOOTTIME", n, real + (u64)wtm + (u64)tk->offs_boot, base_ns(c, CLOCK_BOOTTIME));
	check_base("CLOCK_TAI", n, real + (u64)((s64)tk->tai_offset * (s64)NSEC_PER_SEC), base_ns(c, CLOCK_TAI));
}

/* CO10 and the generations: every store to the two bases as it becomes visible. */
static void on_commit(void *ctx, volatile void *p, unsigned size, u64 value)
{
	const u8 *a = (const u8 *)p;
	char what[128];

	if (!W.running)
		return;
	for (int b = 0; b < CS_BASES; b++) {
		struct vdso_clock *vc = &W.vd->clock_data[b];
		const u8 *base = (const u8 *)vc;
		if (a < base || a >= base + sizeof(*vc))
			continue;
		if (a == (const u8 *)&vc->seq && size == sizeof(vc->seq)) {
			u32 v = (u32)value;
			if (v & 1) {
				if (W.ngens[b])
					W.gens[b][(W.ngens[b] - 1) % MAX_GENS].until = sim_step();
				return;
			}
			struct vgen *g = &W.gens[b][W.ngens[b] % MAX_GENS];
			g->c = *vc;
			g->c.seq = v;
			g->from = sim_step();
			g->until = U64_MAX;
			int n = W.ngens[b]++;
			sim_note(b ? "publish-vdso-raw-generation" : "publish-vdso-generation", (u64)n);
			const struct tkpub *tp = tkpub_for(v);
			if (tp)
				publish_check(b, n, &g->c, tp);
			return;
		}
		if (!(vc->seq & 1)) {
			snprintf(what, sizeof(what), "base %d byte %zu changed while its seq %u is even (outside "
				 "the update window)", b, (size_t)(a - base), vc->seq);
			oracle_writer_discipline(what);
		}
		return;
	}
}

/* ------------------------------------------------------------ reads --- */

/* The vDSO formula for a high resolution base at counter value cycles. */
static void ref_hres(const struct vdso_clock *c, int clk, u64 cycles, u64 *sec, u64 *nsec)
{
	u64 base = c->basetime[clk].nsec, delta = cycles - c->cycle_last, ns;

	if (delta > c->max_cycles && (delta & (1ULL << 62)))
		ns = base >> (c->shift & 63);
	else
		ns = (u64)((((u128)(delta & S64_MAX) * c->mult) + base) >> (c->shift & 127));
	*sec = c->basetime[clk].sec + ns / NSEC_PER_SEC;
	*nsec = ns % NSEC_PER_SEC;
}

/* Every counter value the read can have converted: its TSCs, or kvmclock at them. */
static int counter_candidates(u64 *out, int max)
{
	const u64 *tscs;
	int nt = sim_op_tscs(&tscs), n = 0;
	for (int i = 0; i < nt && n < max; i++) {
		out[n++] = tscs[i] & S64_MAX;
		for (int r = W.nrecs - 1; r >= 0 && r >= W.nrecs - MAX_RECS && n < max; r--) {
			const struct pvclock_vcpu_time_info *rec = &W.recs[r % MAX_RECS];
			out[n++] = __pvclock_read_cycles_snap(rec->tsc_timestamp, rec->system_time,
							      rec->tsc_to_system_mul, rec->tsc_shift, tscs[i]) &
				   S64_MAX;
		}
	}
	return n;
}

static bool modelled_clock(clockid_t clk)
{
	switch (clk) {
	case CLOCK_REALTIME: case CLOCK_MONOTONIC: case CLOCK_MONOTONIC_RAW: case CLOCK_BOOTTIME:
	case CLOCK_TAI: case CLOCK_REALTIME_COARSE: case CLOCK_MONOTONIC_COARSE:
		return true;
	}
	return false;
}

static bool coarse_clock(clockid_t clk)
{
	return clk == CLOCK_REALTIME_COARSE || clk == CLOCK_MONOTONIC_COARSE;
}

/* The generation and counter that explain a result; NONE-mode ones flagged. */
static const struct vgen *explain(clockid_t clk, const struct timespec64 *ts, bool *from_none)
{
	int b = clk == CLOCK_MONOTONIC_RAW ? CS_RAW : CS_HRES_COARSE;
	u64 start = sim_op_start_step(), now = sim_step();
	u64 cand[72];
	int nc = coarse_clock(clk) ? 0 : counter_candidates(cand, 72);

	*from_none = false;
	for (int pass = 0; pass < 2; pass++)
		for (int n = W.ngens[b] - 1; n >= 0 && n >= W.ngens[b] - MAX_GENS; n--) {
			const struct vgen *g = &W.gens[b][n % MAX_GENS];
			if (g->from > now || g->until <= start)
				continue;
			if ((g->c.clock_mode == VDSO_CLOCKMODE_NONE) != (pass == 1) && !coarse_clock(clk))
				continue;
			if (coarse_clock(clk)) {
				if ((u64)ts->tv_sec == g->c.basetime[clk].sec &&
				    (u64)ts->tv_nsec == g->c.basetime[clk].nsec)
					return g;
				continue;
			}
			for (int i = 0; i < nc; i++) {
				u64 sec, nsec;
				ref_hres(&g->c, clk, cand[i], &sec, &nsec);
				if ((u64)ts->tv_sec == sec && (u64)ts->tv_nsec == nsec) {
					*from_none = pass == 1;
					return g;
				}
			}
		}
	return NULL;
}

static bool loads_are_one_generation(clockid_t clk)
{
	int b = clk == CLOCK_MONOTONIC_RAW ? CS_RAW : CS_HRES_COARSE;
	const struct vdso_clock *vc = &W.vd->clock_data[b];
	for (int n = W.ngens[b] - 1; n >= 0 && n >= W.ngens[b] - MAX_GENS; n--) {
		const struct vdso_clock *c = &W.gens[b][n % MAX_GENS].c;
		u64 v;
		bool ok = true;
		if (sim_op_seen(&vc->basetime[clk].sec, 8, &v))
			ok &= v == c->basetime[clk].sec;
		if (sim_op_seen(&vc->basetime[clk].nsec, 8, &v))
			ok &= v == c->basetime[clk].nsec;
		if (sim_op_seen(&vc->cycle_last, 8, &v))
			ok &= v == c->cycle_last;
		if (sim_op_seen(&vc->mult, 4, &v))
			ok &= v == c->mult;
		if (ok)
			return true;
	}
	return false;
}

/*
 * The allowance of V2/V3: the TSC skew between vCPUs in ns, what the
 * updates' spans opened between old and new lines (see vsyscall_notifier;
 * MONOTONIC_RAW is not steered by NTP), and kvmclock's re-anchor steps back.
 */
static u64 allowance(clockid_t clk)
{
	if (coarse_clock(clk))
		return 0;
	u64 skew_ns = (u64)(((u128)W.max_skew * NSEC_PER_SEC) / W.tsc_hz) + 1;
	u64 ntp_ns = clk == CLOCK_MONOTONIC_RAW ? 0 : W.max_ntp_ns;
	return skew_ns + ntp_ns + W.max_cs_ns + W.kvm_back_ns;
}

/* A read that began with g0 (the latest completed read's time of clk, if have_g0). */
struct lin_start {
	u64 g0;
	bool have_g0;
};

static void check_read(struct vreader *rd, clockid_t clk, bool ok, const struct timespec64 *ts,
		       const struct timespec64 *before, const struct timespec64 *after, bool stepped,
		       const struct lin_start *ls)
{
	char what[192];

	if (!modelled_clock(clk)) {
		if (ok) {
			snprintf(what, sizeof(what), "reader=%d returned a time for clock id %d, which the "
				 "vDSO must hand to the syscall", rd->id, clk);
			oracle_fallback(what);
		}
		return;
	}
	if (!ok)
		return; /* the syscall answered */

	bool from_none;
	const struct vgen *g = explain(clk, ts, &from_none);
	if (!g) {
		if (!loads_are_one_generation(clk)) {
			snprintf(what, sizeof(what), "reader=%d clock %d: the page fields it loaded are from "
				 "no single generation", rd->id, clk);
			oracle_torn_snapshot(what);
		}
		/* the latest generation at the latest counter value, to show the distance */
		int b = clk == CLOCK_MONOTONIC_RAW ? CS_RAW : CS_HRES_COARSE;
		const struct vdso_clock *c = &W.gens[b][(W.ngens[b] - 1) % MAX_GENS].c;
		const u64 *tscs;
		int nt = sim_op_tscs(&tscs);
		u64 sec = c->basetime[clk].sec, nsec = c->basetime[clk].nsec;
		if (!coarse_clock(clk))
			ref_hres(c, clk, nt ? tscs[nt - 1] & S64_MAX : c->cycle_last, &sec, &nsec);
		snprintf(what, sizeof(what), "reader=%d clock %d: %lld.%09ld is not the vDSO formula of any "
			 "generation visible during the read at a counter value it read (latest shown)", rd->id,
			 clk, (long long)ts->tv_sec, ts->tv_nsec);
		oracle_reference(what, ts_ns((u64)ts->tv_sec, (u64)ts->tv_nsec), ts_ns(sec, nsec));
		return;
	}
	if (from_none) {
		snprintf(what, sizeof(what), "reader=%d clock %d computed a time from a page generation "
			 "whose clock mode is NONE (the clocksource has no vDSO mode)", rd->id, clk);
		oracle_fallback(what);
	}

	/* V3: between the syscall before and the syscall after */
	u64 v = ts_ns((u64)ts->tv_sec, (u64)ts->tv_nsec), tol = allowance(clk);
	u64 lo = ts_ns((u64)before->tv_sec, (u64)before->tv_nsec);
	u64 hi = ts_ns((u64)after->tv_sec, (u64)after->tv_nsec);
	bool wall = clk == CLOCK_REALTIME || clk == CLOCK_TAI || clk == CLOCK_REALTIME_COARSE;
	/* settimeofday() between the two syscalls: the read may be on either side of the step */
	if (!(wall && stepped) && (v + tol < lo || v > hi + tol)) {
		snprintf(what, sizeof(what), "reader=%d clock %d vs clock_gettime(2) before and after "
			 "(allowance %llu ns)", rd->id, clk, (unsigned long long)tol);
		oracle_plausibility_vs(what, v, lo, hi);
	}
	/* V2: the monotonic clocks per reader */
	if (!wall) {
		if (rd->have_last[clk] && v + tol < rd->last[clk])
			oracle_monotonic(rd->id, rd->last[clk], v);
		rd->last[clk] = v;
		rd->have_last[clk] = true;
	}
	/*
	 * CO2: a read that began after another reader's read of the same clock
	 * had returned is not earlier than it (the skew, NTP and kvmclock terms
	 * of the allowance cover what the kernel allows between CPUs).  Only a
	 * read that passed every check above becomes the reference.
	 */
	if (!wall) {
		if (ls->have_g0 && v + tol < ls->g0)
			oracle_linearizable(rd->id, ls->g0, v);
		if (!W.have_lin[clk] || v > W.lin_hi[clk])
			W.lin_hi[clk] = v;
		W.have_lin[clk] = true;
	}
}

static clockid_t clock_of(u8 sel)
{
	static const clockid_t tab[16] = {
		CLOCK_MONOTONIC, CLOCK_REALTIME, CLOCK_MONOTONIC_RAW, CLOCK_BOOTTIME,
		CLOCK_TAI, CLOCK_MONOTONIC_COARSE, CLOCK_REALTIME_COARSE, CLOCK_MONOTONIC,
		CLOCK_MONOTONIC, CLOCK_MONOTONIC_RAW, CLOCK_BOOTTIME, CLOCK_REALTIME,
		-1, CLOCK_PROCESS_CPUTIME_ID, 12, CLOCK_AUX,
	};
	return tab[sel & 15];
}

static void reader_fiber(void *arg)
{
	struct vreader *rd = arg;
	for (int i = 0; i < W.nr_reads; i++) {
		u8 sel = fdp_u8(W.in, (u8)(W.clk[rd->id] >> (2 * (i & 3))));
		clockid_t clk = clock_of(sel);
		struct timespec64 before = { 0, 0 }, after = { 0, 0 }, ts = { 0, 0 };
		u32 sets = W.clock_sets;

		struct lin_start ls = { 0, false };

		if (modelled_clock(clk))
			kernel_clock_gettime(W.tkd, clk, &before);
		if (modelled_clock(clk)) {
			ls.g0 = W.lin_hi[clk];
			ls.have_g0 = W.have_lin[clk];
		}
		sim_op_begin("vdso_clock_gettime");
		bool ok = W.rops->clock_gettime(&W.user, clk, &ts);
		sim_op_end();
		if (modelled_clock(clk))
			kernel_clock_gettime(W.tkd, clk, &after);
		check_read(rd, clk, ok, &ts, &before, &after, W.clock_sets != sets, &ls);
		sim_yield("user: between reads");
	}
}

/* ------------------------------------------------------------ kernel --- */

static void tick_fiber(void *arg)
{
	struct timekeeping *tkd = W.tkd;
	for (int i = 0; i < W.nr_actions; i++) {
		u8 action = fdp_u8(W.in, 0);
		u8 delay = fdp_u8(W.in, (u8)W.tick_steps);
		for (int d = 0; d < (delay & 31); d++)
			sim_yield("kernel: idle");
		W.k_first_step = 0;
		u8 arg = action >> 3;
		switch (action & 7) {
		case 0: /* the tick */
			timekeeping_tick(tkd);
			break;
		case 1: /* adjtimex(ADJ_FREQUENCY): up to +-500 ppm */
			timekeeping_set_frequency(tkd, ((s64)arg - 16) * (MAXFREQ_PPB / 16));
			break;
		case 2: { /* settimeofday(): REALTIME steps back or forward by up to ~16 s */
			struct timespec64 now;
			kernel_clock_gettime(tkd, CLOCK_REALTIME, &now);
			now.tv_sec += (s64)arg - 16;
			/* counted on both sides: a read overlapping any part of it knows */
			W.clock_sets++;
			do_settimeofday64(tkd, &now);
			W.clock_sets++;
			break;
		}
		case 3: /* the clocksource changes */
			timekeeping_change_clocksource(tkd, &W.cs[arg % NR_CS]);
			break;
		case 4: { /* suspend and resume: BOOTTIME moves on by the sleep */
			struct timespec64 sleep = { (s64)(arg + 1), 0 };
			timekeeping_inject_sleeptime64(tkd, &sleep);
			break;
		}
		case 5: /* the VM is paused: every TSC runs on, nothing ticks */
			sim_tsc_jump(1ULL << (30 + arg % 14));
			break;
		case 6: /* hrtimer_switch_to_hres(): hrtimer_res becomes 1 ns, clock_was_set */
			W.hrtimer_res = 1;
			timekeeping_tick(tkd);
			break;
		case 7:
			timekeeping_tick(tkd);
			timekeeping_tick(tkd);
			break;
		}
	}
	W.tick_done = true;
	if (!W.nr_kvm)
		sim_writer_idle();
}

/* --------------------------------------------------------- scenario --- */

void vdso_scenario_run(const struct vdso_reader_ops *rops, const struct vdso_writer_ops *wops,
		       const char *label, struct fdp *in)
{
	struct sim_config cfg = { 0 };

	memset(&W, 0, sizeof(W));
	W.rops = rops;
	W.wops = wops && wops->update_vsyscall ? wops : NULL;
	static const struct vdso_writer_ops mainline = { .update_vsyscall = update_vsyscall };
	if (!W.wops)
		W.wops = &mainline;
	W.in = in;

	cfg.mode = fdp_u8(in, 0);
	u8 shape = fdp_u8(in, 0x15);
	u8 kern = fdp_u8(in, 0x04);
	u8 rate_b = fdp_u8(in, 0x40);
	u8 tick_b = fdp_u8(in, 4);
	W.rate = 64u + rate_b;
	W.tsc_hz = (u64)W.rate * 10000000ULL;
	cfg.tsc_rate = W.rate;
	cfg.nr_cpus = 1 + (shape & 3);
	if (cfg.mode & SIM_MODE_SKEW)
		for (int c = 0; c < SIM_MAX_CPUS; c++) {
			cfg.tsc_skew[c] = (s64)(s8)fdp_u8(in, 0) * 16;
			for (int d = 0; d < c; d++) {
				u64 s = (u64)(cfg.tsc_skew[c] > cfg.tsc_skew[d] ? cfg.tsc_skew[c] - cfg.tsc_skew[d]
										 : cfg.tsc_skew[d] - cfg.tsc_skew[c]);
				if (s > W.max_skew)
					W.max_skew = s;
			}
		}
	W.nr_readers = 1 + (shape >> 2) % MAX_READERS;
	W.nr_reads = 1 + ((shape >> 4) & 3);
	int boot_cs = (shape >> 6) & 3;
	W.nr_actions = kern & 15;
	W.nr_kvm = (kern >> 4) & 3;
	W.hrtimer_res = (kern & 0x40) ? 1 : TICK_NSEC;
	W.tick_steps = 4 + tick_b % 28;
	for (int r = 0; r < W.nr_readers; r++)
		W.clk[r] = fdp_u8(in, (u8)(0x10 * r));
	cfg.on_commit = on_commit;
	cfg.change_span = 256;
	cfg.variant = label;

	sim_reset(&cfg, in);
	/* the timekeeper in shared memory points at these */
	sim_trace_hash_addresses_of(W.cs, sizeof(W.cs));

	/* the guest's kvmclock, kept by a KVM host as in the pvclock scenario */
	struct kvm_clock_host *h = &W.h;
	h->guest = sim_shared_alloc(sizeof(struct pvclock_vsyscall_time_info) * PV_MAX_VCPUS, 64);
	h->nr_vcpus = cfg.nr_cpus;
	h->tsc_matched = !(cfg.mode & SIM_MODE_SKEW);
	h->tsc_khz = (u32)(W.tsc_hz / 1000);
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
	W.guest.hv_clock = h->guest;
	W.guest.nr_cpus = cfg.nr_cpus;
	W.guest.last_value = sim_shared_alloc(sizeof(atomic64_t), 8);
	W.guest.valid_flags = PVCLOCK_TSC_STABLE_BIT;
	W.kvm_clock_read = pv_variant_find("pvclock_kernel")->ops;
	kvm_update_masterclock(h);
	W.kvmclock_stable = h->guest[0].pvti.flags & PVCLOCK_TSC_STABLE_BIT;

	/* the guest kernel: clocksources, the timekeeper, the vvar page */
	setup_clocksources();
	W.vd = sim_shared_alloc(sizeof(struct vdso_time_data), 64);
	W.user.vd = W.vd;
	W.user.pvclock = &W.guest;
	W.user.vread_pvclock = pv_variant_find("pvclock_vdso")->ops;
	W.tkd = sim_shared_alloc(sizeof(struct timekeeping), 64);
	struct timekeeping_boot boot = {
		.clock = &W.cs[boot_cs],
		.wall_time = { 1700000000, 123456789 },
		.boot_offset = { 2, 500000000 },
		.ntp_interval_ns = W.tick_steps * SIM_NS_PER_STEP,
		.tai_offset = 37,
	};
	timekeeping_init(W.tkd, &boot);
	timekeeping_register_notifier(W.tkd, vsyscall_notifier, NULL);
	/* the boot publications: generation 0 of each base */
	for (int b = 0; b < CS_BASES; b++) {
		W.gens[b][0].c = W.vd->clock_data[b];
		W.gens[b][0].from = 0;
		W.gens[b][0].until = U64_MAX;
		W.ngens[b] = 1;
	}
	W.running = true;

	W.tick_fiber = sim_spawn("tick", tick_fiber, NULL, 0, true);
	sim_pin(W.tick_fiber);
	if (W.nr_kvm)
		sim_spawn("kvm", kvm_fiber, NULL, SIM_HOST_CPU, false);
	static const char *const names[MAX_READERS] = { "reader0", "reader1", "reader2" };
	for (int r = 0; r < W.nr_readers; r++) {
		W.rd[r].id = r;
		sim_spawn(names[r], reader_fiber, &W.rd[r], r, true);
	}
	sim_run();
	W.running = false;
}
