/* SPDX-License-Identifier: MIT */
/*
 * The contract between the VMM (kvm/vmm.c, host side) and the guest image
 * (kvm/guest/, compiled with -DPVFUZZ_GUEST): the guest-physical memory map,
 * the I/O ports the guest reports through, and the shared page both sides
 * read and write.  Guest memory is identity-mapped (GVA == GPA), so a
 * pointer the guest stores is an offset the VMM can read in its mapping.
 *
 * Types only (types.h): this header is compiled into both worlds.
 */
#ifndef PVFUZZ_KVM_GUEST_ABI_H
#define PVFUZZ_KVM_GUEST_ABI_H

#include "pvfuzz/types.h"

#define KG_MAX_VCPUS 4        /* PV_MAX_VCPUS of pvclock.h */
#define KG_MAX_READERS 8      /* readers one run cycles through */
#define KG_MAX_VARIANTS 64    /* what the guest registry reports */

/* ---- guest-physical memory map (2 MiB pages, identity) ---- */
#define KG_PML4 0x1000ULL
#define KG_PDPT 0x2000ULL
#define KG_PD 0x3000ULL
#define KG_GDT 0x4000ULL
#define KG_IDT 0x5000ULL
#define KG_SHARED 0x10000ULL      /* struct kg_shared (< 64 KiB) */
#define KG_PVTI_BANK0 0x20000ULL  /* hv_clock_boot[]: one record per cache line */
#define KG_PVTI_BANK1 0x21000ULL  /* where a re-enable moves the records */
#define KG_PAIRING 0x22000ULL     /* struct kvm_clock_pairing per vCPU, 64 B apart */
#define KG_PERCPU 0x30000ULL      /* 4 KiB per vCPU; %gs points here */
#define KG_STACKS 0x100000ULL     /* 64 KiB per vCPU, growing down */
#define KG_STACK_SIZE 0x10000ULL
#define KG_IMAGE 0x200000ULL      /* the guest image, linked here */
#define KG_IMAGE_MAX 0x200000ULL
#define KG_RINGS 0x400000ULL      /* struct kg_ring per vCPU */
#define KG_MEM_SIZE 0x800000ULL   /* 8 MiB of guest RAM */

/* ---- ports: an OUT is a KVM_EXIT_IO the vCPU's thread handles ---- */
#define KG_PORT_BOOTED 0xe0    /* vCPU 0: registry and CPUID are in kg_shared */
#define KG_PORT_BRACKET 0xe1   /* KVM_GET_CLOCK now into kg_vcpu.bracket */
#define KG_PORT_FINDING 0xe2   /* an oracle fired: kg_shared.finding */
#define KG_PORT_DONE 0xe3      /* this vCPU saw stop and quits */
#define KG_PORT_EXCEPTION 0xe4 /* a CPU exception: kg_vcpu.exc_* */
#define KG_PORT_PARKED 0xe5    /* this vCPU waits at the relocation rendezvous */

/* ---- variant descriptors the guest reports from its registry ---- */
struct kg_variant {
	u64 name;    /* GPA of a NUL-terminated string */
	u64 expect;  /* GPA, "safe" or oracle names */
	u64 bug;     /* GPA or 0 */
	u32 protocol;
	u32 role;
	u32 flags;
	u32 kind;    /* KG_VAR_*: what the guest can run it as */
};
#define KG_VAR_OTHER 0          /* a writer, a host-side reader: not guest code */
#define KG_VAR_PVCLOCK_READER 1 /* a guest kvmclock reader */
#define KG_VAR_CLOCK_MATH 2     /* scaling arithmetic, run on real records */
#define KG_VAR_HV_READER 3      /* a Hyper-V TSC page reader */

/* ---- one read, as the guest saw it (the finding's value log) ---- */
struct kg_read {
	u64 value;      /* what the reader returned (after the fallback) */
	u64 tsc;        /* rdtsc_ordered() right after the read */
	u64 excuse_lo;  /* allowance before the read (see kg_shared.set_seq) */
	u64 excuse_hi;  /* allowance after the read */
	u64 system_time;   /* this vCPU's record, version-consistent after the read */
	u64 tsc_timestamp;
	u32 version;
	u32 mul;
	s8 shift;
	u8 flags;
	u8 reader;      /* index into kg_shared.reader[] */
	u8 kind;        /* KG_READ_* */
	u32 seq;        /* read number on this vCPU (low bits) */
};
#define KG_READ_FREE 0     /* per-vCPU order only */
#define KG_READ_LOCKED 1   /* under the guest lock: cross-vCPU order too */
#define KG_READ_FALLBACK 2 /* flag: the reader said "use the syscall" */

#define KG_RING_SIZE 256
struct kg_ring {
	u64 head; /* reads written so far */
	struct kg_read r[KG_RING_SIZE];
};

/* ---- per-vCPU state shared with the VMM ---- */
struct kg_vcpu {
	/* VMM -> guest */
	u64 ctrl_count;      /* KVM_KVMCLOCK_CTRLs issued (incremented before the ioctl) */
	/* the answer to KG_PORT_BRACKET, written by this vCPU's thread */
	u64 bracket_clock;   /* KVM_GET_CLOCK .clock */
	u64 bracket_set_seq; /* kg_shared.set_seq when it was taken */
	u32 bracket_ok;      /* 0: the ioctl failed */
	u32 bracket_pad;
	/* guest -> VMM */
	u64 reads, checks, fallbacks, locked_reads;
	u64 brackets, brackets_excused, stopped_seen, relocations, retried_checks;
	u64 max_back_excused; /* largest backward step a clock set excused (ns) */
	u64 exc_vector, exc_rip, exc_error;
	u64 ctrl_acked;      /* ctrl_count when GUEST_STOPPED was last consumed */
	u32 booted;
	u32 stopped_by_guest; /* the guest's own memory had GUEST_STOPPED set (reuse) */
} __attribute__((aligned(64)));

/* ---- the first finding (guest -> VMM) ---- */
#define KG_FINDING_VALUES 8
struct kg_finding {
	u32 hit;        /* set with a locked xchg: the first one wins */
	u32 vcpu;
	u64 oracle;     /* GPA of the oracle name ("monotonic", ...) */
	u64 what;       /* GPA of a one-line description */
	u32 reader;     /* index into kg_shared.reader[] */
	u32 nvalues;
	u64 value_name[KG_FINDING_VALUES]; /* GPAs */
	u64 value[KG_FINDING_VALUES];
};

struct kg_shared {
	/* ---- VMM -> guest: the run ---- */
	u32 nr_vcpus;
	u32 nr_readers;
	u32 reader[KG_MAX_READERS];  /* guest registry indices, cycled per read */
	u32 bracket_every;           /* a KVM_GET_CLOCK bracket every N reads (0: none) */
	u32 free_every;              /* every Nth read skips the guest lock (0: never) */
	u32 go;                      /* 1: start reading */
	u32 stop;                    /* 1: report KG_PORT_DONE and halt */
	u64 tsc_khz;                 /* the guest TSC rate, for tolerances */

	/*
	 * Clock-set windows.  A KVM_SET_CLOCK may legitimately move the clock
	 * back by up to what the VMM intended; readers on other vCPUs keep
	 * seeing the old clock until every vCPU re-entered.  The VMM makes
	 * set_seq odd and cur_allow the set's backward allowance before the
	 * ioctl, and only when every vCPU has re-entered adds cur_allow to
	 * allow_total and makes set_seq even.  A guest read takes
	 * excuse_lo = allow_total before it and excuse_hi = allow_total (+
	 * cur_allow while odd) after it; a step back from read A to read B is
	 * excused up to B.excuse_hi - A.excuse_lo.
	 */
	u64 set_seq;
	u64 allow_total;
	u64 cur_allow;

	/* relocation: the VMM bumps relocate_gen; every vCPU moves its record */
	u64 relocate_gen;
	u64 relocate_hold;   /* TSC cycles the records stay disabled */
	u64 relocate_fill;   /* nonzero: the new records' memory held this pattern (reuse) */
	u32 relocate_bank;   /* where the records go: 0 the usual bank, 1 the other */
	u32 relocate_pad;

	/* ---- guest -> VMM ---- */
	u32 nr_variants;
	u32 valid_flags;     /* pvclock_set_flags(): STABLE if CPUID allows */
	u32 kvm_features;    /* CPUID 0x40000001 eax */
	u32 bank;            /* which pvti bank is live (0/1) */
	u64 pvti_gpa[KG_MAX_VCPUS]; /* where each vCPU's record is now */
	struct kg_variant var[KG_MAX_VARIANTS];
	struct kg_finding finding;

	/* ---- guest-only state, here so a finding can show it ---- */
	s64 last_value;      /* pvclock.c's global last_value (atomic64_t) */
	u32 lock;                    /* the cross-vCPU oracle's lock */
	u32 lock_pad;
	u64 high;                    /* the highest value any read returned */
	u64 last_locked_value;       /* the last value read under the lock */
	u64 last_locked_lo;          /* its excuse_lo */
	u32 last_locked_vcpu, last_locked_reader;
	u32 park_count;              /* relocation rendezvous */
	u32 park_gen;
	struct kg_vcpu vcpu[KG_MAX_VCPUS];
};

/* struct kvm_clock_pairing (uapi asm/kvm_para.h): KVM_HC_CLOCK_PAIRING's answer */
struct kg_clock_pairing {
	s64 sec;
	s64 nsec;
	u64 tsc;
	u32 flags;
	u32 pad[9];
};

#define KG_MSR_ENABLED 1ULL   /* bit 0 of MSR_KVM_SYSTEM_TIME_NEW */

/* CPUID 0x40000001 eax bits (Documentation/virt/kvm/x86/cpuid.rst) */
#define KVM_FEATURE_CLOCKSOURCE2 3
#define KVM_FEATURE_CLOCKSOURCE_STABLE_BIT 24
#define KG_MSR_GS_BASE 0xc0000101

_Static_assert(sizeof(struct kg_shared) <= 0x10000, "kg_shared fits below the records");
_Static_assert(sizeof(struct kg_ring) * KG_MAX_VCPUS <= KG_MEM_SIZE - KG_RINGS, "rings fit");

#endif
