// SPDX-License-Identifier: MIT
/*
 * pvfuzz-stress pvclock: the pvclock readers and writers of src/clock/ (the
 * files the simulator runs) on real threads, real CPUs and the real TSC.
 * The structure mirrors src/clock/pvclock_harness.c.
 *
 * The world
 *   - The guest's vCPUs are the real CPUs (at most PV_MAX_VCPUS of them);
 *     record v is the hv_clock_boot[] entry of vCPU v.  Guest TSC on vCPU v
 *     = host TSC + --skew * v (compat.h's rdtsc() adds it from TSC_AUX).
 *   - One host thread is KVM: it runs the writer variant's masterclock
 *     updates, single-vCPU updates, masterclock toggles (a TSC write changing
 *     nr_vcpus_matched_tsc) and kvmclock_update_work, in a busy loop with
 *     random short pauses (or --update-ns).  VM exits (ptp_kvm's hypercall)
 *     are handled on the exiting reader's thread, as KVM does, serialised
 *     with the host thread by host_lock.
 *   - Host time is CLOCK_MONOTONIC_RAW seen through the host TSC, as KVM's
 *     kvm_get_time_and_clockread() sees it: one calibration (tsc0, raw0,
 *     tsc_khz) against clock_gettime(CLOCK_MONOTONIC_RAW) at start, then
 *     ns(tsc) = raw0 + (tsc - tsc0) * 10^6 / tsc_khz for every host read.
 *     Pairing a clock_gettime() with a separate RDTSC instead would jitter
 *     by tens of ns (microseconds across an interrupt), and the kernel's own
 *     raw-clock mult differs from any user-space calibration by ~ppm: both
 *     would make every masterclock update step the guest clock back, a
 *     property of the harness, not of KVM.  CO8 checks the guest clock
 *     against the real clock_gettime(CLOCK_MONOTONIC_RAW).
 *   - Guest epoch: kvmclock_offset = 1 s - raw0 (the guest booted 1 s before
 *     the run), so guest time and host time differ, as in KVM.
 *   - vcpu_in_host() is a no-op.  The native world cannot stop guest entry:
 *     there is no MCLOCK_INPROGRESS freeze, so a reader keeps running on a
 *     vCPU while its record is rewritten and while the other vCPUs' records
 *     already carry the new master copy.  Only the version protocol protects
 *     it (as it does a reader of another vCPU's record in KVM), and a reader
 *     can see vCPU a's new record, then vCPU b's not yet updated one; the
 *     two differ by the record-switch rounding below.
 *
 * Oracles (same names and SUMMARY format as the simulator's)
 *   CO1 monotonic, CO2 linearizable (global _Atomic max: g0 loaded before
 *     the read, value >= g0 after, then fetch-max), both with an allowance of
 *     ROUND_NS for the record-switch rounding: two records anchored from one
 *     host clock at different instants agree to within the >>32 truncation
 *     (1 ns), the right shift of the delta (1 tick < 1 ns), the host clock's
 *     own floor (1 ns) and the mul quantisation (<= 2^-31 relative, below
 *     1 ns over the seconds between anchors) - at most 3 ns, real KVM has
 *     the same.  Steps inside the allowance are counted and reported.
 *   CO3 torn snapshot: the value equals __pvclock_read_cycles() of one
 *     generation published in the read's window (the two latest per vCPU
 *     before it began, or any published during it) at the TSC the reader
 *     used (pv_native_last_tsc); publish() appends every generation to a
 *     lock-free ring before it is copied.  The kernel reader's last_value
 *     fix-up may return a later value (want < value <= last_value).
 *   CO4 reference: an accepted TSC below the record's tsc_timestamp.
 *   CO5 continuity: a vCPU's new record starts below its old one (publish).
 *   CO8 plausibility against clock_gettime(CLOCK_MONOTONIC_RAW), every 8th
 *     read, with 20 ms + 200 ppm of the run time (calibration error, the
 *     coarse host clock of the 2010 writers).
 *   CO9 fallback: a user-space reader computed from a !STABLE record.
 *   CO7 liveness: the framework's watchdog.
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pvfuzz/pvclock.h"
#include "stress.h"

#define RING 4096              /* published generations kept for CO3 */
#define ROUND_NS 3             /* record-switch rounding (CO1/CO2/CO5), plus drift */
#define COARSE_NS 4000000ULL   /* the 2010 writers' coarse host clock (HZ=250) */
#define PLAUS_NS (20 * 1000 * 1000ULL)
#define GUEST_BOOT_NS NSEC_PER_SEC

struct slot {
	u64 seq; /* generation number + 1; 0 while being written */
	u64 T, S;
	u32 mul;
	s8 shift;
	u8 flags, vcpu;
} __attribute__((aligned(32)));

static struct {
	const struct pvclock_reader_ops *rops;
	const struct pvclock_writer_ops *wops; /* = &ops */
	struct pvclock_writer_ops ops;         /* the writer, NULL members resolved */
	const struct pvclock_reader_ops *syscall; /* the vDSO's fallback: kvm_clock_read() */
	struct kvm_clock_host h;                  /* host state: under host_lock */
	struct pvclock_guest g;
	atomic64_t last_value;
	pthread_mutex_t host_lock;
	int nv;
	s64 skew;
	u64 update_ns;

	/* host clock calibration */
	u64 tsc0, raw0;
	u32 khz;
	double drift; /* |guest rate - host rate| in ns per TSC tick (mul quantisation) */

	/* ground truth: every generation, and the last one per vCPU (CO5) */
	struct slot ring[RING];
	_Atomic u64 head;
	struct pvclock_vcpu_time_info lastpub[PV_MAX_VCPUS];
	bool have_lastpub[PV_MAX_VCPUS];
	int rot;

	_Atomic u64 hi; /* CO2 */

	/* statistics */
	_Atomic u64 n_master, n_single, n_toggle, n_all, n_exits;
	_Atomic u64 round_steps, round_max;
	_Atomic u64 lapped;
} P;

/* ------------------------------------------------------- host world --- */

static u64 host_ns_at(u64 tsc)
{
	u64 d = (s64)(tsc - P.tsc0) < 0 ? 0 : tsc - P.tsc0;
	return P.raw0 + (u64)(((u128)d * 1000000u) / P.khz);
}

/*
 * How far two records anchored from the host clock may disagree: the
 * rounding (ROUND_NS) plus the mul quantisation drift over the age of the
 * older record, which is at most the run time (tsc - tsc0).
 */
static u64 round_allow(u64 tsc)
{
	u64 age = (s64)(tsc - P.tsc0) < 0 ? 0 : tsc - P.tsc0;
	return ROUND_NS + 1 + (u64)((double)age * P.drift);
}

static u64 w_host_ns(struct kvm_clock_host *h)
{
	return host_ns_at(native_host_tsc());
}

static u64 w_host_tsc(struct kvm_clock_host *h)
{
	return native_host_tsc();
}

static void w_host_ns_and_tsc(struct kvm_clock_host *h, u64 *ns, u64 *tsc)
{
	*tsc = native_host_tsc();
	*ns = host_ns_at(*tsc);
}

/* jiffies-like xtime: the host clock rounded down to a 4 ms tick */
static u64 w_host_coarse_ns(struct kvm_clock_host *h)
{
	return w_host_ns(h) / COARSE_NS * COARSE_NS;
}

/* Nothing to freeze natively: see the header comment. */
static void w_vcpu_in_host(struct kvm_clock_host *h, int v, bool in_host)
{
}

static int w_vcpu_order(struct kvm_clock_host *h, int k)
{
	return (k + P.rot) % h->nr_vcpus;
}

static u64 rec_value(u64 T, u64 S, u32 mul, s8 shift, u64 tsc)
{
	return __pvclock_read_cycles_snap(T, S, mul, shift, tsc);
}

/*
 * Ground truth, called by the writer (under host_lock) before the record is
 * copied: CO5 against the vCPU's previous record, then the ring.
 */
static void w_publish(struct kvm_clock_host *h, int v, const struct pvclock_vcpu_time_info *rec)
{
	if (P.have_lastpub[v]) {
		const struct pvclock_vcpu_time_info *o = &P.lastpub[v];
		u64 before = rec_value(o->tsc_timestamp, o->system_time, o->tsc_to_system_mul, o->tsc_shift,
				       rec->tsc_timestamp);
		u64 after = rec->system_time;
		if ((s64)(after + round_allow(rec->tsc_timestamp) - before) < 0) {
			char what[96];
			snprintf(what, sizeof(what), "vCPU %d record re-anchored %" PRIu64 " ns backwards", v,
				 before - after);
			oracle_continuity(what, before, after);
		}
	}
	P.lastpub[v] = *rec;
	P.have_lastpub[v] = true;

	u64 n = atomic_load_explicit(&P.head, memory_order_relaxed);
	struct slot *s = &P.ring[n % RING];
	__atomic_store_n(&s->seq, 0, __ATOMIC_RELAXED);
	atomic_thread_fence(memory_order_release);
	__atomic_store_n(&s->T, rec->tsc_timestamp, __ATOMIC_RELAXED);
	__atomic_store_n(&s->S, rec->system_time, __ATOMIC_RELAXED);
	__atomic_store_n(&s->mul, rec->tsc_to_system_mul, __ATOMIC_RELAXED);
	__atomic_store_n(&s->shift, rec->tsc_shift, __ATOMIC_RELAXED);
	__atomic_store_n(&s->flags, rec->flags, __ATOMIC_RELAXED);
	__atomic_store_n(&s->vcpu, (u8)v, __ATOMIC_RELAXED);
	__atomic_store_n(&s->seq, n + 1, __ATOMIC_RELEASE);
	atomic_store_explicit(&P.head, n + 1, memory_order_release);
	/* a reader that sees the copy that follows also sees this generation */
	atomic_thread_fence(memory_order_release);
}

/* A VM exit on the reader's thread (its vCPU), as KVM handles it. */
static u64 pvclock_vm_exit(enum pv_exit_reason r, u64 a0, u64 a1)
{
	int v = pv_native_cpu();
	u64 ret = (u64)-KVM_EOPNOTSUPP;

	pthread_mutex_lock(&P.host_lock);
	if (r == PV_EXIT_HYPERCALL)
		ret = P.wops->hypercall ? P.wops->hypercall(&P.h, v, a0, a1)
					: kvm_pv_clock_pairing(&P.h, v, a0, a1);
	if (P.h.tsc_always_catchup)
		P.wops->guest_time_update(&P.h, v);
	pthread_mutex_unlock(&P.host_lock);
	atomic_fetch_add_explicit(&P.n_exits, 1, memory_order_relaxed);
	if (r == PV_EXIT_HYPERCALL && (s64)ret >= 0)
		pv_native_last_tsc = ret; /* the guest TSC the reader will use */
	return ret;
}

/* ---------------------------------------------------------- writer --- */

static void *host_thread(struct stress_worker *w)
{
	struct kvm_clock_host *h = &P.h;
	u64 rs = stress_seed(1);

	while (!stress_stop()) {
		stress_host_pause(&rs, P.update_ns);
		u64 r = stress_rand(&rs);
		int v = (int)((r >> 8) % (u64)h->nr_vcpus);
		pthread_mutex_lock(&P.host_lock);
		P.rot = (int)((r >> 16) % (u64)h->nr_vcpus);
		switch (r % 16) {
		case 0 ... 5: /* KVM_REQ_MASTERCLOCK_UPDATE */
			P.wops->masterclock_update(h);
			atomic_fetch_add_explicit(&P.n_master, 1, memory_order_relaxed);
			break;
		case 6 ... 10: /* KVM_REQ_CLOCK_UPDATE on one vCPU */
			kvm_vcpu_run_request(h, v, P.wops->guest_time_update);
			atomic_fetch_add_explicit(&P.n_single, 1, memory_order_relaxed);
			break;
		case 11: /* a TSC write changes TSC matching: the masterclock toggles */
			if (!P.skew)
				h->tsc_matched = !h->tsc_matched;
			P.wops->masterclock_update(h);
			atomic_fetch_add_explicit(&P.n_toggle, 1, memory_order_relaxed);
			break;
		default: /* kvmclock_update_work: every vCPU, no master copy refresh */
			for (int k = 0; k < h->nr_vcpus; k++)
				kvm_vcpu_run_request(h, h->vcpu_order(h, k), P.wops->guest_time_update);
			atomic_fetch_add_explicit(&P.n_all, 1, memory_order_relaxed);
			break;
		}
		pthread_mutex_unlock(&P.host_lock);
		stress_progress(w);
	}
	return NULL;
}

/* ---------------------------------------------------------- reader --- */

static void fetch_max(_Atomic u64 *p, u64 v)
{
	u64 cur = atomic_load_explicit(p, memory_order_relaxed);
	while (cur < v && !atomic_compare_exchange_weak(p, &cur, v))
		;
}

/*
 * CO3/CO4/CO9: the value must be one generation of the read's window at
 * the TSC the reader used.  Returns false when the ring was lapped.
 */
static bool check_snapshot(int reader, u64 value, u64 tsc, u64 s0, u64 s1, bool computed_in_user)
{
	int need[PV_MAX_VCPUS], remaining = 0;
	bool matched = false, stable = false, nonneg = false, fixup = false;
	u64 last = (u64)atomic64_read(&P.last_value);
	u64 floor = s1 > RING - 64 ? s1 - (RING - 64) : 0;

	for (int v = 0; v < P.nv; v++)
		need[v] = 2, remaining += 2;
	if (s0 < floor)
		return false;
	for (u64 k = s1; k-- > floor;) {
		const struct slot *s = &P.ring[k % RING];
		if (k < s0 && remaining == 0)
			break;
		if (__atomic_load_n(&s->seq, __ATOMIC_ACQUIRE) != k + 1)
			return false;
		u64 T = __atomic_load_n(&s->T, __ATOMIC_RELAXED);
		u64 S = __atomic_load_n(&s->S, __ATOMIC_RELAXED);
		u32 mul = __atomic_load_n(&s->mul, __ATOMIC_RELAXED);
		s8 shift = __atomic_load_n(&s->shift, __ATOMIC_RELAXED);
		u8 flags = __atomic_load_n(&s->flags, __ATOMIC_RELAXED);
		u8 vc = __atomic_load_n(&s->vcpu, __ATOMIC_RELAXED);
		atomic_thread_fence(memory_order_acquire);
		if (__atomic_load_n(&s->seq, __ATOMIC_RELAXED) != k + 1)
			return false;
		if (k < s0) {
			if (vc >= P.nv || need[vc] == 0)
				continue;
			need[vc]--;
			remaining--;
		}
		u64 want = rec_value(T, S, mul, shift, tsc);
		if (value == want || (computed_in_user && value == (want & S64_MAX))) {
			matched = true;
			stable |= flags & PVCLOCK_TSC_STABLE_BIT;
			nonneg |= !ref_pvclock_negative(T, tsc);
		} else if (want < value && value <= last) {
			fixup = true; /* the last_value fix-up returned a later reader's value */
		}
	}
	if (matched) {
		if (!nonneg)
			oracle_reference("TSC read before the record's tsc_timestamp: the negative delta "
					 "wrapped", value, tsc);
		else if (computed_in_user && !stable) {
			char what[128];
			snprintf(what, sizeof(what), "reader=%d computed from a !STABLE record instead of "
				 "falling back to the syscall", reader);
			oracle_fallback(what);
		}
		return true;
	}
	if (fixup)
		return true;
	char what[200];
	snprintf(what, sizeof(what), "reader=%d returned %" PRIu64 " at TSC %" PRIu64 ": no generation "
		 "published in its window (%" PRIu64 "..%" PRIu64 ") gives that value", reader, value, tsc,
		 s0, s1);
	oracle_torn_snapshot(what);
	return true;
}

static void note_round_step(u64 d)
{
	atomic_fetch_add_explicit(&P.round_steps, 1, memory_order_relaxed);
	fetch_max(&P.round_max, d);
}

static void *reader_thread(struct stress_worker *w)
{
	int id = *(int *)w->arg;
	int nv = P.nv;
	u64 rs = stress_seed(100 + (u64)id);
	u64 last = 0, k = 0;
	bool have_last = false;

	native_thread_start(&w->nt, id % nv);
	while (!stress_stop()) {
		/* between reads: kernel-style readers are only ever moved here */
		if (nv > 1 && (stress_rand(&rs) & 7) == 0)
			native_migrate_self(&w->nt, (int)(stress_rand(&rs) % (u64)nv));

		bool plaus = (k++ & 7) == 0;
		u64 r0 = plaus ? native_raw_ns() : 0;
		u64 g0 = atomic_load(&P.hi);
		u64 s0 = atomic_load_explicit(&P.head, memory_order_acquire);
		u64 tr0 = pv_native_tsc_reads;

		u64 value = P.rops->read(&P.g);
		u64 tsc = pv_native_last_tsc;
		bool fell_back = value == PVCLOCK_FALLBACK;
		if (fell_back) {
			value = P.syscall->read(&P.g);
			tsc = pv_native_last_tsc;
			stress_count(&w->fallbacks, 1);
		}
		u64 s1 = atomic_load_explicit(&P.head, memory_order_acquire);
		/* one TSC read per attempt (ptp_kvm's TSC comes from the host: not counted) */
		u64 attempts = pv_native_tsc_reads - tr0;
		if (attempts > 1)
			stress_count(&w->retries, attempts - 1);

		if (!check_snapshot(id, value, tsc, s0, s1, P.rops->userspace && !fell_back))
			stress_count(&w->unchecked, 1);
		if (have_last && value < last) {
			if (last - value > round_allow(tsc))
				oracle_monotonic(id, last, value);
			else
				note_round_step(last - value);
		}
		if (value < g0) {
			if (g0 - value > round_allow(tsc))
				oracle_linearizable(id, g0, value);
			else
				note_round_step(g0 - value);
		}
		fetch_max(&P.hi, value);
		if (plaus) {
			u64 r1 = native_raw_ns();
			u64 tol = PLAUS_NS + stress_elapsed_ns() / 5000;
			u64 lo = r0 - P.raw0 + GUEST_BOOT_NS, hi = r1 - P.raw0 + GUEST_BOOT_NS + tol;
			lo = lo > tol ? lo - tol : 0;
			if (value < lo || value > hi)
				oracle_plausibility(id, value, lo, hi);
		}
		last = value;
		have_last = true;
		stress_progress(w);
	}
	return NULL;
}

/* --------------------------------------------------------- set-up ---- */

static void calibrate(void)
{
	stress_calibrate_tsc(&P.khz, &P.tsc0, &P.raw0);

	/* the guest's rate (kvm_get_time_scale) against the host clock's 10^6/khz */
	s8 shift;
	u32 mul;
	kvm_get_time_scale(NSEC_PER_SEC, P.khz * 1000ULL, &shift, &mul);
	double guest = (double)mul / 4294967296.0 * (shift < 0 ? 1.0 / (double)(1ULL << -shift)
								 : (double)(1ULL << shift));
	double host = 1e6 / P.khz;
	P.drift = guest > host ? guest - host : host - guest;
}

static int reader_ids[64];

static bool pvclock_start(struct stress_opts *o)
{
	struct pv_selection sel;

	if (!stress_select(PV_PVCLOCK, o->variant, &sel))
		return false;
	P.rops = sel.role[PV_READER]->ops;
	pvclock_writer_ops_resolve(&P.ops, sel.role[PV_WRITER]->ops);
	P.wops = &P.ops;
	P.syscall = pv_variant_find("pvclock_kernel")->ops;
	P.skew = o->skew;
	P.update_ns = o->update_ns;

	P.nv = stress_setup_vcpus(PV_MAX_VCPUS);
	calibrate();
	pthread_mutex_init(&P.host_lock, NULL);

	struct kvm_clock_host *h = &P.h;
	h->guest = aligned_alloc(64, sizeof(struct pvclock_vsyscall_time_info) * PV_MAX_VCPUS);
	memset(h->guest, 0, sizeof(struct pvclock_vsyscall_time_info) * PV_MAX_VCPUS);
	h->nr_vcpus = P.nv;
	h->tsc_matched = P.skew == 0;
	h->tsc_khz = P.khz;
	h->kvmclock_offset = (s64)GUEST_BOOT_NS - (s64)P.raw0;
	for (int v = 0; v < P.nv; v++) {
		h->vcpu[v].tsc_offset = P.skew * v;
		native_set_skew(v, P.skew * v);
	}
	h->host_ns = w_host_ns;
	h->host_coarse_ns = w_host_coarse_ns;
	h->host_tsc = w_host_tsc;
	h->host_ns_and_tsc = w_host_ns_and_tsc;
	h->vcpu_in_host = w_vcpu_in_host;
	h->vcpu_order = w_vcpu_order;
	h->publish = w_publish;
	h->ops = P.wops;

	P.g.hv_clock = h->guest;
	P.g.nr_cpus = P.nv;
	P.g.last_value = &P.last_value;
	P.g.valid_flags = PVCLOCK_TSC_STABLE_BIT;
	native_set_exit_handler(pvclock_vm_exit);

	/* boot: kvmclock enabled on every vCPU before the guest runs */
	kvm_update_masterclock(h);

	if (!o->readers)
		o->readers = P.nv < 2 ? 2 : P.nv;
	stress_spawn("kvm", host_thread, NULL, true, false);
	for (int i = 0; i < o->readers; i++) {
		static char names[64][24];
		snprintf(names[i], sizeof(names[i]), "reader%d", i);
		reader_ids[i] = i;
		stress_spawn(names[i], reader_thread, &reader_ids[i], false, P.rops->userspace);
	}
	return true;
}

static void pvclock_summary(FILE *f)
{
	fprintf(f, "  host: tsc_khz %u (calibrated), mul %u shift %d; masterclock updates %" PRIu64
		   ", single-vCPU %" PRIu64 ", toggles %" PRIu64 ", all-vCPU %" PRIu64 ", VM exits %" PRIu64
		   "\n", P.khz, P.h.vcpu[0].pvclock_tsc_mul, P.h.vcpu[0].pvclock_tsc_shift,
		atomic_load(&P.n_master), atomic_load(&P.n_single), atomic_load(&P.n_toggle),
		atomic_load(&P.n_all), atomic_load(&P.n_exits));
	fprintf(f, "  record-switch rounding steps back (allowed: %d ns + %.3f ppb of the record age): %"
		   PRIu64 " (max %" PRIu64 " ns)\n", ROUND_NS + 1, P.drift * P.khz * 1e3,
		atomic_load(&P.round_steps), atomic_load(&P.round_max));
}

static const struct stress_driver pvclock_driver = {
	.protocol = "pvclock",
	.summary = "KVM pvclock readers vs a KVM host thread (src/clock/pvclock_*.c)",
	.start = pvclock_start,
	.summary_lines = pvclock_summary,
};
STRESS_DRIVER(pvclock_driver)
