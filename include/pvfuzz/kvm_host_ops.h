/* SPDX-License-Identifier: MIT */
/*
 * The operations a kvmclock scenario is made of, and their byte encoding:
 * what the VMM does to the VM (ioctls), what the host kernel does under it
 * (its clock), what KVM does on its own (requests), and what the guest does
 * to its side of the interface (MSR writes, GUEST_STOPPED).  One encoding
 * for every world: the simulator's pvclock and hv_tscpage harnesses decode
 * their scenario from it, and the real-KVM VMM (`./pvfuzz kvm`) decodes the
 * same bytes into real ioctls, so a simulator finding can be replayed
 * against the real KVM.  Pure header: types only, no world.
 *
 * Encoding, op by op (every byte string is a valid op list: a missing byte
 * reads as 0):
 *
 *   byte 0   kind  (mod KVM_HOP_NR)
 *   byte 1   arg   (per kind: vCPU, mode bits - see each kind)
 *   byte 2   delay (low 4 bits: how long the host idles before the op - the
 *            simulator that many scheduling steps, a real VMM that many x 100 us)
 *   bytes 3.. value, little endian, kvm_host_op_value_bytes(kind) bytes (0, 4 or 8)
 *
 * Values are chosen so that a fuzzer starting from zeros meets the normal
 * cases first (delta 0, "the current value") and reaches any value (a
 * clock of 0, far backwards, 2^63) by mutation.
 */
#ifndef PVFUZZ_KVM_HOST_OPS_H
#define PVFUZZ_KVM_HOST_OPS_H

#include "pvfuzz/types.h"

/* Who performs an op: a world that cannot do one says so and skips it. */
#define KVM_HOP_BY_VMM   0x1 /* a VMM ioctl (KVM_SET_CLOCK, KVM_SET_MSRS, ...) */
#define KVM_HOP_BY_HOST  0x2 /* the host kernel (its timekeeper): not on a real machine */
#define KVM_HOP_BY_KVM   0x4 /* KVM on its own (a request, a worker) */
#define KVM_HOP_BY_GUEST 0x8 /* the guest, on vCPU arg & 3 */

enum kvm_host_op_kind {
	/* ---- KVM on its own ---- */
	/*
	 * kvm_update_masterclock() (KVM_REQ_MASTERCLOCK_UPDATE: a TSC write
	 * changed matching, a host clocksource change, the Hyper-V page MSR).
	 */
	KVM_HOP_MASTERCLOCK_UPDATE,
	/* KVM_REQ_CLOCK_UPDATE on vCPU arg & 3 (vCPU load on another pCPU, kvmclock_sync_fn) */
	KVM_HOP_CLOCK_UPDATE,
	/* kvmclock_update_work: KVM_REQ_CLOCK_UPDATE on every vCPU, no new master copy */
	KVM_HOP_GLOBAL_CLOCK_UPDATE,

	/* ---- the VMM ---- */
	/*
	 * KVM_SET_CLOCK.  arg bits 0-1 say what the clock is set to:
	 *   0  the current kvmclock (KVM_GET_CLOCK now) + value ns (s64)
	 *   1  value ns, absolute (u64: 0, far behind, far ahead)
	 *   2  the last KVM_HOP_GET_CLOCK result + value ns: a stale value, as
	 *      a VMM restoring a saved clock does (behind by the time since)
	 *   3  0
	 * arg bit 2: KVM_CLOCK_REALTIME, with realtime = the host CLOCK_REALTIME
	 * of the same reading, so KVM adds the host time elapsed since.
	 */
	KVM_HOP_SET_CLOCK,
	/* KVM_GET_CLOCK (remembered for arg mode 2 of a later SET_CLOCK) */
	KVM_HOP_GET_CLOCK,
	/* KVM_KVMCLOCK_CTRL on vCPU arg & 3: "the host paused this vCPU" -> GUEST_STOPPED */
	KVM_HOP_KVMCLOCK_CTRL,
	/*
	 * Host-initiated MSR_IA32_TSC write (KVM_SET_MSRS) on vCPU arg & 3, through
	 * KVM's TSC synchronisation.  arg bits 2-3:
	 *   0  the vCPU's current TSC (a VMM re-writing what it read: matched)
	 *   1  the vCPU's current TSC + value cycles (s64): close writes are
	 *      matched (the 1-second slop), far ones start a new generation
	 *   2  value, absolute
	 *   3  0 (vCPU reset: always synchronised)
	 */
	KVM_HOP_WRITE_TSC,
	/*
	 * Live migration onto the same host: save (KVM_GET_CLOCK with
	 * realtime, every vCPU's TSC), every vCPU stopped for value us (u32),
	 * restore (MSR_IA32_TSC writes of the saved TSCs with the registers,
	 * then KVM_SET_CLOCK and KVM_KVMCLOCK_CTRL on every vCPU when the VM
	 * continues, as QEMU does).  arg bit 0:
	 * restore with KVM_CLOCK_REALTIME (the clock advances by the blackout);
	 * without it the saved value comes back (kvmclock steps back by the
	 * blackout as seen by the guest - what QEMU without realtime does).
	 * arg bit 1: the source host's CLOCK_REALTIME was (s16)(value >> 8) us
	 * off this host's (two hosts' clocks never agree exactly): the saved
	 * realtime carries that error.
	 */
	KVM_HOP_MIGRATE,
	/* vCPU arg & 3's thread is descheduled for value us (u32), then KVM_KVMCLOCK_CTRL if arg bit 2 */
	KVM_HOP_PAUSE_VCPU,

	/* ---- the host kernel (its timekeeper; a real VMM cannot do these) ---- */
	/* adjtimex(ADJ_FREQUENCY): value ppb (s32), clamped to +-500 ppm */
	KVM_HOP_HOST_NTP_FREQ,
	/* settimeofday(): CLOCK_REALTIME += value ns (s64) */
	KVM_HOP_HOST_SETTIME,
	/* the host's clocksource becomes arg & 1 ? a non-TSC one (HPET) : the TSC */
	KVM_HOP_HOST_CLOCKSOURCE,
	/* host suspend/resume: value us (u32) of sleep added to BOOTTIME */
	KVM_HOP_HOST_SUSPEND,

	/* ---- the guest (performed by a guest task on vCPU arg & 3) ---- */
	/*
	 * wrmsr(MSR_KVM_SYSTEM_TIME_NEW, ...) on vCPU arg & 3.  arg bits 2-3:
	 *   0  disable (0): CPU offline, kexec/shutdown, hibernate
	 *   1  enable at the vCPU's usual record (boot, CPU online, resume)
	 *   2  enable at a record slot elsewhere (value & 7: kexec into a kernel
	 *      with another layout, or a per-CPU area allocated anew)
	 *   3  the guest reuses the memory of the vCPU's disabled record for
	 *      other data (writes value over it), then re-enables as 1
	 */
	KVM_HOP_GUEST_KVMCLOCK_MSR,
	/* wrmsr(HV_X64_MSR_REFERENCE_TSC): arg bit 2 ? enable : disable */
	KVM_HOP_GUEST_HV_TSC_MSR,
	/* the guest's watchdog path: kvm_check_and_clear_guest_paused() on vCPU arg & 3 */
	KVM_HOP_GUEST_CHECK_PAUSED,

	KVM_HOP_NR
};

/* How many value bytes follow the three fixed ones. */
static inline unsigned kvm_host_op_value_bytes(enum kvm_host_op_kind k)
{
	switch (k) {
	case KVM_HOP_SET_CLOCK:
	case KVM_HOP_WRITE_TSC:
	case KVM_HOP_HOST_SETTIME:
		return 8;
	case KVM_HOP_MIGRATE:
	case KVM_HOP_PAUSE_VCPU:
	case KVM_HOP_HOST_NTP_FREQ:
	case KVM_HOP_HOST_SUSPEND:
	case KVM_HOP_GUEST_KVMCLOCK_MSR:
		return 4;
	default:
		return 0;
	}
}

static inline unsigned kvm_host_op_who(enum kvm_host_op_kind k)
{
	switch (k) {
	case KVM_HOP_MASTERCLOCK_UPDATE:
	case KVM_HOP_CLOCK_UPDATE:
	case KVM_HOP_GLOBAL_CLOCK_UPDATE:
		return KVM_HOP_BY_KVM;
	case KVM_HOP_SET_CLOCK:
	case KVM_HOP_GET_CLOCK:
	case KVM_HOP_KVMCLOCK_CTRL:
	case KVM_HOP_WRITE_TSC:
	case KVM_HOP_MIGRATE:
	case KVM_HOP_PAUSE_VCPU:
		return KVM_HOP_BY_VMM;
	case KVM_HOP_HOST_NTP_FREQ:
	case KVM_HOP_HOST_SETTIME:
	case KVM_HOP_HOST_CLOCKSOURCE:
	case KVM_HOP_HOST_SUSPEND:
		return KVM_HOP_BY_HOST;
	default:
		return KVM_HOP_BY_GUEST;
	}
}

static inline const char *kvm_host_op_name(enum kvm_host_op_kind k)
{
	static const char *const names[KVM_HOP_NR] = {
		"masterclock_update", "clock_update", "global_clock_update",
		"KVM_SET_CLOCK", "KVM_GET_CLOCK", "KVM_KVMCLOCK_CTRL", "MSR_IA32_TSC write",
		"migrate", "pause_vcpu",
		"host adjtimex freq", "host settimeofday", "host clocksource", "host suspend",
		"guest wrmsr SYSTEM_TIME_NEW", "guest wrmsr REFERENCE_TSC", "guest check_and_clear_paused",
	};
	return (unsigned)k < KVM_HOP_NR ? names[k] : "?";
}

/* KVM_HOP_SET_CLOCK arg bits */
#define KVM_HOP_SET_CLOCK_MODE(arg) ((arg) & 3)
#define KVM_HOP_SET_CLOCK_RELATIVE 0
#define KVM_HOP_SET_CLOCK_ABSOLUTE 1
#define KVM_HOP_SET_CLOCK_STALE 2
#define KVM_HOP_SET_CLOCK_ZERO 3
#define KVM_HOP_SET_CLOCK_REALTIME 0x4
/* KVM_HOP_WRITE_TSC arg bits 2-3 */
#define KVM_HOP_TSC_MODE(arg) (((arg) >> 2) & 3)
#define KVM_HOP_TSC_SAME 0
#define KVM_HOP_TSC_DELTA 1
#define KVM_HOP_TSC_ABSOLUTE 2
#define KVM_HOP_TSC_ZERO 3
/* KVM_HOP_GUEST_KVMCLOCK_MSR arg bits 2-3 */
#define KVM_HOP_MSR_MODE(arg) (((arg) >> 2) & 3)
#define KVM_HOP_MSR_DISABLE 0
#define KVM_HOP_MSR_ENABLE 1
#define KVM_HOP_MSR_ENABLE_ELSEWHERE 2
#define KVM_HOP_MSR_REUSE 3

#define KVM_HOP_FIXED_BYTES 3

struct kvm_host_op {
	enum kvm_host_op_kind kind;
	u8 arg;
	u8 delay; /* low 4 bits used */
	u64 value;
};

static inline int kvm_host_op_vcpu(const struct kvm_host_op *op, int nr_vcpus)
{
	return nr_vcpus > 0 ? (op->arg & 3) % nr_vcpus : 0;
}

static inline s64 kvm_host_op_s64(const struct kvm_host_op *op)
{
	return (s64)op->value;
}

/* A 4-byte value sign-extended (NTP frequency). */
static inline s64 kvm_host_op_s32(const struct kvm_host_op *op)
{
	return (s64)(s32)(u32)op->value;
}

/*
 * Decode one op from p[0..len).  Missing bytes read as 0.  Returns the
 * bytes consumed (never more than len), so a caller walks a buffer with it.
 */
static inline size_t kvm_host_op_decode(const u8 *p, size_t len, struct kvm_host_op *op)
{
	size_t i = 0;
	u8 fixed[KVM_HOP_FIXED_BYTES] = { 0 };
	unsigned nv;

	for (; i < KVM_HOP_FIXED_BYTES && i < len; i++)
		fixed[i] = p[i];
	op->kind = (enum kvm_host_op_kind)(fixed[0] % KVM_HOP_NR);
	op->arg = fixed[1];
	op->delay = fixed[2] & 15;
	op->value = 0;
	nv = kvm_host_op_value_bytes(op->kind);
	for (unsigned b = 0; b < nv; b++, i++)
		if (i < len)
			op->value |= (u64)p[i] << (8 * b);
	return i < len ? i : len;
}

/*
 * The inverse of kvm_host_op_decode() for an op with kind < KVM_HOP_NR and
 * delay < 16: writes its KVM_HOP_FIXED_BYTES + value bytes to p (room for
 * 11) and returns how many (a random generator saves what it played).
 */
static inline size_t kvm_host_op_encode(const struct kvm_host_op *op, u8 *p)
{
	unsigned nv = kvm_host_op_value_bytes(op->kind);

	p[0] = (u8)op->kind;
	p[1] = op->arg;
	p[2] = op->delay & 15;
	for (unsigned b = 0; b < nv; b++)
		p[KVM_HOP_FIXED_BYTES + b] = (u8)(op->value >> (8 * b));
	return KVM_HOP_FIXED_BYTES + nv;
}

#endif
