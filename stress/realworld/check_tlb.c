// SPDX-License-Identifier: MIT
/*
 * The TLB shootdown checker: does the running kernel (and the hypervisor
 * under it, with its paravirtual flush) take a translation away from every
 * CPU before the syscall that revokes it returns, and does page-table
 * freeing survive concurrent lockless walkers?  Three parts, rounds
 * alternating between 1+2 and 3:
 *
 * 1. Revocation (real-world.md 3.3).  One memfd page mapped twice: W, the
 *    victim alias, read-write, and R, the observer alias, read-only; both
 *    are the same page, so R shows what memory really holds.  Writer
 *    threads pinned to other CPUs store an increasing count through W; the
 *    checker, once every writer is seen storing, revokes W by mprotect
 *    (PROT_READ or PROT_NONE), munmap or mremap, reads R right after the
 *    syscall returned and again ~20 us later.  A change is a store that
 *    passed translation after the revocation returned: a stale TLB entry
 *    (stale_tlb).  Why that is sound: the flush (IPI, or KVM's deferred PV
 *    flush of a preempted vCPU) completes before the syscall returns, and a
 *    store that was translated before it is ordered before the target CPU's
 *    acknowledgement (x86-TSO) or before its VM exit, so it is visible by
 *    then.  Writers take SIGSEGV and wait for the next round.
 *
 * 2. MADV_DONTNEED on private anonymous memory, which is not a revocation
 *    (writers refault and go on) but must drop the old page: bytes nobody
 *    rewrote read zero afterwards (fresh_zero), and a store a writer
 *    published after the call returned is found in the new page, not lost
 *    in the old one (stale_tlb) - the writer's count is published after
 *    each store, so a published count two past the one seen at return was
 *    stored after the flush reached the writer's CPU.
 *
 * 3. Page-table freeing under GUP walkers.  A 2 MiB, PMD-aligned range
 *    with no neighbour in its PMD is remapped again and again (a PROT_NONE
 *    placeholder over it frees its page table; a fresh memfd generation
 *    whose every page is tagged (generation, index) is mapped back with
 *    MAP_POPULATE), while walker threads pull pages out of it with
 *    vmsplice (get_user_pages_fast), O_DIRECT writes (pin_user_pages_fast)
 *    and process_vm_readv (the remote, locked walk).  A page a walker got
 *    must carry its own index and a generation mapped at some instant of
 *    the call: [the generation done before it, the one announced after
 *    it] (walker_linearizable).  EFAULT on a hole is fine.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

static struct check_counter counters[] = {
	CHECK_COUNTER("revocations"), CHECK_COUNTER("writer-faults"), CHECK_COUNTER("dontneeds"),
	CHECK_COUNTER("idle-iterations"), CHECK_COUNTER("pmd-range-remaps"), CHECK_COUNTER("vmsplice-pages"),
	CHECK_COUNTER("odirect-pages"), CHECK_COUNTER("process_vm_readv-pages"), CHECK_COUNTER("efaults"),
	CHECK_COUNTER(NULL),
};
enum { N_REVOKE, N_FAULTS, N_DONTNEED, N_IDLE, N_REMAP, N_VMSPLICE, N_ODIRECT, N_PVR, N_EFAULT };

static const struct check_injection injections[] = {
	{ "tlb_no_revoke", "stale_tlb", "the revoking call is mprotect(PROT_READ|PROT_WRITE)" },
	{ "tlb_no_zap", "fresh_zero", "MADV_DONTNEED is not issued" },
	{ "tlb_dontneed_stale", "stale_tlb", "writers keep an alias of the page that is dropped" },
	{ "tlb_stale_gen", "walker_linearizable", "generation g's pages are tagged g-2" },
	{ NULL, NULL, NULL },
};

#define PAGE 4096UL
#define RANGE (2UL << 20)          /* one PMD's worth */
#define RANGE_PAGES (RANGE / PAGE)
#define SLOT_WORDS 8               /* a writer's slot: one cache line */
#define CANARY_OFF (PAGE / 2)      /* DONTNEED: bytes from here on are never rewritten */
/* how long to wait for writers: to the phase's deadline, at least 20 ms, at most 200 ms */
#define LIVE_MIN_NS (20 * 1000 * 1000ULL)
#define LIVE_MAX_NS (200 * 1000 * 1000ULL)
#define MAX_GUP_PAGES 8

enum method { M_MPROTECT_RO, M_MPROTECT_NONE, M_MUNMAP, M_MREMAP, M_DONTNEED, NR_METHODS };
static const char *const method_name[NR_METHODS] = {
	"mprotect(PROT_READ)", "mprotect(PROT_NONE)", "munmap", "mremap", "madvise(MADV_DONTNEED)",
};

static int cpus[CHECK_MAX_CPUS], nr_cpus;
static int nr_writers, nr_walkers;
static u64 seed, rounds;
static int memfd = -1;
static volatile u64 *observer;   /* R: the memfd page, read-only */
static int direct_fd = -1;
static char direct_note[256];
static u64 shootdowns0;

/* ------------------------------------------------------------ writers -- */

struct writer {
	pthread_t t;
	int idx, cpu;
	_Atomic u64 pub;            /* the last count it stored */
	u64 faults;                 /* SIGSEGVs: stores refused after a revocation */
} __attribute__((aligned(64)));
static struct writer writers[CHECK_MAX_THREADS];

static _Atomic u64 iteration;                  /* writers store while it is unchanged */
static _Atomic(u64 *) targets[CHECK_MAX_THREADS];
static _Atomic bool phase_over;

static __thread sigjmp_buf fault_jmp;
static __thread volatile sig_atomic_t fault_armed;
static struct sigaction old_segv, old_bus;

static void on_fault(int sig, siginfo_t *si, void *uc)
{
	(void)si;
	(void)uc;
	if (fault_armed) {
		fault_armed = 0;
		siglongjmp(fault_jmp, 1);
	}
	/* not a writer's store: the previous handler (or the default) sees it again */
	sigaction(sig, sig == SIGSEGV ? &old_segv : &old_bus, NULL);
}

/*
 * Store through p until the iteration changes or the store faults.  Its
 * own frame for sigsetjmp: nothing it changes is used after the jump.
 */
static __noinline void store_until_fault(struct writer *w, u64 it, volatile u64 *p)
{
	if (sigsetjmp(fault_jmp, 1) == 0) {
		fault_armed = 1;
		u64 n = atomic_load_explicit(&w->pub, memory_order_relaxed);
		while (atomic_load_explicit(&iteration, memory_order_relaxed) == it) {
			n++;
			__atomic_store_n(p, n, __ATOMIC_RELAXED); /* through the victim alias: may fault */
			atomic_store_explicit(&w->pub, n, memory_order_relaxed);
		}
		fault_armed = 0;
	} else {
		w->faults++;
	}
}

static void *writer_main(void *arg)
{
	struct writer *w = arg;
	u64 seen = 0;
	check_pin_self(w->cpu);
	while (!atomic_load_explicit(&phase_over, memory_order_relaxed) && !check_stop()) {
		u64 it = atomic_load_explicit(&iteration, memory_order_acquire);
		if (it == seen) {
			__builtin_ia32_pause();
			continue;
		}
		seen = it;
		volatile u64 *p = atomic_load_explicit(&targets[w->idx], memory_order_acquire);
		if (p)
			store_until_fault(w, it, p);
	}
	return NULL;
}

static void install_fault_handler(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_fault;
	sa.sa_flags = SA_SIGINFO | SA_NODEFER;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGSEGV, &sa, &old_segv);
	sigaction(SIGBUS, &sa, &old_bus);
}

static void restore_fault_handler(void)
{
	sigaction(SIGSEGV, &old_segv, NULL);
	sigaction(SIGBUS, &old_bus, NULL);
}

/* ------------------------------------------------------- revocations -- */

static inline u64 obs(volatile u64 *page, int w)
{
	return __atomic_load_n(&page[w * SLOT_WORDS], __ATOMIC_RELAXED);
}

/* Every writer stored at least twice into its target this iteration. */
static u64 phase_deadline;

static u64 live_timeout_ns(void)
{
	u64 now = check_raw_ns();
	u64 left = phase_deadline > now ? phase_deadline - now : 0;
	return left < LIVE_MIN_NS ? LIVE_MIN_NS : left > LIVE_MAX_NS ? LIVE_MAX_NS : left;
}

static bool writers_live(const u64 *pub0)
{
	u64 t0 = check_raw_ns(), limit = live_timeout_ns();
	for (int i = 0; i < nr_writers; i++)
		while (atomic_load_explicit(&writers[i].pub, memory_order_relaxed) < pub0[i] + 2) {
			if (check_stop() || check_raw_ns() - t0 > limit)
				return false;
			sched_yield();
		}
	return true;
}

static void spin_us(u64 us)
{
	u64 end = check_raw_ns() + us * 1000;
	while (check_raw_ns() < end)
		__builtin_ia32_pause();
}

static void start_iteration(volatile u64 *store_page, u64 *pub0)
{
	for (int i = 0; i < nr_writers; i++) {
		pub0[i] = atomic_load_explicit(&writers[i].pub, memory_order_relaxed);
		atomic_store_explicit(&targets[i], (u64 *)(store_page + i * SLOT_WORDS), memory_order_relaxed);
	}
	atomic_fetch_add_explicit(&iteration, 1, memory_order_release);
}

static void end_iteration(void)
{
	for (int i = 0; i < nr_writers; i++)
		atomic_store_explicit(&targets[i], NULL, memory_order_relaxed);
	atomic_fetch_add_explicit(&iteration, 1, memory_order_release);
}

/*
 * Every page an iteration maps comes from a fresh slot of a PROT_NONE arena
 * and goes back to PROT_NONE afterwards, so no address is reused within a
 * round: a writer still holding an earlier iteration's pointer faults
 * instead of storing into whatever a reused address would map.  A store
 * that moved a writer's published count therefore went through the current
 * iteration's mapping (or through a stale translation - what is tested).
 */
#define ARENA_PAGES 8192
static u8 *arena;
static unsigned arena_next;

static void *arena_slot(void)
{
	if (arena_next >= ARENA_PAGES)
		return NULL;
	return arena + (size_t)arena_next++ * PAGE;
}

/* Back to a PROT_NONE placeholder (also after munmap/mremap left a hole). */
static void arena_release(void *slot)
{
	mmap(slot, PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0);
}

static bool arena_map(void *slot, int prot, int flags, int fd)
{
	return mmap(slot, PAGE, prot, flags | MAP_FIXED, fd, 0) == slot;
}

/* One revocation of W by method m (not DONTNEED); false after a finding. */
static bool revoke_once(enum method m, int checker_cpu, u64 *rs)
{
	u64 pub0[CHECK_MAX_THREADS], v1[CHECK_MAX_THREADS], v2[CHECK_MAX_THREADS];
	void *w = arena_slot(), *dst = m == M_MREMAP ? arena_slot() : NULL;
	bool ok = true;
	if (!w || (m == M_MREMAP && !dst))
		return true; /* arena used up: the round's phase ends */
	if (!arena_map(w, PROT_READ | PROT_WRITE, MAP_SHARED, memfd))
		goto out;
	start_iteration(w, pub0);
	if (!writers_live(pub0)) {
		check_count(&counters[N_IDLE], 1);
		end_iteration();
		goto out;
	}

	int rc;
	if (check_inject("tlb_no_revoke")) {
		rc = mprotect(w, PAGE, PROT_READ | PROT_WRITE);
	} else {
		switch (m) {
		case M_MPROTECT_RO:
			rc = mprotect(w, PAGE, PROT_READ);
			break;
		case M_MPROTECT_NONE:
			rc = mprotect(w, PAGE, PROT_NONE);
			break;
		case M_MUNMAP:
			rc = munmap(w, PAGE);
			break;
		default:
			rc = mremap(w, PAGE, PAGE, MREMAP_MAYMOVE | MREMAP_FIXED, dst) == MAP_FAILED ? -1 : 0;
			break;
		}
	}
	for (int i = 0; i < nr_writers; i++)
		v1[i] = obs(observer, i);
	/* mostly ~20 us; now and then longer, for a flush deferred to a vCPU's next entry */
	spin_us((check_rand(rs) & 15) ? 20 : 500);
	for (int i = 0; i < nr_writers; i++)
		v2[i] = obs(observer, i);
	if (rc != 0) {
		fprintf(stderr, "pvfuzz-check: tlb: %s failed: %s\n", method_name[m], strerror(errno));
		end_iteration();
		goto out;
	}
	check_count(&counters[N_REVOKE], 1);
	for (int i = 0; i < nr_writers && ok; i++) {
		if (v2[i] == v1[i])
			continue;
		char what[256];
		snprintf(what, sizeof(what), "writer %d on CPU %d stored through the victim alias after %s "
			 "returned on CPU %d: the observer alias read %" PRIu64 " at the return, %" PRIu64
			 " later", i, writers[i].cpu, method_name[m], checker_cpu, v1[i], v2[i]);
		check_evidence("memfd page mapped twice: victim alias %p (revoked), observer alias %p", w,
			       (void *)observer);
		check_evidence("%" PRIu64 " stores became visible after the revoking syscall returned",
			       v2[i] - v1[i]);
		oracle_stale_tlb(what);
		ok = false;
	}
	/* a writer that has not faulted yet stops at the change of iteration */
	end_iteration();
out:
	arena_release(w);
	if (dst)
		arena_release(dst);
	return ok;
}

/* MADV_DONTNEED on a private anonymous page; false after a finding. */
static bool dontneed_once(void)
{
	u64 pub0[CHECK_MAX_THREADS], n0[CHECK_MAX_THREADS];
	bool stale_alias = check_inject("tlb_dontneed_stale");
	u8 *p = arena_slot(), *alias = stale_alias ? arena_slot() : NULL;
	int afd = -1;
	bool ok = true;

	if (!p || (stale_alias && !alias))
		return true;
	if (stale_alias) {
		/* test-only: the writers store through an alias the "drop" does not touch */
		afd = memfd_create("pvfuzz-tlb-alias", MFD_CLOEXEC);
		if (afd < 0 || ftruncate(afd, PAGE) != 0 ||
		    !arena_map(p, PROT_READ | PROT_WRITE, MAP_SHARED, afd) ||
		    !arena_map(alias, PROT_READ | PROT_WRITE, MAP_SHARED, afd))
			goto out;
	} else if (!arena_map(p, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1)) {
		goto out;
	}
	memset(p + CANARY_OFF, 0xa5, PAGE - CANARY_OFF);
	start_iteration(alias ? (void *)alias : (void *)p, pub0);
	if (!writers_live(pub0)) {
		check_count(&counters[N_IDLE], 1);
		goto done;
	}
	if (stale_alias)
		arena_map(p, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1);
	else if (!check_inject("tlb_no_zap"))
		madvise(p, PAGE, MADV_DONTNEED);
	for (int i = 0; i < nr_writers; i++)
		n0[i] = atomic_load_explicit(&writers[i].pub, memory_order_acquire);
	check_count(&counters[N_DONTNEED], 1);

	for (size_t off = CANARY_OFF; off < PAGE; off++) {
		u8 b = __atomic_load_n(&p[off], __ATOMIC_RELAXED);
		if (b == 0)
			continue;
		char what[200];
		snprintf(what, sizeof(what), "byte %zu of a private anonymous page reads 0x%02x after "
			 "MADV_DONTNEED returned (0xa5 was written there before the call; nothing since)", off, b);
		check_evidence("page %p; writers store only below byte %lu", (void *)p, CANARY_OFF);
		oracle_fresh_zero(what);
		ok = false;
		goto done;
	}
	u64 t0 = check_raw_ns(), limit = live_timeout_ns();
	for (int i = 0; i < nr_writers && ok; i++) {
		/*
		 * A count two past the one seen at the return was stored after
		 * the flush reached the writer: the one after it was not yet
		 * published then, so it - and the store before it - followed
		 * the flush's acknowledgement in the writer's program order.
		 */
		while (atomic_load_explicit(&writers[i].pub, memory_order_acquire) < n0[i] + 2)
			if (check_stop() || check_raw_ns() - t0 > limit)
				goto done;
		u64 in_page = __atomic_load_n((u64 *)(p + (size_t)i * SLOT_WORDS * 8), __ATOMIC_RELAXED);
		if (in_page >= n0[i] + 2)
			continue;
		char what[256];
		snprintf(what, sizeof(what), "writer %d on CPU %d published store %" PRIu64 " after "
			 "MADV_DONTNEED returned, but the page holds %" PRIu64 ": the store went through a stale "
			 "translation to the dropped page", i, writers[i].cpu, n0[i] + 2, in_page);
		check_evidence("count published at the return %" PRIu64 ", now %" PRIu64, n0[i],
			       atomic_load(&writers[i].pub));
		oracle_stale_tlb(what);
		ok = false;
	}
done:
	end_iteration();
out:
	arena_release(p);
	if (alias)
		arena_release(alias);
	if (afd >= 0)
		close(afd);
	return ok;
}

/* ---------------------------------------------------- GUP and PMD ranges -- */

static u8 *range;                 /* the PMD-aligned range */
static void *reservation;
static _Atomic u64 gen_done, gen_announced;
static u8 *fill;                  /* one generation's content, built per remap */

struct tag {
	u64 magic, gen, index, check;
};
#define TAG_MAGIC 0x7076667a2d746c62ULL /* "pvfz-tlb" */

static void tag_page(u8 *page, u64 gen, u64 index)
{
	struct tag t = { TAG_MAGIC, gen, index, ~(gen ^ index) };
	memcpy(page, &t, sizeof(t));
	memcpy(page + PAGE - sizeof(t), &t, sizeof(t));
}

/* A memfd holding generation g's pages, every one tagged; -1 on failure. */
static int make_generation(u64 g)
{
	int fd = memfd_create("pvfuzz-tlb-gen", MFD_CLOEXEC);
	if (fd < 0)
		return -1;
	u64 tag_gen = check_inject("tlb_stale_gen") && g > 2 ? g - 2 : g;
	for (u64 i = 0; i < RANGE_PAGES; i++)
		tag_page(fill + i * PAGE, tag_gen, i);
	if (ftruncate(fd, RANGE) != 0 || pwrite(fd, fill, RANGE, 0) != (ssize_t)RANGE) {
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * Replace whatever the range maps by generation g (prepared in next_fd):
 * a PROT_NONE placeholder first, which unmaps the old generation and -
 * nothing else sharing this PMD - frees its page table; g is announced,
 * mapped with MAP_POPULATE (present PTEs for the lockless walkers) and
 * marked done; then the old generation's memfd is closed, which frees its
 * pages (unless a walker still holds them) for the next generation to
 * reuse.  False when the kernel refused.
 */
static bool remap_range(u64 g, int *cur_fd, int next_fd)
{
	if (mmap(range, RANGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0) ==
	    MAP_FAILED) {
		close(next_fd);
		return false;
	}
	int old_fd = *cur_fd;
	*cur_fd = next_fd;
	atomic_store_explicit(&gen_announced, g, memory_order_release);
	bool ok = mmap(range, RANGE, PROT_READ, MAP_SHARED | MAP_FIXED | MAP_POPULATE, next_fd, 0) != MAP_FAILED;
	if (ok) {
		atomic_store_explicit(&gen_done, g, memory_order_release);
		check_count(&counters[N_REMAP], 1);
	}
	if (old_fd >= 0)
		close(old_fd);
	return ok;
}

struct walker {
	pthread_t t;
	int idx, cpu;
	u64 rs;
	int pipe_r, pipe_w;
	u8 *buf;             /* MAX_GUP_PAGES pages, page aligned (O_DIRECT) */
};
static struct walker walkers[CHECK_MAX_THREADS];

/* Pages [first, first + n) as a walker got them at buf; false after a finding. */
static bool verify_pages(struct walker *wk, const char *how, const u8 *buf, u64 first, size_t n, u64 lo,
			 u64 hi)
{
	for (size_t j = 0; j < n; j++) {
		struct tag h, f;
		memcpy(&h, buf + j * PAGE, sizeof(h));
		memcpy(&f, buf + j * PAGE + PAGE - sizeof(f), sizeof(f));
		bool good = h.magic == TAG_MAGIC && h.check == ~(h.gen ^ h.index) && !memcmp(&h, &f, sizeof(h)) &&
			    h.index == first + j && h.gen >= lo && h.gen <= hi;
		if (good)
			continue;
		char what[256];
		snprintf(what, sizeof(what), "%s of page %" PRIu64 " of the PMD range gave a page tagged "
			 "generation %" PRIu64 " index %" PRIu64 "%s; generations mapped during the call: %" PRIu64
			 "..%" PRIu64, how, first + j, h.gen, h.index, h.magic == TAG_MAGIC ? "" : " (no tag)", lo,
			 hi);
		check_evidence("walker %d on CPU %d; range %p (2 MiB, PMD-aligned); head tag %016" PRIx64 " %"
			       PRIu64 " %" PRIu64 ", tail tag %016" PRIx64 " %" PRIu64 " %" PRIu64, wk->idx, wk->cpu,
			       (void *)range, h.magic, h.gen, h.index, f.magic, f.gen, f.index);
		oracle_walker_linearizable(what);
		return false;
	}
	return true;
}

static bool walk_once(struct walker *wk)
{
	u64 first = check_rand(&wk->rs) % RANGE_PAGES;
	size_t n = 1 + (size_t)(check_rand(&wk->rs) % MAX_GUP_PAGES);
	if (first + n > RANGE_PAGES)
		n = RANGE_PAGES - first;
	u8 *addr = range + first * PAGE;
	int how = (int)(check_rand(&wk->rs) % (direct_fd >= 0 ? 3 : 2));
	u64 lo = atomic_load_explicit(&gen_done, memory_order_acquire);
	ssize_t got;
	const char *name;

	if (how == 0) {
		/* the pipe holds references to the pages themselves */
		name = "vmsplice";
		struct iovec iov = { addr, n * PAGE };
		got = vmsplice(wk->pipe_w, &iov, 1, SPLICE_F_NONBLOCK);
	} else if (how == 1) {
		name = "process_vm_readv";
		struct iovec local = { wk->buf, n * PAGE }, remote = { addr, n * PAGE };
		got = process_vm_readv(getpid(), &local, 1, &remote, 1, 0);
	} else {
		name = "O_DIRECT write";
		got = pwrite(direct_fd, addr, n * PAGE, (off_t)wk->idx * MAX_GUP_PAGES * PAGE);
	}
	u64 hi = atomic_load_explicit(&gen_announced, memory_order_acquire);
	if (got < 0) {
		if (errno == EFAULT)
			check_count(&counters[N_EFAULT], 1);
		return true;
	}
	size_t pages = (size_t)got / PAGE;
	if (how == 0) {
		/* drain the whole transfer, even a partial last page */
		size_t left = (size_t)got, at = 0;
		while (left) {
			ssize_t r = read(wk->pipe_r, wk->buf + at, left);
			if (r <= 0)
				return true;
			left -= (size_t)r;
			at += (size_t)r;
		}
		check_count(&counters[N_VMSPLICE], pages);
	} else if (how == 2) {
		if (pages && pread(direct_fd, wk->buf, pages * PAGE, (off_t)wk->idx * MAX_GUP_PAGES * PAGE) !=
				     (ssize_t)(pages * PAGE))
			return true;
		check_count(&counters[N_ODIRECT], pages);
	} else {
		check_count(&counters[N_PVR], pages);
	}
	return verify_pages(wk, name, wk->buf, first, pages, lo, hi);
}

static void *walker_main(void *arg)
{
	struct walker *wk = arg;
	check_pin_self(wk->cpu);
	while (!atomic_load_explicit(&phase_over, memory_order_relaxed) && !check_stop())
		if (!walk_once(wk))
			break;
	return NULL;
}

/* The mutator: remap the range until the deadline, walkers pulling pages. */
static void gup_phase(u64 deadline)
{
	static u64 g;
	int cur_fd = -1, next_fd;
	int started = 0;
	atomic_store(&phase_over, false);
	if ((next_fd = make_generation(++g)) < 0 || !remap_range(g, &cur_fd, next_fd))
		goto out;
	for (int i = 0; i < nr_walkers; i++) {
		struct walker *wk = &walkers[i];
		wk->cpu = cpus[(i + 1) % nr_cpus];
		wk->rs = check_seed(seed, 0x77616c6bULL + (u64)i + (rounds << 16));
		if (!check_thread_start(&wk->t, walker_main, wk))
			break;
		started++;
	}
	while (!check_stop() && check_raw_ns() < deadline) {
		/* the next generation is written while this one stays mapped */
		if ((next_fd = make_generation(g + 1)) < 0)
			break;
		if (!remap_range(++g, &cur_fd, next_fd))
			break;
	}
out:
	atomic_store(&phase_over, true);
	for (int i = 0; i < started; i++)
		pthread_join(walkers[i].t, NULL);
	/* leave a placeholder, not pages: nothing of this round outlives it */
	mmap(range, RANGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0);
	if (cur_fd >= 0)
		close(cur_fd);
}

/* -------------------------------------------------------- the checker -- */

struct round_arg {
	u64 round_ns;
	int checker_cpu;
};

static void revocation_phase(u64 deadline, int checker_cpu)
{
	u64 rs = check_seed(seed, 0x7265766bULL + rounds);
	int started = 0;
	phase_deadline = deadline;
	atomic_store(&phase_over, false);
	install_fault_handler();
	for (int i = 0, k = 0; i < nr_writers; i++) {
		struct writer *w = &writers[i];
		if (cpus[k % nr_cpus] == checker_cpu)
			k++;
		w->cpu = cpus[k++ % nr_cpus];
		w->faults = 0;
		atomic_store(&targets[i], NULL);
		if (!check_thread_start(&w->t, writer_main, w))
			break;
		started++;
	}
	arena_next = 0;
	if (started == nr_writers) {
		for (u64 k = rs % NR_METHODS; !check_stop() && check_raw_ns() < deadline &&
					       arena_next + 2 <= ARENA_PAGES; k++) {
			enum method m = (enum method)(k % NR_METHODS);
			bool ok = m == M_DONTNEED ? dontneed_once() : revoke_once(m, checker_cpu, &rs);
			if (!ok)
				break;
		}
	}
	atomic_store(&phase_over, true);
	end_iteration();
	for (int i = 0; i < started; i++) {
		pthread_join(writers[i].t, NULL);
		check_count(&counters[N_FAULTS], writers[i].faults);
	}
	restore_fault_handler();
}

/* Rounds alternate: revocations and DONTNEED, then PMD ranges under walkers. */
static void *checker_main(void *arg)
{
	struct round_arg *ra = arg;
	check_pin_self(ra->checker_cpu);
	u64 deadline = check_raw_ns() + ra->round_ns;
	if (rounds % 2 == 0)
		revocation_phase(deadline, ra->checker_cpu);
	else
		gup_phase(deadline);
	return NULL;
}

static void tlb_round(u64 round_ns)
{
	struct round_arg ra = { round_ns, cpus[(rounds / 2) % (u64)nr_cpus] };
	pthread_t t;
	if (!check_thread_start(&t, checker_main, &ra))
		return;
	pthread_join(t, NULL);
	rounds++;
}

/* Sum of the "TLB shootdowns" line of /proc/interrupts (whole machine). */
static u64 tlb_shootdowns(void)
{
	FILE *f = fopen("/proc/interrupts", "r");
	char line[4096];
	u64 sum = 0;
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		char *s = line;
		while (*s == ' ')
			s++;
		if (strncmp(s, "TLB:", 4) != 0)
			continue;
		for (char *p = s + 4;;) {
			char *end;
			unsigned long long v = strtoull(p, &end, 10);
			if (end == p)
				break;
			sum += v;
			p = end;
		}
	}
	fclose(f);
	return sum;
}

/* A file that takes O_DIRECT writes from page-aligned memory, or a note why not. */
static void open_direct(void)
{
	const char *dirs[] = { getenv("TMPDIR"), "/var/tmp", "." };
	direct_note[0] = 0;
	for (size_t i = 0; i < ARRAY_SIZE(dirs) && direct_fd < 0; i++) {
		if (!dirs[i] || !*dirs[i])
			continue;
		int fd = open(dirs[i], O_TMPFILE | O_RDWR | O_DIRECT | O_CLOEXEC, 0600);
		if (fd < 0) {
			snprintf(direct_note, sizeof(direct_note), "O_DIRECT walker off: %s: %s", dirs[i],
				 strerror(errno));
			continue;
		}
		if (pwrite(fd, fill, PAGE, 0) != (ssize_t)PAGE) {
			snprintf(direct_note, sizeof(direct_note), "O_DIRECT walker off: write to %s: %s", dirs[i],
				 strerror(errno));
			close(fd);
			continue;
		}
		direct_fd = fd;
		direct_note[0] = 0;
	}
}

static bool tlb_setup(const struct check_opts *o, char *why, size_t n)
{
	nr_cpus = check_usable_cpus(cpus, CHECK_MAX_CPUS);
	if (nr_cpus < 2) {
		snprintf(why, n, "only %d CPU usable: a stale translation needs a writer on another CPU", nr_cpus);
		return false;
	}
	nr_writers = o->threads ? o->threads : nr_cpus - 1;
	if (nr_writers > CHECK_MAX_THREADS)
		nr_writers = CHECK_MAX_THREADS;
	/* one slot (cache line) per writer in the page's first half */
	if ((size_t)nr_writers * SLOT_WORDS * 8 > CANARY_OFF)
		nr_writers = (int)(CANARY_OFF / (SLOT_WORDS * 8));
	nr_walkers = nr_cpus;
	seed = o->seed;
	rounds = 0;

	if (memfd < 0) {
		memfd = memfd_create("pvfuzz-tlb", MFD_CLOEXEC);
		if (memfd < 0 || ftruncate(memfd, PAGE) != 0) {
			snprintf(why, n, "memfd_create: %s", strerror(errno));
			return false;
		}
		observer = mmap(NULL, PAGE, PROT_READ, MAP_SHARED, memfd, 0);
		if (observer == MAP_FAILED) {
			snprintf(why, n, "mmap of the observer alias: %s", strerror(errno));
			return false;
		}
	}
	if (!arena) {
		arena = mmap(NULL, ARENA_PAGES * PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
			     -1, 0);
		if (arena == MAP_FAILED) {
			arena = NULL;
			snprintf(why, n, "mmap of the address arena: %s", strerror(errno));
			return false;
		}
	}
	if (!range) {
		/* [placeholder PMD][the range][placeholder PMD], the range PMD-aligned */
		reservation = mmap(NULL, 4 * RANGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
				   -1, 0);
		fill = mmap(NULL, RANGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (reservation == MAP_FAILED || fill == MAP_FAILED) {
			snprintf(why, n, "mmap of the PMD range: %s", strerror(errno));
			return false;
		}
		range = (u8 *)(((uintptr_t)reservation + 2 * RANGE - 1) & ~(RANGE - 1));
		for (int i = 0; i < nr_walkers; i++) {
			int p[2];
			walkers[i].idx = i;
			walkers[i].buf = mmap(NULL, MAX_GUP_PAGES * PAGE, PROT_READ | PROT_WRITE,
					      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			if (walkers[i].buf == MAP_FAILED || pipe2(p, O_CLOEXEC) != 0) {
				snprintf(why, n, "walker set-up: %s", strerror(errno));
				return false;
			}
			fcntl(p[1], F_SETPIPE_SZ, (int)(MAX_GUP_PAGES * PAGE * 2));
			walkers[i].pipe_r = p[0];
			walkers[i].pipe_w = p[1];
		}
		memset(fill, 0, PAGE);
		open_direct();
	}
	for (int i = 0; i < nr_writers; i++) {
		writers[i].idx = i;
		atomic_store(&writers[i].pub, 0);
	}
	shootdowns0 = tlb_shootdowns();
	return true;
}

static void tlb_notes(FILE *f)
{
	u64 sd = tlb_shootdowns();
	fprintf(f, "  %d writer thread%s on the CPUs other than the revoking one, %d GUP walker%s; "
		"methods: %s, %s, %s, %s, %s\n", nr_writers, nr_writers == 1 ? "" : "s", nr_walkers,
		nr_walkers == 1 ? "" : "s", method_name[0], method_name[1], method_name[2], method_name[3],
		method_name[4]);
	if (direct_note[0])
		fprintf(f, "  %s\n", direct_note);
	if (sd)
		fprintf(f, "  /proc/interrupts TLB shootdowns during the run (whole machine): %" PRIu64 "\n",
			sd - shootdowns0);
}

const struct checker check_tlb = {
	.name = "tlb",
	.what = "TLB shootdown: stores through a revoked alias (mprotect/munmap/mremap), "
		"MADV_DONTNEED zero pages, PMD-range freeing under GUP walkers",
	.setup = tlb_setup,
	.round = tlb_round,
	.notes = tlb_notes,
	.counters = counters,
	.injections = injections,
};
