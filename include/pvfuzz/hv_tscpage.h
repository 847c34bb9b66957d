/* SPDX-License-Identifier: MIT */
/*
 * Hyper-V reference TSC page: the interface every reader and writer - built
 * in or your own file - is written against.  Include only this header (it
 * pulls in compat.h, the Hyper-V ABI and the KVM clock host of pvclock.h).
 *
 * A READER is guest code (include/clocksource/hyperv_timer.h): it gets the
 * guest's mapping of the page and returns true with the reference time in
 * 100 ns units (and the TSC it used), or false to say "the page is invalid,
 * use the MSR".  The caller then reads HV_X64_MSR_TIME_REF_COUNT with
 * rdmsrl(), a VM exit, as read_hv_clock_tsc() does:
 *
 *	static bool my_read(const struct ms_hyperv_tsc_page *tsc_pg,
 *			    u64 *cur_tsc, u64 *time)
 *	{ ... READ_ONCE(tsc_pg->tsc_sequence) ... rdtsc_ordered() ... }
 *	HV_READER(my_reader, my_read,
 *		  .expect = "safe", .history = "my patch v3");
 *
 * Rules (compat.h): every page field through READ_ONCE, one READ_ONCE per
 * statement, barriers are the kernel's, time from rdtsc()/rdtsc_ordered().
 *
 * A WRITER is KVM emulating Hyper-V (arch/x86/kvm/hyperv.c): it gets
 * struct kvm_hv_vm, i.e. the KVM clock host of pvclock.h (masterclock,
 * kvmclock records, the freeze) plus struct kvm_hv (the page, the host copy
 * tsc_ref, the status machine, the reenlightenment MSRs), and fills in
 * struct hv_writer_ops with what its patch changes; every member left NULL
 * is mainline's.  Most patches change only kvm_hv_setup_tsc_page():
 *
 *	static void my_setup_tsc_page(struct kvm_hv_vm *vm,
 *				      const struct pvclock_vcpu_time_info *hv_clock)
 *	{ ... kvm_hv_setup_tsc_page() as my patch has it ... }
 *	static const struct hv_writer_ops my_writer_ops = {
 *		.setup_tsc_page = my_setup_tsc_page,
 *	};
 *	HV_WRITER(my_writer, my_writer_ops, .expect = "safe", .history = "...");
 *
 * and the mainline clock update, masterclock update, KVM_SET_CLOCK and
 * adversarial record paths then set the page up through it.  Start from the
 * mainline building blocks below (src/clock/hv_kvm.c).  A writer tells the
 * harness what it means to publish by calling hv_publish() right before it
 * stores the new non-zero sequence.
 */
#ifndef PVFUZZ_HV_TSCPAGE_H
#define PVFUZZ_HV_TSCPAGE_H

#include "pvfuzz/clock_math.h"
#include "pvfuzz/compat.h"
#include "pvfuzz/hyperv_abi.h"
#include "pvfuzz/pvclock.h"
#include "pvfuzz/variant.h"

#define HV_X64_MSR_TSC_REFERENCE_ENABLE 0x1
#define HV_X64_MSR_TSC_REFERENCE_ADDRESS_SHIFT 12

/*
 * The bytes of the page a writer rewrites: reserved2 is zero in the host copy
 * and in the guest page alike, so KVM's kvm_write_guest() of the whole 4 KiB
 * struct is modelled as a plain copy of this header (one scheduling point
 * per 8 bytes instead of 512).
 */
#define HV_TSC_PAGE_HDR offsetof(struct ms_hyperv_tsc_page, reserved2)

/* ------------------------------------------------------------- guest -- */

struct hv_reader_ops {
	/* hv_read_tsc_page_tsc(): true and *time (100 ns) or false (-> MSR) */
	bool (*read)(const struct ms_hyperv_tsc_page *tsc_pg, u64 *cur_tsc, u64 *time);
};

/* hv_read_reference_counter() when the page is invalid: a VM exit (traced at the caller). */
#define hv_read_reference_counter() rdmsrl(HV_X64_MSR_TIME_REF_COUNT)

/* ------------------------------------------------------------- host --- */

/* enum hv_tsc_page_status (arch/x86/include/asm/kvm_host.h) */
enum hv_tsc_page_status {
	HV_TSC_PAGE_UNSET = 0,     /* TSC page MSR was not set up by the guest */
	HV_TSC_PAGE_GUEST_CHANGED, /* the guest wrote the MSR: update needed */
	HV_TSC_PAGE_HOST_CHANGED,  /* a masterclock/KVM_SET_CLOCK update needs it */
	HV_TSC_PAGE_SET,           /* the page is up to date */
	HV_TSC_PAGE_BROKEN,        /* computing or writing it failed: seq stays 0 */
};

struct kvm_hv_vm;

/* What KVM keeps in kvm->arch.hyperv for the clock. */
struct kvm_hv {
	struct ms_hyperv_tsc_page *tsc_page; /* the guest page (shared memory) */
	u64 hv_tsc_page;                     /* HV_X64_MSR_REFERENCE_TSC */
	enum hv_tsc_page_status hv_tsc_page_status;
	struct ms_hyperv_tsc_page tsc_ref;   /* host copy of what was written */
	u64 hv_tsc_emulation_control;        /* the guest opted into reenlightenment */
	u64 hv_tsc_emulation_status;
	/* Ground truth for oracles: the (seq, scale, offset) about to go live. */
	void (*publish)(struct kvm_hv_vm *vm, const struct ms_hyperv_tsc_page *ref);
};

struct hv_writer_ops;

/* One VM: the kvmclock host of pvclock.h and the Hyper-V state. */
struct kvm_hv_vm {
	struct kvm_clock_host clock;
	struct kvm_hv hv;
	/*
	 * The writer the VM runs, hv_writer_ops_resolve()d (no NULL members
	 * but get_msr/set_msr); NULL means mainline.  The kvm_hv_* building
	 * blocks reach the writer's hooks through it (hv_setup_tsc_page() ...).
	 */
	const struct hv_writer_ops *ops;
};

static inline void hv_publish(struct kvm_hv_vm *vm, const struct ms_hyperv_tsc_page *ref)
{
	if (vm->hv.publish)
		vm->hv.publish(vm, ref);
}

/*
 * A writer: every member is optional, NULL means mainline (the function
 * named in its comment).  The harnesses call the entry points from
 * masterclock_update on; the mainline ones in turn call the writer's
 * setup_tsc_page, request_tsc_page_update and guest_time_update.
 */
struct hv_writer_ops {
	/* kvm_hv_setup_tsc_page(): rewrite the page from a vCPU's kvmclock record */
	void (*setup_tsc_page)(struct kvm_hv_vm *vm, const struct pvclock_vcpu_time_info *hv_clock);
	/* kvm_hv_request_tsc_page_update(): SET -> HOST_CHANGED before a host-side update */
	void (*request_tsc_page_update)(struct kvm_hv_vm *vm);
	/* kvm_hv_update_masterclock(): request the page update, freeze, update every vCPU */
	void (*masterclock_update)(struct kvm_hv_vm *vm);
	/* kvm_hv_guest_time_update(vm, v): KVM_REQ_CLOCK_UPDATE on vCPU v */
	void (*guest_time_update)(struct kvm_hv_vm *vm, int v);
	/* kvm_hv_set_clock(): KVM_SET_CLOCK to the current kvmclock + delta_ns */
	void (*set_clock)(struct kvm_hv_vm *vm, u64 delta_ns);
	/* kvm_hv_write_page(): adversarial, a verbatim page image (seq, scale, offset) */
	void (*write_page)(struct kvm_hv_vm *vm, const struct ms_hyperv_tsc_page *img);
	/* kvm_hv_write_record(): adversarial, vCPU v's kvmclock record image, the page from it */
	void (*write_record)(struct kvm_hv_vm *vm, int v, const struct pvclock_vcpu_time_info *rec);
	/* MSR exits from vCPU v: kvm_hv_get_msr/kvm_hv_set_msr (left NULL by resolve) */
	u64 (*get_msr)(struct kvm_hv_vm *vm, int v, u32 msr);
	void (*set_msr)(struct kvm_hv_vm *vm, int v, u32 msr, u64 data);
};

/*
 * *out = *ops with every NULL member from setup_tsc_page to write_record
 * filled in with mainline's; a harness calls the writer through out and
 * sets vm->ops = out.
 */
void hv_writer_ops_resolve(struct hv_writer_ops *out, const struct hv_writer_ops *ops);

/*
 * Mainline KVM building blocks (src/clock/hv_kvm.c, arch/x86/kvm/hyperv.c
 * v6.17).  kvm_hv_setup_tsc_page() and kvm_hv_request_tsc_page_update() are
 * mainline's own; the entry points after them set the page up, request its
 * update and update each vCPU with the VM's writer's hooks
 * (hv_setup_tsc_page(), hv_request_tsc_page_update(), hv_guest_time_update()
 * below), so a writer that only has .setup_tsc_page gets it everywhere.
 */
bool tsc_page_update_unsafe(struct kvm_hv *hv);
void kvm_hv_setup_tsc_page(struct kvm_hv_vm *vm, const struct pvclock_vcpu_time_info *hv_clock);
void kvm_hv_request_tsc_page_update(struct kvm_hv_vm *vm);
/* kvm_guest_time_update() with the page: every vCPU goes through the helper */
void kvm_hv_guest_time_update(struct kvm_hv_vm *vm, int v);
void kvm_hv_update_masterclock(struct kvm_hv_vm *vm);
/* The same, with an explicit per-vCPU update (request: the page request first). */
void kvm_hv_update_masterclock_with(struct kvm_hv_vm *vm, void (*update)(struct kvm_hv_vm *vm, int v),
				    bool request);
/* KVM_SET_CLOCK with an explicit per-vCPU update. */
void kvm_hv_set_clock_with(struct kvm_hv_vm *vm, u64 delta_ns,
			   void (*update)(struct kvm_hv_vm *vm, int v), bool request);
void kvm_hv_set_clock(struct kvm_hv_vm *vm, u64 delta_ns);
void kvm_hv_write_page(struct kvm_hv_vm *vm, const struct ms_hyperv_tsc_page *img);
void kvm_hv_write_record(struct kvm_hv_vm *vm, int v, const struct pvclock_vcpu_time_info *rec);
/* get_kvmclock_ns(): what KVM_GET_CLOCK and the MSR fallback use */
u64 kvm_get_kvmclock_ns(struct kvm_clock_host *h);
/* get_time_ref_counter(): HV_X64_MSR_TIME_REF_COUNT, consistent with the page */
u64 kvm_hv_get_time_ref_counter(struct kvm_hv_vm *vm);
u64 kvm_hv_get_msr(struct kvm_hv_vm *vm, int v, u32 msr);
void kvm_hv_set_msr(struct kvm_hv_vm *vm, int v, u32 msr, u64 data);

/* What the VM's writer does there (vm->ops, or mainline without one). */
static inline void hv_setup_tsc_page(struct kvm_hv_vm *vm, const struct pvclock_vcpu_time_info *hv_clock)
{
	(vm->ops ? vm->ops->setup_tsc_page : kvm_hv_setup_tsc_page)(vm, hv_clock);
}

static inline void hv_request_tsc_page_update(struct kvm_hv_vm *vm)
{
	(vm->ops ? vm->ops->request_tsc_page_update : kvm_hv_request_tsc_page_update)(vm);
}

static inline void hv_guest_time_update(struct kvm_hv_vm *vm, int v)
{
	(vm->ops ? vm->ops->guest_time_update : kvm_hv_guest_time_update)(vm, v);
}

/* Registration helpers; the remaining arguments initialise struct pv_variant. */
#define HV_READER(var, fn, ...)                                               \
	static const struct hv_reader_ops var##_ops = { fn };                 \
	static const struct pv_variant var = {                                \
		.name = #var, .protocol = PV_HV_TSCPAGE, .role = PV_READER,   \
		.ops = &var##_ops, .file = __FILE__, __VA_ARGS__              \
	};                                                                    \
	PV_REGISTER(var)

#define HV_WRITER(var, ops_, ...)                                             \
	static const struct pv_variant var = {                                \
		.name = #var, .protocol = PV_HV_TSCPAGE, .role = PV_WRITER,   \
		.ops = &(ops_), .file = __FILE__, __VA_ARGS__                 \
	};                                                                    \
	PV_REGISTER(var)

#endif
