// SPDX-License-Identifier: MIT
/*
 * The host side of the contract, performed on the real KVM: the operations
 * of include/pvfuzz/kvm_host_ops.h that a VMM can perform (KVM_SET_CLOCK in
 * its modes, KVM_GET_CLOCK, KVM_KVMCLOCK_CTRL, host TSC writes, a migration
 * to the same host, vCPU pauses, the guest's own kvmclock MSR writes) and
 * the VMM extras (host-CPU migration of vCPU threads, KVM_SET_TSC_KHZ).
 *
 * A clock set is the one operation that may move the guest's clock back on
 * purpose.  Before the ioctl the VMM opens a window (kg_shared.set_seq odd)
 * with the step it means; it closes the window only once every vCPU left
 * guest mode twice, so each re-entered with a fresh record.  The guest's
 * order oracles excuse exactly that much, nothing else.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "host_ops.h"

#define MSR_IA32_TSC 0x10
/* the ioctl takes well under a millisecond; a VMM preempted longer is measured */
#define SET_WINDOW_GUESS_NS 20000000ULL
#define SETTLE_TIMEOUT_NS 3000000000ULL
/* a real run cannot stop the VM for an hour: value us are capped */
#define MAX_BLACKOUT_US 1000000u
#define MAX_PAUSE_US 100000u

/* ------------------------------------------------------------- names -- */

/* --ops names of the shared kinds (kvm_host_op_name() is for humans) */
static const char *const shared_cli[KVM_HOP_NR] = {
	[KVM_HOP_MASTERCLOCK_UPDATE] = "masterclock_update",
	[KVM_HOP_CLOCK_UPDATE] = "clock_update",
	[KVM_HOP_GLOBAL_CLOCK_UPDATE] = "global_clock_update",
	[KVM_HOP_SET_CLOCK] = "set_clock",
	[KVM_HOP_GET_CLOCK] = "get_clock",
	[KVM_HOP_KVMCLOCK_CTRL] = "kvmclock_ctrl",
	[KVM_HOP_WRITE_TSC] = "tsc_write",
	[KVM_HOP_MIGRATE] = "live_migrate",
	[KVM_HOP_PAUSE_VCPU] = "pause",
	[KVM_HOP_HOST_NTP_FREQ] = "host_ntp_freq",
	[KVM_HOP_HOST_SETTIME] = "host_settime",
	[KVM_HOP_HOST_CLOCKSOURCE] = "host_clocksource",
	[KVM_HOP_HOST_SUSPEND] = "host_suspend",
	[KVM_HOP_GUEST_KVMCLOCK_MSR] = "guest_kvmclock_msr",
	[KVM_HOP_GUEST_HV_TSC_MSR] = "guest_hv_tsc_msr",
	[KVM_HOP_GUEST_CHECK_PAUSED] = "guest_check_paused",
};
static const char *const extra_cli[KVM_EXTRA_NR] = { "idle", "thread_migrate", "tsc_khz" };

const char *kvm_op_cli_name(const struct kvm_op *op)
{
	if (op->extra)
		return op->xkind < KVM_EXTRA_NR ? extra_cli[op->xkind] : "?";
	return op->hop.kind < KVM_HOP_NR ? shared_cli[op->hop.kind] : "?";
}

const char *kvm_stat_name(int i)
{
	if (i < KVM_HOP_NR)
		return shared_cli[i];
	return i - KVM_HOP_NR < KVM_EXTRA_NR ? extra_cli[i - KVM_HOP_NR] : "?";
}

void kvm_op_names(char *buf, size_t n)
{
	size_t l = 0;
	buf[0] = 0;
	for (int k = 0; k < KVM_STAT_KINDS && l < n; k++)
		l += (size_t)snprintf(buf + l, n - l, "%s%s", k ? " " : "", kvm_stat_name(k));
}

bool kvm_op_parse_mask(const char *list, struct kvm_op_mask *m, char *bad, size_t n)
{
	char buf[512], *save = NULL;
	u64 bits_all = 0;
	m->shared = m->extra = 0;
	snprintf(buf, sizeof(buf), "%s", list);
	for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		bool drop = *t == '-';
		const char *name = t + drop;
		u64 bits;
		int k;
		if (!strcmp(name, "all")) {
			bits = (1ULL << KVM_STAT_KINDS) - 1;
		} else {
			for (k = 0; k < KVM_STAT_KINDS && strcmp(name, kvm_stat_name(k)); k++)
				;
			if (k == KVM_STAT_KINDS) {
				snprintf(bad, n, "%s", t);
				return false;
			}
			bits = 1ULL << k;
		}
		bits_all = drop ? bits_all & ~bits : bits_all | bits;
	}
	m->shared = (u32)(bits_all & ((1ULL << KVM_HOP_NR) - 1));
	m->extra = (u32)(bits_all >> KVM_HOP_NR);
	return true;
}

/* ------------------------------------------------------------ extras -- */

static u64 le(const u8 *p, int n)
{
	u64 v = 0;
	for (int i = n - 1; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

bool kvm_extra_decode(const u8 *buf, size_t n, size_t *off, int nr_vcpus, struct kvm_op *op)
{
	u8 rec[KVM_EXTRA_RECORD] = { 0 };

	if (*off >= n)
		return false;
	size_t take = n - *off < KVM_EXTRA_RECORD ? n - *off : KVM_EXTRA_RECORD;
	memcpy(rec, buf + *off, take);
	*off += take;
	memset(op, 0, sizeof(*op));
	op->extra = true;
	op->xkind = (enum kvm_vmm_extra_kind)(rec[0] % KVM_EXTRA_NR);
	op->vcpu = rec[1] % (nr_vcpus > 0 ? nr_vcpus : 1);
	op->before = (u32)le(rec + 4, 4);
	op->arg = le(rec + 8, 8);
	return true;
}

void kvm_extra_encode(const struct kvm_op *op, u8 rec[KVM_EXTRA_RECORD])
{
	memset(rec, 0, KVM_EXTRA_RECORD);
	rec[0] = (u8)op->xkind;
	rec[1] = (u8)op->vcpu;
	for (int i = 0; i < 4; i++)
		rec[4 + i] = (u8)(op->before >> (8 * i));
	for (int i = 0; i < 8; i++)
		rec[8 + i] = (u8)(op->arg >> (8 * i));
}

void kvm_op_describe(const struct kvm_op *op, int nr_vcpus, char *buf, size_t n)
{
	if (op->extra)
		snprintf(buf, n, "extra %-14s vcpu=%d before=%u arg=%" PRId64, kvm_op_cli_name(op), op->vcpu,
			 op->before, (s64)op->arg);
	else
		snprintf(buf, n, "%-19s vcpu=%d arg=%#04x delay=%uus value=%" PRId64 " (%s)",
			 kvm_op_cli_name(op), kvm_host_op_vcpu(&op->hop, nr_vcpus), op->hop.arg,
			 op->hop.delay * 100u, (s64)op->hop.value, kvm_host_op_name(op->hop.kind));
}

/* ------------------------------------------------------------ random -- */

static u64 xorshift(u64 *s)
{
	u64 x = *s;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545F4914F6CDD1DULL;
}

/* A signed value: 0 half the time, else within +-small or +-big. */
static u64 rand_step(u64 *s, u64 small, u64 big)
{
	u64 r = xorshift(s);
	s64 mag;
	switch (r & 3) {
	case 0:
	case 1:
		return 0;
	case 2:
		mag = (s64)((r >> 8) % small);
		break;
	default:
		mag = (s64)((r >> 8) % big);
		break;
	}
	return (u64)((r >> 2) & 1 ? -mag : mag);
}

/* What a VMM can do, and how often the generator does it. */
static const u8 shared_weight[KVM_HOP_NR] = {
	[KVM_HOP_SET_CLOCK] = 14, [KVM_HOP_GET_CLOCK] = 6, [KVM_HOP_KVMCLOCK_CTRL] = 10,
	[KVM_HOP_WRITE_TSC] = 5, [KVM_HOP_MIGRATE] = 4, [KVM_HOP_PAUSE_VCPU] = 12,
	[KVM_HOP_GUEST_KVMCLOCK_MSR] = 4,
};
static const u8 extra_weight[KVM_EXTRA_NR] = {
	[KVM_EXTRA_IDLE] = 12, [KVM_EXTRA_THREAD_MIGRATE] = 18, [KVM_EXTRA_TSC_KHZ] = 3,
};

void kvm_op_random(u64 *s, int nr_vcpus, const struct kvm_op_mask *m, struct kvm_op *op)
{
	u32 w[KVM_STAT_KINDS], total = 0, pick;
	u64 r = xorshift(s);
	int k;

	for (k = 0; k < KVM_STAT_KINDS; k++) {
		bool on = k < KVM_HOP_NR ? m->shared >> k & 1 : m->extra >> (k - KVM_HOP_NR) & 1;
		w[k] = on ? (k < KVM_HOP_NR ? shared_weight[k] : extra_weight[k - KVM_HOP_NR]) : 0;
		total += w[k];
	}
	memset(op, 0, sizeof(*op));
	if (!total) { /* nothing enabled: a quiet stretch */
		op->extra = true;
		op->xkind = KVM_EXTRA_IDLE;
		op->arg = 10000;
		return;
	}
	pick = (u32)(r % total);
	for (k = 0; k < KVM_STAT_KINDS && pick >= w[k]; k++)
		pick -= w[k];
	if (k >= KVM_HOP_NR) {
		op->extra = true;
		op->xkind = (enum kvm_vmm_extra_kind)(k - KVM_HOP_NR);
		op->vcpu = (int)((r >> 32) % (u64)nr_vcpus);
		op->arg = xorshift(s);
		return;
	}
	struct kvm_host_op *h = &op->hop;
	h->kind = (enum kvm_host_op_kind)k;
	h->arg = (u8)(r >> 32);
	h->delay = (u8)((r >> 40) & 15);
	switch (h->kind) {
	case KVM_HOP_SET_CLOCK:
		/* relative (with or without REALTIME) most of the time, then stale, absolute, 0 */
		h->arg = (u8)((h->arg & ~3u) | ((r >> 48) % 8 < 5 ? KVM_HOP_SET_CLOCK_RELATIVE :
						 (r >> 48) % 8 < 7 ? KVM_HOP_SET_CLOCK_STALE :
						 (r >> 52) & 1 ? KVM_HOP_SET_CLOCK_ABSOLUTE : KVM_HOP_SET_CLOCK_ZERO));
		h->value = KVM_HOP_SET_CLOCK_MODE(h->arg) == KVM_HOP_SET_CLOCK_ABSOLUTE ?
				   xorshift(s) : rand_step(s, 1000000, 10000000000ULL);
		break;
	case KVM_HOP_WRITE_TSC:
		h->value = rand_step(s, 2000000, 20000000000ULL);
		break;
	case KVM_HOP_MIGRATE:
		h->value = (u32)(xorshift(s) % 200000);
		break;
	case KVM_HOP_PAUSE_VCPU:
		h->value = (u32)(xorshift(s) % 20000);
		break;
	case KVM_HOP_GUEST_KVMCLOCK_MSR:
		h->value = (u32)xorshift(s);
		break;
	default:
		break;
	}
	unsigned nv = kvm_host_op_value_bytes(h->kind);
	h->value &= nv == 8 ? ~0ULL : (1ULL << (8 * nv)) - 1;
}

/* ------------------------------------------------------- the operations -- */

bool kvm_host_init(struct kvm_host *h, struct vmm *vm)
{
	cpu_set_t set;

	memset(h, 0, sizeof(*h));
	h->vm = vm;
	h->t0 = vmm_now_ns();
	h->log = calloc(KVM_OP_LOG, sizeof(*h->log));
	if (!h->log)
		return false;
	if (sched_getaffinity(0, sizeof(set), &set) == 0)
		for (int c = 0; c < CPU_SETSIZE && h->nr_usable < 64; c++)
			if (CPU_ISSET(c, &set))
				h->usable_cpus[h->nr_usable++] = c;
	if (!h->nr_usable)
		h->usable_cpus[h->nr_usable++] = 0;
	return true;
}

/* Each vCPU left guest mode twice since `before` (or is finished). */
static bool settled(struct vmm *vm, const u64 *before)
{
	for (int v = 0; v < vm->nr_vcpus; v++)
		if (!atomic_load(&vm->vcpu[v].done) && atomic_load(&vm->vcpu[v].exits) < before[v] + 2)
			return false;
	return true;
}

/*
 * The step a set may make, either way: until every vCPU re-entered, readers
 * see both the old clock and the new one (the vDSO reads vCPU 0's record,
 * which changes only when vCPU 0 re-enters), so a step back of the set's
 * size is intended whichever way the set went.  The clock just before the
 * set lies in [GET, GET + the time since (+0.1% for the rate of the host
 * clock)]; plus 2 us for the rounding of two conversions.
 */
static u64 set_allowance(u64 get_clock, u64 elapsed_ns, u64 target, bool realtime, s64 delta)
{
	if (realtime) /* KVM adds the realtime elapsed since the GET itself */
		return (delta < 0 ? (u64)-delta : (u64)delta) + 2000 + elapsed_ns / 1000;
	u64 lo = get_clock, hi = get_clock + elapsed_ns + elapsed_ns / 1000;
	u64 back = hi > target ? hi - target : 0, fwd = target > lo ? target - lo : 0;
	return (back > fwd ? back : fwd) + 2000;
}

/*
 * The set window (kg_shared's comment): open with clock_lock held and the
 * allowance of the set about to happen, close after every vCPU left guest
 * mode twice since it opened.
 */
struct set_window {
	u64 exits[KG_MAX_VCPUS];
};

static void window_open(struct kvm_host *h, u64 allow, struct set_window *w)
{
	struct vmm *vm = h->vm;
	__atomic_store_n(&vm->sh->cur_allow, allow, __ATOMIC_RELAXED);
	__atomic_store_n(&vm->sh->set_seq, vm->sh->set_seq + 1, __ATOMIC_SEQ_CST);
	for (int v = 0; v < vm->nr_vcpus; v++)
		w->exits[v] = atomic_load(&vm->vcpu[v].exits);
}

/* the allowance from what the set really took (still inside the window) */
static void window_final(struct kvm_host *h, u64 allow)
{
	__atomic_store_n(&h->vm->sh->cur_allow, allow, __ATOMIC_SEQ_CST);
}

static void window_close(struct kvm_host *h, u64 allow, struct set_window *w)
{
	struct vmm *vm = h->vm;
	struct kg_shared *sh = vm->sh;
	u64 t0 = vmm_now_ns();

	while (!settled(vm, w->exits) && vmm_now_ns() - t0 < SETTLE_TIMEOUT_NS)
		usleep(50);
	if (!settled(vm, w->exits))
		h->settle_timeouts++;
	pthread_mutex_lock(&vm->clock_lock);
	/*
	 * Wrapping on purpose: the guest only subtracts two readings of the
	 * total, which is exact modulo 2^64 (one set allows less than 2^63).
	 */
	__atomic_store_n(&sh->allow_total, sh->allow_total + allow, __ATOMIC_SEQ_CST);
	__atomic_store_n(&sh->set_seq, sh->set_seq + 1, __ATOMIC_SEQ_CST);
	pthread_mutex_unlock(&vm->clock_lock);
}

static void do_set_clock(struct kvm_host *h, const struct kvm_host_op *op, struct kvm_op_result *r)
{
	struct vmm *vm = h->vm;
	struct kvm_clock_data g, d;
	int mode = KVM_HOP_SET_CLOCK_MODE(op->arg);
	bool want_realtime = op->arg & KVM_HOP_SET_CLOCK_REALTIME;
	s64 delta = 0;
	u64 t_get, t_done, target, allow;
	struct set_window w;
	bool realtime;

	if (mode == KVM_HOP_SET_CLOCK_STALE && !h->have_last_get) {
		r->err = -1;
		r->note = "stale set before any KVM_GET_CLOCK";
		return;
	}
	pthread_mutex_lock(&vm->clock_lock);
	if (!vmm_get_clock(vm, &g)) {
		r->err = errno;
		pthread_mutex_unlock(&vm->clock_lock);
		return;
	}
	t_get = vmm_now_ns();
	switch (mode) {
	case KVM_HOP_SET_CLOCK_ABSOLUTE:
		target = op->value & ((1ULL << 62) - 1); /* far, but no reader's u64 wraps */
		break;
	case KVM_HOP_SET_CLOCK_ZERO:
		target = 0;
		break;
	default: { /* relative to now, or to the last GET (stale) */
		u64 base = mode == KVM_HOP_SET_CLOCK_STALE ? h->last_get.clock : g.clock;
		delta = (s64)op->value % 100000000000LL; /* within +-100 s */
		target = delta < 0 && (u64)-delta > base ? 0 : base + (u64)delta;
		break;
	}
	}
	/* REALTIME needs the realtime of the same reading (the stale GET's for a stale set) */
	const struct kvm_clock_data *rt = mode == KVM_HOP_SET_CLOCK_STALE ? &h->last_get : &g;
	realtime = want_realtime && (rt->flags & KVM_CLOCK_REALTIME) &&
		   (vm->adjust_clock_flags & KVM_CLOCK_REALTIME);
	if (want_realtime && !realtime)
		r->note = "KVM_GET_CLOCK offered no realtime: set without KVM_CLOCK_REALTIME";
	memset(&d, 0, sizeof(d));
	d.clock = target;
	if (realtime) {
		d.flags = KVM_CLOCK_REALTIME;
		d.realtime = rt->realtime;
	}
	/*
	 * With REALTIME KVM adds the realtime elapsed since that reading, so
	 * the new clock is about target + (now - then); the step is its
	 * distance from the clock now (a set since the stale reading moved it).
	 */
	u64 t_rt = mode == KVM_HOP_SET_CLOCK_STALE ? h->t_last_get : t_get;
	s64 rstep = realtime ? (s64)(target - g.clock) + (s64)(t_get - t_rt) : delta;
	/* open the window with a generous guess, before KVM can apply the set */
	allow = set_allowance(g.clock, SET_WINDOW_GUESS_NS, target, realtime, rstep);
	/* realtime and kvmclock may differ in rate by 0.1% over a stale reading's age */
	u64 age = realtime && mode == KVM_HOP_SET_CLOCK_STALE ? vmm_now_ns() - h->t_last_get : 0;
	allow += age / 1000 + 2000 * (age != 0);
	window_open(h, allow, &w);
	int rc = ioctl(vm->fd, KVM_SET_CLOCK, &d);
	r->err = rc ? errno : 0;
	t_done = vmm_now_ns();
	/* the real bound, from how long it took */
	age = age ? t_done - h->t_last_get : 0;
	u64 final = rc ? 0 : set_allowance(g.clock, t_done - t_get, target, realtime, rstep) + age / 1000 +
				     2000 * (age != 0);
	window_final(h, final);
	pthread_mutex_unlock(&vm->clock_lock);
	window_close(h, final, &w);

	r->v[0] = (s64)g.clock;
	r->v[1] = (s64)target;
	r->v[2] = (s64)final;
	r->realtime = realtime;
	h->last_get = g;
	h->t_last_get = t_get;
	h->have_last_get = true;
}

/* ---- on the vCPU's own thread ---- */

static int vcpu_ctrl(struct vmm *vm, int v, struct vcpu_req *q)
{
	/* count first: the guest accepts GUEST_STOPPED only after this */
	__atomic_fetch_add(&vm->sh->vcpu[v].ctrl_count, 1, __ATOMIC_SEQ_CST);
	return ioctl(vm->vcpu[v].fd, KVM_KVMCLOCK_CTRL, 0) ? errno : 0;
}

/* MSR_IA32_TSC through KVM_GET/SET_MSRS (host-initiated: KVM's TSC sync logic) */
static int tsc_msr(struct vmm *vm, int v, bool set, u64 *val)
{
	u64 buf[(sizeof(struct kvm_msrs) + sizeof(struct kvm_msr_entry)) / sizeof(u64)] = { 0 };
	struct kvm_msrs *m = (struct kvm_msrs *)buf;

	m->nmsrs = 1;
	m->entries[0].index = MSR_IA32_TSC;
	m->entries[0].data = *val;
	if (ioctl(vm->vcpu[v].fd, set ? KVM_SET_MSRS : KVM_GET_MSRS, m) != 1)
		return errno ? errno : EIO;
	*val = m->entries[0].data;
	return 0;
}

/* kvm_host_ops.h's modes: arg2 the mode, arg the value */
static int vcpu_tsc_write(struct vmm *vm, int v, struct vcpu_req *q)
{
	u64 tsc = 0;
	int e = tsc_msr(vm, v, false, &tsc);
	if (e)
		return e;
	q->out[0] = (s64)tsc;
	switch (q->arg2) {
	case KVM_HOP_TSC_DELTA:
		tsc += q->arg;
		break;
	case KVM_HOP_TSC_ABSOLUTE:
		tsc = q->arg;
		break;
	case KVM_HOP_TSC_ZERO:
		tsc = 0;
		break;
	default: /* KVM_HOP_TSC_SAME: what it read */
		break;
	}
	q->out[1] = (s64)tsc;
	return tsc_msr(vm, v, true, &tsc);
}

static int vcpu_tsc_khz(struct vmm *vm, int v, struct vcpu_req *q)
{
	int khz = ioctl(vm->vcpu[v].fd, KVM_GET_TSC_KHZ, 0);
	if (khz <= 0)
		return errno ? errno : EIO;
	/* back to the boot rate a quarter of the time, else within +-10% */
	u64 want = q->arg % 4 == 0 ? vm->tsc_khz :
		   (u64)vm->tsc_khz * (1000 + (q->arg >> 2) % 201 - 100) / 1000;
	q->out[0] = khz;
	q->out[1] = (s64)want;
	return ioctl(vm->vcpu[v].fd, KVM_SET_TSC_KHZ, (unsigned long)want) ? errno : 0;
}

static int vcpu_pause(struct vmm *vm, int v, struct vcpu_req *q)
{
	u64 us = q->arg % 20000;
	struct timespec ts = { 0, (long)(us * 1000) };
	q->out[0] = (s64)us;
	nanosleep(&ts, NULL);
	if (q->arg >> 32 & 1) {
		q->out[1] = 1;
		return vcpu_ctrl(vm, v, q);
	}
	return 0;
}

static void on_vcpu(struct kvm_host *h, int v, u64 arg, struct kvm_op_result *r,
		    int (*fn)(struct vmm *, int, struct vcpu_req *))
{
	struct vcpu_req q = { .fn = fn, .arg = arg };
	if (!vmm_vcpu_call(h->vm, v, &q)) {
		r->err = ETIMEDOUT;
		return;
	}
	r->err = q.err;
	memcpy(r->v, q.out, sizeof(r->v));
}

static int vcpu_read_tsc(struct vmm *vm, int v, struct vcpu_req *q)
{
	u64 tsc = 0;
	int e = tsc_msr(vm, v, false, &tsc);
	q->out[0] = (s64)tsc;
	return e;
}

static int vcpu_write_tsc(struct vmm *vm, int v, struct vcpu_req *q)
{
	u64 tsc = q->arg;
	return tsc_msr(vm, v, true, &tsc);
}

/*
 * What QEMU does around "stop" and "cont", and around a migration to the
 * same host: with every vCPU stopped, save the clock (and the TSCs), wait,
 * restore the clock - with KVM_CLOCK_REALTIME it advances by the blackout,
 * without it the guest's clock steps back by the blackout, which is
 * intended - write the TSCs back, tell KVM every vCPU was paused
 * (KVMCLOCK_CTRL: the guest's watchdogs must not fire), resume.
 */
static void do_save_restore(struct kvm_host *h, const struct kvm_host_op *op, struct kvm_op_result *r)
{
	struct vmm *vm = h->vm;
	struct kvm_clock_data saved, g, d;
	u64 tsc[KG_MAX_VCPUS] = { 0 }, t_save, t_get, t_done, allow;
	u64 blackout_us = op->value < MAX_BLACKOUT_US ? op->value : MAX_BLACKOUT_US;
	/* kvm_host_ops.h: arg bit 0 restores with KVM_CLOCK_REALTIME; the TSCs always come back */
	bool want_realtime = op->arg & 1, restore_tsc = true, realtime;
	struct set_window w;
	int rc;

	r->v[0] = (s64)blackout_us;
	if (!vm->adjust_clock_flags) {
		r->err = -1;
		r->note = "no KVM_CAP_ADJUST_CLOCK";
		return;
	}
	if (op->value > MAX_BLACKOUT_US)
		r->note = "blackout capped at 1 s";
	if (!vmm_hold_all(vm)) {
		r->err = ETIMEDOUT;
		return;
	}
	pthread_mutex_lock(&vm->clock_lock);
	bool ok = vmm_get_clock(vm, &saved);
	pthread_mutex_unlock(&vm->clock_lock);
	t_save = vmm_now_ns();
	for (int v = 0; v < vm->nr_vcpus && ok && restore_tsc; v++) {
		struct vcpu_req q = { .fn = vcpu_read_tsc };
		ok = vmm_vcpu_call(vm, v, &q) && !q.err;
		tsc[v] = (u64)q.out[0];
	}
	if (!ok) {
		r->err = errno ? errno : EIO;
		vmm_release_all(vm);
		return;
	}
	struct timespec ts = { (time_t)(blackout_us / 1000000), (long)(blackout_us % 1000000) * 1000 };
	nanosleep(&ts, NULL);

	pthread_mutex_lock(&vm->clock_lock);
	ok = vmm_get_clock(vm, &g); /* where the clock is now: the step is measured from it */
	t_get = vmm_now_ns();
	realtime = want_realtime && (saved.flags & KVM_CLOCK_REALTIME) &&
		   (vm->adjust_clock_flags & KVM_CLOCK_REALTIME);
	memset(&d, 0, sizeof(d));
	d.clock = saved.clock;
	if (realtime) {
		d.flags = KVM_CLOCK_REALTIME;
		d.realtime = saved.realtime;
	}
	/*
	 * With REALTIME the clock continues (step about 0, plus 0.1% of the
	 * blackout for realtime's rate); without it, back to the saved value.
	 */
	u64 blackout_ns = t_get - t_save;
	allow = realtime ? set_allowance(g.clock, SET_WINDOW_GUESS_NS + blackout_ns, g.clock, true, 0)
			 : set_allowance(g.clock, SET_WINDOW_GUESS_NS, saved.clock, false, 0);
	window_open(h, allow, &w);
	rc = ok ? ioctl(vm->fd, KVM_SET_CLOCK, &d) : -1;
	r->err = rc ? (errno ? errno : EIO) : 0;
	t_done = vmm_now_ns();
	allow = rc ? 0 : realtime ? set_allowance(g.clock, t_done - t_get + blackout_ns, g.clock, true, 0)
				  : set_allowance(g.clock, t_done - t_get, saved.clock, false, 0);
	window_final(h, allow);
	pthread_mutex_unlock(&vm->clock_lock);

	for (int v = 0; v < vm->nr_vcpus && restore_tsc; v++) {
		struct vcpu_req q = { .fn = vcpu_write_tsc, .arg = tsc[v] };
		vmm_vcpu_call(vm, v, &q);
	}
	for (int v = 0; v < vm->nr_vcpus && vm->have_kvmclock_ctrl; v++) {
		struct vcpu_req q = { .fn = vcpu_ctrl };
		vmm_vcpu_call(vm, v, &q);
	}
	vmm_release_all(vm);
	window_close(h, allow, &w);
	r->v[1] = realtime | (restore_tsc ? 2 : 0);
	r->v[2] = (s64)allow;
	h->last_get = saved;
	h->have_last_get = true;
}

static void do_migrate(struct kvm_host *h, const struct kvm_op *op, struct kvm_op_result *r)
{
	struct vcpu *c = &h->vm->vcpu[op->vcpu];
	int cpu = h->usable_cpus[op->arg % (u64)h->nr_usable];
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	/* not a vCPU ioctl: the scheduler moves the thread wherever it is */
	r->err = pthread_setaffinity_np(c->thread, sizeof(set), &set);
	atomic_store(&c->host_cpu, cpu);
	r->v[0] = cpu;
}

/*
 * The guest's MSR_KVM_SYSTEM_TIME_NEW writes.  The readers index one array
 * of records (pvclock_guest.hv_clock), so the guest moves every vCPU's
 * record together at a rendezvous, whichever vCPU the op names:
 *   disable             every record disabled for value % 5000 us, then
 *                       re-enabled in place (kexec, hibernation)
 *   enable              back to the usual records (bank 0)
 *   enable elsewhere    to the other bank
 *   reuse               the records' memory first holds other data (value's
 *                       bytes), then they are re-enabled in place
 */
static void do_guest_msr(struct kvm_host *h, const struct kvm_host_op *op, struct kvm_op_result *r)
{
	struct kg_shared *sh = h->vm->sh;
	u64 gen = __atomic_load_n(&sh->relocate_gen, __ATOMIC_RELAXED);
	u32 bank = __atomic_load_n(&sh->bank, __ATOMIC_RELAXED), mode = KVM_HOP_MSR_MODE(op->arg);
	u64 us = mode == KVM_HOP_MSR_DISABLE ? op->value % 5000 : 0;

	/* one relocation at a time: the guest's rendezvous counts by generation */
	if (__atomic_load_n(&sh->park_gen, __ATOMIC_ACQUIRE) != (u32)gen) {
		r->err = -1;
		r->note = "the previous relocation is still going on";
		return;
	}
	u32 target = mode == KVM_HOP_MSR_ENABLE ? 0 : mode == KVM_HOP_MSR_ENABLE_ELSEWHERE ? !bank : bank;
	u64 fill = mode == KVM_HOP_MSR_REUSE ? (op->value | 1) * 0x0000000100000001ULL : 0;
	__atomic_store_n(&sh->relocate_fill, fill, __ATOMIC_RELAXED);
	__atomic_store_n(&sh->relocate_bank, target, __ATOMIC_RELAXED);
	__atomic_store_n(&sh->relocate_hold, us * (h->vm->tsc_khz ? h->vm->tsc_khz : 1000000) / 1000,
			 __ATOMIC_RELAXED);
	__atomic_store_n(&sh->relocate_gen, gen + 1, __ATOMIC_SEQ_CST);
	r->v[0] = (s64)us;
	r->v[1] = (s64)(gen + 1);
	r->v[2] = (s64)(target | (fill ? 2 : 0));
}

static void skip_op(struct kvm_op_result *r, const char *why)
{
	r->err = -1;
	r->note = why;
}

static void do_shared(struct kvm_host *h, const struct kvm_host_op *op, struct kvm_op_result *r)
{
	struct vmm *vm = h->vm;
	int v = kvm_host_op_vcpu(op, vm->nr_vcpus);

	switch (op->kind) {
	case KVM_HOP_SET_CLOCK:
		if (!vm->adjust_clock_flags) /* no KVM_CAP_ADJUST_CLOCK: no KVM_SET_CLOCK */
			skip_op(r, "no KVM_CAP_ADJUST_CLOCK");
		else
			do_set_clock(h, op, r);
		break;
	case KVM_HOP_GET_CLOCK: {
		struct kvm_clock_data g;
		pthread_mutex_lock(&vm->clock_lock);
		bool ok = vmm_get_clock(vm, &g);
		pthread_mutex_unlock(&vm->clock_lock);
		r->err = ok ? 0 : errno;
		if (ok) {
			h->last_get = g;
			h->t_last_get = vmm_now_ns();
			h->have_last_get = true;
			r->v[0] = (s64)g.clock;
			r->v[1] = g.flags;
		}
		break;
	}
	case KVM_HOP_KVMCLOCK_CTRL:
		if (!vm->have_kvmclock_ctrl)
			skip_op(r, "no KVM_CAP_KVMCLOCK_CTRL");
		else
			on_vcpu(h, v, 0, r, vcpu_ctrl);
		break;
	case KVM_HOP_WRITE_TSC: {
		struct vcpu_req q = { .fn = vcpu_tsc_write, .arg = op->value, .arg2 = KVM_HOP_TSC_MODE(op->arg) };
		if (!vmm_vcpu_call(vm, v, &q)) {
			r->err = ETIMEDOUT;
			break;
		}
		r->err = q.err;
		r->v[0] = q.out[0];
		r->v[1] = q.out[1];
		r->v[2] = (s64)op->value;
		break;
	}
	case KVM_HOP_MIGRATE:
		do_save_restore(h, op, r);
		break;
	case KVM_HOP_PAUSE_VCPU:
		on_vcpu(h, v, (op->value < MAX_PAUSE_US ? op->value : MAX_PAUSE_US) |
				      (op->arg & 4 ? 1ULL << 32 : 0), r, vcpu_pause);
		break;
	case KVM_HOP_GUEST_KVMCLOCK_MSR:
		do_guest_msr(h, op, r);
		break;
	case KVM_HOP_GUEST_CHECK_PAUSED:
		/* the guest runs kvm_check_and_clear_guest_paused() after every read */
		r->note = "done by the guest after every read";
		break;
	case KVM_HOP_GUEST_HV_TSC_MSR:
		skip_op(r, vm->have_hyperv_time ? "the Hyper-V TSC page guest path is not built yet"
						: "no KVM_CAP_HYPERV_TIME on this host");
		break;
	case KVM_HOP_MASTERCLOCK_UPDATE:
	case KVM_HOP_CLOCK_UPDATE:
	case KVM_HOP_GLOBAL_CLOCK_UPDATE:
		skip_op(r, "KVM makes this request itself; a VMM cannot");
		break;
	case KVM_HOP_HOST_NTP_FREQ:
	case KVM_HOP_HOST_SETTIME:
	case KVM_HOP_HOST_CLOCKSOURCE:
	case KVM_HOP_HOST_SUSPEND:
		skip_op(r, "the host kernel's own clock: not a VMM's to change");
		break;
	case KVM_HOP_NR:
		break;
	}
}

static void do_extra(struct kvm_host *h, const struct kvm_op *op, struct kvm_op_result *r)
{
	switch (op->xkind) {
	case KVM_EXTRA_IDLE: {
		u64 us = op->arg % 50000;
		struct timespec ts = { 0, (long)(us * 1000) };
		nanosleep(&ts, NULL);
		r->v[0] = (s64)us;
		break;
	}
	case KVM_EXTRA_THREAD_MIGRATE:
		do_migrate(h, op, r);
		break;
	case KVM_EXTRA_TSC_KHZ:
		on_vcpu(h, op->vcpu, op->arg, r, vcpu_tsc_khz);
		break;
	case KVM_EXTRA_NR:
		break;
	}
}

void kvm_host_do(struct kvm_host *h, const struct kvm_op *op)
{
	struct kvm_op_result *r = &h->log[h->nlog % KVM_OP_LOG];
	int slot = op->extra ? KVM_HOP_NR + (int)op->xkind : (int)op->hop.kind;

	if (!op->extra && op->hop.delay) {
		struct timespec ts = { 0, (long)op->hop.delay * 100000 }; /* x 100 us */
		nanosleep(&ts, NULL);
	}
	memset(r, 0, sizeof(*r));
	r->op = *op;
	if (!op->extra)
		r->op.vcpu = kvm_host_op_vcpu(&op->hop, h->vm->nr_vcpus);
	r->t_ns = vmm_now_ns() - h->t0;
	if (op->extra)
		do_extra(h, op, r);
	else
		do_shared(h, &op->hop, r);
	h->done[slot]++;
	if (r->err > 0)
		h->failed[slot]++;
	else if (r->err < 0)
		h->skipped[slot]++;
	h->nlog++;
}

void kvm_op_format(const struct kvm_op_result *r, char *buf, size_t n)
{
	const struct kvm_op *op = &r->op;
	const struct kvm_host_op *hop = &op->hop;
	char res[160];
	int v = op->vcpu;

	if (r->err < 0)
		snprintf(res, sizeof(res), "skipped (%s)", r->note ? r->note : "?");
	else if (r->err)
		snprintf(res, sizeof(res), "%s", strerror(r->err));
	else
		snprintf(res, sizeof(res), "ok%s%s", r->note ? ": " : "", r->note ? r->note : "");
	if (op->extra) {
		switch (op->xkind) {
		case KVM_EXTRA_THREAD_MIGRATE:
			snprintf(buf, n, "t=%.6f thread_migrate vcpu=%d to host cpu %" PRId64 " -> %s",
				 r->t_ns / 1e9, op->vcpu, r->v[0], res);
			return;
		case KVM_EXTRA_TSC_KHZ:
			snprintf(buf, n, "t=%.6f tsc_khz vcpu=%d khz %" PRId64 " -> %" PRId64 " -> %s",
				 r->t_ns / 1e9, op->vcpu, r->v[0], r->v[1], res);
			return;
		default:
			snprintf(buf, n, "t=%.6f idle %" PRId64 "us", r->t_ns / 1e9, r->v[0]);
			return;
		}
	}
	switch (hop->kind) {
	case KVM_HOP_GET_CLOCK:
		snprintf(buf, n, "t=%.6f get_clock -> %s clock=%" PRId64 " flags=%#" PRIx64, r->t_ns / 1e9, res,
			 r->v[0], r->v[1]);
		break;
	case KVM_HOP_SET_CLOCK: {
		static const char *const mode[] = { "relative", "absolute", "stale", "zero" };
		snprintf(buf, n, "t=%.6f set_clock %s%s value=%" PRId64 " -> %s clock_before=%" PRId64
			 " set_to=%" PRId64 " allowed_step=%" PRId64 "ns",
			 r->t_ns / 1e9, mode[KVM_HOP_SET_CLOCK_MODE(hop->arg)],
			 r->realtime ? " KVM_CLOCK_REALTIME" : "", (s64)hop->value, res, r->v[0], r->v[1], r->v[2]);
		break;
	}
	case KVM_HOP_WRITE_TSC: {
		static const char *const mode[] = { "same", "delta", "absolute", "zero" };
		snprintf(buf, n, "t=%.6f tsc_write vcpu=%d %s value=%" PRId64 " -> %s tsc %" PRId64 " -> %" PRId64,
			 r->t_ns / 1e9, v, mode[KVM_HOP_TSC_MODE(hop->arg)], r->v[2], res, r->v[0], r->v[1]);
		break;
	}
	case KVM_HOP_PAUSE_VCPU:
		snprintf(buf, n, "t=%.6f pause vcpu=%d %" PRId64 "us%s -> %s", r->t_ns / 1e9, v, r->v[0],
			 r->v[1] ? " then kvmclock_ctrl" : "", res);
		break;
	case KVM_HOP_MIGRATE:
		snprintf(buf, n, "t=%.6f live_migrate blackout=%" PRId64 "us%s -> %s allowed_step=%" PRId64 "ns",
			 r->t_ns / 1e9, r->v[0], r->v[1] & 1 ? " KVM_CLOCK_REALTIME" : "", res, r->v[2]);
		break;
	case KVM_HOP_GUEST_KVMCLOCK_MSR: {
		static const char *const mode[] = { "disable", "enable", "enable elsewhere", "reuse" };
		snprintf(buf, n, "t=%.6f guest_kvmclock_msr %s hold=%" PRId64 "us gen=%" PRId64 " bank=%" PRId64
			 " -> %s", r->t_ns / 1e9, mode[KVM_HOP_MSR_MODE(hop->arg)], r->v[0], r->v[1], r->v[2] & 1,
			 res);
		break;
	}
	default:
		snprintf(buf, n, "t=%.6f %s vcpu=%d -> %s", r->t_ns / 1e9, kvm_op_cli_name(op), v, res);
		break;
	}
}
