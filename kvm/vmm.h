/* SPDX-License-Identifier: MIT */
/*
 * pvfuzz-kvm's VMM: one VM on /dev/kvm, N vCPU threads in 64-bit mode
 * running the guest image (kvm/guest/), and the host operations the VMM
 * performs on the real KVM while the guest reads its kvmclock records.
 *
 * Rule from real-world.md 2.1: a vCPU ioctl goes through that vCPU's own
 * thread (vmm_vcpu_call()); from another thread it would block until the
 * vCPU next leaves KVM_RUN.  VM ioctls (KVM_GET/SET_CLOCK) may come from
 * any thread; the VMM serialises them with clock_lock.
 */
#ifndef PVFUZZ_KVM_VMM_H
#define PVFUZZ_KVM_VMM_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/types.h>

#include "guest_abi.h"

struct vmm;

/* A request a vCPU thread runs between two KVM_RUNs. */
struct vcpu_req {
	int (*fn)(struct vmm *vm, int v, struct vcpu_req *r);
	u64 arg, arg2;
	s64 out[3];       /* results for the op log */
	int err;          /* errno of a failed ioctl, 0 on success */
	bool done;
};

struct vcpu {
	int id;
	int fd;
	struct kvm_run *run;
	pthread_t thread;
	_Atomic pid_t tid;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct vcpu_req *req;  /* &slot while a request waits */
	struct vcpu_req slot;
	bool busy;             /* slot in use (a timed-out call keeps it) */
	_Atomic u64 exits;    /* KVM_RUN returns with a guest exit (not EINTR) */
	_Atomic bool done;    /* the guest reported KG_PORT_DONE or halted */
	_Atomic int host_cpu; /* last affinity set by a migration, -1 none */
	_Atomic bool held;    /* stopped by vmm_hold_all(), serving requests only */
};

/*
 * What the VMM itself saw go wrong: the guest died (guest_fault: an
 * exception, a triple fault) or stopped making progress (liveness).
 */
struct vmm_crash {
	bool hit;
	int vcpu;
	char oracle[32];
	char what[240];
};

struct vmm {
	int kvm, fd;
	size_t run_size;
	u8 *mem;              /* guest RAM, KG_MEM_SIZE, GPA 0 */
	struct kg_shared *sh; /* in guest RAM */
	int nr_vcpus;
	struct vcpu vcpu[KG_MAX_VCPUS];
	pthread_mutex_t clock_lock; /* KVM_GET/SET_CLOCK and the set window */
	u32 adjust_clock_flags;     /* KVM_CAP_ADJUST_CLOCK */
	bool have_kvmclock_ctrl, have_tsc_control, have_hyperv_time, have_immediate_exit;
	u32 tsc_khz;
	_Atomic bool booted;        /* vCPU 0 reported KG_PORT_BOOTED */
	_Atomic bool finding;       /* the guest reported KG_PORT_FINDING */
	_Atomic bool quit;          /* vCPU threads leave their loop */
	_Atomic bool hold;          /* every vCPU thread stays out of KVM_RUN */
	struct vmm_crash crash;     /* filled once under crash_lock */
	pthread_mutex_t crash_lock;
	_Atomic bool crashed;       /* crash is filled in */
};

/*
 * Open /dev/kvm and create the VM with its memory and page tables; false
 * with a one-line reason in why.  skip: the reason is a missing capability
 * or permission (exit 77), not an error.
 */
bool vmm_create(struct vmm *vm, int nr_vcpus, char *why, size_t n, bool *skip);
/* Load the guest image and create the vCPUs (registers, CPUID, sregs). */
bool vmm_setup_vcpus(struct vmm *vm, char *why, size_t n);
/* Start the vCPU threads (vCPU 0 boots the guest registry first). */
bool vmm_start(struct vmm *vm, char *why, size_t n);
/* Tell the threads to quit and join them. */
void vmm_stop(struct vmm *vm);
void vmm_destroy(struct vmm *vm);

/* Run r->fn on vCPU v's thread and wait for it (false: it did not answer). */
bool vmm_vcpu_call(struct vmm *vm, int v, struct vcpu_req *r);

/* Record a VMM-side finding (the first one wins). */
void vmm_report(struct vmm *vm, int v, const char *oracle, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/*
 * Stop every vCPU (the VM is paused, as a VMM's "stop"): each thread leaves
 * KVM_RUN and only serves requests until vmm_release_all().  false: a
 * thread did not stop within a second (it is then released again).
 */
bool vmm_hold_all(struct vmm *vm);
void vmm_release_all(struct vmm *vm);

/* KVM_GET_CLOCK; false with errno on failure. */
bool vmm_get_clock(struct vmm *vm, struct kvm_clock_data *d);

/* A GPA of the guest as a host pointer. */
static inline void *vmm_gpa(struct vmm *vm, u64 gpa)
{
	return gpa < KG_MEM_SIZE ? vm->mem + gpa : NULL;
}
/* A NUL-terminated guest string, or "?" if it is not inside guest RAM. */
const char *vmm_str(struct vmm *vm, u64 gpa);

/* CLOCK_MONOTONIC in ns */
u64 vmm_now_ns(void);

#endif
