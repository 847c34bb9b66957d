/* SPDX-License-Identifier: MIT */
/*
 * Host operations the VMM performs on the real KVM while the guest reads,
 * their input encoding, and the log a finding keeps of them.
 *
 * Input: a sequence of 16-byte records (little-endian)
 *
 *	u8  kind      enum kvm_host_op_kind, modulo KVM_OP_NR
 *	u8  vcpu      modulo the number of vCPUs
 *	u16 reserved
 *	u32 wait_us   pause before the operation, modulo 10^6
 *	u64 arg       the operation's argument (below)
 *
 * Every byte string is an input: a short last record is zero-padded.
 * kvm_op_decode() is the only code that knows this layout.
 */
#ifndef PVFUZZ_KVM_HOST_OPS_H
#define PVFUZZ_KVM_HOST_OPS_H

#include <stddef.h>
#include <stdio.h>

#include "vmm.h"

enum kvm_host_op_kind {
	KVM_OP_NOP,            /* only the wait */
	KVM_OP_GET_CLOCK,      /* KVM_GET_CLOCK (also the base of a later stale set) */
	KVM_OP_SET_CLOCK,      /* KVM_SET_CLOCK fresh + (s64)arg ns, KVM_CLOCK_REALTIME when offered */
	KVM_OP_SET_CLOCK_STALE,/* KVM_SET_CLOCK with the last GET's value + arg, no REALTIME */
	KVM_OP_KVMCLOCK_CTRL,  /* KVM_KVMCLOCK_CTRL on vcpu */
	KVM_OP_TSC_WRITE,      /* KVM_SET_MSRS MSR_IA32_TSC = current + (s64)arg cycles */
	KVM_OP_TSC_KHZ,        /* KVM_SET_TSC_KHZ: rate * (1000 + arg % 201 - 100) / 1000 */
	KVM_OP_PAUSE,          /* vcpu's thread stays out of KVM_RUN arg % 20000 us;
				  bit 32 of arg: KVM_KVMCLOCK_CTRL before resuming */
	KVM_OP_MIGRATE,        /* pin vcpu's thread to host CPU arg % (usable CPUs) */
	KVM_OP_RELOCATE,       /* guest disables kvmclock, waits arg % 5000 us, re-enables
				  the records at the other bank (the guest's MSR writes);
				  bit 32: the guest first reuses that memory (fills it with
				  arg's bytes), as after kexec */
	KVM_OP_SET_CLOCK_ABSOLUTE, /* KVM_SET_CLOCK to arg % 2^62 ns (0, far behind, far ahead) */
	KVM_OP_SAVE_RESTORE,   /* a VMM's stop/cont or local live migration: every vCPU
				  stopped, KVM_GET_CLOCK, a blackout of arg % 200000 us,
				  KVM_SET_CLOCK of the saved clock (bit 32: with
				  KVM_CLOCK_REALTIME, so it advances by the blackout),
				  bit 33: the saved TSCs written back, KVM_KVMCLOCK_CTRL
				  on every vCPU, resume */
	KVM_OP_NR
};

#define KVM_OP_RECORD 16
#define KVM_OP_MAX_WAIT_US 1000000u

struct kvm_op {
	enum kvm_host_op_kind kind;
	int vcpu;
	u32 wait_us;
	u64 arg;
};

/* Decode the record at *off of buf[0..n) and advance *off; false at the end. */
bool kvm_op_decode(const u8 *buf, size_t n, size_t *off, int nr_vcpus, struct kvm_op *op);
/* The record that decodes to op (for the input a random run saves). */
void kvm_op_encode(const struct kvm_op *op, u8 rec[KVM_OP_RECORD]);
const char *kvm_op_name(enum kvm_host_op_kind k);
/* every operation's name, space-separated (usage text) */
void kvm_op_names(char *buf, size_t n);
/* "tsc_write vcpu=1 wait=0us arg=-5000": an operation as decoded */
void kvm_op_describe(const struct kvm_op *op, char *buf, size_t n);

/* A seeded generator of operations for long random runs. */
/* enabled: bit per kind (0: all); the kinds outside it are never drawn */
void kvm_op_random(u64 *state, int nr_vcpus, u32 enabled, struct kvm_op *op);
/* a comma list of names, "all", and "-name" to leave one out -> a kind mask; false: an unknown name in bad */
bool kvm_op_parse_mask(const char *list, u32 *mask, char *bad, size_t n);

/* What one operation did (the finding's operations log). */
struct kvm_op_result {
	u64 t_ns;          /* when it started, since the run began */
	struct kvm_op op;
	int err;           /* errno, 0 ok, -1 skipped (not offered / busy) */
	s64 v[3];          /* per op: e.g. clock before / requested / allowance */
	bool realtime;     /* a set with KVM_CLOCK_REALTIME */
};

struct kvm_host {
	struct vmm *vm;
	int usable_cpus[64];
	int nr_usable;
	struct kvm_clock_data last_get;  /* the base of a stale set */
	bool have_last_get;
	u64 t0;
	u64 ops_by_kind[KVM_OP_NR];
	u64 failed_by_kind[KVM_OP_NR];
	u64 skipped_by_kind[KVM_OP_NR];
	u64 settle_timeouts;
	/* the log: every op (a ring of the last KVM_OP_LOG) */
	struct kvm_op_result *log;
	u64 nlog;
};
#define KVM_OP_LOG 65536

bool kvm_host_init(struct kvm_host *h, struct vmm *vm);
/* Perform op (after its wait) and log it. */
void kvm_host_do(struct kvm_host *h, const struct kvm_op *op);
/* One log line: "t=... op ... -> ..." */
void kvm_op_format(const struct kvm_op_result *r, char *buf, size_t n);

#endif
