// SPDX-License-Identifier: MIT
/*
 * The scheduler: fibers are simulated guest tasks (running on vCPUs) and host
 * fibers (the hypervisor).  Every access through compat.h is a scheduling
 * point.  The schedule comes from the input's tail:
 *
 *   PCT (default): one priority byte per fiber, 0-3 change points (u16) at
 *   which the running fiber drops to the lowest priority, then an event list.
 *   Sparse (mode bit 0): the event list alone; SWITCH events are the
 *   preemptions, otherwise the current fiber keeps running.
 *
 *   Event list: count byte, then (delta-steps, kind, arg) triples.
 *
 * After SIM_FAIR_AFTER steps the schedule turns round-robin, so a reader still
 * spinning later, with the writer idle, is a liveness finding, not a hang.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oracle/oracle.h"
#include "sim/sim_internal.h"

struct sim_state g_sim;
struct fiber_ctx g_main_ctx;
enum sim_fail_mode sim_fail_mode = SIM_FAIL_ABORT;

static bool idle_takes_ipi(const struct sim_fiber *f);
static void vcpu_resume_work(struct sim_fiber *f);

static bool in_atomic_section(const struct sim_fiber *f)
{
	return !f->done && (f->preempt_count > 0 || f->irq_off || f->in_ipi);
}

/* cpu_exclusive: another task of f's CPU is inside an atomic section. */
static bool cpu_held_by_other(const struct sim_fiber *f)
{
	for (int i = 0; i < g_sim.nf; i++) {
		const struct sim_fiber *g = &g_sim.f[i];
		if (g != f && g->cpu == f->cpu && (in_atomic_section(g) || (g->holds_cpu && !g->done)))
			return true;
	}
	return false;
}

static bool runnable(const struct sim_fiber *f)
{
	if (f->done && !idle_takes_ipi(f))
		return false;
	if (f->wake_at > g_sim.step)
		return false;
	if (f->guest && ((g_sim.out_of_guest | g_sim.in_exit | g_sim.stopped) >> f->cpu & 1) && !f->in_exit)
		return false;
	if (f->guest && g_sim.cpu[f->cpu].preempt_owner &&
	    g_sim.cpu[f->cpu].preempt_owner != (int)(f - g_sim.f) + 1)
		return false; /* another task has this CPU with preemption off */
	if (g_sim.cfg.cpu_exclusive && cpu_held_by_other(f))
		return false;
	return !g_sim.cpu[f->cpu].preempted;
}

/*
 * A vCPU whose guest tasks have all finished is idle, and the idle loop
 * takes interrupts: the first finished guest task of that vCPU stands in
 * for its idle task while an IPI is pending there (or its handler runs).
 * Nothing changes for a vCPU that still has a live guest task, or that has
 * no IPI queued: runs that never send one to an idle vCPU replay as before.
 */
static bool idle_takes_ipi(const struct sim_fiber *f)
{
	if (!f->guest)
		return false;
	if (f->in_ipi)
		return true;
	const struct sim_cpu *c = &g_sim.cpu[f->cpu];
	if (!c->nipi || g_sim.step < c->ipi_hold_until)
		return false;
	for (int i = 0; i < g_sim.nf; i++) {
		const struct sim_fiber *o = &g_sim.f[i];
		if (o->guest && o->cpu == f->cpu && (!o->done || o < f))
			return false; /* a live task takes it, or an earlier idle stand-in */
	}
	return true;
}

/* ---------------------------------------------------------------- TSC -- */

u64 sim_cpu_tsc_now(int cpu)
{
	const struct sim_cpu *c = &g_sim.cpu[cpu];
	return c->tsc_anchor + (g_sim.step - c->step_anchor) * c->rate;
}

u64 sim_cpu_tsc(int cpu)
{
	return sim_cpu_tsc_now(cpu);
}

void sim_tsc_jump(u64 ticks)
{
	for (int c = 0; c <= SIM_MAX_CPUS; c++)
		g_sim.cpu[c].tsc_anchor += ticks;
	/* the host's clock ran on through the pause as well */
	g_sim.paused_ns += ticks * SIM_NS_PER_STEP / g_sim.cpu[0].rate;
	sim_trace(SIM_OP_EVENT, NULL, "tsc-jump", ticks);
}

u32 sim_cpu_tsc_rate(int cpu)
{
	return g_sim.cpu[cpu].rate;
}

void sim_set_tsc_rate(int cpu, u32 rate)
{
	if (rate == 0)
		rate = 1;
	for (int c = 0; c <= SIM_MAX_CPUS; c++) {
		if (cpu >= 0 && c != cpu)
			continue;
		struct sim_cpu *p = &g_sim.cpu[c];
		p->tsc_anchor = sim_cpu_tsc_now(c);
		p->step_anchor = g_sim.step;
		p->rate = rate;
	}
}

u64 sim_step(void) { return g_sim.step; }
u64 sim_true_ns(void) { return g_sim.step * SIM_NS_PER_STEP + g_sim.paused_ns; }
int sim_nr_cpus(void) { return g_sim.cfg.nr_cpus; }
u8 sim_mode(void) { return g_sim.cfg.mode; }
struct fdp *sim_input(void) { return g_sim.in; }
const char *sim_variant(void) { return g_sim.cfg.variant ? g_sim.cfg.variant : "?"; }
int sim_self(void) { return g_sim.cur; }
bool sim_run_completed(void) { return g_sim.completed; }

u64 sim_op_start_step(void)
{
	return g_sim.cur >= 0 ? sim_cur()->op_start : 0;
}

/* ----------------------------------------------------------- lifecycle -- */

static size_t arena_dirty;  /* bytes of the arena the previous input used */
static int print_hash;

/*
 * One-time set-up before main(): no lazy first-input paths, so the first
 * input of a process takes the same edges as every other (AFL++ stability).
 */
__attribute__((constructor)) static void sim_global_init(void)
{
	const char *e = getenv("PVFUZZ_PRINT_HASH");
	fiber_ctx_main(&g_main_ctx);
	print_hash = e && *e == '1';
	g_sim_arena_dirty = &arena_dirty;
}

void sim_reset(const struct sim_config *cfg, struct fdp *in)
{
	/* fiber stacks are allocated once and reused by every input */
	struct fiber_ctx keep[SIM_MAX_FIBERS];
	for (int i = 0; i < SIM_MAX_FIBERS; i++)
		keep[i] = g_sim.f[i].ctx;
	memset(&g_sim, 0, sizeof(g_sim));
	for (int i = 0; i < SIM_MAX_FIBERS; i++)
		g_sim.f[i].ctx = keep[i];
	g_sim.cfg = *cfg;
	if (g_sim.cfg.nr_cpus < 1)
		g_sim.cfg.nr_cpus = 1;
	if (g_sim.cfg.nr_cpus > SIM_MAX_CPUS)
		g_sim.cfg.nr_cpus = SIM_MAX_CPUS;
	if (g_sim.cfg.tsc_rate == 0)
		g_sim.cfg.tsc_rate = 256;
	g_sim.in = in;
	g_sim.cur = -1;
	for (int c = 0; c <= SIM_MAX_CPUS; c++) {
		s64 skew = c < SIM_MAX_CPUS ? cfg->tsc_skew[c] : 0;
		g_sim.cpu[c].tsc_anchor = SIM_TSC_BASE + (u64)skew;
		g_sim.cpu[c].rate = g_sim.cfg.tsc_rate;
	}
	memset(g_arena, 0, arena_dirty);
	memset(g_shadow_site, 0, arena_dirty * sizeof(g_shadow_site[0]));
	memset(g_shadow_fiber, 0, arena_dirty);
	arena_dirty = 0;
	sim_trace_reset();
}

/* A run without fibers (arithmetic targets): name the variant, restart the trace. */
void sim_begin_pure(const char *variant, struct fdp *in)
{
	g_sim.cfg.variant = variant;
	g_sim.in = in;
	g_sim.cur = -1;
	g_sim.step = 0;
	g_sim.nf = 0;
	sim_trace_reset();
}

static void fiber_main(void *arg);

int sim_spawn(const char *name, sim_fiber_fn fn, void *arg, int cpu, bool guest)
{
	if (g_sim.nf >= SIM_MAX_FIBERS)
		abort(); /* a scenario bug, never an input's fault */
	int i = g_sim.nf++;
	struct sim_fiber *f = &g_sim.f[i];
	struct fiber_ctx ctx = f->ctx; /* keep the stack across inputs */
	memset(f, 0, sizeof(*f));
	f->ctx = ctx;
	f->name = name;
	f->fn = fn;
	f->arg = arg;
	f->guest = guest;
	f->cpu = guest ? cpu % g_sim.cfg.nr_cpus : SIM_HOST_CPU;
	fiber_ctx_make(&f->ctx, SIM_STACK_SIZE, fiber_main, f);
	return i;
}

static void decode_schedule(void)
{
	struct fdp *in = g_sim.in;
	if (!(g_sim.cfg.mode & SIM_MODE_SPARSE)) {
		/* scenarios whose runs are short draw change points from a shorter span */
		u32 span = g_sim.cfg.change_span && g_sim.cfg.change_span < SIM_FAIR_AFTER ?
				   g_sim.cfg.change_span : SIM_FAIR_AFTER;
		for (int i = 0; i < g_sim.nf; i++)
			g_sim.f[i].prio = fdp_tail_u8(in, 0);
		g_sim.nchange = fdp_tail_u8(in, 0) % 4;
		for (int i = 0; i < g_sim.nchange; i++)
			g_sim.change[i] = fdp_tail_u16(in, 0) % span;
	}
	g_sim.nev = fdp_tail_u8(in, 0) % (SIM_MAX_EVENTS + 1);
	u32 at = 0;
	for (int i = 0; i < g_sim.nev; i++) {
		at += fdp_tail_u8(in, 0);
		g_sim.ev[i].at = at;
		g_sim.ev[i].kind = fdp_tail_u8(in, 0) % SIM_EV_NR;
		g_sim.ev[i].arg = fdp_tail_u8(in, 0);
	}
}

/* ------------------------------------------------------------- choose -- */

static int pick_pct(void)
{
	int best = -1;
	for (int i = 0; i < g_sim.nf; i++)
		if (runnable(&g_sim.f[i]) && (best < 0 || g_sim.f[i].prio > g_sim.f[best].prio))
			best = i;
	return best;
}

static int pick_round_robin(void)
{
	for (int k = 1; k <= g_sim.nf; k++) {
		int i = (g_sim.cur + k + g_sim.nf) % g_sim.nf;
		if (runnable(&g_sim.f[i]))
			return i;
	}
	return -1;
}

static int pick_next(void)
{
	if (g_sim.fair)
		return pick_round_robin();
	if (g_sim.cfg.mode & SIM_MODE_SPARSE) {
		if (g_sim.cur >= 0 && runnable(sim_cur()))
			return g_sim.cur;
		for (int i = 0; i < g_sim.nf; i++)
			if (runnable(&g_sim.f[i]))
				return i;
		return -1;
	}
	return pick_pct();
}

/* Nothing runnable: let time pass until a preempted vCPU or a sleeper comes back. */
static bool wait_for_time(void)
{
	u64 soonest = 0;
	for (int c = 0; c < g_sim.cfg.nr_cpus; c++)
		if (g_sim.cpu[c].preempted && (!soonest || g_sim.cpu[c].preempted_until < soonest))
			soonest = g_sim.cpu[c].preempted_until;
	for (int i = 0; i < g_sim.nf; i++)
		if (!g_sim.f[i].done && g_sim.f[i].wake_at > g_sim.step &&
		    (!soonest || g_sim.f[i].wake_at < soonest))
			soonest = g_sim.f[i].wake_at;
	if (!soonest)
		return false;
	g_sim.step = soonest;
	return true;
}

/*
 * The host's side of a deschedule/resume runs atomically: with no current
 * fiber, compat primitives in the hook are plain accesses (no scheduling
 * point, no nested event processing).
 */
static void host_preempt_hook(int cpu, bool preempted)
{
	if (!g_sim.cfg.on_host_preempt)
		return;
	int cur = g_sim.cur;
	g_sim.cur = -1;
	g_sim.cfg.on_host_preempt(g_sim.cfg.ctx, cpu, preempted);
	g_sim.cur = cur;
}

static void host_resume_due(void)
{
	for (int c = 0; c < g_sim.cfg.nr_cpus; c++) {
		struct sim_cpu *p = &g_sim.cpu[c];
		if (p->preempted && g_sim.step >= p->preempted_until) {
			p->preempted = false;
			sim_trace(SIM_OP_EVENT, NULL, "host-resume-vcpu", (u64)c);
			host_preempt_hook(c, false);
			p->resume_pending = g_sim.cfg.on_vcpu_resume != NULL;
		}
	}
}

/*
 * Preemption feedback: where a still-runnable fiber was stopped, and whether
 * it was stopped inside a window with stores nobody sees yet.  A schedule
 * that preempts a writer at a new place is worth keeping even before any
 * reader profits from it: it is the first half of every torn read.
 */
static void preemption_feature(const struct sim_fiber *f)
{
	u32 h = f->last_site * 0xC2B2AE35u ^ 0x7f4a7c15u;
	if (sim_hides_stores(f))
		h ^= 0x165667B1u;
	pv_feature_hit(h ^ (h >> 13));
}

static void switch_to(int next, bool dying)
{
	int prev = g_sim.cur;
	if (prev >= 0 && !dying && runnable(&g_sim.f[prev]))
		preemption_feature(&g_sim.f[prev]);
	struct fiber_ctx *from = prev < 0 ? &g_main_ctx : &g_sim.f[prev].ctx;
	struct fiber_ctx *to = next < 0 ? &g_main_ctx : &g_sim.f[next].ctx;
	g_sim.cur = next;
	fiber_switch(from, to, dying);
	/* back on prev's stack */
	g_sim.cur = prev;
	/* a vCPU the host resumed meanwhile: its thread's host code comes first */
	if (prev >= 0 && g_sim.cpu[g_sim.f[prev].cpu].resume_pending)
		vcpu_resume_work(&g_sim.f[prev]);
}

/* Pick and switch; from a finished fiber this never returns. */
static void reschedule(bool dying)
{
	for (;;) {
		host_resume_due();
		int next = pick_next();
		if (next >= 0) {
			if (next != g_sim.cur || dying)
				switch_to(next, dying);
			return;
		}
		if (!wait_for_time()) {
			/* all done, or nobody can ever run again (frozen guests) */
			switch_to(-1, dying);
			return;
		}
	}
}

/* ------------------------------------------------------------- events -- */

static bool migrate(struct sim_fiber *f, int cpu)
{
	/* a task in a preempt- or IRQ-disabled section cannot be migrated */
	if (!f->guest || f->done || f->pinned || f->preempt_count || f->irq_off || f->cpu == cpu)
		return false;
	sim_sb_drain(f->cpu, SIM_SB_SIZE); /* a context switch is a full barrier */
	f->cpu = cpu;
	f->nhoist = 0;
	sim_trace_event_of((int)(f - g_sim.f), "migrate", (u64)cpu);
	return true;
}

/*
 * arg: task (bits 0-2), target vCPU (bits 3-4); bit 7 makes it a round trip:
 * the task comes back to its vCPU 2-8 steps later (bits 5-6) - the brief
 * migration a user-space reader cannot see with two getcpu()s.
 */
static void ev_migrate(u8 arg)
{
	struct sim_fiber *f = &g_sim.f[(arg & 7) % g_sim.nf];
	int from = f->cpu;
	if (!migrate(f, ((arg >> 3) & 3) % g_sim.cfg.nr_cpus) || !(arg & 0x80))
		return;
	f->return_cpu = from;
	f->return_at = g_sim.step + 2 + 2 * ((arg >> 5) & 3);
	g_sim.returns_pending = true;
}

static void migrate_back_due(void)
{
	for (int i = 0; i < g_sim.nf; i++) {
		struct sim_fiber *f = &g_sim.f[i];
		if (f->return_at && g_sim.step >= f->return_at && migrate(f, f->return_cpu))
			f->return_at = 0;
	}
}

void sim_move_task(int fiber, int cpu)
{
	struct sim_fiber *f = &g_sim.f[fiber];
	cpu %= g_sim.cfg.nr_cpus;
	if (!f->guest || f->done || f->cpu == cpu)
		return;
	sim_sb_drain(f->cpu, SIM_SB_SIZE); /* a context switch is a full barrier */
	f->cpu = cpu;
	f->nhoist = 0;
	f->return_at = 0;
	f->moved = g_sim.cfg.on_task_interrupted != NULL;
	f->sched_in = f->moved;
	sim_trace(SIM_OP_EVENT, NULL, "move-task", ((u64)fiber << 8) | (u64)cpu);
}

void sim_insn_hold(bool inside)
{
	if (g_sim.cur >= 0)
		sim_cur()->in_insn = inside;
}

void sim_hold_cpu(bool hold)
{
	if (g_sim.cur >= 0)
		sim_cur()->holds_cpu = hold;
}

int sim_task_cpu(int fiber)
{
	return fiber >= 0 && fiber < g_sim.nf ? g_sim.f[fiber].cpu : -1;
}

bool sim_cpu_irqs_on(int cpu)
{
	for (int i = 0; i < g_sim.nf; i++)
		if (g_sim.f[i].cpu == cpu && !g_sim.f[i].done && (g_sim.f[i].irq_off || g_sim.f[i].in_ipi))
			return false;
	return true;
}

bool sim_cpu_quiescent(int cpu)
{
	for (int i = 0; i < g_sim.nf; i++)
		if (g_sim.f[i].cpu == cpu && in_atomic_section(&g_sim.f[i]))
			return false;
	return true;
}

void sim_atomically(void (*fn)(void *arg), void *arg)
{
	int cur = g_sim.cur;
	if (cur >= 0) {
		sim_commit_plain(sim_cur());
		sim_sb_drain(sim_cur()->cpu, SIM_SB_SIZE);
	}
	g_sim.cur = -1;
	fn(arg);
	g_sim.cur = cur;
}

void sim_host_preempt(int cpu, u32 steps)
{
	cpu %= g_sim.cfg.nr_cpus;
	struct sim_cpu *p = &g_sim.cpu[cpu];
	if (p->preempted)
		return;
	p->preempted = true;
	p->preempted_until = g_sim.step + steps;
	sim_trace(SIM_OP_EVENT, NULL, "host-preempt-vcpu", (u64)cpu);
	host_preempt_hook(cpu, true);
}

static void ev_host_preempt(u8 arg)
{
	sim_host_preempt(arg & 3, 8u * ((arg >> 2) + 1));
}

static void apply_event(const struct sim_ev *e)
{
	switch (e->kind) {
	case SIM_EV_SWITCH: {
		int t = e->arg % g_sim.nf;
		if (g_sim.cfg.mode & SIM_MODE_SPARSE) {
			/* demote everyone else: sparse picks the current fiber */
			if (runnable(&g_sim.f[t]) && t != g_sim.cur) {
				sim_trace(SIM_OP_EVENT, NULL, "preempt-to", (u64)t);
				switch_to(t, false);
			}
		} else {
			g_sim.f[t].prio = 256 + ++g_sim.high;
		}
		break;
	}
	case SIM_EV_MIGRATE:
		ev_migrate(e->arg);
		break;
	case SIM_EV_HOST_PREEMPT:
		ev_host_preempt(e->arg);
		break;
	case SIM_EV_SB_DRAIN:
		sim_sb_drain((e->arg & 3) % g_sim.cfg.nr_cpus, 1);
		break;
	default:
		if (g_sim.cfg.on_event) {
			sim_trace(SIM_OP_EVENT, NULL, "scenario-event", ((u64)e->kind << 8) | e->arg);
			g_sim.cfg.on_event(g_sim.cfg.ctx, (enum sim_event)e->kind, e->arg);
		}
		break;
	}
}

/* ------------------------------------------------------ the point itself -- */

/*
 * The vCPU thread's host code after a resume (on_vcpu_resume), on the guest
 * task that runs first: out of guest mode like a VM exit, run again if the
 * host descheduled the vCPU once more inside it.  Entry and exit serialise.
 */
static void vcpu_resume_work(struct sim_fiber *f)
{
	struct sim_cpu *c = &g_sim.cpu[f->cpu];
	if (!f->guest || f->in_exit || f->done)
		return;
	int cpu = f->cpu;
	while (c->resume_pending) {
		c->resume_pending = false;
		sim_sb_drain(cpu, SIM_SB_SIZE);
		f->in_exit = true;
		g_sim.in_exit |= (u8)(1u << cpu);
		sim_trace(SIM_OP_EVENT, NULL, "vcpu-run-host", (u64)cpu);
		g_sim.cfg.on_vcpu_resume(g_sim.cfg.ctx, cpu);
		g_sim.in_exit &= (u8)~(1u << cpu);
		f->in_exit = false;
		sim_commit_plain(f);
		sim_sb_drain(cpu, SIM_SB_SIZE);
	}
}

static void check_liveness(struct sim_fiber *f)
{
	if (!f->op || !g_sim.writer_idle || !g_sim.fair)
		return;
	if (++f->op_idle_steps > SIM_LIVENESS_STEPS)
		oracle_liveness(f->name, f->op, f->op_idle_steps);
}

void sim_point(void)
{
	struct sim_fiber *f = sim_cur();
	g_sim.step++;
	f->own_steps++;
	if (g_sim.step >= SIM_HARD_LIMIT)
		sim_abandon();
	if (!g_sim.fair && g_sim.step >= SIM_FAIR_AFTER)
		g_sim.fair = true;
	if (g_sim.fair) /* store buffers drain eventually */
		for (int c = 0; c <= SIM_MAX_CPUS; c++)
			sim_sb_drain(c, 1);
	for (int i = 0; i < g_sim.nchange; i++)
		if (g_sim.change[i] == g_sim.step)
			f->prio = -(++g_sim.low);
	while (g_sim.evi < g_sim.nev && g_sim.ev[g_sim.evi].at <= g_sim.step)
		apply_event(&g_sim.ev[g_sim.evi++]);
	if (g_sim.returns_pending)
		migrate_back_due();
	check_liveness(sim_cur());
	reschedule(false);
	if (g_sim.cpu[sim_cur()->cpu].resume_pending)
		vcpu_resume_work(sim_cur());
	if (g_sim.nipi) /* an interrupt is taken between two instructions */
		sim_ipi_poll();
	if (sim_cur()->moved)
		sim_task_interrupted();
}

/*
 * Whether the scenario's hook may run now.  Never in an interrupt handler or
 * an IRQ-off section: later, on the way out.  Inside the hook itself only for
 * a move: the task was scheduled in on another CPU, and the scheduler's
 * sched-in work (kvm_sched_in, say) runs there before the task's next
 * instruction even when that instruction belongs to the hook's own host code
 * (a VM exit being handled when the CPU went down).  Deferring it to the end
 * of the hook would let that code finish on the new CPU as if nothing had
 * happened.  An IPI taken inside the hook is handled once the hook returns.
 */
static bool hook_may_run(const struct sim_fiber *f)
{
	if (f->in_ipi || f->irq_off)
		return false;
	return !f->in_hook || (f->sched_in && !f->preempt_count);
}

/*
 * The current task was interrupted (IPIs, a move): the scenario's hook runs
 * before the task's next instruction.  The hook's own steps may be
 * interrupted again; an IPI reruns the hook after it returns, a move runs it
 * nested at once (hook_may_run()).
 */
void sim_task_interrupted(void)
{
	struct sim_fiber *f = sim_cur();
	if (!g_sim.cfg.on_task_interrupted)
		return;
	f->moved = true;
	while (f->moved && hook_may_run(f)) {
		bool nested = f->in_hook;
		f->moved = false;
		f->sched_in = false;
		f->in_hook = true;
		g_sim.cfg.on_task_interrupted(g_sim.cfg.ctx, f->cpu);
		f->in_hook = nested;
	}
}

void sim_demote(void)
{
	if (g_sim.cfg.mode & SIM_MODE_SPARSE) {
		/* a spinning fiber gives way to the next runnable one */
		for (int k = 1; k < g_sim.nf; k++) {
			int i = (g_sim.cur + k) % g_sim.nf;
			if (runnable(&g_sim.f[i])) {
				switch_to(i, false);
				return;
			}
		}
	} else {
		sim_cur()->prio = -(++g_sim.low);
	}
}

static void fiber_main(void *arg)
{
	struct sim_fiber *f = arg;
	fiber_entered(&f->ctx);
	if (g_sim.cpu[f->cpu].resume_pending)
		vcpu_resume_work(f);
	f->fn(f->arg);
	sim_commit_plain(f);
	f->done = true;
	if (g_sim.cpu[f->cpu].preempt_owner == (int)(f - g_sim.f) + 1)
		g_sim.cpu[f->cpu].preempt_owner = 0;
	sim_trace(SIM_OP_END, NULL, "fiber-exit", 0);
	if (!f->guest) {
		bool idle = true;
		for (int i = 0; i < g_sim.nf; i++)
			if (!g_sim.f[i].guest && !g_sim.f[i].done)
				idle = false;
		if (idle) {
			g_sim.writer_idle = true;
			g_sim.out_of_guest = 0; /* a writer that forgot to let vCPUs back in */
			g_sim.stopped = 0;
		}
	}
	/*
	 * A finished guest task becomes its vCPU's idle loop: it is switched
	 * back to only to take an IPI (idle_takes_ipi), then gives way again.
	 */
	while (f->guest) {
		reschedule(false);
		sim_ipi_poll();
	}
	reschedule(true);
	abort(); /* unreachable: nobody switches back to a finished host fiber */
}

void sim_run(void)
{
	decode_schedule();
	g_sim.running = true;
	g_sim.cur = -1;
	int first = pick_next();
	if (first >= 0) {
		g_sim.cur = first;
		fiber_switch(&g_main_ctx, &g_sim.f[first].ctx, 0);
		g_sim.cur = -1;
	}
	g_sim.running = false;
	/*
	 * PVFUZZ_PRINT_HASH=1: every engine's binary prints each run's trace
	 * hash, so determinism across builds can be checked from outside.
	 */
	if (print_hash)
		fprintf(stderr, "pvfuzz: trace-hash %016llx\n", (unsigned long long)sim_trace_hash());
	g_sim.completed = true;
	for (int i = 0; i < g_sim.nf; i++)
		if (!g_sim.f[i].done)
			g_sim.completed = false;
}

/* Leave the run from inside a fiber (budget exhausted, finding recorded). */
void sim_abandon(void)
{
	g_sim.completed = false;
	struct fiber_ctx *from = &sim_cur()->ctx;
	g_sim.cur = -1;
	fiber_switch(from, &g_main_ctx, 1);
	abort();
}

/* --------------------------------------------------- scenario helpers -- */

void sim_yield(const char *why)
{
	sim_point();
	sim_trace(SIM_OP_NOTE, NULL, why, 0);
}

void sim_vcpu_stop(int cpu, bool stop)
{
	u8 mask = cpu < 0 ? 0xff : (u8)(1u << cpu);

	if (stop)
		g_sim.stopped |= mask;
	else
		g_sim.stopped &= (u8)~mask;
	sim_trace(SIM_OP_EVENT, NULL, stop ? "vmm-stop-vcpu" : "vmm-cont-vcpu", (u64)(s64)cpu);
}

void sim_adjust_tsc(int cpu, s64 delta)
{
	g_sim.cpu[cpu].tsc_anchor += (u64)delta;
	sim_trace(SIM_OP_EVENT, NULL, "tsc-offset-change", (u64)delta);
}

void sim_sleep(u32 steps)
{
	sim_cur()->wake_at = g_sim.step + 1 + steps;
	sim_trace(SIM_OP_NOTE, NULL, "sleep", steps);
	sim_point();
}

const char *sim_fiber_name(int fiber)
{
	return fiber >= 0 && fiber < g_sim.nf ? g_sim.f[fiber].name : "set-up";
}

int sim_fiber_cpu(int fiber)
{
	return fiber >= 0 && fiber < g_sim.nf ? g_sim.f[fiber].cpu : -1;
}

bool sim_fiber_is_guest(int fiber)
{
	return fiber >= 0 && fiber < g_sim.nf && g_sim.f[fiber].guest;
}

void sim_note(const char *what, u64 v)
{
	sim_trace(SIM_OP_NOTE, NULL, what, v);
}

void sim_op_begin(const char *what)
{
	struct sim_fiber *f = sim_cur();
	f->op = what;
	f->op_start = g_sim.step;
	f->op_idle_steps = 0;
	f->nseen = 0;
	f->ntscs = 0;
	sim_trace(SIM_OP_BEGIN, NULL, what, 0);
}

void sim_op_end(void)
{
	struct sim_fiber *f = sim_cur();
	sim_trace(SIM_OP_END, NULL, f->op, g_sim.step - f->op_start);
	f->op = NULL;
}

void sim_pin(int fiber)
{
	g_sim.f[fiber].pinned = true;
}

void sim_writer_idle(void)
{
	g_sim.writer_idle = true;
}

void sim_vcpu_in_host(int cpu, bool in_host)
{
	u8 mask = cpu < 0 ? 0xff : (u8)(1u << cpu);
	/* VM entry and exit serialise: the host side's stores are visible */
	if (g_sim.cur >= 0) {
		sim_commit_plain(sim_cur());
		sim_sb_drain(sim_cur()->cpu, SIM_SB_SIZE);
	}
	if (in_host)
		g_sim.out_of_guest |= mask;
	else
		g_sim.out_of_guest &= (u8)~mask;
	sim_trace(SIM_OP_EVENT, NULL, in_host ? "vcpu-exit-to-host" : "vcpu-enter-guest",
		  (u64)(s64)cpu);
	if (g_sim.cur >= 0)
		sim_point();
}
