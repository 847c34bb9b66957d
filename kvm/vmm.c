// SPDX-License-Identifier: MIT
/*
 * The VM and its vCPU threads (the ioctl sequence of real-world.md 2.1):
 * /dev/kvm, KVM_CREATE_VM, 8 MiB of identity-mapped RAM with 2 MiB pages,
 * one vCPU per thread in 64-bit mode with the KVM CPUID leaves, and a run
 * loop that serves the guest's ports and the host's requests.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "vmm.h"

extern const u8 kvm_guest_image[], kvm_guest_image_end[];

#define KICK_SIGNAL SIGUSR1
#define CALL_TIMEOUT_NS (10 * 1000000000ULL)

u64 vmm_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (u64)ts.tv_sec * 1000000000ULL + (u64)ts.tv_nsec;
}

const char *vmm_str(struct vmm *vm, u64 gpa)
{
	const char *s = vmm_gpa(vm, gpa);
	if (!s || !memchr(s, 0, KG_MEM_SIZE - gpa))
		return "?";
	return s;
}

/* ------------------------------------------------------------ the VM -- */

static int check_ext(int fd, long cap)
{
	int r = ioctl(fd, KVM_CHECK_EXTENSION, cap);
	return r < 0 ? 0 : r;
}

bool vmm_create(struct vmm *vm, int nr_vcpus, char *why, size_t n, bool *skip)
{
	memset(vm, 0, sizeof(*vm));
	vm->kvm = vm->fd = -1;
	*skip = false;
	vm->nr_vcpus = nr_vcpus;
	pthread_mutex_init(&vm->clock_lock, NULL);
	pthread_mutex_init(&vm->crash_lock, NULL);

	/* PVFUZZ_KVM_DEVICE: another node (tests of the skip path) */
	const char *dev = getenv("PVFUZZ_KVM_DEVICE") ? getenv("PVFUZZ_KVM_DEVICE") : "/dev/kvm";
	vm->kvm = open(dev, O_RDWR | O_CLOEXEC);
	if (vm->kvm < 0) {
		*skip = errno == ENOENT || errno == EACCES || errno == EPERM || errno == ENXIO ||
			errno == ENODEV;
		snprintf(why, n, "%s: %s", dev, errno == ENOENT ? "absent (no KVM on this machine)" :
				 errno == EACCES || errno == EPERM ? "not permitted for this user" :
				 strerror(errno));
		return false;
	}
	int api = ioctl(vm->kvm, KVM_GET_API_VERSION, 0);
	if (api != KVM_API_VERSION) {
		*skip = true;
		snprintf(why, n, "KVM_GET_API_VERSION is %d, want %d", api, KVM_API_VERSION);
		return false;
	}
	int max = check_ext(vm->kvm, KVM_CAP_MAX_VCPUS);
	if (max && nr_vcpus > max) {
		*skip = true;
		snprintf(why, n, "KVM_CAP_MAX_VCPUS is %d, %d vCPUs asked", max, nr_vcpus);
		return false;
	}
	vm->fd = ioctl(vm->kvm, KVM_CREATE_VM, 0);
	if (vm->fd < 0) {
		*skip = errno == EPERM || errno == EACCES;
		snprintf(why, n, "KVM_CREATE_VM: %s", strerror(errno));
		return false;
	}
	/* VM-scoped answers can differ from the system fd's (real-world.md 2.1) */
	vm->adjust_clock_flags = (u32)check_ext(vm->fd, KVM_CAP_ADJUST_CLOCK);
	vm->have_kvmclock_ctrl = check_ext(vm->fd, KVM_CAP_KVMCLOCK_CTRL) > 0;
	vm->have_tsc_control = check_ext(vm->fd, KVM_CAP_TSC_CONTROL) > 0;
	vm->have_hyperv_time = check_ext(vm->fd, KVM_CAP_HYPERV_TIME) > 0;
	vm->have_immediate_exit = check_ext(vm->fd, KVM_CAP_IMMEDIATE_EXIT) > 0;
	if (!vm->have_immediate_exit) {
		*skip = true;
		snprintf(why, n, "KVM_CAP_IMMEDIATE_EXIT missing (needed to reach vCPU threads)");
		return false;
	}
	int rs = ioctl(vm->kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (rs <= 0) {
		snprintf(why, n, "KVM_GET_VCPU_MMAP_SIZE: %s", strerror(errno));
		return false;
	}
	vm->run_size = (size_t)rs;

	vm->mem = mmap(NULL, KG_MEM_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
		       -1, 0);
	if (vm->mem == MAP_FAILED) {
		vm->mem = NULL;
		snprintf(why, n, "guest RAM: %s", strerror(errno));
		return false;
	}
	struct kvm_userspace_memory_region mr = {
		.slot = 0, .guest_phys_addr = 0, .memory_size = KG_MEM_SIZE,
		.userspace_addr = (u64)(uintptr_t)vm->mem,
	};
	if (ioctl(vm->fd, KVM_SET_USER_MEMORY_REGION, &mr) < 0) {
		snprintf(why, n, "KVM_SET_USER_MEMORY_REGION: %s", strerror(errno));
		return false;
	}
	vm->sh = vmm_gpa(vm, KG_SHARED);

	/* identity map of all RAM with 2 MiB pages: PML4 -> PDPT -> PD */
	u64 *pml4 = vmm_gpa(vm, KG_PML4), *pdpt = vmm_gpa(vm, KG_PDPT), *pd = vmm_gpa(vm, KG_PD);
	pml4[0] = KG_PDPT | 3;
	pdpt[0] = KG_PD | 3;
	for (u64 i = 0; i < KG_MEM_SIZE >> 21; i++)
		pd[i] = (i << 21) | 0x83; /* present, writable, 2 MiB */
	/* GDT: null, 64-bit code (0x08), data (0x10) for the IDT's gates */
	u64 *gdt = vmm_gpa(vm, KG_GDT);
	gdt[1] = 0x00af9a000000ffffULL;
	gdt[2] = 0x00cf92000000ffffULL;

	size_t img = (size_t)(kvm_guest_image_end - kvm_guest_image);
	if (img > KG_IMAGE_MAX) {
		snprintf(why, n, "guest image is %zu bytes, more than %llu", img, KG_IMAGE_MAX);
		return false;
	}
	memcpy(vmm_gpa(vm, KG_IMAGE), kvm_guest_image, img);
	vm->sh->nr_vcpus = (u32)nr_vcpus;
	return true;
}

static void set_seg(struct kvm_segment *s, u16 sel, u8 type, bool code)
{
	*s = (struct kvm_segment){ .base = 0, .limit = 0xffffffff, .selector = sel, .type = type,
				   .present = 1, .dpl = 0, .db = code ? 0 : 1, .s = 1,
				   .l = code ? 1 : 0, .g = 1 };
}

static bool setup_vcpu(struct vmm *vm, int v, struct kvm_cpuid2 *cpuid, char *why, size_t n)
{
	struct vcpu *c = &vm->vcpu[v];
	struct kvm_sregs sr;
	struct kvm_regs regs;

	c->id = v;
	atomic_store(&c->host_cpu, -1);
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->cond, NULL);
	c->fd = ioctl(vm->fd, KVM_CREATE_VCPU, v);
	if (c->fd < 0) {
		snprintf(why, n, "KVM_CREATE_VCPU %d: %s", v, strerror(errno));
		return false;
	}
	c->run = mmap(NULL, vm->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, c->fd, 0);
	if (c->run == MAP_FAILED) {
		c->run = NULL;
		snprintf(why, n, "mmap kvm_run: %s", strerror(errno));
		return false;
	}
	if (ioctl(c->fd, KVM_SET_CPUID2, cpuid) < 0) {
		snprintf(why, n, "KVM_SET_CPUID2: %s", strerror(errno));
		return false;
	}
	if (ioctl(c->fd, KVM_GET_SREGS, &sr) < 0) {
		snprintf(why, n, "KVM_GET_SREGS: %s", strerror(errno));
		return false;
	}
	set_seg(&sr.cs, 0x08, 11, true);
	set_seg(&sr.ds, 0x10, 3, false);
	sr.es = sr.fs = sr.ss = sr.gs = sr.ds;
	sr.gs.base = KG_PERCPU + 0x1000ULL * (u64)v; /* smp_processor_id() reads %gs:0 */
	sr.gdt.base = KG_GDT;
	sr.gdt.limit = 3 * 8 - 1;
	sr.cr3 = KG_PML4;
	sr.cr4 = 1u << 5;                 /* PAE */
	sr.cr0 = 0x80010011;              /* PG | WP | ET | PE */
	sr.efer = 0x500;                  /* LMA | LME */
	if (ioctl(c->fd, KVM_SET_SREGS, &sr) < 0) {
		snprintf(why, n, "KVM_SET_SREGS: %s", strerror(errno));
		return false;
	}
	*(u32 *)vmm_gpa(vm, KG_PERCPU + 0x1000ULL * (u64)v) = (u32)v;
	memset(&regs, 0, sizeof(regs));
	regs.rip = KG_IMAGE;
	regs.rsp = KG_STACKS + KG_STACK_SIZE * (u64)(v + 1);
	regs.rdi = (u64)v;
	regs.rflags = 2;
	if (ioctl(c->fd, KVM_SET_REGS, &regs) < 0) {
		snprintf(why, n, "KVM_SET_REGS: %s", strerror(errno));
		return false;
	}
	return true;
}

bool vmm_setup_vcpus(struct vmm *vm, char *why, size_t n)
{
	int nent = 256;
	struct kvm_cpuid2 *cpuid = calloc(1, sizeof(*cpuid) + (size_t)nent * sizeof(cpuid->entries[0]));
	bool ok = true;

	if (!cpuid) {
		snprintf(why, n, "out of memory");
		return false;
	}
	cpuid->nent = (u32)nent;
	if (ioctl(vm->kvm, KVM_GET_SUPPORTED_CPUID, cpuid) < 0) {
		snprintf(why, n, "KVM_GET_SUPPORTED_CPUID: %s", strerror(errno));
		free(cpuid);
		return false;
	}
	for (int v = 0; v < vm->nr_vcpus && ok; v++)
		ok = setup_vcpu(vm, v, cpuid, why, n);
	free(cpuid);
	if (ok) {
		vm->tsc_khz = 0;
		int khz = ioctl(vm->vcpu[0].fd, KVM_GET_TSC_KHZ, 0);
		if (khz > 0)
			vm->tsc_khz = (u32)khz;
		vm->sh->tsc_khz = vm->tsc_khz;
	}
	return ok;
}

/* -------------------------------------------------------- vCPU thread -- */

static __thread struct kvm_run *kick_run;

/* A kick: KVM_RUN returns EINTR now, or at once if it was not yet entered. */
static void on_kick(int sig)
{
	(void)sig;
	if (kick_run)
		kick_run->immediate_exit = 1;
}

bool vmm_get_clock(struct vmm *vm, struct kvm_clock_data *d)
{
	memset(d, 0, sizeof(*d));
	return ioctl(vm->fd, KVM_GET_CLOCK, d) == 0;
}

static void vmm_vreport(struct vmm *vm, int v, const char *oracle, const char *fmt, va_list ap)
{
	pthread_mutex_lock(&vm->crash_lock);
	if (!vm->crash.hit) {
		vm->crash.hit = true;
		vm->crash.vcpu = v;
		snprintf(vm->crash.oracle, sizeof(vm->crash.oracle), "%s", oracle);
		vsnprintf(vm->crash.what, sizeof(vm->crash.what), fmt, ap);
		atomic_store(&vm->crashed, true);
	}
	pthread_mutex_unlock(&vm->crash_lock);
}

void vmm_report(struct vmm *vm, int v, const char *oracle, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vmm_vreport(vm, v, oracle, fmt, ap);
	va_end(ap);
}

static void crash(struct vmm *vm, int v, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void crash(struct vmm *vm, int v, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vmm_vreport(vm, v, "guest_fault", fmt, ap);
	va_end(ap);
}

/* The guest's bracket: KVM_GET_CLOCK under clock_lock, with the set window's seq. */
static void serve_bracket(struct vmm *vm, int v)
{
	struct kg_vcpu *gv = &vm->sh->vcpu[v];
	struct kvm_clock_data d;
	bool ok;

	pthread_mutex_lock(&vm->clock_lock);
	ok = vmm_get_clock(vm, &d);
	gv->bracket_clock = d.clock;
	gv->bracket_set_seq = __atomic_load_n(&vm->sh->set_seq, __ATOMIC_RELAXED);
	gv->bracket_ok = ok;
	pthread_mutex_unlock(&vm->clock_lock);
}

/* false: this vCPU is finished */
static bool handle_exit(struct vmm *vm, int v)
{
	struct kvm_run *run = vm->vcpu[v].run;
	struct kg_vcpu *gv = &vm->sh->vcpu[v];

	switch (run->exit_reason) {
	case KVM_EXIT_IO: {
		u32 val = 0;
		if (run->io.direction == KVM_EXIT_IO_OUT && run->io.size <= 4)
			memcpy(&val, (u8 *)run + run->io.data_offset, run->io.size);
		switch (run->io.port) {
		case KG_PORT_BOOTED:
			atomic_store(&vm->booted, true);
			return true;
		case KG_PORT_BRACKET:
			if (val)
				serve_bracket(vm, v);
			return true;
		case KG_PORT_PARKED:
			return true;
		case KG_PORT_FINDING:
			atomic_store(&vm->finding, true);
			return true;
		case KG_PORT_DONE:
			return false;
		case KG_PORT_EXCEPTION:
			crash(vm, v, "guest CPU exception %llu (error code %#llx) at rip %#llx",
			      (unsigned long long)gv->exc_vector, (unsigned long long)gv->exc_error,
			      (unsigned long long)gv->exc_rip);
			return false;
		default:
			crash(vm, v, "guest wrote to unknown port %#x", run->io.port);
			return false;
		}
	}
	case KVM_EXIT_HLT:
		return false;
	case KVM_EXIT_SHUTDOWN:
		crash(vm, v, "guest triple fault (KVM_EXIT_SHUTDOWN)");
		return false;
	case KVM_EXIT_MMIO:
		crash(vm, v, "guest touched unmapped GPA %#llx", (unsigned long long)run->mmio.phys_addr);
		return false;
	case KVM_EXIT_FAIL_ENTRY:
		crash(vm, v, "KVM_EXIT_FAIL_ENTRY hardware reason %#llx",
		      (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
		return false;
	case KVM_EXIT_INTERNAL_ERROR:
		crash(vm, v, "KVM_EXIT_INTERNAL_ERROR suberror %u", run->internal.suberror);
		return false;
	default:
		crash(vm, v, "unexpected exit reason %u", run->exit_reason);
		return false;
	}
}

static void serve_request(struct vmm *vm, struct vcpu *c)
{
	struct vcpu_req *r;

	pthread_mutex_lock(&c->lock);
	r = c->req;
	c->req = NULL;
	pthread_mutex_unlock(&c->lock);
	if (!r)
		return;
	r->err = r->fn(vm, c->id, r);
	pthread_mutex_lock(&c->lock);
	r->done = true;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
}

struct thread_arg {
	struct vmm *vm;
	int v;
};
static struct thread_arg thread_args[KG_MAX_VCPUS];

static void *vcpu_thread(void *p)
{
	struct thread_arg *a = p;
	struct vmm *vm = a->vm;
	struct vcpu *c = &vm->vcpu[a->v];

	atomic_store(&c->tid, (pid_t)syscall(SYS_gettid));
	kick_run = c->run;
	/* only vCPU 0 runs until the guest registry is up (boot_cpu0()) */
	while (a->v && !atomic_load(&vm->booted) && !atomic_load(&vm->quit))
		usleep(1000);
	/*
	 * PVFUZZ_KVM_TEST_HOLD=v (tests of the liveness watchdog): this vCPU's
	 * thread stops entering the guest 1 s after start, as a host that
	 * never schedules it again would.
	 */
	const char *hold = getenv("PVFUZZ_KVM_TEST_HOLD");
	u64 hold_at = hold && atoi(hold) == a->v ? vmm_now_ns() + 1000000000ULL : 0;
	for (;;) {
		if (hold_at && vmm_now_ns() > hold_at) {
			while (!atomic_load(&vm->quit)) {
				serve_request(vm, c);
				usleep(200);
			}
			break;
		}
		/* clear before looking for work: a kick after this makes KVM_RUN return */
		__atomic_store_n(&c->run->immediate_exit, 0, __ATOMIC_SEQ_CST);
		serve_request(vm, c);
		if (atomic_load(&vm->quit))
			break;
		if (atomic_load(&vm->hold)) {
			/* the VM is stopped: vCPU ioctls still come through here */
			atomic_store(&c->held, true);
			while (atomic_load(&vm->hold) && !atomic_load(&vm->quit)) {
				serve_request(vm, c);
				usleep(50);
			}
			atomic_store(&c->held, false);
			continue;
		}
		if (ioctl(c->fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			crash(vm, c->id, "KVM_RUN: %s", strerror(errno));
			break;
		}
		atomic_fetch_add(&c->exits, 1);
		if (!handle_exit(vm, c->id))
			break;
	}
	atomic_store(&c->done, true);
	/* keep serving requests until the VMM quits, so no caller waits forever */
	while (!atomic_load(&vm->quit)) {
		serve_request(vm, c);
		usleep(200);
	}
	serve_request(vm, c);
	return NULL;
}

bool vmm_start(struct vmm *vm, char *why, size_t n)
{
	struct sigaction sa = { .sa_handler = on_kick };
	sigemptyset(&sa.sa_mask);
	sigaction(KICK_SIGNAL, &sa, NULL); /* no SA_RESTART: KVM_RUN returns EINTR */
	for (int v = 0; v < vm->nr_vcpus; v++) {
		thread_args[v] = (struct thread_arg){ vm, v };
		int e = pthread_create(&vm->vcpu[v].thread, NULL, vcpu_thread, &thread_args[v]);
		if (e) {
			snprintf(why, n, "pthread_create: %s", strerror(e));
			atomic_store(&vm->quit, true);
			return false;
		}
	}
	return true;
}

/*
 * The request lives in the vCPU's own slot, not the caller's frame: a call
 * that times out (the thread is stuck in an ioctl) may still complete later.
 */
bool vmm_vcpu_call(struct vmm *vm, int v, struct vcpu_req *r)
{
	struct vcpu *c = &vm->vcpu[v];
	struct timespec dl;
	bool done;

	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += CALL_TIMEOUT_NS / 1000000000ULL;
	pthread_mutex_lock(&c->lock);
	if (c->busy) {
		pthread_mutex_unlock(&c->lock);
		return false;
	}
	c->slot = *r;
	c->slot.done = false;
	c->req = &c->slot;
	c->busy = true;
	pthread_mutex_unlock(&c->lock);
	pthread_kill(c->thread, KICK_SIGNAL);
	pthread_mutex_lock(&c->lock);
	while (!c->slot.done)
		if (pthread_cond_timedwait(&c->cond, &c->lock, &dl) != 0)
			break;
	done = c->slot.done;
	if (done) {
		*r = c->slot;
		c->busy = false;
	}
	pthread_mutex_unlock(&c->lock);
	if (!done)
		crash(vm, v, "vCPU thread did not serve a host request within %llu s",
		      CALL_TIMEOUT_NS / 1000000000ULL);
	return done;
}

bool vmm_hold_all(struct vmm *vm)
{
	u64 t0 = vmm_now_ns();
	atomic_store(&vm->hold, true);
	for (int v = 0; v < vm->nr_vcpus; v++)
		pthread_kill(vm->vcpu[v].thread, KICK_SIGNAL);
	for (int v = 0; v < vm->nr_vcpus; v++)
		while (!atomic_load(&vm->vcpu[v].held) && !atomic_load(&vm->vcpu[v].done)) {
			if (vmm_now_ns() - t0 > 1000000000ULL) {
				vmm_release_all(vm);
				return false;
			}
			pthread_kill(vm->vcpu[v].thread, KICK_SIGNAL);
			usleep(100);
		}
	return true;
}

void vmm_release_all(struct vmm *vm)
{
	atomic_store(&vm->hold, false);
}

void vmm_stop(struct vmm *vm)
{
	atomic_store(&vm->quit, true);
	for (int v = 0; v < vm->nr_vcpus; v++)
		if (vm->vcpu[v].thread) {
			pthread_kill(vm->vcpu[v].thread, KICK_SIGNAL);
			pthread_join(vm->vcpu[v].thread, NULL);
			vm->vcpu[v].thread = 0;
		}
}

void vmm_destroy(struct vmm *vm)
{
	for (int v = 0; v < vm->nr_vcpus; v++) {
		if (vm->vcpu[v].run)
			munmap(vm->vcpu[v].run, vm->run_size);
		if (vm->vcpu[v].fd > 0)
			close(vm->vcpu[v].fd);
	}
	if (vm->mem)
		munmap(vm->mem, KG_MEM_SIZE);
	if (vm->fd >= 0)
		close(vm->fd);
	if (vm->kvm >= 0)
		close(vm->kvm);
}
