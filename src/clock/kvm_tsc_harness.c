// SPDX-License-Identifier: MIT
/*
 * The kvm_tsc scenario: a host whose CPUs change TSC frequency under KVM.
 * Simulated CPUs are the host's physical CPUs.  On each runs the thread of
 * one vCPU (vcpu_enter_guest() loops, a kvmclock read in guest mode each
 * time); around them two cpufreq policy threads run frequency transitions
 * (PRECHANGE, the hardware change, POSTCHANGE) with their notifiers on a CPU
 * the input picks, a hotplug thread takes CPUs down (stop_machine) and up,
 * and a kworker runs the work a writer schedules.  Several kernel tasks
 * share a CPU, so the simulator runs with cpu_exclusive (no task of a CPU
 * runs while another is inside an atomic section there).
 *
 * Input head (front), each byte defaulting when the input runs out:
 *   mode      sim mode bits (sim.h); HOIST is ignored (see below)
 *   shape     CPUs 2-4 | kvmclock reads per vCPU 1-4 | guest CPU ids: possible CPUs
 *             (4, 64, 65, 128, 256) and kvmclock vsyscall on/off
 *   ops       host operations 0-8
 *   rate      boot TSC ticks per step on every CPU (64..319)
 *   think     2 bits per vCPU: guest steps in guest mode before each read (0-12)
 *   burst     2 bits per vCPU: kvmclock reads per guest-mode stint (1-4)
 *   ids[3]    guest CPU ids of vCPUs 1-3 (CPU 0 is the boot CPU)
 *   skew[4]   per-CPU TSC offsets (SIM_MODE_SKEW only)
 *   then per operation two bytes:
 *     kind    bits 0-1: cpufreq transition on policy thread A, on B, CPU down,
 *             CPU up; bits 2-3: the CPU the notifier runs on; bits 4-7: delay
 *     arg     bits 0-1: target CPU; bits 2-7: new TSC rate (48 + 6k ticks/step)
 * Tail: the schedule, then events: SIM_EV_SCENARIO exchanges the CPUs of the
 * threads of vCPUs (arg & 3) and (arg >> 2 & 3), as the load balancer may.
 *
 * Oracles, on what the guest sees (raw per-vCPU kvmclock, no last_value):
 *   monotonic (CO1)  one vCPU's kvmclock never goes backwards;
 *   rate (CO12)      no read uses a record whose scale makes guest time run
 *                    faster than the TSC it read (the notifier contract:
 *                    slow clocks may be notified after, fast ones before);
 *   plausibility     kvmclock never ahead of host time, never far behind;
 *   layout           every guest CPU that comes online gets its own record;
 *   liveness (CO7)   a vCPU that can never enter the guest; a deadlock;
 *   kernel_discipline  code under test returning to process context atomic.
 * For a design that traps RDTSC (guest_rdtsc) the reference TSC it hands
 * out is judged too: monotonic per CPU, linearizable across CPUs within the
 * synchronisation error, plausible against true time.
 */
#include <stdio.h>
#include <string.h>

#include "clock/kvm_tsc_harness.h"
#include "oracle/oracle.h"
#include "sim/sim.h"

#define MAX_OPS 8
#define MAX_WORK 8
#define NR_POLICY 2
#define MAX_REFS 64

enum op_kind { OP_FREQ_A, OP_FREQ_B, OP_DOWN, OP_UP };

struct host_op {
	u8 kind, notify_cpu, delay, cpu;
	u32 rate;
};

struct work_item {
	void (*fn)(struct kvm_tsc_host *h);
	int cpu;
};

struct kvm_tsc_world {
	const struct kvm_tsc_writer_ops *wops;
	const struct kvm_tsc_reader_ops *gops;
	struct kvm_tsc_host *h;
	int nr_cpus, nr_reads;
	int think[KVM_TSC_MAX_CPUS], burst[KVM_TSC_MAX_CPUS];
	struct host_op ops[MAX_OPS];
	int nops;
	int vcpu_fiber[KVM_TSC_MAX_CPUS];
	int hotplug_fiber;
	bool in_exit[KVM_TSC_MAX_CPUS], reexit[KVM_TSC_MAX_CPUS];
	/*
	 * policy->transition_ongoing: set once a transition passed its checks
	 * (in_transition is also taken, briefly, by one that then finds the CPU
	 * offline - an inactive policy, where the kernel begins no transition).
	 * Ghost state: no scheduling point, so writers that never ask see the
	 * same schedules.
	 */
	bool transition_ongoing[KVM_TSC_MAX_CPUS];
	/* the shared part of the world's kernel state lives in the arena */
	struct world_shared {
		int control_left;     /* control threads running + work items queued */
		int kvm_ready;        /* kvm_timer_init() done */
		int hp_lock;          /* cpu_hotplug.lock (mutex) */
		atomic_t hp_refcount; /* get_online_cpus() holders */
		int in_transition[KVM_TSC_MAX_CPUS]; /* a cpufreq transition of this CPU is under way */
		int going_down[KVM_TSC_MAX_CPUS];
		int work_lock;
		int nwork, work_head;
	} *sh;
	struct work_item work[MAX_WORK];
	/* oracle state */
	u64 last_val[KVM_TSC_MAX_CPUS];
	bool have_last[KVM_TSC_MAX_CPUS];
	struct ref_sample { u64 ref, at; int cpu; } refs[MAX_REFS];
	int nref;
	u32 ngen[KVM_TSC_MAX_CPUS];
};

static struct kvm_tsc_world W;
static struct kvm_tsc_writer_ops wops_resolved;

/* guest record slots for the layout check (plain memory: no concurrency) */
static struct pvclock_vsyscall_time_info g_slots[KVM_TSC_MAX_CPU_IDS] __attribute__((aligned(64)));
static struct kvmclock_guest G;

static u32 khz_of_rate(u32 rate)
{
	return (u32)((u64)rate * 1000000ULL / SIM_NS_PER_STEP);
}

/* ------------------------------------------------------------ the world -- */

static u64 w_host_ns(struct kvm_tsc_host *h)
{
	sim_yield("host: ktime_get");
	return sim_true_ns();
}

static void w_host_tsc_and_ns(struct kvm_tsc_host *h, u64 *tsc, u64 *ns)
{
	sim_yield("host: rdtsc + get_kvmclock_base_ns");
	*tsc = sim_cpu_tsc(smp_processor_id());
	*ns = sim_true_ns();
}

static u32 w_cpufreq_quick_get(struct kvm_tsc_host *h, int cpu)
{
	return khz_of_rate(sim_cpu_tsc_rate(cpu));
}

static bool w_cpufreq_transition_ongoing(struct kvm_tsc_host *h, int cpu)
{
	return W.transition_ongoing[cpu];
}

static void w_measure_base(struct kvm_tsc_host *h, int base, u64 *base_ref, u64 *tsc)
{
	const struct cpu_tsc_vars *b = &h->tsc_vars[base];

	/* the base's half runs in an interrupt there: once the base can take one */
	do
		sim_yield("rendezvous with the base CPU");
	while (base != smp_processor_id() && !sim_cpu_irqs_on(base));
	u64 bt = sim_cpu_tsc(base) - sim_peek(&b->tsc_measure_base, 8);
	u32 mult = (u32)sim_peek(&b->tsc_multiplier, 4);
	s8 shift = (s8)sim_peek(&b->tsc_shift, 1);
	*base_ref = sim_peek(&b->tsc_offset, 8) + pvclock_scale_delta(bt, mult, shift);
	*tsc = sim_cpu_tsc(smp_processor_id());
	sim_note("measured against the base: reference", *base_ref);
}

static bool w_in_interrupt(struct kvm_tsc_host *h)
{
	return sim_in_ipi();
}

static void w_get_online_cpus(struct kvm_tsc_host *h)
{
	kvm_mutex_lock(&W.sh->hp_lock);
	atomic_inc(&W.sh->hp_refcount);
	kvm_mutex_unlock(&W.sh->hp_lock);
}

static void w_put_online_cpus(struct kvm_tsc_host *h)
{
	(void)pv_fetch_add(&W.sh->hp_refcount.counter, -1);
}

static void w_schedule_work(struct kvm_tsc_host *h, void (*fn)(struct kvm_tsc_host *h))
{
	/* schedule_work(): the current CPU's worker pool; a full queue drops nothing */
	kvm_spin_lock(&W.sh->work_lock);
	int n = READ_ONCE(W.sh->nwork);
	if (n - READ_ONCE(W.sh->work_head) < MAX_WORK) {
		W.work[n % MAX_WORK].fn = fn;
		W.work[n % MAX_WORK].cpu = smp_processor_id();
		WRITE_ONCE(W.sh->nwork, n + 1);
		(void)pv_fetch_add(&W.sh->control_left, 1);
	}
	kvm_spin_unlock(&W.sh->work_lock);
	sim_note("schedule_work", (u64)n);
}

static void check_not_atomic(const char *what)
{
	if (!sim_cpu_quiescent(smp_processor_id())) {
		char buf[160];
		snprintf(buf, sizeof(buf), "%s returned to process context on CPU %d with preemption "
			 "or IRQs still disabled", what, smp_processor_id());
		oracle_kernel_discipline(buf);
	}
}

static long w_work_on_cpu(struct kvm_tsc_host *h, int cpu, long (*fn)(struct kvm_tsc_host *h))
{
	int self = sim_self(), home = smp_processor_id();
	long r;

	/* the caller sleeps in flush_work(): model it as running the work itself on cpu */
	if (!cpu_online(h, cpu))
		return -22; /* -EINVAL */
	sim_move_task(self, cpu);
	sim_yield("work_on_cpu: kworker runs");
	r = fn(h);
	check_not_atomic("work_on_cpu() work function");
	sim_move_task(self, cpu_online(h, home) ? home : 0);
	sim_yield("work_on_cpu: done");
	return r;
}

/*
 * The reference TSC a design hands out (the RFC's own contract, "singing in
 * unison"), judged on synchronised CPUs only: it is scaled for the CPU's
 * actual TSC rate, and ordered by the instants the TSCs were read - per CPU
 * never backwards, across CPUs within the synchronisation error.
 */
static void w_ref_tsc_seen(struct kvm_tsc_host *h, int cpu, u64 ref)
{
	const struct cpu_tsc_vars *cv = &h->tsc_vars[cpu];
	u64 at = sim_last_tsc_step();
	u64 per_step = (u64)h->ref_tsc_khz * SIM_NS_PER_STEP / 1000000ULL;
	u64 slack = 2 * per_step; /* the measurement is exact; rounding only */
	char what[200];

	if (!sim_peek(&cv->tsc_synchronized.counter, sizeof(int)))
		return;
	/* mult * 2^shift / 2^32 reference ticks per hardware tick, times its rate */
	u32 mult = (u32)sim_peek(&cv->tsc_multiplier, 4);
	s8 shift = (s8)sim_peek(&cv->tsc_shift, 1);
	u32 rate = sim_cpu_tsc_rate(cpu);
	if (shift <= 31 && shift >= -31) {
		unsigned __int128 got = (unsigned __int128)mult * rate, want = (unsigned __int128)per_step << 32;
		if (shift >= 0)
			got <<= shift;
		else
			want <<= -shift;
		if (got * 10000 > want * 10001 || got * 10001 < want * 10000) {
			snprintf(what, sizeof(what), "synchronised CPU %d scales its TSC (%u ticks/step) by "
				 "%#x >> %d: its reference runs at %llu ticks/step, not %llu", cpu, rate, mult,
				 32 - shift, (unsigned long long)(got >> 32), (unsigned long long)per_step);
			oracle_rate(what);
		}
	}
	for (int i = 0; i < W.nref; i++) {
		const struct ref_sample *o = &W.refs[i];
		if (o->at >= at)
			continue; /* not read before this one */
		if (o->cpu == cpu && ref < o->ref)
			oracle_monotonic(cpu, o->ref, ref);
		if (ref + slack < o->ref) {
			snprintf(what, sizeof(what), "reference TSC %llu on CPU %d read at step %llu, but CPU %d "
				 "read %llu at step %llu", (unsigned long long)ref, cpu, (unsigned long long)at,
				 o->cpu, (unsigned long long)o->ref, (unsigned long long)o->at);
			sim_note(what, 0);
			oracle_linearizable(cpu, o->ref, ref);
		}
	}
	struct ref_sample *n = &W.refs[W.nref < MAX_REFS ? W.nref++ : (int)(at % MAX_REFS)];
	n->ref = ref;
	n->at = at;
	n->cpu = cpu;
}

static void w_publish(struct kvm_clock_host *ch, int v, const struct pvclock_vcpu_time_info *rec)
{
	sim_note("publish-kvmclock vcpu", (u64)v << 32 | W.ngen[v]++);
}

/* ------------------------------------------------------------- the vCPU -- */

static int vcpu_of_fiber(int f)
{
	for (int v = 0; v < W.nr_cpus; v++)
		if (W.vcpu_fiber[v] == f)
			return v;
	return -1;
}

/*
 * Guest mode keeps the CPU: only an interrupt or a move gets the vCPU out.
 * An interrupt can land inside the mode stores themselves (and re-enter
 * there), so the hold follows the mode as it is afterwards.
 */
static int vcpu_mode(int v)
{
	return (int)sim_peek(&W.h->vcpu[v].mode, sizeof(W.h->vcpu[v].mode));
}

static void sync_hold(int v)
{
	sim_hold_cpu(vcpu_mode(v) == IN_GUEST_MODE);
}

static void vcpu_enter(int v)
{
	while (!kvm_tsc_vcpu_enter(W.h, v))
		cond_resched();
	sync_hold(v);
}

static void vcpu_exit(int v)
{
	kvm_tsc_vcpu_exit(W.h, v);
	sync_hold(v);
}

/*
 * An interrupt or a host move reached a vCPU in guest mode: a VM exit.  The
 * vCPU thread handles requests and re-enters before the guest's next
 * instruction; an interrupt during that re-entry is one more exit.
 */
static void on_task_interrupted(void *ctx, int cpu)
{
	int v = vcpu_of_fiber(sim_self());
	if (v < 0)
		return;
	/* a switch-out is a sched-out and a sched-in, maybe on another CPU */
	if ((int)sim_peek(&W.h->vcpu[v].cpu, sizeof(int)) != cpu)
		kvm_tsc_vcpu_load(W.h, v);
	if (vcpu_mode(v) != IN_GUEST_MODE)
		return;
	if (W.in_exit[v]) {
		W.reexit[v] = true;
		return;
	}
	W.in_exit[v] = true;
	sim_note("vm-exit: interrupt", (u64)v);
	do {
		W.reexit[v] = false;
		vcpu_exit(v);
		vcpu_enter(v);
	} while (W.reexit[v]);
	W.in_exit[v] = false;
	sync_hold(v);
}

/* The guest's RDTSC: the hardware TSC, or an exit to the writer's emulation. */
static u64 guest_rdtsc(int v, u32 *rate)
{
	u64 tsc;

	if (!W.wops->guest_rdtsc) {
		tsc = rdtsc_ordered();
		*rate = sim_cpu_tsc_rate(smp_processor_id());
		return tsc;
	}
	*rate = 0;
	W.in_exit[v] = true;
	W.reexit[v] = false;
	vcpu_exit(v);
	tsc = W.wops->guest_rdtsc(W.h, v); /* host IRQs are enabled in the exit handler */
	for (;;) {
		vcpu_enter(v);
		if (!W.reexit[v])
			break;
		W.reexit[v] = false;
		vcpu_exit(v);
	}
	W.in_exit[v] = false;
	return tsc;
}

static __noinline void check_rate(int v, u32 mul, s8 shift, u32 rate)
{
	char what[200];
	u64 ppm;

	if (!kvmclock_scale_runs_fast(mul, shift, rate, &ppm))
		return;
	unsigned __int128 khz = ((unsigned __int128)1000000 << 32) * (shift < 0 ? 1ULL << -shift : 1) /
				((unsigned __int128)mul << (shift > 0 ? shift : 0));
	snprintf(what, sizeof(what), "vCPU %d read kvmclock scaled for %llu kHz on CPU %d whose TSC runs "
		 "at %u kHz: guest time runs %llu ppm fast", v, (unsigned long long)khz,
		 smp_processor_id(), khz_of_rate(rate), (unsigned long long)ppm);
	oracle_rate(what);
}

/* The guest's kvmclock read of its own record (no last_value fix-up). */
static void guest_read(int v)
{
	struct pvclock_vcpu_time_info *src = &W.h->clock.guest[v].pvti;
	unsigned version;
	u64 tsc, T, S, ns;
	u32 mul, rate;
	s8 shift;
	u64 lo = sim_true_ns();

	sim_op_begin("kvmclock_read");
	do {
		version = pvclock_read_begin(src);
		tsc = guest_rdtsc(v, &rate);
		T = READ_ONCE(src->tsc_timestamp);
		mul = READ_ONCE(src->tsc_to_system_mul);
		shift = READ_ONCE(src->tsc_shift);
		S = READ_ONCE(src->system_time);
		ns = S + pvclock_scale_delta(tsc - T, mul, shift);
	} while (pvclock_read_retry(src, version));
	sim_op_end();
	sim_note("guest kvmclock", ns);

	if (!mul)
		return; /* the record was never written: nothing the host promised */
	if (rate)
		check_rate(v, mul, shift, rate);
	u64 hi = sim_true_ns();
	u64 behind = SIM_HARD_LIMIT * (u64)SIM_NS_PER_STEP;
	if (ns > hi + SIM_NS_PER_STEP || ns + behind < lo)
		oracle_plausibility(v, ns, lo > behind ? lo - behind : 0, hi + SIM_NS_PER_STEP);
	if (W.have_last[v] && ns < W.last_val[v])
		oracle_monotonic(v, W.last_val[v], ns);
	W.last_val[v] = ns;
	W.have_last[v] = true;
}

/* control threads still running, plus work queued and not yet done */
static void delay(int n);

static bool control_running(void)
{
	return READ_ONCE(W.sh->control_left) != 0;
}

static void vcpu_fiber(void *arg)
{
	int v = (int)(long)arg;

	while (!READ_ONCE(W.sh->kvm_ready))
		cpu_relax();
	for (int i = 0; i < W.nr_reads; i++) {
		sim_op_begin("vcpu_enter_guest");
		vcpu_enter(v);
		sim_op_end();
		for (int b = 0; b < W.burst[v]; b++) {
			delay(W.think[v]); /* guest code between the clock reads */
			guest_read(v);
		}
		vcpu_exit(v);
	}
	/* the vCPU halts; its CPU's idle loop keeps taking interrupts */
	while (control_running())
		cpu_relax();
}

/* --------------------------------------------------------- control tasks -- */

static void control_done(void)
{
	if (pv_fetch_add(&W.sh->control_left, -1) == 1)
		sim_writer_idle();
}

static int any_online_cpu(int not)
{
	for (int c = 0; c < W.nr_cpus; c++)
		if (c != not && cpu_online(W.h, c))
			return c;
	return 0;
}

static void delay(int n)
{
	for (int i = 0; i < n; i++)
		sim_yield("idle");
}

static void cpufreq_transition(const struct host_op *op)
{
	struct kvm_tsc_host *h = W.h;
	struct cpufreq_freqs freq;
	int cpu = op->cpu;
	int me = op->notify_cpu;

	/* the policy's CPU must be online; cpufreq_offline() waits for its transition */
	if (!cpu_online(h, me))
		me = 0;
	sim_move_task(sim_self(), me);
	if (xchg(&W.sh->in_transition[cpu], 1))
		return; /* one transition per policy at a time */
	if (!cpu_online(h, cpu) || READ_ONCE(W.sh->going_down[cpu])) {
		WRITE_ONCE(W.sh->in_transition[cpu], 0);
		return;
	}
	W.transition_ongoing[cpu] = true; /* cpufreq_freq_transition_begin() */
	freq.cpu = cpu;
	freq.old = khz_of_rate(sim_cpu_tsc_rate(cpu)); /* policy->cur */
	freq.new = khz_of_rate(op->rate);
	sim_note("cpufreq PRECHANGE cpu", (u64)cpu << 32 | freq.new);
	h->ops->cpufreq_notifier(h, CPUFREQ_PRECHANGE, &freq);
	delay(op->delay & 7);
	sim_set_tsc_rate(cpu, op->rate);
	sim_note("hardware: TSC rate of cpu", (u64)cpu << 32 | op->rate);
	delay(op->delay >> 3);
	sim_note("cpufreq POSTCHANGE cpu", (u64)cpu << 32 | freq.new);
	h->ops->cpufreq_notifier(h, CPUFREQ_POSTCHANGE, &freq);
	W.transition_ongoing[cpu] = false; /* cpufreq_freq_transition_end() */
	WRITE_ONCE(W.sh->in_transition[cpu], 0);
}

static void cpufreq_fiber(void *arg)
{
	int policy = (int)(long)arg;

	if (policy == 0) { /* kvm_timer_init() before any vCPU runs */
		W.h->ops->timer_init(W.h);
		WRITE_ONCE(W.sh->kvm_ready, 1);
	}
	while (!READ_ONCE(W.sh->kvm_ready))
		cpu_relax();
	for (int i = 0; i < W.nops; i++)
		if (W.ops[i].kind == (policy ? OP_FREQ_B : OP_FREQ_A))
			cpufreq_transition(&W.ops[i]);
	control_done();
}

struct dying { int cpu; };

/* take_cpu_down(): every other CPU is in the stopper; no task runs. */
static void take_cpu_down(void *arg)
{
	struct kvm_tsc_host *h = W.h;
	int cpu = ((struct dying *)arg)->cpu;
	int to = any_online_cpu(cpu);

	h->ops->cpu_dying(h, cpu);
	h->online &= ~(1ULL << cpu);
	/* migrate_tasks(): everything on the dying CPU goes elsewhere */
	for (int f = 0; f < SIM_MAX_FIBERS; f++)
		if (sim_task_cpu(f) == cpu)
			sim_move_task(f, to);
}

static void cpus_write_lock(void)
{
	kvm_mutex_lock(&W.sh->hp_lock);
	while (atomic_read(&W.sh->hp_refcount)) {
		kvm_mutex_unlock(&W.sh->hp_lock);
		cond_resched();
		kvm_mutex_lock(&W.sh->hp_lock);
	}
}

static void cpu_down(int cpu)
{
	struct kvm_tsc_host *h = W.h;
	struct dying d = { cpu };

	if (cpu == 0 || !cpu_online(h, cpu))
		return;
	/* cpufreq_offline(): no new transition, wait for the one under way */
	(void)xchg(&W.sh->going_down[cpu], 1);
	while (READ_ONCE(W.sh->in_transition[cpu]))
		cond_resched();
	cpus_write_lock();
	sim_note("hotplug: cpu down", (u64)cpu);
	sim_move_task(sim_self(), cpu);
	sim_yield("cpuhp thread on the dying CPU");
	h->ops->cpu_down_prepare(h, cpu);
	/* stop_machine(): wait until no CPU is inside an atomic section */
	for (;;) {
		bool quiet = true;
		for (int c = 0; c < W.nr_cpus; c++)
			if (!sim_cpu_quiescent(c))
				quiet = false;
		if (quiet)
			break;
		cpu_relax();
	}
	sim_note("stop_machine: take_cpu_down", (u64)cpu);
	sim_atomically(take_cpu_down, &d);
	sim_yield("cpu offline");
	WRITE_ONCE(W.sh->going_down[cpu], 0);
	kvm_mutex_unlock(&W.sh->hp_lock);
}

/* A vCPU thread on a CPU that runs two of them, not inside an atomic section. */
static int spare_vcpu_fiber(void)
{
	for (int v = 0; v < W.nr_cpus; v++) {
		int c = sim_task_cpu(W.vcpu_fiber[v]), n = 0;
		for (int u = 0; u < W.nr_cpus; u++)
			n += sim_task_cpu(W.vcpu_fiber[u]) == c;
		if (n > 1 && sim_cpu_quiescent(c))
			return W.vcpu_fiber[v];
	}
	return -1;
}

static void cpu_up(int cpu)
{
	struct kvm_tsc_host *h = W.h;
	int f;

	if (cpu_online(h, cpu))
		return;
	cpus_write_lock();
	sim_note("hotplug: cpu up", (u64)cpu);
	WRITE_ONCE(h->online, READ_ONCE(h->online) | 1ULL << cpu);
	/* the scheduler puts a vCPU thread on the new CPU (it always has a task) */
	while ((f = spare_vcpu_fiber()) < 0)
		cond_resched();
	sim_move_task(f, cpu);
	sim_move_task(sim_self(), cpu);
	sim_yield("cpuhp thread on the new CPU");
	(h->ops->cpu_online)(h, cpu); /* the hook, not the cpu_online() macro */
	sim_move_task(sim_self(), 0);
	kvm_mutex_unlock(&W.sh->hp_lock);
}

static void hotplug_fiber(void *arg)
{
	while (!READ_ONCE(W.sh->kvm_ready))
		cpu_relax();
	for (int i = 0; i < W.nops; i++) {
		if (W.ops[i].kind == OP_DOWN)
			cpu_down(W.ops[i].cpu);
		else if (W.ops[i].kind == OP_UP)
			cpu_up(W.ops[i].cpu);
		delay(W.ops[i].delay & 7);
	}
	control_done();
}

static void kworker_fiber(void *arg)
{
	for (;;) {
		int head = READ_ONCE(W.sh->work_head);
		if (head == READ_ONCE(W.sh->nwork)) {
			if (READ_ONCE(W.sh->control_left) == 1)
				break; /* only the kworker itself is left */
			cond_resched();
			continue;
		}
		struct work_item it = W.work[head % MAX_WORK];
		int cpu = cpu_online(W.h, it.cpu) ? it.cpu : any_online_cpu(-1);
		sim_move_task(sim_self(), cpu);
		sim_yield("kworker picks up work");
		sim_note("kworker runs work", (u64)head);
		it.fn(W.h);
		check_not_atomic("a work function");
		WRITE_ONCE(W.sh->work_head, head + 1);
		(void)pv_fetch_add(&W.sh->control_left, -1);
	}
	control_done();
}

/* ------------------------------------------------------------- events -- */

static int vcpu_mode(int v);

static void on_event(void *ctx, enum sim_event ev, u8 arg)
{
	if (ev != SIM_EV_SCENARIO)
		return;
	/*
	 * The load balancer exchanges the CPUs of two vCPU threads (neither
	 * inside an atomic section): every online CPU keeps a task that takes
	 * its interrupts, as the idle task would.
	 */
	int v = (arg & 3) % W.nr_cpus, u = ((arg >> 2) & 3) % W.nr_cpus;
	int fv = W.vcpu_fiber[v], fu = W.vcpu_fiber[u];
	int cv = sim_task_cpu(fv), cu = sim_task_cpu(fu);
	if (cv == cu || !sim_cpu_quiescent(cv) || !sim_cpu_quiescent(cu))
		return;
	if (vcpu_mode(v) == IN_GUEST_MODE || vcpu_mode(u) == IN_GUEST_MODE)
		return; /* the balancer moves runnable threads, not a vCPU running its guest */
	sim_move_task(fv, cu);
	sim_move_task(fu, cv);
}

/* ---------------------------------------------------------- the guest -- */

static struct pvclock_vsyscall_time_info *g_alloc_records(struct kvmclock_guest *g, int n)
{
	return &g_slots[HVC_BOOT_ARRAY_SIZE];
}

/* Guest boot: CPU 0, then every other vCPU comes online through cpuhp. */
static void guest_boot(u8 shape, const u8 *ids)
{
	static const int possible[] = { 4, 64, 65, 128, 256 };
	char what[200];

	memset(&G, 0, sizeof(G));
	G.hv_clock_boot = g_slots;
	G.nr_cpu_ids = possible[(shape >> 4) % 5];
	if (G.nr_cpu_ids < W.nr_cpus)
		G.nr_cpu_ids = W.nr_cpus;
	G.kvmclock_vsyscall = shape & 0x80;
	G.alloc_records = g_alloc_records;
	/* setup_per_cpu_areas() copies CPU 0's pointer to every CPU */
	for (int c = 0; c < G.nr_cpu_ids; c++)
		G.hv_clock_per_cpu[c] = &G.hv_clock_boot[0];
	/* no masterclock on this host: the boot record is never STABLE */
	W.gops->setup_vsyscall_timeinfo(&G, 0);

	int id[KVM_TSC_MAX_CPUS] = { 0 };
	for (int v = 1; v < W.nr_cpus; v++) {
		int k = 1 + ids[v - 1] % (G.nr_cpu_ids - 1);
		for (int u = 1; u < v; u++)
			if (id[u] == k)
				k = 1 + k % (G.nr_cpu_ids - 1), u = 0;
		id[v] = k;
		int r = W.gops->setup_percpu(&G, k);
		struct pvclock_vsyscall_time_info *p = G.hv_clock_per_cpu[k];
		if (r) {
			snprintf(what, sizeof(what), "guest CPU %d of %d possible cannot come online: "
				 "kvmclock_setup_percpu() returned %d (kvmclock vsyscall %s)", k,
				 G.nr_cpu_ids, r, G.kvmclock_vsyscall ? "on" : "off");
			oracle_layout(what);
			return;
		}
		bool inside = p >= g_slots && p < g_slots + G.nr_cpu_ids;
		bool own = inside && p != &G.hv_clock_boot[0];
		for (int u = 1; u < v; u++)
			if (G.hv_clock_per_cpu[id[u]] == p)
				own = false;
		if (!own) {
			snprintf(what, sizeof(what), "guest CPU %d came online without a kvmclock record of "
				 "its own (slot %ld)", k, inside ? (long)(p - g_slots) : -1L);
			oracle_layout(what);
			return;
		}
	}
}

/* --------------------------------------------------------- scenario --- */

void kvm_tsc_scenario_run(const struct kvm_tsc_reader_ops *gops, const struct kvm_tsc_writer_ops *wops,
			  const char *label, struct fdp *in)
{
	struct sim_config cfg = { 0 };
	cfg.mode = fdp_u8(in, 0);
	u8 shape = fdp_u8(in, 0x06);
	u8 nops = fdp_u8(in, 2);
	cfg.tsc_rate = 64 + fdp_u8(in, 128);
	u8 think = fdp_u8(in, 0x55);
	u8 burst = fdp_u8(in, 0);
	u8 ids[KVM_TSC_MAX_CPUS - 1];
	for (int i = 0; i < KVM_TSC_MAX_CPUS - 1; i++)
		ids[i] = fdp_u8(in, (u8)(i + 1));
	cfg.nr_cpus = 2 + (shape & 3) % 3;
	if (cfg.mode & SIM_MODE_SKEW)
		for (int c = 0; c < SIM_MAX_CPUS; c++)
			cfg.tsc_skew[c] = (s64)(s8)fdp_u8(in, 0) * 4096;
	/*
	 * The host paths read the TSC with plain rdtsc(); the simulator's
	 * hoisting (before the oldest of four loads since the last ordering
	 * point, however long ago) would move it across whole host-kernel
	 * functions, which no CPU's reorder window spans.
	 */
	cfg.mode &= (u8)~SIM_MODE_HOIST;
	cfg.cpu_exclusive = true;
	cfg.on_event = on_event;
	cfg.on_task_interrupted = on_task_interrupted;
	cfg.variant = label;

	memset(&W, 0, sizeof(W));
	kvm_tsc_writer_ops_resolve(&wops_resolved, wops);
	W.wops = &wops_resolved;
	W.gops = gops;
	W.nr_cpus = cfg.nr_cpus;
	W.nr_reads = 1 + ((shape >> 2) & 3);
	for (int v = 0; v < KVM_TSC_MAX_CPUS; v++) {
		W.think[v] = 4 * ((think >> (2 * v)) & 3);
		W.burst[v] = 1 + ((burst >> (2 * v)) & 3);
	}
	W.nops = nops % (MAX_OPS + 1);
	for (int i = 0; i < W.nops; i++) {
		u8 k = fdp_u8(in, (u8)(i & 1)), a = fdp_u8(in, (u8)(0x41 + 0x20 * i));
		W.ops[i].kind = k & 3;
		W.ops[i].notify_cpu = (u8)(((k >> 2) & 3) % W.nr_cpus);
		W.ops[i].delay = k >> 4;
		W.ops[i].cpu = (u8)((a & 3) % W.nr_cpus);
		W.ops[i].rate = 48 + 6u * (a >> 2);
	}

	sim_reset(&cfg, in);

	guest_boot(shape, ids);
	if (pv_last_finding.hit)
		return;

	struct kvm_tsc_host *h = sim_shared_alloc(sizeof(*h), 64);
	W.h = h;
	W.sh = sim_shared_alloc(sizeof(*W.sh), 64);
	h->clock.guest = sim_shared_alloc(sizeof(struct pvclock_vsyscall_time_info) * PV_MAX_VCPUS, 64);
	h->clock.nr_vcpus = cfg.nr_cpus;
	h->clock.publish = w_publish;
	h->nr_cpus = cfg.nr_cpus;
	h->online = (1ULL << cfg.nr_cpus) - 1;
	h->tsc_khz = khz_of_rate(cfg.tsc_rate);
	h->ref_tsc_khz = h->tsc_khz;
	for (int c = 0; c < cfg.nr_cpus; c++) {
		h->cpu_tsc_khz[c] = 0; /* kvm_timer_init() fills it in */
		h->vcpu[c].cpu = c;
	}
	h->host_ns = w_host_ns;
	h->host_tsc_and_ns = w_host_tsc_and_ns;
	h->cpufreq_quick_get = w_cpufreq_quick_get;
	h->cpufreq_transition_ongoing = w_cpufreq_transition_ongoing;
	h->schedule_work = w_schedule_work;
	h->work_on_cpu = w_work_on_cpu;
	h->in_interrupt = w_in_interrupt;
	h->measure_base = w_measure_base;
	h->get_online_cpus = w_get_online_cpus;
	h->put_online_cpus = w_put_online_cpus;
	h->ref_tsc_seen = w_ref_tsc_seen;
	h->world = &W;
	h->ops = W.wops;
	W.sh->control_left = NR_POLICY + 2; /* the policies, hotplug, the kworker */

	for (int v = 0; v < cfg.nr_cpus; v++) {
		static const char *const names[] = { "vcpu0", "vcpu1", "vcpu2", "vcpu3" };
		W.vcpu_fiber[v] = sim_spawn(names[v], vcpu_fiber, (void *)(long)v, v, true);
		sim_pin(W.vcpu_fiber[v]);
	}
	for (int p = 0; p < NR_POLICY; p++)
		sim_pin(sim_spawn(p ? "cpufreq-B" : "cpufreq-A", cpufreq_fiber, (void *)(long)p, p % cfg.nr_cpus,
				  true));
	W.hotplug_fiber = sim_spawn("hotplug", hotplug_fiber, NULL, 0, true);
	sim_pin(W.hotplug_fiber);
	sim_pin(sim_spawn("kworker", kworker_fiber, NULL, 0, true));
	sim_run();

	/* nothing could run any more, with work left: a deadlock of the host model */
	if (!sim_run_completed() && sim_step() < SIM_HARD_LIMIT && !pv_last_finding.hit)
		oracle_liveness("host", "deadlock: no task of any CPU can run", sim_step());
}
