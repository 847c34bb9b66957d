/* SPDX-License-Identifier: MIT */
/*
 * Host operations the VMM performs on the real KVM while the guest reads,
 * and the log a finding keeps of them.
 *
 * The operations are include/pvfuzz/kvm_host_ops.h's: the same bytes the
 * simulator decodes, so a simulator finding's operations run on the real
 * KVM as they are (`--input FILE`).  What a real VMM cannot do (the host
 * kernel's own clock, KVM's internal requests, the Hyper-V page on a host
 * without it) is skipped and counted.
 *
 * Three things a VMM does have no kind there: move a vCPU thread to another
 * host CPU, KVM_SET_TSC_KHZ, and a quiet stretch longer than the shared
 * delay (15 x 100 us).  They are "VMM extras", kept in a second file next
 * to the input: 16-byte records (little-endian)
 *
 *	u8  kind      enum kvm_vmm_extra_kind, modulo KVM_EXTRA_NR
 *	u8  vcpu      modulo the number of vCPUs
 *	u16 reserved
 *	u32 before    runs before the shared op with this index (0-based)
 *	u64 arg
 *
 * kvm_extra_decode() is the only code that knows this layout.
 */
#ifndef PVFUZZ_KVM_HOST_OPS_VMM_H
#define PVFUZZ_KVM_HOST_OPS_VMM_H

#include <stddef.h>
#include <stdio.h>

#include "pvfuzz/kvm_host_ops.h"
#include "vmm.h"

enum kvm_vmm_extra_kind {
	KVM_EXTRA_IDLE,           /* the VMM does nothing for arg % 50000 us */
	KVM_EXTRA_THREAD_MIGRATE, /* pin vcpu's thread to host CPU arg % (usable CPUs) */
	KVM_EXTRA_TSC_KHZ,        /* KVM_SET_TSC_KHZ: back to the boot rate when arg % 4 == 0,
				     else rate * (1000 + (arg >> 2) % 201 - 100) / 1000 */
	KVM_EXTRA_NR
};

#define KVM_EXTRA_RECORD 16

/* One step of a run: a shared op, or a VMM extra. */
struct kvm_op {
	bool extra;
	struct kvm_host_op hop;         /* !extra */
	enum kvm_vmm_extra_kind xkind;  /* extra */
	int vcpu;                       /* extra; in the log: the vCPU a shared op named */
	u64 arg;                        /* extra */
	u32 before;                     /* extra: the shared op index it precedes */
};

/* The CLI name of a shared kind (--ops), or of an extra. */
const char *kvm_op_cli_name(const struct kvm_op *op);
/* every --ops name, space-separated (usage text) */
void kvm_op_names(char *buf, size_t n);
/* a comma list of --ops names, "all", and "-name" -> masks; false: bad name */
struct kvm_op_mask {
	u32 shared; /* bit per enum kvm_host_op_kind */
	u32 extra;  /* bit per enum kvm_vmm_extra_kind */
};
bool kvm_op_parse_mask(const char *list, struct kvm_op_mask *m, char *bad, size_t n);

/* Extras: decode the record at *off (false at the end); encode one. */
bool kvm_extra_decode(const u8 *buf, size_t n, size_t *off, int nr_vcpus, struct kvm_op *op);
void kvm_extra_encode(const struct kvm_op *op, u8 rec[KVM_EXTRA_RECORD]);

/* "KVM_SET_CLOCK arg=0x4 delay=0 value=..." (--decode) */
void kvm_op_describe(const struct kvm_op *op, int nr_vcpus, char *buf, size_t n);

/*
 * A seeded generator for long random runs: the next step, a shared op or
 * (sometimes) an extra, drawn only from what m enables and the host can do.
 */
void kvm_op_random(u64 *state, int nr_vcpus, const struct kvm_op_mask *m, struct kvm_op *op);

/* What one step did (the finding's operations log). */
struct kvm_op_result {
	u64 t_ns;          /* when it started, since the run began */
	struct kvm_op op;
	int err;           /* errno, 0 ok, -1 skipped (not offered / busy / not a VMM's) */
	s64 v[3];          /* per op: e.g. clock before / set to / allowance */
	bool realtime;     /* a set with KVM_CLOCK_REALTIME */
	const char *note;  /* why it was skipped, or how it was mapped */
};

#define KVM_STAT_KINDS (KVM_HOP_NR + KVM_EXTRA_NR)
struct kvm_host {
	struct vmm *vm;
	int usable_cpus[64];
	int nr_usable;
	struct kvm_clock_data last_get;  /* the base of a stale set */
	u64 t_last_get;                  /* when it was taken */
	bool have_last_get;
	u64 t0;
	/* per kind: shared kinds, then the extras */
	u64 done[KVM_STAT_KINDS], failed[KVM_STAT_KINDS], skipped[KVM_STAT_KINDS];
	u64 settle_timeouts;
	/* the log: every step (a ring of the last KVM_OP_LOG) */
	struct kvm_op_result *log;
	u64 nlog;
};
#define KVM_OP_LOG 65536

bool kvm_host_init(struct kvm_host *h, struct vmm *vm);
/* Perform a step (after its delay) and log it. */
void kvm_host_do(struct kvm_host *h, const struct kvm_op *op);
/* The name of stat slot i (a shared kind, then the extras). */
const char *kvm_stat_name(int i);
/* One log line: "t=... op ... -> ..." */
void kvm_op_format(const struct kvm_op_result *r, char *buf, size_t n);

#endif
