/* SPDX-License-Identifier: MIT */
/*
 * The perf_event mmap page's time and count fields: the interface every
 * reader and writer - built in or your own file - is written against (see
 * docs/byo.md).  Include only this header.
 *
 * A READER is user-space code that got the page from mmap() of a perf event
 * fd: the self-monitoring read of include/uapi/linux/perf_event.h and
 * libperf's perf_mmap__read_self(), or perf's TSC conversion
 * (tools/perf/util/tsc.c).  It fills struct perf_user_read and returns true,
 * or returns false to say "use the system call" (read(2) on the fd):
 *
 *	static bool my_read(const struct perf_event_mmap_page *pc,
 *			    const struct perf_user_clock *uc, struct perf_user_read *r)
 *	{ ... READ_ONCE(pc->lock) ... perf_read_counter(uc) ... }
 *	PERF_READER(my_reader, my_read, false, .expect = "safe", .history = "...");
 *
 * The third argument says whether the reader is meant for the page of an
 * event on another CPU (perf's TSC conversion of a per-CPU event); a
 * self-monitoring reader (false) runs on the event's own CPU only, where the
 * kernel rewrites the page from interrupts and the context switch: from the
 * reader's point of view every update is atomic.
 *
 * A WRITER is the kernel: perf_event_update_userpage() (the lock, index,
 * offset, time_enabled, time_running) and the architecture's
 * arch_perf_update_userpage() (the time_* fields and capability bits), in one
 * of two kernel worlds: x86 (TSC, cyc2ns, sched_clock_stable) or arm64 (the
 * architected counter of any width behind the generic sched_clock).  It fills
 * struct perf_writer_ops with what its patch changes; NULL members are
 * mainline's:
 *
 *	static void my_arch_update(struct perf_kernel *k, struct perf_event_mmap_page *userpg,
 *				   u64 now) { ... }
 *	static const struct perf_writer_ops my_ops = {
 *		.arch = PERF_ARCH_X86, .arch_update_userpage = my_arch_update };
 *	PERF_WRITER(my_writer, my_ops, .expect = "safe", .history = "...");
 *
 * Rules (compat.h): every page field through READ_ONCE/WRITE_ONCE or
 * perf_page_store(), one shared access per statement, the kernel's
 * barriers, the counter from perf_read_counter().
 */
#ifndef PVFUZZ_PERF_TIME_H
#define PVFUZZ_PERF_TIME_H

#include "pvfuzz/clock_math.h"
#include "pvfuzz/compat.h"
#include "pvfuzz/perf_event_abi.h"
#include "pvfuzz/timekeeping.h" /* clocks_calc_mult_shift() */
#include "pvfuzz/variant.h"

/* ------------------------------------------------------------- user --- */

/*
 * The counter the page converts: x86's TSC (offset 0, mask ~0), arm64's
 * virtual counter CNTVCT_EL0 (any start, width 32-64 bits).  In both worlds
 * it is the CPU's time stamp counter seen through (tsc + offset) & mask.
 */
struct perf_user_clock {
	u64 offset;
	u64 mask;
	/* rdpmc: hardware counter idx of the calling CPU, raw (pmc_width bits) */
	u64 (*rdpmc)(const struct perf_user_clock *uc, u32 idx);
};

/* rdtsc() / read_sysreg(cntvct_el0): a plain counter read (a macro: traced at the caller's line). */
#define perf_read_counter(uc)                                                 \
	({                                                                    \
		const struct perf_user_clock *__prc = (uc);                   \
		(rdtsc() + __prc->offset) & __prc->mask;                      \
	})

static inline u64 perf_rdpmc(const struct perf_user_clock *uc, u32 idx)
{
	return uc->rdpmc(uc, idx);
}

/* What a reader computed (struct perf_user_read flags). */
#define PERF_READ_TIMES 0x1 /* enabled/running: the page's time_enabled/time_running */
#define PERF_READ_TIME 0x2  /* ... extrapolated to cyc with time_offset (cap_user_time) */
#define PERF_READ_ZERO 0x4  /* timestamp: the perf clock at cyc (cap_user_time_zero) */
#define PERF_READ_COUNT 0x8 /* count: the event count now (offset, + rdpmc when index) */

struct perf_user_read {
	unsigned flags;
	u64 cyc;       /* the counter value it converted, as read (before any fold) */
	u64 enabled;
	u64 running;
	u64 timestamp;
	u64 count;
};

struct perf_reader_ops {
	bool (*read)(const struct perf_event_mmap_page *pc, const struct perf_user_clock *uc,
		     struct perf_user_read *r);
	bool cross_cpu; /* for the page of an event on another CPU too */
};

/* The documented conversion: quot/rem so that cyc * mult never overflows. */
static inline u64 perf_cyc_to_ns(u64 cyc, u32 time_mult, u16 time_shift)
{
	u64 quot = cyc >> time_shift;
	u64 rem = cyc & (((u64)1 << time_shift) - 1);
	return quot * time_mult + ((rem * time_mult) >> time_shift);
}

/* ---------------------------------------------------------- kernel --- */

enum perf_arch { PERF_ARCH_X86, PERF_ARCH_ARM64 };

/* enum perf_event_state */
#define PERF_EVENT_STATE_OFF (-1)
#define PERF_EVENT_STATE_INACTIVE 0
#define PERF_EVENT_STATE_ACTIVE 1

/* x86 arch/x86/kernel/tsc.c: the per-CPU cyc2ns latch (only the event CPU's) */
struct cyc2ns_data {
	u32 cyc2ns_mul;
	u32 cyc2ns_shift;
	u64 cyc2ns_offset;
};

struct cyc2ns {
	struct cyc2ns_data data[2];
	seqcount_t seq; /* seqcount_latch_t */
};

/* kernel/time/sched_clock.c: the generic sched_clock (arm64) */
#define SCHED_CLOCK_ARCH_TIMER 1 /* read_sched_clock == arch_timer_read_counter */
#define SCHED_CLOCK_JIFFIES 2    /* jiffy_sched_clock_read: no counter user space sees */

struct clock_read_data {
	u64 epoch_ns;
	u64 epoch_cyc;
	u64 sched_clock_mask;
	u64 read_sched_clock; /* which counter: SCHED_CLOCK_* */
	u32 mult;
	u32 shift;
};

struct clock_data {
	seqcount_t seq; /* seqcount_latch_t */
	struct clock_read_data read_data[2];
	u32 rate;
};

/* The event (struct perf_event) and its task context, as far as the page shows them. */
struct perf_event_model {
	int state;
	u64 total_time_enabled;
	u64 total_time_running;
	u64 tstamp;                 /* context time of the last state change */
	u64 child_total_time_enabled;
	u64 child_total_time_running;
	s64 count;                  /* local64 event->count */
	u64 prev_count;             /* hw.prev_count: the raw counter at the last read */
	int idx;                    /* hw.idx: the PMC it occupies while ACTIVE */
	bool use_clockid;           /* attr.use_clockid: samples in another clock */
	bool user_read;             /* rdpmc allowed (PERF_EVENT_FLAG_USER_READ_CNT) */
	bool pmc_64bit;             /* arm64: a chained 64-bit counter (ARMPMU_EVT_64BIT) */
	struct perf_event_mmap_page *userpg;
};

struct perf_event_context {
	bool is_active;     /* the task is on its CPU */
	u64 time;           /* context time so far */
	u64 timestamp;      /* perf_clock() when time was last brought up to date */
};

struct perf_writer_ops;

/*
 * The kernel a writer runs in.  The event and its context live on the event
 * CPU and change only in its interrupt-off sections; the clock state
 * (sched_clock latch, sched_clock_stable) is written by other CPUs.
 */
struct perf_kernel {
	enum perf_arch arch;
	struct perf_event_model event;
	struct perf_event_context ctx;
	/* x86 */
	struct cyc2ns cyc2ns;
	u64 sched_clock_offset;   /* __sched_clock_offset */
	int sched_clock_stable;   /* the __sched_clock_stable static key */
	bool native_sched_clock;  /* !paravirt sched_clock (a KVM guest's is kvmclock) */
	u16 cntval_bits;          /* x86_pmu.cntval_bits */
	u64 period;               /* hw.sample_period: the counter overflows after it */
	bool no_counter;          /* multiplexing: another event holds the only counter */
	/* arm64 */
	struct clock_data cd;
	/* the world: the counter, and the PMU of the event CPU */
	const struct perf_user_clock *clock;
	u64 (*pmc_read)(struct perf_kernel *k);            /* rdpmc of event.idx */
	void (*pmc_start)(struct perf_kernel *k, u64 raw); /* program and start it */
	void (*pmc_stop)(struct perf_kernel *k);
	/* the writer, perf_writer_ops_resolve()d */
	const struct perf_writer_ops *ops;
	void *world;
};

/*
 * A writer: arch picks the kernel world; every function member is optional,
 * NULL meaning mainline (the function named in its comment).
 */
struct perf_writer_ops {
	enum perf_arch arch;
	/* perf_event_update_userpage(): lock, index, offset, enabled, running, arch part */
	void (*update_userpage)(struct perf_kernel *k);
	/* arch_perf_update_userpage(): the time fields and capability bits */
	void (*arch_update_userpage)(struct perf_kernel *k, struct perf_event_mmap_page *userpg, u64 now);
	/*
	 * ctx_sched_in() found no counter for the event (multiplexing), so it
	 * stays INACTIVE: event_update_userpage() (f79256532682)
	 */
	void (*sched_in_inactive)(struct perf_kernel *k);
};

void perf_writer_ops_resolve(struct perf_writer_ops *out, const struct perf_writer_ops *ops);

/*
 * A plain store to a page field (the kernel's `userpg->x = v`): the compiler
 * may move it anywhere between the surrounding barrier()s, which is what the
 * two barrier() calls around the fields in perf_event_update_userpage() are for.
 */
#define perf_page_store(field, v)                                             \
	do {                                                                  \
		__typeof__(field) __pv = (v);                                 \
		pv_memcpy(&(field), &__pv, sizeof(__pv));                     \
	} while (0)

/*
 * userpg->cap_x = v on the bitfield word: a read-modify-write by its only
 * writer.  perf_page_set_caps() is several adjacent ones, which the compiler
 * merges into one: clear the bits of clr, then set those of set.
 */
#define perf_page_set_caps(userpg, clr, set)                                  \
	do {                                                                  \
		struct perf_event_mmap_page *__psp = (userpg);                \
		u64 __psclr = (clr), __psset = (set);                         \
		u64 __pscaps = READ_ONCE(__psp->capabilities);                \
		perf_page_store(__psp->capabilities, (__pscaps & ~__psclr) | __psset); \
	} while (0)

#define perf_page_set_cap(userpg, bit, on)                                    \
	do {                                                                  \
		u64 __pcbit = (bit);                                          \
		perf_page_set_caps((userpg), __pcbit, (on) ? __pcbit : 0);    \
	} while (0)

/* ---- mainline building blocks (src/clock/perf_kernel.c, v6.17) ---- */

/* perf_clock(): local_clock() (x86) / sched_clock() (arm64) */
u64 perf_clock(struct perf_kernel *k);
/* calc_timer_values(): now, and the event's enabled/running times at now */
void calc_timer_values(struct perf_kernel *k, u64 *now, u64 *enabled, u64 *running);
/* perf_event_index(): hw index + 1 while ACTIVE and user-readable, else 0 */
u32 perf_event_index(struct perf_kernel *k);
/* perf_event_count(event, false) */
s64 perf_event_count(struct perf_kernel *k);
void perf_event_update_userpage(struct perf_kernel *k);
/* event_update_userpage(): perf_event_update_time(), then the page */
void event_update_userpage(struct perf_kernel *k);
/* perf_event_update_time() */
void perf_event_update_time(struct perf_kernel *k);
/* What the kernel's writer does there (k->ops, or mainline). */
void arch_perf_update_userpage(struct perf_kernel *k, struct perf_event_mmap_page *userpg, u64 now);
/* The two arch implementations. */
void x86_arch_perf_update_userpage(struct perf_kernel *k, struct perf_event_mmap_page *userpg, u64 now);
void arm64_arch_perf_update_userpage(struct perf_kernel *k, struct perf_event_mmap_page *userpg, u64 now);

/* x86 */
void cyc2ns_read_begin(struct perf_kernel *k, struct cyc2ns_data *data);
void cyc2ns_read_end(struct perf_kernel *k);
bool using_native_sched_clock(struct perf_kernel *k);
bool sched_clock_stable(struct perf_kernel *k);
/* arm64 */
struct clock_read_data *sched_clock_read_begin(struct perf_kernel *k, unsigned *seq);
bool sched_clock_read_retry(struct perf_kernel *k, unsigned seq);
/* cyc_to_ns() of kernel/time/sched_clock.c: a 64-bit product, exact within wrap_kt */
static inline u64 sched_cyc_to_ns(u64 cyc, u32 mult, u32 shift)
{
	return (cyc * mult) >> shift;
}

/* ---- what the rest of the kernel does to the event (perf core, scheduler) ---- */

/* on the event CPU with IRQs off */
void perf_event_sched_out(struct perf_kernel *k);  /* the task leaves its CPU */
void perf_event_sched_in(struct perf_kernel *k);   /* ... and comes back */
void perf_event_rotate(struct perf_kernel *k);     /* multiplexing: ACTIVE <-> INACTIVE */
void perf_event_toggle(struct perf_kernel *k);     /* ioctl DISABLE / ENABLE */
void perf_event_overflow(struct perf_kernel *k);   /* the PMI: count, new period, page */
void perf_event_period(struct perf_kernel *k, u64 period); /* PERF_EVENT_IOC_PERIOD */
/* the width of the event's counter: x86_pmu.cntval_bits, arm64 32 or 64 */
unsigned perf_pmc_bits(const struct perf_kernel *k);
/* any CPU */
void update_sched_clock(struct perf_kernel *k);     /* arm64: the sched_clock epoch timer */
void clear_sched_clock_stable(struct perf_kernel *k); /* x86: the TSC was marked unstable */

/* Registration helpers; the remaining arguments initialise struct pv_variant. */
#define PERF_READER(var, fn, cross, ...)                                      \
	static const struct perf_reader_ops var##_ops = { .read = fn, .cross_cpu = cross }; \
	static const struct pv_variant var = {                                \
		.name = #var, .protocol = PV_PERF_TIME, .role = PV_READER,    \
		.ops = &var##_ops, .file = __FILE__, __VA_ARGS__              \
	};                                                                    \
	PV_REGISTER(var)

#define PERF_WRITER(var, ops_, ...)                                           \
	static const struct pv_variant var = {                                \
		.name = #var, .protocol = PV_PERF_TIME, .role = PV_WRITER,    \
		.ops = &(ops_), .file = __FILE__, __VA_ARGS__                 \
	};                                                                    \
	PV_REGISTER(var)

#endif
