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
	"tsc_write", "tsc_khz", "pause", "migrate", "relocate",
};

const char *kvm_op_name(enum kvm_host_op_kind k)
{
	return k < KVM_OP_NR ? op_names[k] : "?";
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
	static const u8 weight[KVM_OP_NR] = { 2, 8, 12, 6, 12, 5, 3, 12, 20, 3 };
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
	default:
		op->arg = xorshift(s);
		break;
	}
}

bool kvm_op_parse_mask(const char *list, u32 *mask, char *bad, size_t n)
{
	char buf[256], *save = NULL;
	*mask = 0;
	if (!strcmp(list, "all"))
		return true;
	snprintf(buf, sizeof(buf), "%s", list);
	for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		int k;
		for (k = 0; k < KVM_OP_NR && strcmp(t, op_names[k]); k++)
			;
		if (k == KVM_OP_NR) {
			snprintf(bad, n, "%s", t);
			return false;
		}
		*mask |= 1u << k;
	}
	*mask |= 1u << KVM_OP_NOP;
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

static void do_set_clock(struct kvm_host *h, const struct kvm_op *op, struct kvm_op_result *r)
{
	struct vmm *vm = h->vm;
	struct kg_shared *sh = vm->sh;
	struct kvm_clock_data g, d;
	s64 delta = (s64)op->arg % 100000000000LL; /* within +-100 s */
	bool stale = op->kind == KVM_OP_SET_CLOCK_STALE;
	u64 before[KG_MAX_VCPUS], t_get, t_done, target, allow;
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
	realtime = !stale && (g.flags & KVM_CLOCK_REALTIME) &&
		   (vm->adjust_clock_flags & KVM_CLOCK_REALTIME);
	u64 base = stale ? h->last_get.clock : g.clock;
	target = delta < 0 && (u64)-delta > base ? 0 : base + (u64)delta;
	memset(&d, 0, sizeof(d));
	d.clock = target;
	if (realtime) {
		d.flags = KVM_CLOCK_REALTIME;
		d.realtime = g.realtime;
	}
	/* open the window with a generous guess, before KVM can apply the set */
	allow = set_allowance(g.clock, SET_WINDOW_GUESS_NS, target, realtime, delta);
	__atomic_store_n(&sh->cur_allow, allow, __ATOMIC_RELAXED);
	__atomic_store_n(&sh->set_seq, sh->set_seq + 1, __ATOMIC_SEQ_CST);
	for (int v = 0; v < vm->nr_vcpus; v++)
		before[v] = atomic_load(&vm->vcpu[v].exits);
	int rc = ioctl(vm->fd, KVM_SET_CLOCK, &d);
	r->err = rc ? errno : 0;
	t_done = vmm_now_ns();
	/* the real bound, from how long it took */
	allow = rc ? 0 : set_allowance(g.clock, t_done - t_get, target, realtime, delta);
	__atomic_store_n(&sh->cur_allow, allow, __ATOMIC_SEQ_CST);
	pthread_mutex_unlock(&vm->clock_lock);

	while (!settled(vm, before) && vmm_now_ns() - t_done < SETTLE_TIMEOUT_NS)
		usleep(50);
	if (!settled(vm, before))
		h->settle_timeouts++;
	pthread_mutex_lock(&vm->clock_lock);
	__atomic_store_n(&sh->allow_total, sh->allow_total + allow, __ATOMIC_SEQ_CST);
	__atomic_store_n(&sh->set_seq, sh->set_seq + 1, __ATOMIC_SEQ_CST);
	pthread_mutex_unlock(&vm->clock_lock);

	r->v[0] = (s64)g.clock;
	r->v[1] = (s64)target;
	r->v[2] = (s64)allow;
	r->op.arg = (u64)delta;
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

static int vcpu_tsc_write(struct vmm *vm, int v, struct vcpu_req *q)
{
	/* struct kvm_msrs with one entry */
	u64 buf[(sizeof(struct kvm_msrs) + sizeof(struct kvm_msr_entry)) / sizeof(u64)] = { 0 };
	struct kvm_msrs *m = (struct kvm_msrs *)buf;
	struct kvm_msr_entry *e = &m->entries[0];

	m->nmsrs = 1;
	e->index = MSR_IA32_TSC;
	if (ioctl(vm->vcpu[v].fd, KVM_GET_MSRS, m) != 1)
		return errno ? errno : EIO;
	q->out[0] = (s64)e->data;
	e->data += q->arg;
	q->out[1] = (s64)e->data;
	if (ioctl(vm->vcpu[v].fd, KVM_SET_MSRS, m) != 1)
		return errno ? errno : EIO;
	return 0;
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
		snprintf(buf, n, "t=%.6f relocate hold=%" PRId64 "us gen=%" PRId64 " -> %s", r->t_ns / 1e9,
			 r->v[0], r->v[1], res);
		break;
	default:
		snprintf(buf, n, "t=%.6f %s vcpu=%d -> %s", r->t_ns / 1e9, kvm_op_name(op->kind), op->vcpu,
			 res);
		break;
	}
}
