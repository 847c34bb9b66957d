/* SPDX-License-Identifier: MIT */
/*
 * The guest world's runtime (-DPVFUZZ_GUEST): what compat.h does not cover
 * and the reader loop needs - port I/O to the VMM, MSRs, CPUID, a registry
 * for the variants' constructors, and the shared page.
 */
#ifndef PVFUZZ_KVM_GUEST_H
#define PVFUZZ_KVM_GUEST_H

#include "guest_abi.h"
#include "pvfuzz/compat.h"
#include "pvfuzz/variant.h"

#define KG_SH ((struct kg_shared *)KG_SHARED)

static inline void kg_out(u16 port, u32 val)
{
	__asm__ __volatile__("outl %0, %1" :: "a"(val), "Nd"(port) : "memory");
}

static inline u64 kg_rdmsr(u32 msr)
{
	u32 lo, hi;
	__asm__ __volatile__("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr) : "memory");
	return ((u64)hi << 32) | lo;
}

static inline void kg_wrmsr(u32 msr, u64 v)
{
	__asm__ __volatile__("wrmsr" :: "c"(msr), "a"((u32)v), "d"((u32)(v >> 32)) : "memory");
}

static inline void kg_cpuid(u32 leaf, u32 *a, u32 *b, u32 *c, u32 *d)
{
	__asm__ __volatile__("cpuid" : "=a"(*a), "=b"(*b), "=c"(*c), "=d"(*d) : "a"(leaf), "c"(0));
}

/* The guest registry (filled by the variants' constructors). */
int kg_variant_count(void);
const struct pv_variant *kg_variant_at(int i);
/* pv_variant_mainline() of the guest: the PV_MAINLINE variant of (p, r) */
const struct pv_variant *kg_mainline(enum pv_protocol p, enum pv_role r);
/* run the constructors (.init_array), once, on vCPU 0 */
void kg_run_constructors(void);
/* AMD uses VMMCALL, Intel VMCALL (set at boot from the CPUID vendor) */
void kg_set_hypercall_amd(bool amd);

#endif
