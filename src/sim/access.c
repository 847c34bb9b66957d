// SPDX-License-Identifier: MIT
/*
 * The sim side of compat.h: every shared access, barrier, TSC read, IRQ
 * toggle and VM exit.  Memory model:
 *
 *   - default: sequential consistency at scheduling-point granularity;
 *   - SIM_MODE_TSO: each CPU's stores sit in a FIFO store buffer until an
 *     smp_mb, a locked op, a context switch or a scheduled drain (x86-TSO;
 *     the CPU's own loads forward from it);
 *   - SIM_MODE_REORDER: a plain bulk copy (pv_memcpy) may be sunk by the
 *     compiler to the fiber's next barrier, past later WRITE_ONCEs;
 *   - SIM_MODE_HOIST: a plain RDTSC may return the TSC as it was before the
 *     up-to-4 loads issued since the last LFENCE/RDTSCP/locked op.
 */
#include <string.h>

#include "sim/sim_internal.h"

u8 g_arena[SIM_ARENA_SIZE] __attribute__((aligned(4096)));
u16 g_shadow_site[SIM_ARENA_SIZE];
u8 g_shadow_fiber[SIM_ARENA_SIZE];
size_t *g_sim_arena_dirty;

void *sim_shared_alloc(size_t size, size_t align)
{
	size_t off = (g_sim.arena_used + align - 1) & ~(align - 1);
	if (off + size > SIM_ARENA_SIZE)
		__builtin_trap(); /* scenario bug: arena is sized for every target */
	g_sim.arena_used = off + size;
	if (*g_sim_arena_dirty < g_sim.arena_used)
		*g_sim_arena_dirty = g_sim.arena_used;
	return &g_arena[off];
}

static bool in_arena(const volatile void *p)
{
	return (const u8 *)p >= g_arena && (const u8 *)p < g_arena + SIM_ARENA_SIZE;
}

static u64 mem_read(const volatile void *p, unsigned size)
{
	u64 v = 0;
	memcpy(&v, (const void *)p, size);
	return v;
}

/* Who issued the store being committed, for the harness's on_commit. */
static int commit_fiber = -1;
static bool commit_host = true;

int sim_commit_fiber(void)
{
	return commit_fiber;
}

bool sim_commit_by_host(void)
{
	return commit_host;
}

/* Host code issues this store: a host fiber, set-up code, or a VM exit handler. */
static u8 issued_by_host(void)
{
	return g_sim.cur < 0 || !sim_cur()->guest || sim_cur()->in_exit;
}

/* Make one store globally visible (and remember who wrote it, for feedback). */
void sim_commit(const struct sim_pending *e)
{
	if (g_sim.cfg.on_commit) {
		commit_fiber = (int)e->fiber - 1;
		commit_host = e->host;
		sim_trace_commit_begin(e); /* an oracle in the hook names this store */
		g_sim.cfg.on_commit(g_sim.cfg.ctx, e->p, e->size, e->v);
		sim_trace_commit_end();
		commit_fiber = -1;
		commit_host = true;
	}
	memcpy((void *)e->p, &e->v, e->size);
	if (in_arena(e->p)) {
		size_t off = (size_t)((const u8 *)e->p - g_arena);
		u16 id = e->site ? (u16)sim_site_id(e->site) : 0;
		for (unsigned i = 0; i < e->size && off + i < SIM_ARENA_SIZE; i++) {
			g_shadow_site[off + i] = id;
			g_shadow_fiber[off + i] = e->fiber;
		}
	}
}

void sim_sb_drain(int cpu, int n)
{
	struct sim_cpu *c = &g_sim.cpu[cpu];
	while (n-- > 0 && c->nsb > 0) {
		sim_commit(&c->sb[0]);
		sim_trace_drain(&c->sb[0]);
		memmove(&c->sb[0], &c->sb[1], (size_t)(c->nsb - 1) * sizeof(c->sb[0]));
		c->nsb--;
	}
}

/*
 * After sim_run(): what is still in a store buffer reaches memory, as it
 * would at that CPU's next barrier (drain records are not hashed, so the
 * run's trace hash stays as it was), so an end-of-run check reads the state
 * every CPU would agree on.
 */
void sim_settle(void)
{
	for (int c = 0; c <= SIM_MAX_CPUS; c++)
		sim_sb_drain(c, SIM_SB_SIZE);
}

/* A store leaves the core: into the store buffer (TSO) or straight to memory. */
static void store_issue(struct sim_pending *e)
{
	if (g_sim.cfg.mode & SIM_MODE_TSO) {
		struct sim_cpu *c = &g_sim.cpu[sim_cur()->cpu];
		if (c->nsb == SIM_SB_SIZE)
			sim_sb_drain(sim_cur()->cpu, 1);
		c->sb[c->nsb++] = *e;
	} else {
		sim_commit(e);
	}
}

/* Byte-wise forwarding from younger pending stores; memory otherwise. */
static u64 forward(const volatile void *p, unsigned size, u64 v)
{
	struct sim_fiber *f = sim_cur();
	struct sim_cpu *c = &g_sim.cpu[f->cpu];
	if (!f->nplain && !c->nsb)
		return v;
	const u8 *a = (const u8 *)p;
	u8 out[8];
	memcpy(out, &v, 8);
	for (unsigned b = 0; b < size; b++) {
		const u8 *x = a + b;
		bool hit = false;
		for (int i = f->nplain - 1; i >= 0 && !hit; i--) {
			const u8 *s = (const u8 *)f->plain[i].p;
			if (x >= s && x < s + f->plain[i].size) {
				out[b] = ((const u8 *)&f->plain[i].v)[x - s];
				hit = true;
			}
		}
		for (int i = c->nsb - 1; i >= 0 && !hit; i--) {
			const u8 *s = (const u8 *)c->sb[i].p;
			if (x >= s && x < s + c->sb[i].size) {
				out[b] = ((const u8 *)&c->sb[i].v)[x - s];
				hit = true;
			}
		}
	}
	memcpy(&v, out, 8);
	return v;
}

u64 sim_last_tsc_step(void)
{
	return g_sim.cur < 0 ? g_sim.step : sim_cur()->last_tsc_step;
}

u64 sim_peek(const volatile void *p, unsigned size)
{
	u64 v = mem_read(p, size);
	return g_sim.cur < 0 ? v : forward(p, size, v);
}

static void op_seen(struct sim_fiber *f, const volatile void *p, unsigned size, u64 v)
{
	int i;
	for (i = 0; i < f->nseen; i++)
		if (f->seen[i].p == p)
			break;
	if (i == f->nseen) {
		if (f->nseen == SIM_SEEN)
			return;
		f->nseen++;
	}
	f->seen[i].p = p;
	f->seen[i].v = v;
	f->seen[i].step = g_sim.step;
	f->seen[i].size = (u8)size;
}

bool sim_op_seen_at(const volatile void *p, unsigned size, u64 *v, u64 *step)
{
	if (g_sim.cur < 0)
		return false;
	struct sim_fiber *f = sim_cur();
	for (int i = 0; i < f->nseen; i++)
		if (f->seen[i].p == p && f->seen[i].size == size) {
			*v = f->seen[i].v;
			if (step)
				*step = f->seen[i].step;
			return true;
		}
	return false;
}

bool sim_op_seen(const volatile void *p, unsigned size, u64 *v)
{
	return sim_op_seen_at(p, size, v, NULL);
}

int sim_op_tscs(const u64 **tscs)
{
	if (g_sim.cur < 0)
		return 0;
	*tscs = sim_cur()->tscs;
	return sim_cur()->ntscs;
}

static void hoist_reset(struct sim_fiber *f)
{
	f->nhoist = 0;
}

void sim_commit_plain(struct sim_fiber *f)
{
	for (int i = 0; i < f->nplain; i++) {
		sim_point();
		store_issue(&f->plain[i]);
		sim_trace_at(f->plain[i].p, f->plain[i].size);
		sim_trace(SIM_OP_COMMIT, f->plain[i].site, NULL, f->plain[i].v);
	}
	f->nplain = 0;
}

/*
 * f has younger stores nobody else can see yet (a sunk plain copy, its
 * CPU's TSO store buffer): whoever reads what f wrote, or runs while f is
 * preempted, observes a state sequential consistency never shows - the
 * window every publication bug lives in.
 */
bool sim_hides_stores(const struct sim_fiber *f)
{
	return f->nplain > 0 || g_sim.cpu[f->cpu].nsb > 0;
}

/* ------------------------------------------------------------ compat -- */

u64 pvsim_load(struct pv_site *s, const volatile void *p, unsigned size)
{
	if (g_sim.cur < 0)
		return mem_read(p, size);
	sim_point();
	if (g_sim.cfg.on_access) {
		sim_trace_access(SIM_OP_LOAD, s, p, size, 0);
		g_sim.cfg.on_access(g_sim.cfg.ctx, sim_site_id(s), p, size, false);
	}
	struct sim_fiber *f = sim_cur();
	if (f->nhoist < SIM_HOIST)
		f->hoist[f->nhoist++] = sim_cpu_tsc_now(f->cpu);
	u64 v = forward(p, size, mem_read(p, size));
	if (f->op)
		op_seen(f, p, size, v);
	if (in_arena(p)) {
		/*
		 * reads-from feedback: (last writer's site, this site, same
		 * fiber?, does that writer still hide younger stores?)
		 */
		size_t off = (size_t)((const u8 *)p - g_arena);
		u8 w = g_shadow_fiber[off];
		u32 h = g_shadow_site[off] * 0x9E3779B1u ^ sim_site_id(s) * 0x85EBCA77u;
		h ^= (w == (u8)(g_sim.cur + 1)) ? 0x5bd1e995u : 0;
		if (w && w != (u8)(g_sim.cur + 1) && w <= g_sim.nf && sim_hides_stores(&g_sim.f[w - 1]))
			h ^= 0x27d4eb2fu;
		pv_feature_hit(h ^ (h >> 15));
	}
	sim_trace_at(p, size);
	sim_trace(SIM_OP_LOAD, s, NULL, v);
	return v;
}

void pvsim_store(struct pv_site *s, volatile void *p, unsigned size, u64 v)
{
	struct sim_pending e = { p, v, (u8)size, s, (u8)(g_sim.cur + 1), issued_by_host() };
	if (g_sim.cur < 0) {
		sim_commit(&e);
		return;
	}
	sim_point();
	/*
	 * Program order to one location is kept even by the compiler: a chunk
	 * of a plain copy still pending (SIM_MODE_REORDER) that overlaps this
	 * store lands first, or a sunk copy would overwrite a later store to
	 * the same bytes (e.g. an odd version left behind after the even
	 * store).  The copy's other chunks may still sink past this store.
	 */
	struct sim_fiber *f = sim_cur();
	for (int i = 0; i < f->nplain;) {
		const u8 *a = (const u8 *)f->plain[i].p, *b = (const u8 *)p;
		if (a < b + size && b < a + f->plain[i].size) {
			store_issue(&f->plain[i]);
			sim_trace_at(f->plain[i].p, f->plain[i].size);
			sim_trace(SIM_OP_COMMIT, f->plain[i].site, NULL, f->plain[i].v);
			for (int j = i + 1; j < f->nplain; j++)
				f->plain[j - 1] = f->plain[j];
			f->nplain--;
		} else {
			i++;
		}
	}
	if (g_sim.cfg.on_access) {
		sim_trace_access(SIM_OP_STORE, s, p, size, v);
		g_sim.cfg.on_access(g_sim.cfg.ctx, sim_site_id(s), p, size, true);
	}
	store_issue(&e);
	sim_trace_at(p, size);
	sim_trace(SIM_OP_STORE, s, NULL, v);
}

/*
 * A plain bulk copy: 8-byte chunks (split at 8-byte boundaries) stored in an
 * order taken from the input's tail (ascending like rep movs, descending, or
 * rotated), one scheduling point each.
 */
void pvsim_memcpy(struct pv_site *s, volatile void *dst, const void *src, size_t n)
{
	if (g_sim.cur < 0 || n == 0) {
		memcpy((void *)dst, src, n);
		return;
	}
	struct { size_t off; u8 len; } chunk[512];
	size_t nc = 0;
	for (size_t off = 0; off < n && nc < ARRAY_SIZE(chunk);) {
		uintptr_t a = (uintptr_t)dst + off;
		size_t len = 8 - (a & 7);
		if (len > n - off)
			len = n - off;
		chunk[nc].off = off;
		chunk[nc++].len = (u8)len;
		off += len;
	}
	/* a copy within one 8-byte word (a plain field store) has no order to choose */
	u8 order = nc > 1 ? fdp_tail_u8(g_sim.in, 0) : 0;
	size_t start = (order & 0x7f) % nc;
	struct sim_fiber *f = sim_cur();
	for (size_t k = 0; k < nc; k++) {
		size_t i = (start + k) % nc;
		if (order & 0x80)
			i = nc - 1 - i;
		struct sim_pending e = { (u8 *)dst + chunk[i].off, 0, chunk[i].len, s, (u8)(g_sim.cur + 1),
					 issued_by_host() };
		memcpy(&e.v, (const u8 *)src + chunk[i].off, chunk[i].len);
		sim_point();
		if ((g_sim.cfg.mode & SIM_MODE_REORDER) && f->nplain < SIM_PLAIN_MAX)
			f->plain[f->nplain++] = e;
		else
			store_issue(&e);
		sim_trace_at(e.p, e.size);
		sim_trace(SIM_OP_COPY, s, NULL, e.v);
	}
}

void pvsim_fence(struct pv_site *s, enum pv_fence kind)
{
	if (g_sim.cur < 0)
		return;
	struct sim_fiber *f = sim_cur();
	sim_commit_plain(f); /* every barrier is at least a compiler barrier */
	sim_point();
	if (kind == PV_SMP_MB)
		sim_sb_drain(f->cpu, SIM_SB_SIZE);
	if (kind == PV_SMP_MB || kind == PV_LFENCE)
		hoist_reset(f);
	sim_trace(SIM_OP_FENCE, s, NULL, kind);
}

u64 pvsim_rdtsc(struct pv_site *s, bool ordered)
{
	if (g_sim.cur < 0)
		return sim_cpu_tsc_now(0);
	sim_point();
	struct sim_fiber *f = sim_cur();
	u64 v = sim_cpu_tsc_now(f->cpu);
	f->last_tsc_step = g_sim.step;
	if (ordered)
		hoist_reset(f);
	else if ((g_sim.cfg.mode & SIM_MODE_HOIST) && f->nhoist)
		v = f->hoist[0]; /* executed before the oldest recent load completed */
	if (f->op) { /* keep the most recent ones: the accepted read is the last */
		if (f->ntscs == SIM_OP_TSCS)
			memmove(&f->tscs[0], &f->tscs[1], sizeof(f->tscs[0]) * (SIM_OP_TSCS - 1));
		else
			f->ntscs++;
		f->tscs[f->ntscs - 1] = v;
	}
	sim_trace(SIM_OP_RDTSC, s, NULL, v);
	return v;
}

u64 pvsim_rmw(struct pv_site *s, volatile void *p, unsigned size, enum pvsim_rmw op, u64 a, u64 b)
{
	if (g_sim.cur >= 0) {
		struct sim_fiber *f = sim_cur();
		sim_commit_plain(f);
		sim_point();
		sim_sb_drain(f->cpu, SIM_SB_SIZE); /* locked op */
		hoist_reset(f);
		if (g_sim.cfg.on_access) {
			sim_trace_access(SIM_OP_RMW, s, p, size, 0);
			g_sim.cfg.on_access(g_sim.cfg.ctx, sim_site_id(s), p, size, true);
		}
	}
	u64 old = mem_read(p, size), nv = old;
	u64 mask = size == 8 ? ~0ULL : ((1ULL << (size * 8)) - 1);
	switch (op) {
	case PVSIM_XCHG: nv = a; break;
	case PVSIM_CMPXCHG: if ((old & mask) == (a & mask)) nv = b; break;
	case PVSIM_ADD: nv = old + a; break;
	case PVSIM_OR: nv = old | a; break;
	case PVSIM_AND: nv = old & a; break;
	}
	struct sim_pending e = { p, nv & mask, (u8)size, s, (u8)(g_sim.cur + 1), issued_by_host() };
	sim_commit(&e);
	if (g_sim.cur >= 0) {
		sim_trace_at(p, size);
		sim_trace(SIM_OP_RMW, s, NULL, nv & mask);
	}
	return old;
}

int pvsim_cpu(void)
{
	return g_sim.cur < 0 ? 0 : sim_cur()->cpu;
}

unsigned long pvsim_irq_save(struct pv_site *s)
{
	if (g_sim.cur < 0)
		return 0;
	sim_point();
	struct sim_fiber *f = sim_cur();
	unsigned long flags = f->irq_off;
	f->irq_off = 1;
	sim_trace(SIM_OP_IRQ, s, "irq-off", 1);
	return flags;
}

void pvsim_irq_restore(struct pv_site *s, unsigned long flags)
{
	if (g_sim.cur < 0)
		return;
	sim_point();
	sim_cur()->irq_off = flags;
	sim_trace(SIM_OP_IRQ, s, flags ? "irq-off" : "irq-on", flags);
	if (!flags && g_sim.nipi) /* pending interrupts fire as IRQs come back on */
		sim_ipi_poll();
}

void pvsim_preempt(int delta)
{
	if (g_sim.cur < 0)
		return;
	struct sim_fiber *f = sim_cur();
	f->preempt_count += delta;
	/* preempt_exclusive: no other task runs on this CPU meanwhile */
	if (g_sim.cfg.preempt_exclusive && f->guest) {
		struct sim_cpu *c = &g_sim.cpu[f->cpu];
		if (f->preempt_count > 0 && !c->preempt_owner)
			c->preempt_owner = g_sim.cur + 1;
		else if (f->preempt_count == 0 && c->preempt_owner == g_sim.cur + 1)
			c->preempt_owner = 0;
	}
}

void pvsim_cpu_relax(struct pv_site *s)
{
	if (g_sim.cur < 0)
		return;
	sim_point();
	sim_trace(SIM_OP_RELAX, s, NULL, 0);
	sim_demote();
}

/* A VM exit runs the host model synchronously on the exiting vCPU, as KVM does. */
u64 pvsim_vm_exit(struct pv_site *s, enum pv_exit_reason reason, u64 a0, u64 a1)
{
	if (g_sim.cur < 0 || !g_sim.cfg.on_exit)
		return (u64)-1;
	sim_point();
	struct sim_fiber *f = sim_cur();
	sim_sb_drain(f->cpu, SIM_SB_SIZE); /* VM exits serialise */
	hoist_reset(f);
	sim_trace(SIM_OP_EXIT, s, NULL, ((u64)reason << 32) | (u32)a0);
	/* the vCPU is in the host until the handler returns: its other tasks wait */
	int cpu = f->cpu;
	f->in_exit = true;
	g_sim.in_exit |= (u8)(1u << cpu);
	u64 ret = g_sim.cfg.on_exit(g_sim.cfg.ctx, cpu, reason, a0, a1);
	g_sim.in_exit &= (u8)~(1u << cpu);
	f->in_exit = false;
	sim_commit_plain(f);
	sim_sb_drain(cpu, SIM_SB_SIZE); /* VM entry serialises */
	/* VM entry: blocked here while the host keeps the vCPU out (MCLOCK_INPROGRESS) */
	sim_point();
	return ret;
}

void sim_host_write(volatile void *p, const void *src, size_t n)
{
	memcpy((void *)p, src, n);
}
