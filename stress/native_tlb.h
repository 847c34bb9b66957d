/* SPDX-License-Identifier: MIT */
/*
 * Native runtime pieces of the TLB model (src/mm, include/pvfuzz/mm.h):
 *
 *   native_ipi.c  smp_call_function_many() / num_online_cpus() of compat.h:
 *                 a real per-vCPU mailbox with an ack per sender, polled
 *                 only at the vCPU's IRQ-enabled points (never inside an
 *                 IRQ-off section, never while the host has it parked);
 *   native_rcu.c  mm.h's rcu_read_lock/unlock, rcu_quiescent_state,
 *                 call_rcu, synchronize_rcu on liburcu (qsbr, or mb).
 *
 * Only vCPU threads (native_set_thread_vcpu) send or take IPIs and are RCU
 * readers.
 */
#ifndef PVFUZZ_STRESS_NATIVE_TLB_H
#define PVFUZZ_STRESS_NATIVE_TLB_H

#include <stdatomic.h>

#include "pvfuzz/mm.h"

/* ---- IPIs ---- */
void native_ipi_init(int nr_vcpus);
/* Take the calling vCPU's pending IPIs now (an IRQ-enabled point). */
void native_ipi_poll(void);
bool native_ipi_in_handler(void);
extern _Atomic u64 native_ipis_sent, native_ipis_handled;

/* ---- RCU (liburcu) ---- */
const char *native_rcu_flavour(void);
void native_rcu_thread_online(void);   /* register: a vCPU thread starts */
void native_rcu_thread_exit(void);     /* offline + unregister */
void native_rcu_halt(bool halted);     /* an idle/halted vCPU: thread_offline/online */
void native_rcu_irq_disabled(void);    /* IRQ-off section begins (mb: read lock) */
void native_rcu_irq_enabled(void);     /* IRQ-enabled point (qsbr: quiescent state) */
void native_rcu_barrier(void);         /* run every pending callback (teardown) */
extern _Atomic u64 native_rcu_qs, native_rcu_cbs;

#endif
