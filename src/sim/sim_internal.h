/* SPDX-License-Identifier: MIT */
/* Simulator state shared by sched.c, access.c and trace.c. */
#ifndef PVFUZZ_SIM_INTERNAL_H
#define PVFUZZ_SIM_INTERNAL_H

#include "sim/fiber.h"
#include "sim/sim.h"

#define SIM_STACK_SIZE (256 * 1024)
#define SIM_ARENA_SIZE (64 * 1024)
#define SIM_SB_SIZE 8     /* x86 store buffers hold a few dozen; 8 is plenty here */
#define SIM_PLAIN_MAX 64
#define SIM_HOIST 4
#define SIM_SEEN 24
#define SIM_OP_TSCS 8

/* A store not yet visible to other CPUs. */
struct sim_pending {
	volatile void *p;
	u64 v;
	u8 size;
	struct pv_site *site;
	u8 fiber;
	u8 host; /* issued by host code: a host fiber, or a guest's VM exit handler */
};

struct sim_fiber {
	struct fiber_ctx ctx;
	const char *name;
	sim_fiber_fn fn;
	void *arg;
	int cpu;
	bool guest;
	bool done;
	bool in_exit;   /* running host code for its vCPU's VM exit */
	int return_cpu; /* a round-trip migration brings the task back here */
	u64 return_at;  /* ... at this step (0: none pending) */
	bool in_ipi;    /* running an IPI handler (hard-IRQ context) */
	bool in_insn;   /* mid-instruction (sim_insn_hold): interrupts wait for its end */
	bool pinned;    /* never migrated (a per-CPU task) */
	bool moved;     /* interrupted or moved: on_task_interrupted before it resumes */
	bool in_hook;   /* running on_task_interrupted */
	bool sched_in;  /* moved to another CPU: the hook is a sched-in there */
	u64 last_tsc_step; /* step of its last TSC read */
	bool holds_cpu; /* cpu_exclusive: no other task of its CPU runs (a vCPU in guest mode) */
	int prio;
	u64 own_steps;
	int preempt_count;
	unsigned long irq_off;
	/* one reader operation, for liveness */
	const char *op;
	u64 op_start;
	u64 op_idle_steps;
	/* TSC values before the most recent loads (plain RDTSC may be hoisted) */
	u64 hoist[SIM_HOIST];
	int nhoist;
	/* what the current op loaded last from each address, and its TSC reads */
	struct { const volatile void *p; u64 v; u64 step; u8 size; } seen[SIM_SEEN];
	int nseen;
	u64 tscs[SIM_OP_TSCS];
	int ntscs;
	/* plain copies the compiler may sink to the next barrier */
	struct sim_pending plain[SIM_PLAIN_MAX];
	int nplain;
	u32 last_site; /* site id of its last traced access (preemption feedback) */
	u64 wake_at;   /* sim_sleep(): not runnable before this step */
};

#define SIM_MAX_IPI 8

/* One queued IPI (src/sim/ipi.c). */
struct sim_ipi {
	smp_call_func_t func;
	void *info;
	int *pending; /* the sender's ack counter, or NULL (no wait) */
	bool irq;     /* sim_raise_irq(): an interrupt, not a cross call */
};

struct sim_cpu {
	int preempt_owner;  /* with cfg.preempt_exclusive: 1 + the fiber holding preemption off here */
	struct sim_ipi ipi[SIM_MAX_IPI]; /* FIFO of pending IPIs */
	int nipi;
	u64 ipi_hold_until;             /* no delivery before this step */
	u64 tsc_anchor;
	u64 step_anchor;
	u32 rate;
	u64 preempted_until;
	bool preempted;
	bool resume_pending;            /* on_vcpu_resume still to run */
	struct sim_pending sb[SIM_SB_SIZE]; /* FIFO: x86-TSO */
	int nsb;
};

struct sim_ev {
	u32 at;
	u8 kind;
	u8 arg;
};

struct sim_state {
	struct sim_config cfg;
	struct fdp *in;
	struct sim_fiber f[SIM_MAX_FIBERS];
	int nf;
	struct sim_cpu cpu[SIM_MAX_CPUS + 1];
	int cur; /* -1: main context */
	u64 step;
	u64 paused_ns;   /* true time that passed in sim_tsc_jump() pauses */
	bool running;
	/* schedule */
	u16 change[3];
	int nchange;
	int low, high;
	struct sim_ev ev[SIM_MAX_EVENTS];
	int nev, evi;
	bool fair;
	u8 out_of_guest; /* bit per vCPU: in the host, its guest tasks cannot run */
	u8 in_exit;      /* bit per vCPU: a task of it is in a VM exit handler */
	u8 stopped;      /* bit per vCPU: the VMM stopped it (not in KVM_RUN) */
	bool returns_pending; /* some round-trip migration is under way */
	bool writer_idle;
	int nipi;        /* IPIs queued on all vCPUs: 0 keeps delivery off the hot path */
	bool completed;
	/* shared arena and its reads-from shadow */
	size_t arena_used;
	/* trace */
	u64 hash;
};

extern struct sim_state g_sim;
extern struct fiber_ctx g_main_ctx;
extern u8 g_arena[SIM_ARENA_SIZE];
extern u16 g_shadow_site[SIM_ARENA_SIZE];
extern u8 g_shadow_fiber[SIM_ARENA_SIZE];
extern size_t *g_sim_arena_dirty;

static inline struct sim_fiber *sim_cur(void)
{
	return &g_sim.f[g_sim.cur];
}

/* sched.c */
void sim_point(void);              /* one scheduling point of the current fiber */
void sim_demote(void);             /* spin-loop head: a PCT change point */
void sim_task_interrupted(void);   /* run on_task_interrupted for the current task */
u64 sim_cpu_tsc_now(int cpu);
/* ipi.c: deliver pending IPIs to the current fiber if it can take them */
void sim_ipi_poll(void);
/* access.c */
void sim_commit_plain(struct sim_fiber *f);
bool sim_hides_stores(const struct sim_fiber *f);
void sim_sb_drain(int cpu, int n);
void sim_commit(const struct sim_pending *e);
/* trace.c */
u32 sim_site_id(struct pv_site *s);
void sim_trace(enum sim_op op, struct pv_site *site, const char *note, u64 value);
void sim_trace_reset(void);
/* an event about another fiber than the running one (hashed as sim_trace) */
void sim_trace_event_of(int fiber, const char *note, u64 value);
/* the bytes the next traced access touched (not hashed) */
void sim_trace_at(const volatile void *p, unsigned size);
/* an access in flight: announced before a hook sees it (trace.c's head comment) */
void sim_trace_access(enum sim_op op, struct pv_site *s, const volatile void *p, unsigned size,
		      u64 value);
void sim_trace_commit_begin(const struct sim_pending *e);
void sim_trace_commit_end(void);
void sim_trace_drain(const struct sim_pending *e); /* a buffered store becomes visible */
void pv_feature_hit(u32 h);

#endif
