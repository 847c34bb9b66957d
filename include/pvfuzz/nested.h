/* SPDX-License-Identifier: MIT */
/*
 * Nested reenlightenment (seed 002): the interface every L1 reenlightenment
 * handler and every L0 model - built in or your own file - is written
 * against.  Include only this header.  docs/nested.md walks through it.
 *
 * Three levels.  L0 (Hyper-V) publishes a reference TSC page to L1.  L1 is
 * Linux with KVM: its clocksource is that page, and its masterclock - the
 * (ns, tsc) pair every L2 kvmclock record is anchored at - is read from the
 * page (vgettsc(), VDSO_CLOCKMODE_HVCLOCK).  L2 guests read kvmclock.  When
 * L0 migrates L1 to a host with another TSC frequency it first emulates the
 * old frequency (TSC_EMULATION_STATUS.inprogress), raises the
 * reenlightenment interrupt, and stops emulating when L1 clears the status;
 * from then on the TSC runs at the new rate and the page has the new scale.
 *
 * A WRITER is L1 KVM's reenlightenment callback (kvm_hyperv_tsc_notifier()):
 *
 *	static void my_notifier(struct nested_l1 *l1)
 *	{ ... freeze the L2 vCPUs, hyperv_stop_tsc_emulation(l1), update ... }
 *	static const struct nested_l1_ops my_ops = { .tsc_notifier = my_notifier };
 *	NESTED_L1(my_handler, my_ops, .expect = "safe", .history = "...");
 *
 * A HOST is L0's behaviour on migration (Hyper-V, or KVM emulating Hyper-V).
 * Rules (compat.h) as everywhere: shared fields through READ_ONCE/WRITE_ONCE,
 * one such access per statement, kernel barriers.
 */
#ifndef PVFUZZ_NESTED_H
#define PVFUZZ_NESTED_H

#include "pvfuzz/clock_math.h"
#include "pvfuzz/compat.h"
#include "pvfuzz/hv_tscpage.h"
#include "pvfuzz/pvclock.h"
#include "pvfuzz/variant.h"

/* HV_X64_MSR_TSC_EMULATION_STATUS / _CONTROL and REENLIGHTENMENT_CONTROL bits */
#define HV_TSC_EMULATION_INPROGRESS 0x1ULL
#define HV_TSC_EMULATION_ENABLED 0x1ULL
#define HV_REENLIGHTENMENT_ENABLED 0x10000ULL

struct nested_l0_ops;
struct nested_l1_ops;

/* What L0 keeps for its partition L1 (the MSRs L1 reads and writes). */
struct nested_l0 {
	struct ms_hyperv_tsc_page *tsc_page; /* L1's reference TSC page (L0 writes it) */
	u64 tsc_emulation_control;           /* L1 opted into TSC emulation */
	u64 reenlightenment_control;         /* L1 wants the interrupt */
	u64 tsc_emulation_status;            /* inprogress while L0 emulates the old rate */
	u32 tsc_rate;                        /* the rate L1 sees (ticks per step) */
	u32 dest_rate;                       /* the destination host's rate */
	int interrupt_pending;               /* the reenlightenment interrupt, not yet taken */
	/* the world: the TSC of every L1 vCPU starts running at rate (no scheduling point) */
	void (*set_tsc_rate)(struct nested_l0 *l0, u32 rate);
	/* republish L1's page for the rate L1 sees, continuous at this instant */
	void (*update_tsc_page)(struct nested_l0 *l0);
	const struct nested_l0_ops *ops;
};

/* L1: Linux on L0, running KVM for its L2 guests. */
struct nested_l1 {
	struct kvm_clock_host kvm;   /* L1 KVM's VM: L2 records, masterclock, freeze */
	struct nested_l0 *l0;        /* MSR accesses go there (L1's VM exits) */
	u32 tsc_khz;                 /* L1's tsc_khz */
	bool clocksource_hvclock;    /* L1's clocksource is the TSC page (else kvmclock) */
	const struct nested_l1_ops *ops;
};

/* L1's MSR accesses: exits to L0 (kvm_hv_get_msr/set_msr on a KVM L0). */
u64 nested_rdmsr(struct nested_l1 *l1, u32 msr);
void nested_wrmsr(struct nested_l1 *l1, u32 msr, u64 data);

/* ---------------------------------------------------------------- L1 ---- */

struct nested_l1_ops {
	/* kvm_hyperv_tsc_notifier(): the callback hv_reenlightenment_notify() runs */
	void (*tsc_notifier)(struct nested_l1 *l1);
};

/* arch/x86/hyperv/hv_init.c: clear inprogress, read the new frequency */
void hyperv_stop_tsc_emulation(struct nested_l1 *l1);
/* set_hv_tscchange_cb(): enable reenlightenment and TSC emulation */
void set_hv_tscchange_cb(struct nested_l1 *l1);
/* the mainline callback (arch/x86/kvm/x86.c, v6.17) */
void kvm_hyperv_tsc_notifier(struct nested_l1 *l1);

/* ---------------------------------------------------------------- L0 ---- */

struct nested_l0_ops {
	/* L1 is migrated to a host whose TSC runs at l0->dest_rate */
	void (*migrate)(struct nested_l0 *l0);
	/* L1 writes HV_X64_MSR_TSC_EMULATION_STATUS */
	void (*set_emulation_status)(struct nested_l0 *l0, u64 data);
	/* L1's clocksource is kvmclock, not the TSC page (KVM-on-KVM) */
	bool l1_clocksource_kvmclock;
};

/* Hyper-V (TLFS): emulate the old rate, interrupt, stop when L1 says so. */
void hyperv_l0_migrate(struct nested_l0 *l0);
void hyperv_l0_set_emulation_status(struct nested_l0 *l0, u64 data);

/* ------------------------------------------------------------ registration -- */

#define NESTED_L1(var, ops_, ...)                                             \
	static const struct pv_variant var = {                                \
		.name = #var, .protocol = PV_NESTED, .role = PV_WRITER,       \
		.ops = &(ops_), .file = __FILE__, __VA_ARGS__                 \
	};                                                                    \
	PV_REGISTER(var)

#define NESTED_L0(var, ops_, ...)                                             \
	static const struct pv_variant var = {                                \
		.name = #var, .protocol = PV_NESTED, .role = PV_HOST,         \
		.ops = &(ops_), .file = __FILE__, __VA_ARGS__                 \
	};                                                                    \
	PV_REGISTER(var)

#endif
