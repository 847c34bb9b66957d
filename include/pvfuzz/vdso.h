/* SPDX-License-Identifier: MIT */
/*
 * The generic vDSO data page and its timekeeping writer: the interface every
 * reader and writer - built in or your own file - is written against (see
 * docs/byo.md).  Include only this header.
 *
 * A READER is the user-space half of clock_gettime() (lib/vdso/
 * gettimeofday.c with x86's asm/vdso/gettimeofday.h): it gets the data page
 * (and, for VDSO_CLOCKMODE_PVCLOCK, the guest's kvmclock records) and
 * returns true with the time, or false to say "make the system call", as
 * __cvdso_clock_gettime_common() does:
 *
 *	static bool my_gettime(const struct vdso_user *u, clockid_t clock,
 *			       struct timespec64 *ts)
 *	{ ... READ_ONCE(vc->seq) ... __arch_get_hw_counter(mode, u) ... }
 *	VDSO_READER(my_reader, my_gettime, .expect = "safe", .history = "...");
 *
 * A WRITER is the kernel's update_vsyscall() (kernel/time/vsyscall.c): the
 * timekeeper calls it inside its own write section on every tick,
 * settimeofday, adjtimex and clocksource change, with the new timekeeper
 * state:
 *
 *	static void my_update(struct vdso_time_data *vd, const struct timekeeper *tk)
 *	{ vdso_write_begin(vd); ... vdso_write_end(vd); }
 *	static const struct vdso_writer_ops my_ops = { .update_vsyscall = my_update };
 *	VDSO_WRITER(my_writer, my_ops, .expect = "safe", .history = "...");
 *
 * Rules (compat.h): shared fields through READ_ONCE/WRITE_ONCE or
 * vdso_store(), one shared access per statement, the kernel's barriers, the
 * counter from __arch_get_hw_counter() (which reads the TSC or kvmclock the
 * way the x86 vDSO does).
 */
#ifndef PVFUZZ_VDSO_H
#define PVFUZZ_VDSO_H

#include "pvfuzz/clock_math.h"
#include "pvfuzz/compat.h"
#include "pvfuzz/pvclock.h"
#include "pvfuzz/timekeeping.h"
#include "pvfuzz/variant.h"
#include "pvfuzz/vdso_datapage.h"

/* ------------------------------------------------------------- user --- */

/* What the vDSO sees: the vvar page and, for kvmclock, the pvclock page. */
struct vdso_user {
	const struct vdso_time_data *vd;
	struct pvclock_guest *pvclock;                  /* hv_clock_boot[], mapped as vvar */
	const struct pvclock_reader_ops *vread_pvclock; /* the vDSO's kvmclock read */
};

struct vdso_reader_ops {
	/* __cvdso_clock_gettime_common(): true and *ts, or false (the syscall) */
	bool (*clock_gettime)(const struct vdso_user *u, clockid_t clock, struct timespec64 *ts);
};

/*
 * x86 __arch_get_hw_counter(): the TSC (bit 63 never set), or kvmclock's
 * vread_pvclock() (U64_MAX when the record is not STABLE); U64_MAX for any
 * other mode.  (VDSO_CLOCKMODE_HVCLOCK is not modelled here.)  The barrier:
 * the compiler may not hoist the page loads of vread_pvclock() above the
 * clock_mode check.  A macro, so the trace names the caller's line.
 */
#define __arch_get_hw_counter(clock_mode, u)                                  \
	({                                                                    \
		s32 __hm = (clock_mode);                                      \
		const struct vdso_user *__hu = (u);                           \
		u64 __hc = U64_MAX;                                           \
		if (likely(__hm == VDSO_CLOCKMODE_TSC)) {                     \
			__hc = (u64)rdtsc_ordered() & S64_MAX;                \
		} else {                                                      \
			barrier();                                            \
			if (__hm == VDSO_CLOCKMODE_PVCLOCK && __hu->pvclock)  \
				__hc = __hu->vread_pvclock->read(__hu->pvclock); \
		}                                                             \
		__hc;                                                         \
	})

/* arch_vdso_cycles_ok(): bit 63 marks an invalid counter value */
static inline bool vdso_cycles_ok(u64 cycles)
{
	return (s64)cycles >= 0;
}

/* include/linux/math64.h */
static inline u64 mul_u64_u32_add_u64_shr(u64 a, u32 mul, u64 b, unsigned int shift)
{
	return (u64)((((u128)a * mul) + b) >> shift);
}

/*
 * __iter_div_u64_rem(): the kernel subtracts NSEC_PER_SEC in a loop,
 * expecting one or two rounds; the quotient is the same by division, which
 * keeps a wild ns from hanging the model (the loop is no scheduling point).
 */
static inline u64 __iter_div_u64_rem(u64 dividend, u32 divisor, u64 *remainder)
{
	*remainder = dividend % divisor;
	return dividend / divisor;
}

/*
 * vdso_read_begin()/vdso_read_retry() (include/vdso/helpers.h), as macros so
 * the trace names the caller's line.
 */
#define vdso_read_begin(vc)                                                   \
	({                                                                    \
		u32 __seq;                                                    \
		while (unlikely((__seq = READ_ONCE((vc)->seq)) & 1))          \
			cpu_relax();                                          \
		smp_rmb();                                                    \
		__seq;                                                        \
	})

#define vdso_read_retry(vc, start)                                            \
	({                                                                    \
		smp_rmb();                                                    \
		READ_ONCE((vc)->seq) != (start);                              \
	})

/* The mainline building blocks (src/clock/vdso_kernel.c), for reuse. */
/* x86 vdso_calc_ns(): the negative-motion clamp and the 128-bit slow path */
u64 vdso_calc_ns(const struct vdso_clock *vc, u64 cycles, u64 base);
bool do_hres(const struct vdso_user *u, const struct vdso_clock *vc, clockid_t clk, struct timespec64 *ts);
bool do_coarse(const struct vdso_user *u, const struct vdso_clock *vc, clockid_t clk, struct timespec64 *ts);
bool __cvdso_clock_gettime_common(const struct vdso_user *u, clockid_t clock, struct timespec64 *ts);

/* ----------------------------------------------------------- kernel --- */

/*
 * A plain store to the data page (the kernel's `vc->x = v`): the compiler
 * may move it anywhere between the smp_wmb()s of vdso_write_begin/end.
 */
#define vdso_store(field, v)                                                  \
	do {                                                                  \
		__typeof__(field) __vv = (v);                                 \
		pv_memcpy(&(field), &__vv, sizeof(__vv));                     \
	} while (0)

/* vdso_write_begin()/vdso_write_end(): both clock bases odd, then even */
#define vdso_write_begin(vd)                                                  \
	do {                                                                  \
		struct vdso_clock *__wc = (vd)->clock_data;                   \
		for (int __i = 0; __i < CS_BASES; __i++)                      \
			WRITE_ONCE(__wc[__i].seq, READ_ONCE(__wc[__i].seq) + 1); \
		smp_wmb();                                                    \
	} while (0)

#define vdso_write_end(vd)                                                    \
	do {                                                                  \
		struct vdso_clock *__wc = (vd)->clock_data;                   \
		smp_wmb();                                                    \
		for (int __i = 0; __i < CS_BASES; __i++)                      \
			WRITE_ONCE(__wc[__i].seq, READ_ONCE(__wc[__i].seq) + 1); \
	} while (0)

struct vdso_writer_ops {
	/* update_vsyscall(): NULL means mainline */
	void (*update_vsyscall)(struct vdso_time_data *vd, const struct timekeeper *tk, u32 hrtimer_res);
};

/* The mainline writer (kernel/time/vsyscall.c, v6.17) and its hres part. */
void update_vsyscall(struct vdso_time_data *vd, const struct timekeeper *tk, u32 hrtimer_res);
void update_vdso_time_data(struct vdso_time_data *vd, const struct timekeeper *tk);

/*
 * clock_gettime(2) in the kernel (posix_get_*): the syscall a reader falls
 * back to, and the oracles' reference.  Returns false for an invalid clock.
 */
bool kernel_clock_gettime(struct timekeeping *tkd, clockid_t clock, struct timespec64 *ts);

/* Registration helpers; the remaining arguments initialise struct pv_variant. */
#define VDSO_READER(var, fn, ...)                                             \
	static const struct vdso_reader_ops var##_ops = { .clock_gettime = fn }; \
	static const struct pv_variant var = {                                \
		.name = #var, .protocol = PV_VDSO, .role = PV_READER,         \
		.ops = &var##_ops, .file = __FILE__, __VA_ARGS__              \
	};                                                                    \
	PV_REGISTER(var)

#define VDSO_WRITER(var, ops_, ...)                                           \
	static const struct pv_variant var = {                                \
		.name = #var, .protocol = PV_VDSO, .role = PV_WRITER,         \
		.ops = &(ops_), .file = __FILE__, __VA_ARGS__                 \
	};                                                                    \
	PV_REGISTER(var)

#endif
