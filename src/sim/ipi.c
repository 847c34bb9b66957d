// SPDX-License-Identifier: MIT
/*
 * IPIs in the simulator (the sim side of smp_call_function_many in compat.h).
 *
 *   send     one scheduling point (the ICR write), then the IPI is queued on
 *            every target vCPU (FIFO, SIM_MAX_IPI deep);
 *   deliver  the guest task running on the target vCPU takes it at its next
 *            scheduling point with IRQs enabled, or the moment it re-enables
 *            IRQs (local_irq_restore); never inside an IRQ-off section, never
 *            while the vCPU is host-preempted or out of guest mode (its fiber
 *            does not run), never before sim_ipi_hold()'s step (a
 *            scenario event delays delivery).  The handler runs on the
 *            target's fiber with IRQs off (hard-IRQ context), then acks;
 *   wait     the sender spins on its ack count with cpu_relax (a scheduling
 *            point and a PCT demotion); the target gives way after its
 *            handler returns (a preemption point at interrupt exit).
 *
 * A vCPU whose guest tasks have all finished is idle and still acks: its
 * first finished task stands in for the idle loop, which takes interrupts
 * (sched.c: idle_takes_ipi).  Only a vCPU on which no guest task was ever
 * spawned has nobody to run a handler; scenarios spawn one per vCPU.
 * Nothing here runs unless an IPI is queued (g_sim.nipi), so targets that
 * never send one replay exactly as before.
 */
#include <stdlib.h>
#include <string.h>

#include "sim/sim_internal.h"

int num_online_cpus(void)
{
	return g_sim.cfg.nr_cpus;
}

void sim_ipi_hold(int cpu, u32 steps)
{
	struct sim_cpu *c = &g_sim.cpu[cpu % g_sim.cfg.nr_cpus];
	c->ipi_hold_until = g_sim.step + steps;
	sim_trace(SIM_OP_EVENT, NULL, "ipi-hold", ((u64)cpu << 32) | steps);
}

bool sim_in_ipi(void)
{
	return g_sim.cur >= 0 && sim_cur()->in_ipi;
}

void pvsim_call_function_many(struct pv_site *send, struct pv_site *spin, pv_cpumask_t mask,
			      smp_call_func_t func, void *info, bool wait)
{
	if (g_sim.cur < 0)
		abort(); /* a scenario bug: IPIs come from guest tasks */
	int pending = 0;
	sim_commit_plain(sim_cur());
	sim_point();
	int self = sim_cur()->cpu;
	sim_sb_drain(self, SIM_SB_SIZE); /* the ICR write is serialising */
	for (int c = 0; c < g_sim.cfg.nr_cpus; c++) {
		if (!(mask >> c & 1) || c == self)
			continue;
		struct sim_cpu *t = &g_sim.cpu[c];
		if (t->nipi == SIM_MAX_IPI)
			abort(); /* scenario bug: more IPIs in flight than any sender makes */
		t->ipi[t->nipi].func = func;
		t->ipi[t->nipi].info = info;
		t->ipi[t->nipi].pending = wait ? &pending : NULL;
		t->ipi[t->nipi].irq = false;
		t->nipi++;
		g_sim.nipi++;
		pending++;
	}
	sim_trace(SIM_OP_EVENT, send, NULL, mask & ~(1ULL << self));
	while (wait && pending)
		pvsim_cpu_relax(spin);
}

void sim_raise_irq(int cpu, smp_call_func_t fn, void *info)
{
	struct sim_cpu *t = &g_sim.cpu[cpu % g_sim.cfg.nr_cpus];
	if (t->nipi == SIM_MAX_IPI)
		abort(); /* scenario bug: it raises more interrupts than the vCPU can queue */
	t->ipi[t->nipi].func = fn;
	t->ipi[t->nipi].info = info;
	t->ipi[t->nipi].pending = NULL;
	t->ipi[t->nipi].irq = true;
	t->nipi++;
	g_sim.nipi++;
	sim_trace(SIM_OP_EVENT, NULL, "irq-raise", (u64)cpu);
}

/* An interrupt handler's accesses are not the interrupted operation's. */
struct op_view {
	int nseen, ntscs;
	__typeof__(((struct sim_fiber *)0)->seen) seen;
	u64 tscs[SIM_OP_TSCS];
};

static void op_view_save(const struct sim_fiber *f, struct op_view *v)
{
	v->nseen = f->nseen;
	v->ntscs = f->ntscs;
	memcpy(v->seen, f->seen, sizeof(v->seen));
	memcpy(v->tscs, f->tscs, sizeof(v->tscs));
}

/*
 * IRET is serialising: the handler's stores leave the store buffer and no
 * later RDTSC completes before it.
 */
static void op_view_restore(struct sim_fiber *f, const struct op_view *v)
{
	f->nseen = v->nseen;
	f->ntscs = v->ntscs;
	memcpy(f->seen, v->seen, sizeof(v->seen));
	memcpy(f->tscs, v->tscs, sizeof(v->tscs));
	sim_commit_plain(f);
	sim_sb_drain(f->cpu, SIM_SB_SIZE);
	f->nhoist = 0;
}

void sim_ipi_poll(void)
{
	struct sim_fiber *f = sim_cur();
	struct sim_cpu *c = &g_sim.cpu[f->cpu];
	bool handled = false;
	while (c->nipi && f->guest && !f->irq_off && !f->in_exit && !f->in_ipi && !f->in_insn &&
	       g_sim.step >= c->ipi_hold_until) {
		struct sim_ipi ipi = c->ipi[0];
		for (int i = 1; i < c->nipi; i++)
			c->ipi[i - 1] = c->ipi[i];
		c->nipi--;
		g_sim.nipi--;
		struct op_view view = { 0 };
		if (ipi.irq)
			op_view_save(f, &view);
		f->irq_off = 1;
		f->in_ipi = true;
		f->nhoist = 0; /* taking an interrupt serialises: no RDTSC runs ahead of it */
		sim_trace(SIM_OP_EVENT, NULL, ipi.irq ? "irq-handle" : "ipi-handle", (u64)f->cpu);
		ipi.func(ipi.info);
		/*
		 * The ack (csd unlock) queues behind the handler's stores, and
		 * the return from the interrupt serialises: the sender never
		 * sees the ack before what the handler wrote.
		 */
		sim_commit_plain(f);
		sim_sb_drain(f->cpu, SIM_SB_SIZE);
		if (ipi.pending)
			(*ipi.pending)--;
		f->in_ipi = false;
		f->irq_off = 0;
		if (ipi.irq)
			op_view_restore(f, &view);
		sim_trace(SIM_OP_EVENT, NULL, ipi.irq ? "irq-return" : "ipi-ack", (u64)f->cpu);
		handled = true;
	}
	/* in guest mode the interrupt was a VM exit: the host runs first */
	if (handled)
		sim_task_interrupted();
	/*
	 * Returning from an interrupt is a preemption point: the interrupted
	 * task gives way (a PCT demotion), so the sender, which saw its ack,
	 * can run before the interrupted task's next step, as it would on
	 * real parallel CPUs.
	 */
	if (handled)
		sim_demote();
}
