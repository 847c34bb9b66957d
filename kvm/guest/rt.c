// SPDX-License-Identifier: MIT
/*
 * Freestanding runtime of the guest image: the few libc functions the
 * compiler may call, the registry the variants' constructors fill, the VM
 * exits of compat.h, and the exception report.
 */
#include "guest.h"
#include "pvfuzz/pvclock_abi.h"

/* ---- what gcc/clang may emit calls to, even freestanding ---- */

void *memcpy(void *dst, const void *src, size_t n)
{
	u8 *d = dst;
	const u8 *s = src;
	while (n--)
		*d++ = *s++;
	return dst;
}

void *memmove(void *dst, const void *src, size_t n)
{
	u8 *d = dst;
	const u8 *s = src;
	if (d < s)
		while (n--)
			*d++ = *s++;
	else
		while (n--)
			d[n] = s[n];
	return dst;
}

void *memset(void *dst, int c, size_t n)
{
	u8 *d = dst;
	while (n--)
		*d++ = (u8)c;
	return dst;
}

int memcmp(const void *a, const void *b, size_t n)
{
	const u8 *x = a, *y = b;
	for (; n; n--, x++, y++)
		if (*x != *y)
			return *x - *y;
	return 0;
}

int strcmp(const char *a, const char *b)
{
	while (*a && *a == *b)
		a++, b++;
	return (u8)*a - (u8)*b;
}

/* ---- registry ---- */

static const struct pv_variant *table[KG_MAX_VARIANTS];
static int count;

/* Variants register from constructors; the guest has room for KG_MAX_VARIANTS. */
void pv_register(const struct pv_variant *v)
{
	if (count < KG_MAX_VARIANTS)
		table[count++] = v;
}

int kg_variant_count(void)
{
	return count;
}

const struct pv_variant *kg_variant_at(int i)
{
	return i >= 0 && i < count ? table[i] : NULL;
}

const struct pv_variant *kg_mainline(enum pv_protocol p, enum pv_role r)
{
	for (int i = 0; i < count; i++)
		if (table[i]->protocol == p && table[i]->role == r && (table[i]->flags & PV_MAINLINE))
			return table[i];
	return NULL;
}

typedef void (*kg_ctor)(void);
extern kg_ctor __init_array_start[], __init_array_end[];

void kg_run_constructors(void)
{
	for (kg_ctor *f = __init_array_start; f < __init_array_end; f++)
		(*f)();
}

/* ---- VM exits (compat.h) ---- */

static bool hypercall_amd;

void kg_set_hypercall_amd(bool amd)
{
	hypercall_amd = amd;
}

static u64 kvm_hypercall(u64 nr, u64 a0, u64 a1)
{
	u64 ret;
	if (hypercall_amd)
		__asm__ __volatile__("vmmcall" : "=a"(ret) : "a"(nr), "b"(a0), "c"(a1) : "memory");
	else
		__asm__ __volatile__("vmcall" : "=a"(ret) : "a"(nr), "b"(a0), "c"(a1) : "memory");
	return ret;
}

/*
 * The model's KVM_HC_CLOCK_PAIRING returns the host's TSC directly; the
 * real one writes struct kvm_clock_pairing to a GPA and returns 0 or
 * -KVM_EOPNOTSUPP.  This is the one place that translates between them.
 */
u64 pv_vm_exit(enum pv_exit_reason reason, u64 a0, u64 a1)
{
	switch (reason) {
	case PV_EXIT_HYPERCALL:
		if (a0 == KVM_HC_CLOCK_PAIRING) {
			struct kg_clock_pairing *cp =
				(void *)(KG_PAIRING + 64 * (u64)smp_processor_id());
			s64 ret = (s64)kvm_hypercall(KVM_HC_CLOCK_PAIRING, (u64)cp,
						     0 /* KVM_CLOCK_PAIRING_WALLCLOCK */);
			return ret ? (u64)(s64)-KVM_EOPNOTSUPP : READ_ONCE(cp->tsc);
		}
		return kvm_hypercall(a0, a1 >> 32, (u32)a1);
	case PV_EXIT_RDMSR:
		return kg_rdmsr((u32)a0);
	case PV_EXIT_WRMSR:
		kg_wrmsr((u32)a0, a1);
		return 0;
	}
	return 0;
}

/* From the exception stubs (entry.S): report and stop this vCPU. */
void __attribute__((noreturn)) guest_exception(u64 vector, u64 error, u64 rip)
{
	struct kg_vcpu *me = &KG_SH->vcpu[smp_processor_id()];

	WRITE_ONCE(me->exc_vector, vector);
	WRITE_ONCE(me->exc_error, error);
	WRITE_ONCE(me->exc_rip, rip);
	for (;;) {
		kg_out(KG_PORT_EXCEPTION, (u32)vector);
		__asm__ __volatile__("hlt");
	}
}
