/* SPDX-License-Identifier: MIT */
/*
 * The deterministic vCPU simulator: its interface to scenarios (targets),
 * oracles and the replayer.  Protocol code never includes this; it sees the
 * simulator only through compat.h.
 */
#ifndef PVFUZZ_SIM_H
#define PVFUZZ_SIM_H

#include <stdio.h>

#include "pvfuzz/compat.h"
#include "sim/fdp.h"

#define SIM_MAX_FIBERS 8
#define SIM_MAX_CPUS 4            /* guest vCPUs */
#define SIM_HOST_CPU SIM_MAX_CPUS /* the "CPU" hypervisor fibers run on */
#define SIM_FAIR_AFTER 1024       /* steps of adversarial schedule, then round robin */
#define SIM_HARD_LIMIT 12288      /* no input runs longer than this */
#define SIM_LIVENESS_STEPS 768    /* own steps of one op, writer idle, fair schedule */
#define SIM_MAX_EVENTS 24
#define SIM_NS_PER_STEP 100       /* true time advanced by one scheduling point */
#define SIM_TSC_BASE 0x10000000000ULL

enum sim_op {
	SIM_OP_LOAD, SIM_OP_STORE, SIM_OP_COPY, SIM_OP_COMMIT, SIM_OP_FENCE,
	SIM_OP_RDTSC, SIM_OP_RMW, SIM_OP_IRQ, SIM_OP_EXIT, SIM_OP_RELAX,
	SIM_OP_EVENT, SIM_OP_BEGIN, SIM_OP_END, SIM_OP_NOTE,
};

/* Schedule events: part of the schedule, decoded from the input's tail. */
enum sim_event {
	SIM_EV_SWITCH,       /* run fiber arg (sparse) / boost it (PCT) */
	SIM_EV_MIGRATE,      /* move guest task (arg & 7) to vCPU (arg >> 3 & 3); bit 7: and back */
	SIM_EV_HOST_PREEMPT, /* host deschedules vCPU (arg & 3) for 8*(arg>>2) steps */
	SIM_EV_TSC_FREQ,     /* scenario: TSC frequency change, arg = new rate selector */
	SIM_EV_WRITER,       /* scenario: kick the writer / hypervisor */
	SIM_EV_SB_DRAIN,     /* commit the oldest buffered store of vCPU (arg & 3) */
	SIM_EV_SCENARIO,     /* scenario-defined (IPI delivery, batch failure, ...) */
	SIM_EV_SCENARIO2,
	SIM_EV_NR
};

/* Mode bits: the first byte of every input. */
#define SIM_MODE_SPARSE 0x01   /* sparse preemption list instead of PCT */
#define SIM_MODE_TSO 0x02      /* x86-TSO store buffer per vCPU */
#define SIM_MODE_SKEW 0x04     /* per-vCPU TSC skew from the input */
#define SIM_MODE_REORDER 0x08  /* compiler may sink plain copies to the next barrier */
#define SIM_MODE_HOIST 0x10    /* plain RDTSC may complete before recent loads */

typedef void (*sim_fiber_fn)(void *arg);

struct sim_config {
	u8 mode;
	int nr_cpus;           /* guest vCPUs, 1..SIM_MAX_CPUS */
	u32 tsc_rate;          /* TSC ticks per step (all vCPUs at start) */
	u32 change_span;       /* PCT change points fall in [0, change_span); 0: SIM_FAIR_AFTER */
	s64 tsc_skew[SIM_MAX_CPUS];
	/* Scenario hooks; any may be NULL. */
	void (*on_event)(void *ctx, enum sim_event ev, u8 arg);
	u64 (*on_exit)(void *ctx, int cpu, enum pv_exit_reason r, u64 a0, u64 a1);
	/*
	 * The host deschedules (preempted) or resumes vCPU cpu: kvm_arch_vcpu_put
	 * / vcpu entry.  Runs atomically (compat primitives inside it are plain
	 * accesses, no scheduling points): the host acts while the vCPU is out.
	 */
	void (*on_host_preempt)(void *ctx, int cpu, bool preempted);
	/* a store becomes visible to other CPUs (after store buffers, reordering) */
	void (*on_commit)(void *ctx, volatile void *p, unsigned size, u64 value);
	/*
	 * Every load/store/RMW of a fiber, after its scheduling point and before
	 * the memory is touched: scenarios check ground truth (e.g. a freed
	 * page-table page) at the exact instant of the access.
	 */
	void (*on_access)(void *ctx, u32 site, const volatile void *p, unsigned size, bool write);
	/*
	 * Host-kernel CPUs (scenarios that put several kernel tasks on one
	 * CPU: a vCPU thread, a cpufreq notifier, a kworker): while one task is
	 * inside a preempt-disabled, IRQ-off or IPI-handler section, no other
	 * task of its CPU runs, as on a real CPU.  Off: tasks interleave freely.
	 */
	bool cpu_exclusive;
	/*
	 * A task was interrupted: it took IPIs or sim_move_task() moved it.
	 * Called on the task's own fiber before it resumes; for a vCPU in guest
	 * mode that is a VM exit, so the host can process requests before the
	 * guest's next instruction (KVM's kick, kvm_sched_in on a new CPU).
	 * A move runs it at once even while the hook itself runs (nested: the
	 * sched-in on the new CPU comes before the hook's next instruction); an
	 * IPI taken inside the hook reruns it after the hook returns.
	 */
	void (*on_task_interrupted)(void *ctx, int cpu);
	/*
	 * The host resumed vCPU cpu after a deschedule: host code of the vCPU's
	 * own thread (kvm_arch_vcpu_load, then vcpu_enter_guest's requests such
	 * as KVM_REQ_STEAL_UPDATE) runs on the first of its guest tasks to run
	 * next, before that task's next instruction.  Its compat primitives are
	 * scheduling points (other vCPUs run meanwhile); the vCPU is out of
	 * guest mode until it returns, takes no IPI, and may be descheduled
	 * again inside it, after which it runs again.  NULL: nothing runs.
	 */
	void (*on_vcpu_resume)(void *ctx, int cpu);
	void *ctx;
	const char *variant;   /* for reports */
	/*
	 * preempt_disable() excludes the other guest tasks of that vCPU until
	 * preempt_enable(), as on a real CPU (without it, it only stops
	 * migration).  Harnesses whose guest tasks share per-CPU state set it.
	 */
	bool preempt_exclusive;
};

/* ---- lifecycle ---- */
void sim_reset(const struct sim_config *cfg, struct fdp *in);
/* Instead of sim_reset() for a target without fibers (clock_math): trace and names only. */
void sim_begin_pure(const char *variant, struct fdp *in);
int sim_spawn(const char *name, sim_fiber_fn fn, void *arg, int cpu, bool guest);
void sim_pin(int fiber);   /* a per-CPU task: SIM_EV_MIGRATE never moves it */
void sim_run(void);        /* decodes the schedule from the input tail, runs all fibers */
bool sim_run_completed(void);
void sim_settle(void);     /* after sim_run(): drain every store buffer into memory */

/* ---- called from fibers (scenario code) ---- */
int sim_self(void);
void sim_yield(const char *why);      /* a bare scheduling point */
void sim_op_begin(const char *what);  /* brackets one reader op for liveness */
void sim_op_end(void);
void sim_writer_idle(void);           /* the writer has no more unprompted work */
/*
 * vCPU cpu (-1: all) leaves guest mode (its guest tasks cannot run) or
 * re-enters it: KVM processes requests such as KVM_REQ_CLOCK_UPDATE on the
 * vCPU's own thread, out of guest mode; MCLOCK_INPROGRESS keeps all out.
 */
void sim_vcpu_in_host(int cpu, bool in_host);
/*
 * The VMM stops vCPU cpu (-1: all) - its thread leaves KVM_RUN, as for a
 * VM stop or a migration's blackout - or lets it run again.  Independent of
 * sim_vcpu_in_host(): KVM's freeze and the VMM's stop nest.
 */
void sim_vcpu_stop(int cpu, bool stop);
void sim_note(const char *what, u64 v); /* an annotation in the trace */
/*
 * A host fiber waits `steps` steps without being runnable (a timer: the
 * host's tick), instead of spinning on sim_yield().  Time passes for it as
 * for a preempted vCPU.
 */
void sim_sleep(u32 steps);
/*
 * A scenario's own interleaving feature (e.g. reads-from on memory outside
 * the shared arena, or a near miss of an oracle): a new value is a new edge.
 */
void sim_feature(u32 h);
/*
 * The host deschedules vCPU cpu now, for `steps` steps (what
 * SIM_EV_HOST_PREEMPT does at a scheduled step): scenarios use it to preempt
 * at a protocol point, e.g. inside a walker's section.  Takes effect at the
 * vCPU's next scheduling point.
 */
void sim_host_preempt(int cpu, u32 steps);
/*
 * The current task is inside one instruction whose steps the scenario
 * models separately (a translation, then the data access): interrupts are
 * taken at instruction boundaries only, so IPIs wait until it ends.  Host
 * preemption (a VM exit) can still come in between.
 */
void sim_insn_hold(bool inside);
/* IPIs to vCPU cpu wait until `steps` more steps have passed (delivery timing). */
void sim_ipi_hold(int cpu, u32 steps);
/*
 * A device, timer or PMU interrupt on vCPU cpu, raised from any fiber or hook
 * (no scheduling point, no ack): fn(info) runs like an IPI handler, on the
 * guest task running there, at its next IRQ-enabled scheduling point.  The
 * handler's loads and TSC reads are not the interrupted task's operation
 * (sim_op_seen, sim_op_tscs), and the return from it is serialising.
 */
void sim_raise_irq(int cpu, smp_call_func_t fn, void *info);
/* The guest task currently running on vCPU cpu is inside an IPI handler. */
bool sim_in_ipi(void);
/*
 * CPU hotplug: move a task to another CPU whatever its pinning (the
 * scheduler pushes tasks off a dying CPU; work_on_cpu runs on its CPU).
 * The task must not be inside an atomic section.
 */
void sim_move_task(int fiber, int cpu);
/*
 * cpu_exclusive: the current task keeps its CPU (a vCPU in guest mode runs
 * until an interrupt or its own exit; other tasks of the CPU wait).
 */
void sim_hold_cpu(bool hold);
/* The CPU a task is on (fiber ids as sim_spawn returned them). */
int sim_task_cpu(int fiber);
/* cpu can take an interrupt now: no task of it has IRQs off or is in a handler. */
bool sim_cpu_irqs_on(int cpu);
/* No task of cpu is inside a preempt-disabled, IRQ-off or IPI section. */
bool sim_cpu_quiescent(int cpu);
/*
 * Runs fn(arg) with every other task stopped and no scheduling point inside
 * (compat primitives are plain accesses): stop_machine's take_cpu_down.
 */
void sim_atomically(void (*fn)(void *arg), void *arg);

/*
 * Inside on_commit: who issued the store being committed - its fiber (-1:
 * set-up code outside any fiber) and whether host code issued it (a host
 * fiber, or a guest fiber inside a VM exit handler).  Oracles name the
 * party that made an offending store with these.
 */
int sim_commit_fiber(void);
bool sim_commit_by_host(void);
const char *sim_fiber_name(int fiber);
int sim_fiber_cpu(int fiber); /* SIM_HOST_CPU for host fibers */
bool sim_fiber_is_guest(int fiber);

/* ---- ground truth, for oracles and host models ---- */
u64 sim_step(void);
u64 sim_true_ns(void);               /* the simulator's true time */
u64 sim_cpu_tsc(int cpu);            /* current TSC of a vCPU (no scheduling point) */
u32 sim_cpu_tsc_rate(int cpu);
void sim_set_tsc_rate(int cpu, u32 rate); /* cpu < 0: all vCPUs */
/* vCPU cpu's TSC jumps by delta (the hypervisor changed its TSC offset) */
void sim_adjust_tsc(int cpu, s64 delta);
/*
 * Every CPU's TSC jumps forward by ticks, and true time by as long (vCPU 0's
 * rate): the VM was paused while its TSC and the host's clock ran on.
 */
void sim_tsc_jump(u64 ticks);
u64 sim_op_start_step(void);         /* step at which the current fiber's op began */
/* What the current op last loaded at p (false if it never loaded it). */
bool sim_op_seen(const volatile void *p, unsigned size, u64 *v);
/* The same, and the step of that load (to tell which record was read last). */
bool sim_op_seen_at(const volatile void *p, unsigned size, u64 *v, u64 *step);
/*
 * What the current task would load from p now (its own buffered stores
 * forwarded), without a scheduling point or a trace line: scenario code
 * looking at protocol state.
 */
u64 sim_peek(const volatile void *p, unsigned size);
/* The step at which the current task last read its TSC. */
u64 sim_last_tsc_step(void);
/* The TSC values the current op read, oldest first. */
int sim_op_tscs(const u64 **tscs);
int sim_nr_cpus(void);
u8 sim_mode(void);
struct fdp *sim_input(void);
const char *sim_variant(void);

/* ---- memory the guest and host share ---- */
void *sim_shared_alloc(size_t size, size_t align); /* zeroed, tracked for feedback */
void sim_host_write(volatile void *p, const void *src, size_t n); /* setup, no schedule */

/* ---- trace ---- */
extern int sim_trace_live;           /* print every step as it happens */
u64 sim_trace_hash(void);
/*
 * Values that point into [p, p + n) (say a timekeeper's clocksource pointer
 * in shared memory) are hashed as offsets from p, so the hash does not
 * depend on where the program was loaded.  Cleared by sim_reset().
 */
void sim_trace_hash_addresses_of(const void *p, size_t n);
void sim_trace_dump_tail(int n);     /* the last n steps, for reports */
void sim_trace_print_header(FILE *out);
/*
 * The violating access of a finding, as a trace sequence number (-1: none):
 * the access an oracle fired on inside a hook (appended to the trace, not
 * hashed), else the running fiber's last access.  Marks it in the trace.
 */
s64 sim_trace_violation(void);
/* Keep every record of a run (up to cap) for sim_trace_write_json; 0: off. */
void sim_trace_log_enable(u64 cap);
/*
 * JSON members (no braces): records_total, records_lost, the violation's
 * analysis (violation_seq, window_from_step, raced_seq) if there was one,
 * and the records.
 */
void sim_trace_write_json(FILE *out);
void sim_trace_print_rec(FILE *out, s64 seq);       /* one trace line */
void sim_json_str(FILE *out, const char *s);        /* a JSON string literal */
void sim_trace_write_site_json(FILE *out, s64 seq); /* one record, or null */

/* ---- how a failed oracle ends the run ---- */
enum sim_fail_mode { SIM_FAIL_ABORT, SIM_FAIL_RECORD };
extern enum sim_fail_mode sim_fail_mode;
void sim_abandon(void) __attribute__((noreturn)); /* leave the run from a fiber */

#endif
