// SPDX-License-Identifier: MIT
/*
 * pvfuzz-stress hv_tscpage: the Hyper-V reference TSC page readers and the
 * KVM writers of src/clock/hv_*.c (the files the simulator runs) on real
 * threads, real CPUs and the real TSC.  The structure mirrors
 * src/clock/hv_harness.c and stress/stress_pvclock.c.
 *
 * The world
 *   - vCPUs are the real CPUs (at most PV_MAX_VCPUS); guest TSC on vCPU v =
 *     host TSC + --skew * v.  The page is partition-wide: with --skew the
 *     TSCs are unmatched, so there is no masterclock, no STABLE record, and
 *     mainline KVM keeps the page invalid (every read takes the MSR).
 *   - One host thread is KVM: under host_lock it runs the writer variant's
 *     masterclock updates (kvm_hv_request_tsc_page_update +
 *     kvm_hv_setup_tsc_page from every vCPU), single-vCPU clock updates,
 *     masterclock toggles (TSC matching lost for ~1 ms every ~200 ms: STABLE
 *     clear, page BROKEN), KVM_SET_CLOCK forward steps (at most one per
 *     50 ms) and re-anchored kvmclock records with mul +-1..4 (write_record:
 *     the page's scale changes, so a (scale, offset) pair from two
 *     generations gives a value no generation gives), in a busy loop with
 *     random short pauses (or --update-ns).
 *   - VM exits are handled on the exiting reader's thread, serialised with
 *     the host thread by host_lock (hv_lock / kvm->lock): the MSR fallback
 *     (HV_X64_MSR_TIME_REF_COUNT -> get_time_ref_counter) and, about once per
 *     1024 reads, the guest rewriting HV_X64_MSR_REFERENCE_TSC (resume,
 *     kexec): GUEST_CHANGED and the masterclock update on that vCPU's thread,
 *     or the writer's own set_msr.  That rewrite is also how the page leaves
 *     BROKEN after the masterclock comes back, as in KVM.  Reader 0 also
 *     toggles HV_X64_MSR_TSC_EMULATION_CONTROL (the reenlightenment opt-in,
 *     about once per 256k reads): while it is on, KVM must leave the page's
 *     (scale, offset) alone except on the guest's own REFERENCE_TSC rewrite.
 *   - Host time is CLOCK_MONOTONIC_RAW through the host TSC, calibrated once
 *     (200 ms), exactly as stress_pvclock.c does and for the same reasons.
 *     Guest epoch: kvmclock = 1 s at the start of the run.
 *   - vcpu_in_host() is a no-op: the native world cannot stop guest entry
 *     (no KVM_REQ_MCLOCK_INPROGRESS freeze).  Readers keep reading the page
 *     while KVM rewrites it during a masterclock update or KVM_SET_CLOCK;
 *     only the sequence protocol protects them.  Under KVM's freeze a writer
 *     that skips the seq = 0 step (CLK-12) is exposed only by the guest's own
 *     MSR rewrite; here every update exposes it.  Conversely, MSR exits are
 *     serialised with whole host operations, so a vCPU can never run between
 *     two vCPUs' clock updates of one masterclock update (CLK-09's window).
 *   - Reader threads: kernel-style (read_hv_clock_tsc: page, else rdmsr) are
 *     migrated between reads only; vDSO-style (vread_hvclock; odd reader
 *     ids, or all of them for a vDSO-only variant) are also moved mid-read by
 *     the migrator, and their fallback (the syscall: the kernel's MSR read)
 *     runs with preemption off.
 *
 * Oracles (the simulator's names and SUMMARY format), in 100 ns units
 *   CO3 torn snapshot: a page value must equal ref_hv_time() of one
 *     published (scale, offset) generation - the two latest before the read
 *     began or any published during it - at the TSC the reader used
 *     (pv_native_last_tsc).  hv_publish() appends each generation to a
 *     lock-free ring before the writer stores the new sequence.
 *   CO9 fallback: a computed page value from a read that began and ended
 *     while the page held sequence 0 (the host appends an "invalid" event
 *     after every operation that leaves seq = 0, under host_lock).
 *   CO10/H7 writer discipline: no published sequence 0xFFFFFFFF; after
 *     every host operation, if every vCPU's kvmclock record lost STABLE
 *     the page must hold sequence 0.
 *   CO11 notification: while the guest opted into reenlightenment, a new
 *     (scale, offset) is published only for the guest's REFERENCE_TSC write.
 *   H4 page vs MSR: TIME_REF_COUNT while the page is valid lies within
 *     the live page's value at the host TSC before and after the exit, give
 *     or take the rounding allowance below (reference).
 *   CO1 monotonic, CO2 linearizable (global _Atomic max), across page and
 *     MSR reads: a step back within the rounding allowance is counted, not
 *     reported.  The page is kvmclock rounded three times (S/100 and the two
 *     >>64 products) and the MSR fallback is kvmclock/100, so page, MSR and
 *     the next generation of one instant differ by up to 3 units (~300 ns,
 *     the documented |page*100 - kvmclock| <= ~200 ns plus the MSR's own
 *     floor), plus 1 for the host clock's floor, plus the rate drift of the
 *     mul quantisation and the +-4 mul re-anchoring over the record age (at
 *     most the run time).  KVM_SET_CLOCK is commanded by the host: reads
 *     that overlap one are not checked for CO1/CO2, and if host preemption
 *     between its KVM_GET_CLOCK-style read and the new master copy ate the
 *     forward delta, CO1/CO2 restart after it (counted).
 *   CO8 plausibility: every 8th read against clock_gettime(CLOCK_MONOTONIC_RAW)
 *     (upper bound: plus the KVM_SET_CLOCK steps so far; the lower bound
 *     leaves them out, since a page frozen by the opt-in does not take
 *     them), 20 ms + 200 ppm of the run time.
 *   CO7 liveness: the framework's watchdog.
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pvfuzz/hv_tscpage.h"
#include "stress.h"

#define RING 4096                /* page generations / invalidations kept for CO3, CO9 */
#define ROUND_UNITS 4            /* page/MSR/kvmclock derivation rounding + host clock floor */
#define MUL_JITTER 4             /* re-anchored records: mul +- 1..MUL_JITTER */
#define PLAUS_NS (20 * 1000 * 1000ULL)
#define GUEST_BOOT_NS NSEC_PER_SEC
#define SET_CLOCK_EVERY_NS (50 * 1000 * 1000ULL)
#define SET_CLOCK_MIN_NS (200 * 1000ULL)
#define TOGGLE_ON_NS (200 * 1000 * 1000ULL) /* masterclock on this long, then */
#define TOGGLE_OFF_NS (1000 * 1000ULL)      /* off (TSC matching lost) this long */
#define MSR_REWRITE_MASK 1023
#define REENL_MASK 262143       /* reader 0 toggles the reenlightenment opt-in */
#define REF_TSC_MSR ((0xfeedULL << HV_X64_MSR_TSC_REFERENCE_ADDRESS_SHIFT) | HV_X64_MSR_TSC_REFERENCE_ENABLE)

enum { EV_PUBLISH = 1, EV_INVALID = 2 };

struct slot {
	u64 seq; /* ring index + 1; 0 while being written */
	u64 scale;
	s64 offset;
	u32 page_seq;
	u8 kind;
} __attribute__((aligned(32)));

static struct {
	const struct hv_reader_ops *rops;
	const struct hv_writer_ops *wops; /* = &ops */
	struct hv_writer_ops ops;     /* the writer, NULL members resolved */
	struct kvm_hv_vm vm;          /* host state: under host_lock */
	struct ms_hyperv_tsc_page *page;
	pthread_mutex_t host_lock;
	int nv;
	s64 skew;
	u64 update_ns;
	bool all_vdso;

	/* host clock calibration */
	u64 tsc0, raw0;
	u32 khz;
	double drift_units; /* |page rate - host rate| bound, 100 ns units per TSC tick */

	/* ground truth */
	struct slot ring[RING];
	_Atomic u64 head;
	u8 last_kind;                 /* host only */
	bool have_pub;                /* host only: the last published (scale, offset) */
	bool h7_stale_ok;             /* opted out of reenlightenment, page not updated since */
	u64 pub_scale;
	s64 pub_offset;
	u8 rec_flags[PV_MAX_VCPUS];   /* host only: each vCPU's last record */
	int rot;

	_Atomic u64 hi;               /* CO2 */
	_Atomic u64 clock_gen;        /* odd while a KVM_SET_CLOCK runs */
	_Atomic u64 set_clock_ns;     /* sum of commanded KVM_SET_CLOCK steps */

	/* KVM_SET_CLOCK: the first and last host clock reads of one step */
	bool sc_active;
	int sc_reads;
	u64 sc_first, sc_last;

	/* statistics */
	_Atomic u64 n_master, n_single, n_toggle, n_setclock, n_setclock_back, n_rate, n_rewrite;
	_Atomic u64 n_rdmsr, n_reenl, n_pub, n_inval, n_page_reads, n_h4;
	_Atomic u64 round_steps, round_max;
} H;

/* ------------------------------------------------------- host world --- */

static u64 host_ns_at(u64 tsc)
{
	u64 d = (s64)(tsc - H.tsc0) < 0 ? 0 : tsc - H.tsc0;
	return H.raw0 + (u64)(((u128)d * 1000000u) / H.khz);
}

static void note_host_tsc(u64 tsc)
{
	/* the KVM_GET_CLOCK-style read, then the new master copy (or host clock) */
	if (H.sc_active && H.sc_reads < 2) {
		if (H.sc_reads++ == 0)
			H.sc_first = tsc;
		else
			H.sc_last = tsc;
	}
}

static u64 w_host_ns(struct kvm_clock_host *h)
{
	u64 tsc = native_host_tsc();
	note_host_tsc(tsc);
	return host_ns_at(tsc);
}

static u64 w_host_tsc(struct kvm_clock_host *h)
{
	u64 tsc = native_host_tsc();
	note_host_tsc(tsc);
	return tsc;
}

static void w_host_ns_and_tsc(struct kvm_clock_host *h, u64 *ns, u64 *tsc)
{
	*tsc = native_host_tsc();
	note_host_tsc(*tsc);
	*ns = host_ns_at(*tsc);
}

/* Nothing to freeze natively: see the header comment. */
static void w_vcpu_in_host(struct kvm_clock_host *h, int v, bool in_host)
{
}

static int w_vcpu_order(struct kvm_clock_host *h, int k)
{
	return (k + H.rot) % h->nr_vcpus;
}

/* kvmclock records: remember each vCPU's STABLE bit (H7 ground truth). */
static void w_publish_record(struct kvm_clock_host *h, int v, const struct pvclock_vcpu_time_info *rec)
{
	H.rec_flags[v] = rec->flags;
}

static void ring_append(u8 kind, u32 page_seq, u64 scale, s64 offset)
{
	u64 n = atomic_load_explicit(&H.head, memory_order_relaxed);
	struct slot *s = &H.ring[n % RING];
	__atomic_store_n(&s->seq, 0, __ATOMIC_RELAXED);
	atomic_thread_fence(memory_order_release);
	__atomic_store_n(&s->scale, scale, __ATOMIC_RELAXED);
	__atomic_store_n(&s->offset, offset, __ATOMIC_RELAXED);
	__atomic_store_n(&s->page_seq, page_seq, __ATOMIC_RELAXED);
	__atomic_store_n(&s->kind, kind, __ATOMIC_RELAXED);
	__atomic_store_n(&s->seq, n + 1, __ATOMIC_RELEASE);
	atomic_store_explicit(&H.head, n + 1, memory_order_release);
	/* a reader that sees the sequence store that follows also sees this event */
	atomic_thread_fence(memory_order_release);
	H.last_kind = kind;
}

/* Ground truth: every page generation a writer means to publish (CO10). */
static void w_publish_page(struct kvm_hv_vm *vm, const struct ms_hyperv_tsc_page *ref)
{
	if (ref->tsc_sequence == 0xFFFFFFFF)
		oracle_writer_discipline("the writer publishes sequence 0xFFFFFFFF, which TLFS-4.0b "
					 "readers take for invalid and KVM never uses");
	else if (ref->tsc_sequence == 0)
		oracle_writer_discipline("the writer publishes a generation under sequence 0 (invalid)");
	/* CO11: a rewrite the guest asked for (REFERENCE_TSC write) needs no notification */
	if (H.have_pub && vm->hv.hv_tsc_emulation_control &&
	    vm->hv.hv_tsc_page_status != HV_TSC_PAGE_GUEST_CHANGED &&
	    (H.pub_scale != ref->tsc_scale || H.pub_offset != ref->tsc_offset)) {
		char what[192];
		snprintf(what, sizeof(what), "guest opted into reenlightenment (TSC_EMULATION_CONTROL=1), "
			 "page changed scale %" PRIu64 " -> %" PRIu64 " offset %" PRId64 " -> %" PRId64
			 " with no notification", H.pub_scale, ref->tsc_scale, H.pub_offset, ref->tsc_offset);
		oracle_notification(what);
	}
	H.h7_stale_ok = false;
	H.have_pub = true;
	H.pub_scale = ref->tsc_scale;
	H.pub_offset = ref->tsc_offset;
	ring_append(EV_PUBLISH, ref->tsc_sequence, ref->tsc_scale, ref->tsc_offset);
	atomic_fetch_add_explicit(&H.n_pub, 1, memory_order_relaxed);
}

/*
 * After every host operation (under host_lock, so the page's sequence is
 * stable): the "invalid" event for CO9, and H7.
 */
static void post_op(void)
{
	u32 seq = __atomic_load_n(&H.page->tsc_sequence, __ATOMIC_RELAXED);
	if (seq == 0 && H.last_kind != EV_INVALID) {
		ring_append(EV_INVALID, 0, 0, 0);
		atomic_fetch_add_explicit(&H.n_inval, 1, memory_order_relaxed);
	}
	bool any_stable = false;
	for (int v = 0; v < H.nv; v++)
		any_stable |= H.rec_flags[v] & PVCLOCK_TSC_STABLE_BIT;
	if (seq == 0)
		H.h7_stale_ok = false;
	if (!any_stable && seq != 0 && !H.vm.hv.hv_tsc_emulation_control && !H.h7_stale_ok) {
		char what[160];
		snprintf(what, sizeof(what), "every vCPU's kvmclock lost STABLE (compute_tsc_page_parameters "
			 "fails) but the page keeps sequence %u (H7: it must stay 0, status BROKEN)", seq);
		oracle_writer_discipline(what);
	}
}

static u64 round_allow(u64 tsc)
{
	u64 age = (s64)(tsc - H.tsc0) < 0 ? 0 : tsc - H.tsc0;
	return ROUND_UNITS + 1 + (u64)((double)age * H.drift_units);
}

/* A VM exit on the reader's thread (its vCPU), as KVM handles it. */
static u64 hv_vm_exit(enum pv_exit_reason r, u64 a0, u64 a1)
{
	struct kvm_hv_vm *vm = &H.vm;
	int v = pv_native_cpu();
	u32 msr = (u32)a0;
	u64 ret = 0;

	pthread_mutex_lock(&H.host_lock);
	if (r == PV_EXIT_RDMSR) {
		u32 seq = __atomic_load_n(&H.page->tsc_sequence, __ATOMIC_RELAXED);
		u64 scale = __atomic_load_n(&H.page->tsc_scale, __ATOMIC_RELAXED);
		s64 offset = __atomic_load_n(&H.page->tsc_offset, __ATOMIC_RELAXED);
		u64 t0 = native_host_tsc() + (u64)vm->clock.vcpu[0].tsc_offset;
		ret = H.wops->get_msr ? H.wops->get_msr(vm, v, msr) : kvm_hv_get_msr(vm, v, msr);
		u64 t1 = native_host_tsc() + (u64)vm->clock.vcpu[0].tsc_offset;
		if (msr == HV_X64_MSR_TIME_REF_COUNT) {
			atomic_fetch_add_explicit(&H.n_rdmsr, 1, memory_order_relaxed);
			/* H4: the MSR agrees with the live page */
			if (seq != 0 && seq != 0xFFFFFFFF && H.skew == 0) {
				u64 lo = ref_hv_time(t0, scale, offset), hi = ref_hv_time(t1, scale, offset);
				u64 allow = round_allow(t1);
				atomic_fetch_add_explicit(&H.n_h4, 1, memory_order_relaxed);
				if ((s64)(ret + allow - lo) < 0 || (s64)(hi + allow - ret) < 0) {
					char what[200];
					snprintf(what, sizeof(what), "H4: HV_X64_MSR_TIME_REF_COUNT on vCPU %d "
						 "disagrees with the live page (seq %u) by more than %" PRIu64
						 " units; page %" PRIu64 "..%" PRIu64, v, seq, allow, lo, hi);
					oracle_reference(what, ret, lo);
				}
			}
		}
	} else if (r == PV_EXIT_WRMSR) {
		if (H.wops->set_msr) {
			H.wops->set_msr(vm, v, msr, a1);
		} else {
			kvm_hv_set_msr(vm, v, msr, a1);
			/* KVM_REQ_MASTERCLOCK_UPDATE, processed on this vCPU before VM entry */
			if (msr == HV_X64_MSR_REFERENCE_TSC)
				H.wops->masterclock_update(vm);
		}
		/*
		 * Opting out of reenlightenment requests no page update: a page the
		 * opt-in kept valid stays so until the next one (not an H7 failure).
		 */
		if (msr == HV_X64_MSR_TSC_EMULATION_CONTROL && !a1)
			H.h7_stale_ok = true;
		post_op();
	}
	pthread_mutex_unlock(&H.host_lock);
	return ret;
}

/* ---------------------------------------------------------- writer --- */

/*
 * vCPU v's record re-anchored at the current TSC with a slightly different
 * rate (mul +- 1..MUL_JITTER): continuous at the anchor, and the page derived
 * from it gets a new scale.
 */
static void rate_record(int v, u64 r)
{
	struct kvm_clock_host *h = &H.vm.clock;
	struct pvclock_vcpu_time_info rec = h->vcpu[v].hv_clock;
	u64 tsc = native_host_tsc() + (u64)h->vcpu[v].tsc_offset;
	int d = 1 + (int)((r >> 24) % MUL_JITTER);

	rec.system_time = __pvclock_read_cycles_snap(rec.tsc_timestamp, rec.system_time,
						     rec.tsc_to_system_mul, rec.tsc_shift, tsc);
	rec.tsc_timestamp = tsc;
	rec.tsc_to_system_mul = h->vcpu[v].pvclock_tsc_mul + (u32)((r >> 30) & 1 ? d : -d);
	rec.tsc_shift = h->vcpu[v].pvclock_tsc_shift;
	rec.flags = PVCLOCK_TSC_STABLE_BIT;
	H.wops->write_record(&H.vm, v, &rec);
}

static void *host_thread(struct stress_worker *w)
{
	struct kvm_clock_host *h = &H.vm.clock;
	u64 rs = stress_seed(1);
	u64 last_toggle = native_raw_ns(), last_setclock = last_toggle;

	while (!stress_stop()) {
		stress_host_pause(&rs, H.update_ns);
		u64 r = stress_rand(&rs);
		u64 now = native_raw_ns();
		int v = (int)((r >> 8) % (u64)h->nr_vcpus);
		pthread_mutex_lock(&H.host_lock);
		H.rot = (int)((r >> 16) % (u64)h->nr_vcpus);
		if (!H.skew && now - last_toggle > (h->tsc_matched ? TOGGLE_ON_NS : TOGGLE_OFF_NS)) {
			/* a TSC write changes TSC matching: the masterclock toggles */
			h->tsc_matched = !h->tsc_matched;
			H.wops->masterclock_update(&H.vm);
			last_toggle = now;
			atomic_fetch_add_explicit(&H.n_toggle, 1, memory_order_relaxed);
		} else if (H.wops->set_clock && now - last_setclock > SET_CLOCK_EVERY_NS && (r & 15) == 13) {
			/* KVM_SET_CLOCK forward (the migration source's later clock) */
			u64 delta = SET_CLOCK_MIN_NS + (r >> 32) % SET_CLOCK_MIN_NS;
			atomic_fetch_add(&H.clock_gen, 1); /* odd: CO1/CO2 off for overlapping reads */
			atomic_fetch_add(&H.set_clock_ns, delta);
			H.sc_active = true;
			H.sc_reads = 0;
			H.sc_first = H.sc_last = 0;
			H.wops->set_clock(&H.vm, delta);
			H.sc_active = false;
			u64 gap = H.sc_reads == 2 ? host_ns_at(H.sc_last) - host_ns_at(H.sc_first) : 0;
			if (gap + 1000 >= delta) {
				/* preemption ate the forward step: it may have gone backwards */
				atomic_store(&H.hi, 0);
				atomic_fetch_add_explicit(&H.n_setclock_back, 1, memory_order_relaxed);
			}
			atomic_fetch_add(&H.clock_gen, 1);
			last_setclock = now;
			atomic_fetch_add_explicit(&H.n_setclock, 1, memory_order_relaxed);
		} else {
			switch (r % 16) {
			case 0 ... 5: /* KVM_REQ_MASTERCLOCK_UPDATE */
				H.wops->masterclock_update(&H.vm);
				atomic_fetch_add_explicit(&H.n_master, 1, memory_order_relaxed);
				break;
			case 6 ... 10: /* KVM_REQ_CLOCK_UPDATE on one vCPU */
				H.wops->guest_time_update(&H.vm, v);
				atomic_fetch_add_explicit(&H.n_single, 1, memory_order_relaxed);
				break;
			default: /* a re-anchored record with a new rate, the page from it */
				if (h->use_master_clock && H.wops->write_record) {
					rate_record(v, r);
					atomic_fetch_add_explicit(&H.n_rate, 1, memory_order_relaxed);
				} else {
					H.wops->masterclock_update(&H.vm);
					atomic_fetch_add_explicit(&H.n_master, 1, memory_order_relaxed);
				}
				break;
			}
		}
		post_op();
		pthread_mutex_unlock(&H.host_lock);
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

static void note_round_step(u64 d)
{
	atomic_fetch_add_explicit(&H.round_steps, 1, memory_order_relaxed);
	fetch_max(&H.round_max, d);
}

/*
 * CO3/CO9 for a computed page value: one generation of the read's window
 * at the TSC the reader used.  Returns false when the ring was lapped.
 */
static bool check_page(int reader, u64 value, u64 tsc, u64 s0, u64 s1)
{
	u64 floor = s1 > RING - 64 ? s1 - (RING - 64) : 0;
	int before = 2; /* publishes before the window that may still be live */
	bool matched = false, invalid_at_start = false, first = true;

	if (s0 < floor)
		return false;
	for (u64 k = s1; k-- > floor;) {
		const struct slot *s = &H.ring[k % RING];
		if (k < s0 && before == 0)
			break;
		if (__atomic_load_n(&s->seq, __ATOMIC_ACQUIRE) != k + 1)
			return false;
		u64 scale = __atomic_load_n(&s->scale, __ATOMIC_RELAXED);
		s64 offset = __atomic_load_n(&s->offset, __ATOMIC_RELAXED);
		u8 kind = __atomic_load_n(&s->kind, __ATOMIC_RELAXED);
		atomic_thread_fence(memory_order_acquire);
		if (__atomic_load_n(&s->seq, __ATOMIC_RELAXED) != k + 1)
			return false;
		if (k < s0) {
			if (first)
				invalid_at_start = kind == EV_INVALID;
			first = false;
		}
		if (kind != EV_PUBLISH)
			continue;
		if (k < s0)
			before--;
		if (value == ref_hv_time(tsc, scale, offset))
			matched = true;
	}
	char what[200];
	if (invalid_at_start && s1 == s0) {
		snprintf(what, sizeof(what), "reader=%d computed %" PRIu64 " from the page while it held "
			 "sequence 0 for the whole read (invalid: must use the MSR)", reader, value);
		oracle_fallback(what);
	} else if (!matched) {
		snprintf(what, sizeof(what), "reader=%d returned %" PRIu64 " at TSC %" PRIu64 ": no (scale, "
			 "offset) generation published in its window (%" PRIu64 "..%" PRIu64 ") gives that "
			 "value", reader, value, tsc, s0, s1);
		oracle_torn_snapshot(what);
	}
	return true;
}

static void *reader_thread(struct stress_worker *w)
{
	int id = *(int *)w->arg;
	int nv = H.nv;
	bool vdso = w->userspace;
	u64 rs = stress_seed(100 + (u64)id);
	u64 last = 0, k = 0, my_gen = 0;
	bool have_last = false, reenl = false;

	native_thread_start(&w->nt, id % nv);
	while (!stress_stop()) {
		/* between reads: kernel-style readers are only ever moved here */
		u64 r = stress_rand(&rs);
		if (nv > 1 && (r & 7) == 0)
			native_migrate_self(&w->nt, (int)((r >> 8) % (u64)nv));
		if (((r >> 20) & MSR_REWRITE_MASK) == 0) {
			/* the guest re-enables the page (resume, kexec): a kernel path */
			preempt_disable();
			pv_vm_exit(PV_EXIT_WRMSR, HV_X64_MSR_REFERENCE_TSC, REF_TSC_MSR);
			preempt_enable();
			atomic_fetch_add_explicit(&H.n_rewrite, 1, memory_order_relaxed);
		}
		if (id == 0 && ((r >> 40) & REENL_MASK) == 0) {
			/* set_hv_tscchange_cb() opts into reenlightenment; a later kernel opts out */
			preempt_disable();
			pv_vm_exit(PV_EXIT_WRMSR, HV_X64_MSR_TSC_EMULATION_CONTROL, !reenl);
			preempt_enable();
			reenl = !reenl;
			atomic_fetch_add_explicit(&H.n_reenl, 1, memory_order_relaxed);
		}

		bool plaus = (k++ & 7) == 0;
		u64 gen0 = atomic_load(&H.clock_gen);
		u64 g0 = atomic_load(&H.hi);
		u64 r0 = plaus ? native_raw_ns() : 0;
		u64 s0 = atomic_load_explicit(&H.head, memory_order_acquire);
		u64 tr0 = pv_native_tsc_reads;

		u64 value = 0, cur_tsc = 0;
		bool ok = H.rops->read(H.page, &cur_tsc, &value);
		u64 tsc = pv_native_last_tsc;
		u64 attempts = pv_native_tsc_reads - tr0;
		if (!ok) {
			/* read_hv_clock_tsc(): rdmsr; the vDSO's syscall does the same in the kernel */
			if (vdso)
				preempt_disable();
			value = hv_read_reference_counter();
			if (vdso)
				preempt_enable();
			stress_count(&w->fallbacks, 1);
		}
		atomic_thread_fence(memory_order_acquire);
		u64 s1 = atomic_load_explicit(&H.head, memory_order_acquire);
		u64 gen1 = atomic_load(&H.clock_gen);
		if (attempts > 1)
			stress_count(&w->retries, attempts - 1);

		if (ok) {
			atomic_fetch_add_explicit(&H.n_page_reads, 1, memory_order_relaxed);
			if (!check_page(id, value, tsc, s0, s1))
				stress_count(&w->unchecked, 1);
		}
		if (gen0 != my_gen) {
			/* a KVM_SET_CLOCK ran since the last read: restart CO1 */
			have_last = false;
			if (!(gen0 & 1))
				my_gen = gen0;
		}
		if (!(gen0 & 1) && gen0 == gen1) {
			u64 allow = round_allow(tsc);
			if (have_last && value < last) {
				if (last - value > allow)
					oracle_monotonic(id, last, value);
				else
					note_round_step(last - value);
			}
			if (value < g0) {
				if (g0 - value > allow)
					oracle_linearizable(id, g0, value);
				else
					note_round_step(g0 - value);
			}
			fetch_max(&H.hi, value);
			last = value;
			have_last = true;
		} else {
			have_last = false;
		}
		if (plaus) {
			u64 r1 = native_raw_ns();
			u64 sc1 = atomic_load(&H.set_clock_ns);
			u64 tol = (PLAUS_NS + stress_elapsed_ns() / 5000) / 100;
			/* KVM_SET_CLOCK only steps forward; a page frozen by the opt-in skips them */
			u64 lo = (r0 - H.raw0 + GUEST_BOOT_NS) / 100;
			u64 hi = (r1 - H.raw0 + GUEST_BOOT_NS + sc1) / 100 + tol;
			lo = lo > tol ? lo - tol : 0;
			if (value < lo || value > hi)
				oracle_plausibility(id, value, lo, hi);
		}
		stress_progress(w);
	}
	return NULL;
}

/* --------------------------------------------------------- set-up ---- */

static void calibrate(void)
{
	stress_calibrate_tsc(&H.khz, &H.tsc0, &H.raw0);

	/* the guest's rate (kvm_get_time_scale, +- MUL_JITTER) against the host clock's 10^6/khz */
	s8 shift;
	u32 mul;
	kvm_get_time_scale(NSEC_PER_SEC, H.khz * 1000ULL, &shift, &mul);
	double unit = (shift < 0 ? 1.0 / (double)(1ULL << -shift) : (double)(1ULL << shift)) / 4294967296.0;
	double guest = (double)mul * unit;
	double host = 1e6 / H.khz;
	double d = guest > host ? guest - host : host - guest;
	H.drift_units = (d + MUL_JITTER * unit) / 100.0;
}

/* Readers that exist only in the vDSO (migrated mid-read by every thread). */
static const char *const vdso_only[] = { "hv_reader_2017_v2" };
static int reader_ids[64];

static bool hv_start(struct stress_opts *o)
{
	struct pv_selection sel;

	if (o->variant && strcmp(o->variant, "input") != 0) {
		/* "a,,b", ",a", "a,": an empty name is a typo, not "mainline" */
		const char *p = o->variant;
		size_t len = strlen(p);
		if (p[0] == ',' || p[len - 1] == ',' || strstr(p, ",,")) {
			fprintf(stderr, "pvfuzz-stress: --variant: empty name in '%s'\n", p);
			return false;
		}
	}
	if (!stress_select(PV_HV_TSCPAGE, o->variant, &sel))
		return false;
	H.rops = sel.role[PV_READER]->ops;
	hv_writer_ops_resolve(&H.ops, sel.role[PV_WRITER]->ops);
	H.wops = &H.ops;
	for (size_t i = 0; i < ARRAY_SIZE(vdso_only); i++)
		H.all_vdso |= !strcmp(sel.role[PV_READER]->name, vdso_only[i]);
	H.skew = o->skew;
	H.update_ns = o->update_ns;

	H.nv = stress_setup_vcpus(PV_MAX_VCPUS);
	calibrate();
	pthread_mutex_init(&H.host_lock, NULL);

	struct kvm_hv_vm *vm = &H.vm;
	struct kvm_clock_host *h = &vm->clock;
	h->guest = aligned_alloc(64, sizeof(struct pvclock_vsyscall_time_info) * PV_MAX_VCPUS);
	memset(h->guest, 0, sizeof(struct pvclock_vsyscall_time_info) * PV_MAX_VCPUS);
	h->nr_vcpus = H.nv;
	h->tsc_matched = H.skew == 0;
	h->tsc_khz = H.khz;
	h->kvmclock_offset = (s64)GUEST_BOOT_NS - (s64)H.raw0;
	for (int v = 0; v < H.nv; v++) {
		h->vcpu[v].tsc_offset = H.skew * v;
		native_set_skew(v, H.skew * v);
	}
	h->host_ns = w_host_ns;
	h->host_coarse_ns = w_host_ns;
	h->host_tsc = w_host_tsc;
	h->host_ns_and_tsc = w_host_ns_and_tsc;
	h->vcpu_in_host = w_vcpu_in_host;
	h->vcpu_order = w_vcpu_order;
	h->publish = w_publish_record;
	H.page = aligned_alloc(4096, sizeof(struct ms_hyperv_tsc_page));
	memset(H.page, 0, sizeof(*H.page));
	vm->hv.tsc_page = H.page;
	vm->hv.publish = w_publish_page;
	vm->ops = H.wops;
	native_set_exit_handler(hv_vm_exit);

	/*
	 * Boot: the guest enables the page (GUEST_CHANGED and
	 * KVM_REQ_MASTERCLOCK_UPDATE), KVM sets up kvmclock and the page.
	 */
	pthread_mutex_lock(&H.host_lock);
	kvm_hv_set_msr(vm, 0, HV_X64_MSR_REFERENCE_TSC, REF_TSC_MSR);
	H.wops->masterclock_update(vm);
	post_op();
	pthread_mutex_unlock(&H.host_lock);

	if (!o->readers)
		o->readers = H.nv < 2 ? 2 : H.nv;
	stress_spawn("kvm", host_thread, NULL, true, false);
	for (int i = 0; i < o->readers; i++) {
		static char names[64][24];
		bool vdso = H.all_vdso || (i & 1);
		snprintf(names[i], sizeof(names[i]), "%s%d", vdso ? "vdso" : "reader", i);
		reader_ids[i] = i;
		stress_spawn(names[i], reader_thread, &reader_ids[i], false, vdso);
	}
	return true;
}

static void hv_summary(FILE *f)
{
	fprintf(f, "  host: tsc_khz %u (calibrated); masterclock updates %" PRIu64 ", single-vCPU %" PRIu64
		   ", toggles %" PRIu64 ", re-anchored records %" PRIu64 ", KVM_SET_CLOCK %" PRIu64
		   " (%" PRIu64 " whose step preemption may have reversed: CO1/CO2 restarted)\n",
		H.khz, atomic_load(&H.n_master), atomic_load(&H.n_single), atomic_load(&H.n_toggle),
		atomic_load(&H.n_rate), atomic_load(&H.n_setclock), atomic_load(&H.n_setclock_back));
	fprintf(f, "  page: generations %" PRIu64 ", invalidations left standing %" PRIu64 ", final seq %u"
		   ", page reads %" PRIu64 "; TIME_REF_COUNT exits %" PRIu64 " (%" PRIu64
		   " checked against a live page, H4), REFERENCE_TSC rewrites %" PRIu64
		   ", reenlightenment opt-in toggles %" PRIu64 "\n",
		atomic_load(&H.n_pub), atomic_load(&H.n_inval),
		__atomic_load_n(&H.page->tsc_sequence, __ATOMIC_RELAXED), atomic_load(&H.n_page_reads),
		atomic_load(&H.n_rdmsr), atomic_load(&H.n_h4), atomic_load(&H.n_rewrite),
		atomic_load(&H.n_reenl));
	fprintf(f, "  rounding steps back (allowed: %d units + %.3g units per 10^9 TSC ticks of age): %"
		   PRIu64 " (max %" PRIu64 " units)\n", ROUND_UNITS + 1, H.drift_units * 1e9,
		atomic_load(&H.round_steps), atomic_load(&H.round_max));
}

static const struct stress_driver hv_driver = {
	.protocol = "hv_tscpage",
	.summary = "Hyper-V TSC page readers vs a KVM host thread (src/clock/hv_*.c)",
	.start = hv_start,
	.summary_lines = hv_summary,
};
STRESS_DRIVER(hv_driver)
