/* SPDX-License-Identifier: MIT */
/*
 * The variant registry: every reader, writer, flush backend, free path and
 * walker - built in or a user's own file - registers itself here with its
 * expected outcome.  `pvfuzz list` prints it; targets select from it.
 */
#ifndef PVFUZZ_VARIANT_H
#define PVFUZZ_VARIANT_H

#include "pvfuzz/types.h"

enum pv_protocol {
	PV_PVCLOCK,      /* KVM pvclock / kvmclock records */
	PV_HV_TSCPAGE,   /* Hyper-V reference TSC page */
	PV_CLOCK_MATH,   /* scaling arithmetic */
	PV_TLB,          /* TLB flush and page-table freeing */
	PV_KVM_TSC,      /* KVM TSC frequency changes, resync, CPU hotplug */
	PV_NESTED,       /* nested reenlightenment: L0 Hyper-V, L1 KVM, L2 kvmclock */
	PV_PERF_TIME,    /* perf_event mmap page: time and count fields */
	PV_VDSO,         /* generic vDSO data page and update_vsyscall() */
	PV_NR_PROTOCOLS
};

enum pv_role {
	PV_READER,
	PV_WRITER,
	PV_FLUSH,        /* TLB flush backend */
	PV_FREE,         /* page-table free path */
	PV_WALKER,       /* lockless page-table walker */
	PV_HOST,         /* the hypervisor below the code under test (nested L0) */
	PV_MUTATOR,      /* mm-side operations: tlb_finish_mmu, madvise, mprotect */
	PV_NR_ROLES
};

#define PV_MAINLINE 0x1  /* the default of its protocol and role */

struct pv_variant {
	const char *name;
	enum pv_protocol protocol;
	enum pv_role role;
	unsigned flags;
	const char *bug;      /* known-bugs.md id (CLK-08, CLK-S1, TLB-01) or NULL */
	const char *history;  /* one line: what it is and where it comes from */
	const char *expect;   /* "safe", or the oracle that must fire */
	const char *scenario; /* what exposes it */
	const char *partner;  /* the counterpart it must run against (NULL: mainline) */
	/*
	 * Counterparts (comma-separated names, other roles) with which this
	 * buggy variant is known to be safe: a selection holding one of them
	 * expects nothing from this variant.  Every such pairing gets a clean
	 * test, so a name here is a claim the suite proves.
	 */
	const char *safe_with;
	/*
	 * The correct variant this buggy one is a mutation of, when that is not
	 * the role's mainline (a faulty vDSO reader comes from the vDSO reader,
	 * not the kernel's): its reproducer replayed against this one must fire
	 * nothing (regress.mainline), which proves the fix, not just mainline.
	 */
	const char *fixed;
	const void *ops;      /* protocol-specific operations */
	const char *file;     /* source file, so a --reader-file can be found */
};

void pv_register(const struct pv_variant *v);
int pv_variant_count(void);
const struct pv_variant *pv_variant_at(int i); /* sorted by name */
const struct pv_variant *pv_variant_find(const char *name);
const struct pv_variant *pv_variant_mainline(enum pv_protocol p, enum pv_role r);
const char *pv_protocol_name(enum pv_protocol p);
/* The fuzz target (targets/<name>.c) that runs protocol p. */
const char *pv_protocol_target(enum pv_protocol p);
/* By name; false when no protocol has that name. */
bool pv_protocol_by_name(const char *name, enum pv_protocol *p);
const char *pv_role_name(enum pv_role r);
/* Is `other` listed in v->safe_with? */
bool pv_variant_safe_with(const struct pv_variant *v, const struct pv_variant *other);
/* What replaces a buggy v in a counterpart: v->fixed, else the role's mainline, followed until safe. */
const struct pv_variant *pv_variant_fixed(const struct pv_variant *v);

/*
 * Target-side selection from PVFUZZ_VARIANT (comma-separated names, or
 * "input" to let the input's first byte per role choose): every named
 * variant takes its role, the partner of each *named* variant fills its
 * role unless that role was named too (partners of partners are not
 * followed), and the remaining roles get the protocol's mainline.  Naming
 * one variant twice is the same as naming it once.  Returns false with a
 * one-line message in err for unknown or empty names, two variants of one
 * role, or a protocol mismatch.
 *
 * This is the one pairing rule: the launcher, the tests and the tools ask
 * it through pvfuzz-list (--select, --runs, --combos), never copy it.
 */
struct pv_selection {
	const struct pv_variant *role[PV_NR_ROLES];
	bool from_input;
	char label[160];
};
bool pv_select(enum pv_protocol p, const char *spec, struct pv_selection *sel, char *err, size_t errlen);
/*
 * What a selection must trip: "safe", or the oracles any of its buggy
 * variants may fire ("a|b", in role order, no repeats).  A buggy variant
 * contributes its own expect unless another selected variant is in its
 * safe_with list.  Every selection has an expectation: there is no
 * "unknown".
 */
void pv_selection_expect(const struct pv_selection *sel, char *buf, size_t len);
/* role r is buggy in this selection: it counts towards the expectation */
bool pv_selection_role_buggy(const struct pv_selection *sel, int r);
/*
 * The same selection with every buggy variant replaced by the correct
 * variant it mutates (pv_variant_fixed()), as an explicit spec naming every
 * role: what a reproducer of this selection must replay clean against.
 */
void pv_selection_counterpart(const struct pv_selection *sel, char *spec, size_t len);
/* Every role of the selection named explicitly (a,b,c in role order). */
void pv_selection_spec(const struct pv_selection *sel, char *spec, size_t len);
/* With from_input: choose one variant per role from the input's bytes. */
struct fdp;
void pv_select_from_input(enum pv_protocol p, struct pv_selection *sel, struct fdp *in);
/* The target's one-time set-up: parse PVFUZZ_VARIANT or exit(2) with a message. */
void pv_select_or_exit(enum pv_protocol p, struct pv_selection *sel);

/* Registers `var` (a struct pv_variant) before main() / LLVMFuzzerInitialize. */
#define PV_REGISTER(var)                                                      \
	static void __attribute__((constructor)) pv_register_##var(void)       \
	{                                                                     \
		pv_register(&var);                                            \
	}

#endif
