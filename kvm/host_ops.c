// SPDX-License-Identifier: MIT
/*
 * The host side of the contract, performed on the real KVM: set the clock
 * (fresh with KVM_CLOCK_REALTIME, or from a stale value), KVM_KVMCLOCK_CTRL,
 * host TSC writes and rate changes, vCPU pauses, host-CPU migration of the
 * vCPU threads, and the guest's own kvmclock disable/re-enable.
 *
 * A clock set is the one operation that may move the guest's clock back on
 * purpose.  Before the ioctl the VMM opens a window (kg_shared.set_seq odd)
 * with the backward step it means; it closes the window only once every
 * vCPU left guest mode twice, so each re-entered with a fresh record.  The
 * guest's order oracles excuse exactly that much, nothing else.
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

static const char *const op_names[KVM_OP_NR] = {
	"nop", "get_clock", "set_clock", "set_clock_stale", "kvmclock_ctrl",
	"tsc_write", "tsc_khz", "pause", "migrate", "relocate", "set_clock_absolute",
	"save_restore",
};

const char *kvm_op_name(enum kvm_host_op_kind k)
{
	return k < KVM_OP_NR ? op_names[k] : "?";
}

void kvm_op_names(char *buf, size_t n)
{
	size_t l = 0;
	buf[0] = 0;
	for (int k = 0; k < KVM_OP_NR && l < n; k++)
		l += (size_t)snprintf(buf + l, n - l, "%s%s", k ? " " : "", op_names[k]);
}

void kvm_op_describe(const struct kvm_op *op, char *buf, size_t n)
{
	snprintf(buf, n, "%-15s vcpu=%d wait=%uus arg=%" PRId64, kvm_op_name(op->kind), op->vcpu, op->wait_us,
		 (s64)op->arg);
}

/* ------------------------------------------------------------ encoding -- */

static u64 le(const u8 *p, int n)
{
	u64 v = 0;
	for (int i = n - 1; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

bool kvm_op_decode(const u8 *buf, size_t n, size_t *off, int nr_vcpus, struct kvm_op *op)
{
	u8 rec[KVM_OP_RECORD] = { 0 };

	if (*off >= n)
		return false;
	size_t take = n - *off < KVM_OP_RECORD ? n - *off : KVM_OP_RECORD;
	memcpy(rec, buf + *off, take);
	*off += take;
	op->kind = (enum kvm_host_op_kind)(rec[0] % KVM_OP_NR);
	op->vcpu = rec[1] % (nr_vcpus > 0 ? nr_vcpus : 1);
	op->wait_us = (u32)le(rec + 4, 4) % KVM_OP_MAX_WAIT_US;
	op->arg = le(rec + 8, 8);
	return true;
}

void kvm_op_encode(const struct kvm_op *op, u8 rec[KVM_OP_RECORD])
{
	memset(rec, 0, KVM_OP_RECORD);
	rec[0] = (u8)op->kind;
	rec[1] = (u8)op->vcpu;
	for (int i = 0; i < 4; i++)
		rec[4 + i] = (u8)(op->wait_us >> (8 * i));
	for (int i = 0; i < 8; i++)
		rec[8 + i] = (u8)(op->arg >> (8 * i));
}

static u64 xorshift(u64 *s)
{
	u64 x = *s;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545F4914F6CDD1DULL;
}

/* A signed value: 0 half the time, else within +-1 ms or +-10 s. */
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

void kvm_op_random(u64 *s, int nr_vcpus, u32 enabled, struct kvm_op *op)
{
	/* weights: the cheap perturbations often, the disruptive ones sometimes */
	static const u8 weight[KVM_OP_NR] = { 2, 8, 12, 6, 12, 5, 3, 12, 20, 3, 2, 4 };
	u32 total = 0, pick;
	u64 r = xorshift(s);

	u32 w[KVM_OP_NR];
	for (int k = 0; k < KVM_OP_NR; k++) {
		w[k] = !enabled || (enabled >> k & 1) ? weight[k] : 0;
		total += w[k];
	}
	op->kind = KVM_OP_NOP;
	pick = total ? (u32)(r % total) : 0;
	for (int k = 0; k < KVM_OP_NR && total; k++) {
		if (pick < w[k]) {
			op->kind = (enum kvm_host_op_kind)k;
			break;
		}
		pick -= w[k];
	}
	op->vcpu = (int)((r >> 32) % (u64)nr_vcpus);
	/* mostly short gaps, sometimes a quiet stretch */
	op->wait_us = (u32)(xorshift(s) % ((r >> 40) & 7 ? 3000 : 50000));
	switch (op->kind) {
	case KVM_OP_SET_CLOCK:
	case KVM_OP_SET_CLOCK_STALE:
		op->arg = rand_step(s, 1000000, 10000000000ULL);
		break;
	case KVM_OP_TSC_WRITE:
		op->arg = rand_step(s, 2000000, 20000000000ULL);
		break;
	case KVM_OP_SET_CLOCK_ABSOLUTE: /* 0 a quarter of the time, else anywhere */
		op->arg = r & 3 ? xorshift(s) : 0;
		break;
	default:
		op->arg = xorshift(s);
		break;
	}
}

bool kvm_op_parse_mask(const char *list, u32 *mask, char *bad, size_t n)
{
	char buf[256], *save = NULL;
	*mask = 0;
	snprintf(buf, sizeof(buf), "%s", list);
	for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		bool drop = *t == '-';
		const char *name = t + drop;
		u32 bits;
		int k;
		if (!strcmp(name, "all")) {
			bits = (1u << KVM_OP_NR) - 1;
		} else {
			for (k = 0; k < KVM_OP_NR && strcmp(name, op_names[k]); k++)
				;
			if (k == KVM_OP_NR) {
				snprintf(bad, n, "%s", t);
				return false;
			}
			bits = 1u << k;
		}
		*mask = drop ? *mask & ~bits : *mask | bits;
	}
	*mask |= 1u << KVM_OP_NOP; /* never empty: the waits remain */
	return true;
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

static void do_set_clock(struct kvm_host *h, const struct kvm_op *op, struct kvm_op_result *r)
{
	struct vmm *vm = h->vm;
	struct kvm_clock_data g, d;
	bool stale = op->kind == KVM_OP_SET_CLOCK_STALE;
	bool absolute = op->kind == KVM_OP_SET_CLOCK_ABSOLUTE;
	s64 delta = absolute ? 0 : (s64)op->arg % 100000000000LL; /* within +-100 s */
	u64 t_get, t_done, target, allow;
	struct set_window w;
	bool realtime;

	if (stale && !h->have_last_get) {
		r->err = -1;
		return;
	}
	pthread_mutex_lock(&vm->clock_lock);
	if (!vmm_get_clock(vm, &g)) {
		r->err = errno;
		pthread_mutex_unlock(&vm->clock_lock);
		return;
	}
	t_get = vmm_now_ns();
	realtime = !stale && !absolute && (g.flags & KVM_CLOCK_REALTIME) &&
		   (vm->adjust_clock_flags & KVM_CLOCK_REALTIME);
	if (absolute) {
		target = op->arg & ((1ULL << 62) - 1); /* far, but no reader's u64 wraps */
	} else {
		u64 base = stale ? h->last_get.clock : g.clock;
		target = delta < 0 && (u64)-delta > base ? 0 : base + (u64)delta;
	}
	memset(&d, 0, sizeof(d));
	d.clock = target;
	if (realtime) {
		d.flags = KVM_CLOCK_REALTIME;
		d.realtime = g.realtime;
	}
	/* open the window with a generous guess, before KVM can apply the set */
	allow = set_allowance(g.clock, SET_WINDOW_GUESS_NS, target, realtime, delta);
	window_open(h, allow, &w);
	int rc = ioctl(vm->fd, KVM_SET_CLOCK, &d);
	r->err = rc ? errno : 0;
	t_done = vmm_now_ns();
	/* the real bound, from how long it took */
	allow = rc ? 0 : set_allowance(g.clock, t_done - t_get, target, realtime, delta);
	window_final(h, allow);
	pthread_mutex_unlock(&vm->clock_lock);
	window_close(h, allow, &w);

	r->v[0] = (s64)g.clock;
	r->v[1] = (s64)target;
	r->v[2] = (s64)allow;
	r->op.arg = absolute ? op->arg : (u64)delta;
	r->realtime = realtime;
	h->last_get = g;
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

static int vcpu_tsc_write(struct vmm *vm, int v, struct vcpu_req *q)
{
	u64 tsc = 0;
	int e = tsc_msr(vm, v, false, &tsc);
	if (e)
		return e;
	q->out[0] = (s64)tsc;
	tsc += q->arg;
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

static void on_vcpu(struct kvm_host *h, const struct kvm_op *op, struct kvm_op_result *r,
		    int (*fn)(struct vmm *, int, struct vcpu_req *))
{
	struct vcpu_req q = { .fn = fn, .arg = op->arg };
	if (!vmm_vcpu_call(h->vm, op->vcpu, &q)) {
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
static void do_save_restore(struct kvm_host *h, const struct kvm_op *op, struct kvm_op_result *r)
{
	struct vmm *vm = h->vm;
	struct kvm_clock_data saved, g, d;
	u64 tsc[KG_MAX_VCPUS] = { 0 }, blackout_us = op->arg % 200000, t_save, t_get, t_done, allow;
	bool want_realtime = op->arg >> 32 & 1, restore_tsc = op->arg >> 33 & 1, realtime;
	struct set_window w;
	int rc;

	r->v[0] = (s64)blackout_us;
	if (!vm->adjust_clock_flags) {
		r->err = -1;
		return;
	}
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

static void do_relocate(struct kvm_host *h, const struct kvm_op *op, struct kvm_op_result *r)
{
	struct kg_shared *sh = h->vm->sh;
	u64 gen = __atomic_load_n(&sh->relocate_gen, __ATOMIC_RELAXED);

	/* one relocation at a time: the guest's rendezvous counts by generation */
	if (__atomic_load_n(&sh->park_gen, __ATOMIC_ACQUIRE) != (u32)gen) {
		r->err = -1;
		return;
	}
	u64 us = op->arg % 5000;
	/* bit 32: the guest reuses the new record's memory first (kexec) */
	__atomic_store_n(&sh->relocate_fill, op->arg >> 32 & 1 ? (op->arg | 1) : 0, __ATOMIC_RELAXED);
	__atomic_store_n(&sh->relocate_hold, us * (h->vm->tsc_khz ? h->vm->tsc_khz : 1000000) / 1000,
			 __ATOMIC_RELAXED);
	__atomic_store_n(&sh->relocate_gen, gen + 1, __ATOMIC_SEQ_CST);
	r->v[0] = (s64)us;
	r->v[1] = (s64)(gen + 1);
}


void kvm_host_do(struct kvm_host *h, const struct kvm_op *op)
{
	struct kvm_op_result *r = &h->log[h->nlog % KVM_OP_LOG];
	struct vmm *vm = h->vm;

	if (op->wait_us) {
		struct timespec ts = { op->wait_us / 1000000, (long)(op->wait_us % 1000000) * 1000 };
		nanosleep(&ts, NULL);
	}
	memset(r, 0, sizeof(*r));
	r->op = *op;
	r->t_ns = vmm_now_ns() - h->t0;
	switch (op->kind) {
	case KVM_OP_NOP:
		break;
	case KVM_OP_GET_CLOCK: {
		struct kvm_clock_data g;
		pthread_mutex_lock(&vm->clock_lock);
		bool ok = vmm_get_clock(vm, &g);
		pthread_mutex_unlock(&vm->clock_lock);
		r->err = ok ? 0 : errno;
		if (ok) {
			h->last_get = g;
			h->have_last_get = true;
			r->v[0] = (s64)g.clock;
			r->v[1] = g.flags;
		}
		break;
	}
	case KVM_OP_SET_CLOCK:
	case KVM_OP_SET_CLOCK_STALE:
		if (!vm->adjust_clock_flags) /* no KVM_CAP_ADJUST_CLOCK: no KVM_SET_CLOCK */
			r->err = -1;
		else
			do_set_clock(h, op, r);
		break;
	case KVM_OP_KVMCLOCK_CTRL:
		if (!vm->have_kvmclock_ctrl)
			r->err = -1;
		else
			on_vcpu(h, op, r, vcpu_ctrl);
		break;
	case KVM_OP_TSC_WRITE:
		on_vcpu(h, op, r, vcpu_tsc_write);
		break;
	case KVM_OP_TSC_KHZ:
		on_vcpu(h, op, r, vcpu_tsc_khz);
		break;
	case KVM_OP_PAUSE:
		on_vcpu(h, op, r, vcpu_pause);
		break;
	case KVM_OP_MIGRATE:
		do_migrate(h, op, r);
		break;
	case KVM_OP_RELOCATE:
		do_relocate(h, op, r);
		break;
	case KVM_OP_SET_CLOCK_ABSOLUTE:
		if (!vm->adjust_clock_flags)
			r->err = -1;
		else
			do_set_clock(h, op, r);
		break;
	case KVM_OP_SAVE_RESTORE:
		do_save_restore(h, op, r);
		break;
	case KVM_OP_NR:
		break;
	}
	h->ops_by_kind[op->kind]++;
	if (r->err > 0)
		h->failed_by_kind[op->kind]++;
	else if (r->err < 0)
		h->skipped_by_kind[op->kind]++;
	h->nlog++;
}

void kvm_op_format(const struct kvm_op_result *r, char *buf, size_t n)
{
	const struct kvm_op *op = &r->op;
	char res[96];

	if (r->err < 0)
		snprintf(res, sizeof(res), "skipped");
	else if (r->err)
		snprintf(res, sizeof(res), "%s", strerror(r->err));
	else
		snprintf(res, sizeof(res), "ok");
	switch (op->kind) {
	case KVM_OP_GET_CLOCK:
		snprintf(buf, n, "t=%.6f get_clock -> %s clock=%" PRId64 " flags=%#" PRIx64,
			 r->t_ns / 1e9, res, r->v[0], r->v[1]);
		break;
	case KVM_OP_SAVE_RESTORE:
		snprintf(buf, n, "t=%.6f save_restore blackout=%" PRId64 "us%s%s -> %s allowed_back=%" PRId64 "ns",
			 r->t_ns / 1e9, r->v[0], r->v[1] & 1 ? " KVM_CLOCK_REALTIME" : "",
			 r->v[1] & 2 ? " +TSCs" : "", res, r->v[2]);
		break;
	case KVM_OP_SET_CLOCK_ABSOLUTE:
	case KVM_OP_SET_CLOCK:
	case KVM_OP_SET_CLOCK_STALE:
		snprintf(buf, n, "t=%.6f %s%s delta=%" PRId64 "ns -> %s clock_before=%" PRId64
			 " set_to=%" PRId64 " allowed_back=%" PRId64 "ns",
			 r->t_ns / 1e9, kvm_op_name(op->kind), r->realtime ? " KVM_CLOCK_REALTIME" : "",
			 (s64)op->arg, res, r->v[0], r->v[1], r->v[2]);
		break;
	case KVM_OP_TSC_WRITE:
		snprintf(buf, n, "t=%.6f tsc_write vcpu=%d delta=%" PRId64 " -> %s tsc %" PRId64 " -> %" PRId64,
			 r->t_ns / 1e9, op->vcpu, (s64)op->arg, res, r->v[0], r->v[1]);
		break;
	case KVM_OP_TSC_KHZ:
		snprintf(buf, n, "t=%.6f tsc_khz vcpu=%d -> %s khz %" PRId64 " -> %" PRId64, r->t_ns / 1e9,
			 op->vcpu, res, r->v[0], r->v[1]);
		break;
	case KVM_OP_PAUSE:
		snprintf(buf, n, "t=%.6f pause vcpu=%d %" PRId64 "us%s -> %s", r->t_ns / 1e9, op->vcpu,
			 r->v[0], r->v[1] ? " then kvmclock_ctrl" : "", res);
		break;
	case KVM_OP_MIGRATE:
		snprintf(buf, n, "t=%.6f migrate vcpu=%d to host cpu %" PRId64 " -> %s", r->t_ns / 1e9,
			 op->vcpu, r->v[0], res);
		break;
	case KVM_OP_RELOCATE:
		snprintf(buf, n, "t=%.6f relocate hold=%" PRId64 "us gen=%" PRId64 "%s -> %s", r->t_ns / 1e9,
			 r->v[0], r->v[1], op->arg >> 32 & 1 ? " into reused memory" : "", res);
		break;
	default:
		snprintf(buf, n, "t=%.6f %s vcpu=%d -> %s", r->t_ns / 1e9, kvm_op_name(op->kind), op->vcpu,
			 res);
		break;
	}
}
