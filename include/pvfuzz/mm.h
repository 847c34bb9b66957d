/* SPDX-License-Identifier: MIT */
/*
 * mm.h - the software MMU: page tables, per-vCPU TLBs and paging-structure
 * caches, flush backends, mmu_gather, table freeing (immediate / semi-RCU /
 * RCU), lockless walkers.  Written like the kernel code it models
 * (mm/mmu_gather.c, mm/gup.c, arch/x86/mm/tlb.c, arch/x86/{hyperv,xen},
 * arch/x86/kernel/kvm.c) against compat.h only; both worlds compile it.
 *
 * Shape (small on purpose: every table access is a scheduling point):
 *   3 levels, PTRS_PER_TABLE entries each: pgd -> pmd table -> pte table.
 *   An entry holds a pfn, never a pointer, so traces are the same in every
 *   build: a table entry's pfn names a table page of the table allocator, a
 *   pte's pfn names a data page (struct page with a refcount).
 *
 * What each world provides:
 *   - struct pt_alloc_ops: table pages as SEPARATE allocations (the pool in
 *     pgalloc.c: a malloc'd slab, freed slots ASan-poisoned, LIFO reuse);
 *   - struct mm_hooks: ground truth and oracles (sim), counters (native);
 *   - smp_call_function_many / pv_vm_exit (compat.h) and the host models.
 *
 * "Bookkeeping" state that is hardware or model state rather than protocol
 * memory (the TLB and PSC contents, RCU's counters, the data-page free map)
 * is accessed with MM_BK_* (relaxed atomics: no scheduling point in the sim,
 * no data race in native).  Protocol memory (page-table entries, refcounts,
 * tlb_gen, lazy flags, steal-time bytes) goes through compat.h.
 */
#ifndef PVFUZZ_MM_H
#define PVFUZZ_MM_H

#include "pvfuzz/compat.h"
#include "pvfuzz/variant.h"

#define MM_MAX_CPUS 8
#define PTRS_PER_TABLE 4
#define MM_NR_VPN (PTRS_PER_TABLE * PTRS_PER_TABLE) /* pgd[0] only: 16 pages */
#define MM_DATA_PAGES 48
#define MM_TLB_ENTRIES 4
#define MM_RCU_CBS 32
#define MAX_TABLE_BATCH 2   /* entries of one mmu_table_batch page (kernel: ~509) */
#define MM_GATHER_PAGES 16
#define TLB_FLUSH_ALL (-1)

#define MM_BK_READ(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)
#define MM_BK_WRITE(x, v) __atomic_store_n(&(x), (v), __ATOMIC_RELAXED)

/* entries */
#define _PAGE_PRESENT 0x1ULL
#define _PAGE_RW 0x2ULL
#define _PAGE_USER 0x4ULL
#define PAGE_SHIFT 12
#define pte_present(v) ((v) & _PAGE_PRESENT)
#define pte_pfn(v) ((int)((v) >> PAGE_SHIFT))
#define mk_entry(pfn, fl) (((u64)(pfn) << PAGE_SHIFT) | (fl))
#define vpn_pmd_index(vpn) ((vpn) / PTRS_PER_TABLE)
#define vpn_pte_index(vpn) ((vpn) % PTRS_PER_TABLE)

/* ------------------------------------------------------ table pages -- */

enum pt_type { PT_FREE, PT_PGD, PT_PMD, PT_PTE };

/* The descriptor of a table page (ptdesc / struct page): never freed. */
struct ptdesc {
	u32 gen;  /* bumped at every allocation: a reused page is a new generation */
	u8 type;  /* enum pt_type; PT_FREE while freed */
};

struct pt_page {
	u64 e[PTRS_PER_TABLE];
};

struct pt_alloc_ops {
	int (*alloc)(void *ctx, enum pt_type type);     /* pfn of a zeroed page, -1 if none */
	void (*free)(void *ctx, int pfn);
	struct pt_page *(*va)(void *ctx, int pfn);     /* __va(pfn) */
	struct ptdesc *(*desc)(void *ctx, int pfn);
	void *ctx;
	/* optional: the pages are slab[pfn] and their descriptors descs[pfn]
	 * (the pool), so __va() is arithmetic instead of a call per access */
	struct pt_page *slab;
	struct ptdesc *descs;
};

/* The pool both worlds can use (pgalloc.c). */
#define PT_POOL_PAGES 40
struct pt_pool {
	struct pt_page *slab;          /* PT_POOL_PAGES separate-looking pages */
	struct ptdesc desc[PT_POOL_PAGES];
	int free_list[PT_POOL_PAGES];  /* LIFO: a freed page is the next one handed out */
	int nfree;
};
void pt_pool_init(struct pt_pool *p); /* once */
void pt_pool_reset(struct pt_pool *p); /* every run: all pages free and poisoned */
bool pt_pool_owns(const struct pt_pool *p, const volatile void *addr, int *pfn);
extern const struct pt_alloc_ops pt_pool_ops; /* ctx = struct pt_pool * */
struct pt_alloc_ops pt_pool_ops_of(struct pt_pool *p); /* pt_pool_ops bound to p */

/* ------------------------------------------------------ data pages -- */

struct page {
	atomic_t _refcount;
};

/* ---------------------------------------------------- TLB and PSC -- */

struct tlb_entry {
	u8 valid;
	u8 vpn;
	u8 pfn;
	u8 rw;
	u32 ver; /* the world's mapping version of vpn when filled (ground truth) */
};

/* A paging-structure-cache entry: the pmd entry for a pmd index, i.e. a
 * cached pointer to a pte table, with the table's generation at fill. */
struct psc_entry {
	u8 valid;
	u8 pfn;
	u32 gen;
};

#define KVM_VCPU_PREEMPTED (1 << 0)
#define KVM_VCPU_FLUSH_TLB (1 << 1)

/* The guest/host ABI (arch/x86/include/uapi/asm/kvm_para.h), 64 bytes */
struct kvm_steal_time {
	u64 steal;
	u32 version;
	u32 flags;
	u8 preempted;
	u8 u8_pad[3];
	u32 pad[11];
};

/* The host's private per-vCPU steal-time state (vcpu->arch.st and friends) */
struct kvm_vcpu_st {
	u8 preempted;                /* vcpu->arch.st.preempted: what the host last wrote */
	u8 at_instruction_boundary;  /* vcpu->arch.at_instruction_boundary of the last exit */
	u64 last_steal;              /* vcpu->arch.st.last_steal */
	u64 run_delay;               /* current->sched_info.run_delay of the vCPU thread */
	u32 preemption_reported, preemption_other; /* vcpu->stat */
};

/* Per-vCPU state: cpu_tlbstate + the hardware TLB/PSC + steal time. */
struct mm_cpu {
	struct tlb_entry tlb[MM_TLB_ENTRIES];
	struct psc_entry psc[PTRS_PER_TABLE];
	u8 loaded;    /* CR3 points at this mm (else init_mm) */
	u8 is_lazy;   /* cpu_tlbstate_shared.is_lazy, read remotely */
	u64 tlb_gen;  /* ctxs[asid].tlb_gen */
	struct kvm_steal_time st; /* shared with the host */
	struct kvm_vcpu_st kvm;   /* host-private, touched by the vCPU's own thread only */
	/*
	 * Hardware: a user access in flight between its translation and its
	 * data access (enum mm_insn_state), and the vpn it translated.
	 */
	u8 insn;
	u8 insn_vpn;
	u8 xen_flush_pending;     /* host side: flush at next schedule */
	int rcu_nesting;
};

/*
 * One guest instruction's memory access: translated (TLB or page walk),
 * then performed one scheduling point later.  Interrupts are taken only
 * between instructions, so a TLB flush of this vCPU that lands in between
 * (a host flush of a running vCPU, or one at an exit the hardware restarts
 * from) makes the hardware retry it with a new translation.  An exit the
 * host finishes by emulating the instruction keeps the translation already
 * made: KVM's emulator on the vCPU thread (why 6cd88243c7e0 reports only
 * exits at instruction boundaries as preempted).
 */
enum mm_insn_state {
	MM_INSN_NONE,
	MM_INSN_INFLIGHT,  /* translated, data access not yet performed */
	MM_INSN_EMULATED,  /* the host took an exit inside it and completes it */
	MM_INSN_RESTART,   /* its translation was flushed: the hardware retries it */
};

/* ---------------------------------------------------------- RCU -- */

struct mm_struct;
typedef void (*rcu_cb_t)(struct mm_struct *mm, int arg);

struct rcu_state {
	u64 qs[MM_MAX_CPUS];
	u8 idle[MM_MAX_CPUS];
	struct {
		rcu_cb_t fn;
		int arg;
		u64 snap[MM_MAX_CPUS];
	} cb[MM_RCU_CBS];
	int ncb;
};

void rcu_read_lock(struct mm_struct *mm);
void rcu_read_unlock(struct mm_struct *mm);
/* This vCPU is at an IRQ-enabled point outside any read-side section. */
void rcu_quiescent_state(struct mm_struct *mm);
void call_rcu(struct mm_struct *mm, rcu_cb_t fn, int arg);
void synchronize_rcu(struct mm_struct *mm);
/* this vCPU's tasks are done: it idles in an extended quiescent state */
void rcu_idle_enter(struct mm_struct *mm);

/* ---------------------------------------------------------- hooks -- */

enum mm_section { MM_SEC_IRQOFF, MM_SEC_RCU };

struct mm_hooks {
	/* ground truth: the mapping of [vpn, vpn+n) may just have changed */
	void (*mapping_changed)(struct mm_struct *mm, int vpn, int n);
	u32 (*ref_version)(struct mm_struct *mm, int vpn);
	/* a lockless walker derived table pfn from an entry it loaded */
	void (*table_ref)(struct mm_struct *mm, int pfn);
	void (*section)(struct mm_struct *mm, enum mm_section kind, bool enter);
	/* a walker's speculative reference on data page pfn succeeded */
	void (*grab)(struct mm_struct *mm, int vpn, int pfn);
	void (*ipi)(struct mm_struct *mm);       /* an IPI handler runs here */
	void (*quiescent)(struct mm_struct *mm); /* this vCPU reports a QS */
	void (*flush_begin)(struct mm_struct *mm, int start, int end);
	void (*flush_end)(struct mm_struct *mm, int start, int end);
	void (*tlb_use)(struct mm_struct *mm, int cpu, const struct tlb_entry *e);
	void (*psc_use)(struct mm_struct *mm, int cpu, int pfn, u32 gen);
	void (*page_freed)(struct mm_struct *mm, int pfn);
	/* collapse decided pfn is unpinned and discards it (its copy lives on) */
	void (*discard)(struct mm_struct *mm, int pfn);
	/* __get_free_page(GFP_NOWAIT) for a table batch fails */
	bool (*batch_alloc_fails)(struct mm_struct *mm);
	/* need_resched() at a cond_resched() inside a long mm operation
	 * (NULL: always; false: a scheduling point that does not give way) */
	bool (*need_resched)(struct mm_struct *mm);
	/* zalloc_cpumask_var_node() at boot fails (the backend's per-CPU mask) */
	bool (*cpumask_alloc_fails)(struct mm_struct *mm, int cpu);
	/* host side: is vCPU cpu running on a pCPU right now */
	bool (*vcpu_running)(struct mm_struct *mm, int cpu);
	/* a user access translated vpn to pfn (a translation of mapping version ver);
	 * its data access is the next scheduling point of this vCPU */
	void (*user_translated)(struct mm_struct *mm, int cpu, int vpn, int pfn, u32 ver);
	void *ctx;
};

#define mm_hook(mm, h, ...)                                                   \
	do {                                                                  \
		if ((mm)->hooks && (mm)->hooks->h)                            \
			(mm)->hooks->h((mm), ##__VA_ARGS__);                  \
	} while (0)

/* ----------------------------------------------------- variant ops -- */

struct flush_tlb_info {
	struct mm_struct *mm;
	int start, end;  /* vpn range, end exclusive; end == TLB_FLUSH_ALL: all */
	u64 new_tlb_gen;
	bool freed_tables;
	int initiating_cpu;
};

struct tlb_flush_ops {
	/* pv_ops.mmu.flush_tlb_multi: every CPU in cpus except the caller */
	void (*flush_tlb_multi)(struct mm_struct *mm, pv_cpumask_t cpus, const struct flush_tlb_info *info);
	bool range_freed_tables; /* flush_tlb_range() passes freed_tables=true (3ef938c3) */
	/* the host's side (NULL: nothing) */
	u64 (*host_hypercall)(struct mm_struct *mm, int cpu, u64 nr, u64 arg);
	void (*host_vcpu_put)(struct mm_struct *mm, int cpu);
	void (*host_vcpu_entry)(struct mm_struct *mm, int cpu);
	/*
	 * Host code of the vCPU's thread between its resume and VM entry
	 * (vcpu_enter_guest's KVM_REQ_STEAL_UPDATE: record_steal_time): unlike
	 * host_vcpu_entry it runs with scheduling points, so other vCPUs' guest
	 * code interleaves with it, and the vCPU can be descheduled inside it
	 * (host_vcpu_put again, then this again).
	 */
	void (*host_vcpu_run)(struct mm_struct *mm, int cpu);
	/*
	 * Guest boot (kvm_guest_init + the arch_initcall that allocates the
	 * backend's per-CPU state): returns what pv_ops.mmu.flush_tlb_multi
	 * ends up as.  NULL: the backend itself, nothing to set up.
	 */
	const struct tlb_flush_ops *(*guest_init)(struct mm_struct *mm);
	/*
	 * The host completes an instruction it took an exit inside by
	 * emulating it with the translation already made (KVM); else the
	 * instruction is restarted after the exit (the hardware retries it).
	 */
	bool host_emulates_insn;
};
/* the native backend (arch/x86/mm/tlb.c), what pv_ops holds before a guest init */
const struct tlb_flush_ops *native_tlb_flush_ops(void);
/* KVM's host side of the steal-time preempted byte (flush_kvm_pv.c), for PV backends */
void kvm_steal_time_set_preempted(struct mm_struct *mm, int cpu); /* at vcpu_put */
void kvm_record_steal_time(struct mm_struct *mm, int cpu);        /* before entry: xchg, deferred flush, steal */
/* KVM's guest side, for a host model of one's own: kvm_flush_tlb_multi, and the
 * boot that installs `pv` once the per-CPU masks exist (else native stays) */
void kvm_flush_tlb_multi(struct mm_struct *mm, pv_cpumask_t cpus, const struct flush_tlb_info *info);
const struct tlb_flush_ops *kvm_pv_guest_init(struct mm_struct *mm, const struct tlb_flush_ops *pv);

/*
 * The mutator role: the mm-side operations a user's patch is most likely to
 * touch (mm/mmu_gather.c tlb_finish_mmu, mm/madvise.c MADV_DONTNEED,
 * mm/mprotect.c change_protection).  A NULL member is mainline's.
 */
struct mmu_gather;
struct mutator_ops {
	void (*tlb_finish_mmu)(struct mmu_gather *tlb);
	void (*madvise_dontneed)(struct mm_struct *mm, int region);
	void (*mprotect)(struct mm_struct *mm, int region, bool writable);
};

struct tlb_free_ops {
	void (*remove_table)(struct mmu_gather *tlb, int pfn); /* ___pte_free_tlb */
	void (*table_flush)(struct mmu_gather *tlb);           /* tlb_table_flush */
	void (*collapse_free)(struct mm_struct *mm, int pfn);  /* khugepaged after pmdp_collapse_flush */
	bool tables_before_flush; /* tlb_table_flush before the TLB flush (pre-d86564a2) */
	bool pages_before_flush;  /* data pages freed before the TLB flush (pre-eb66ae03) */
};

struct walker_ops {
	/*
	 * Walk [vpn, vpn + nr) (within one pte table): the pfns found go to
	 * pfns[], each with a reference held if grabs; returns how many, the
	 * walk stopping at the first page it cannot take.
	 */
	int (*walk)(struct mm_struct *mm, int vpn, int nr, int *pfns);
	bool grabs; /* returns referenced pages (else pte values only) */
};

/* ----------------------------------------------------------- mm -- */

struct mm_struct {
	int pgd;                 /* root table pfn */
	atomic64_t tlb_gen;
	pv_cpumask_t cpumask;    /* mm_cpumask */
	int nr_cpus;
	struct page pages[MM_DATA_PAGES];
	u64 page_free;           /* data pages on the free list (bit per pfn) */
	struct mm_cpu cpu[MM_MAX_CPUS];
	struct rcu_state rcu;
	const struct pt_alloc_ops *pt;
	const struct mm_hooks *hooks;
	const struct tlb_flush_ops *flush;
	const struct tlb_free_ops *free;
	const struct walker_ops *walker;
	const struct mutator_ops *mut;
	/* mutators: mmap_lock (rwsem: >0 readers, -1 a writer), the split
	 * page-table lock of each pte-table slot, mm->tlb_flush_pending */
	atomic_t mmap_lock;
	atomic_t ptl[PTRS_PER_TABLE];
	atomic_t tlb_flush_pending;
	/* Hyper-V: the per-CPU hypercall input page (hyperv_pcpu_input_arg) */
	struct hv_tlb_flush {
		u64 address_space;
		u64 flags;
		u64 processor_mask;
		u64 gva_list[MM_NR_VPN];
	} hv_input[MM_MAX_CPUS];
	/* KVM PV: the per-CPU __pv_cpu_mask (NULL until allocated) and its memory */
	pv_cpumask_t *pv_cpu_mask[MM_MAX_CPUS];
	pv_cpumask_t pv_cpu_mask_mem[MM_MAX_CPUS];
	struct pt_page *pmd_table; /* pgd[0]'s table: set up by mm_init, never changed or freed */
};

struct mmu_table_batch {
	int nr;
	int tables[MAX_TABLE_BATCH];
};

struct mmu_gather {
	struct mm_struct *mm;
	int start, end;
	bool freed_tables;
	bool cleared_ptes;
	bool fullmm;
	bool have_batch;               /* tlb->batch != NULL */
	struct mmu_table_batch batch;
	int pages[MM_GATHER_PAGES];    /* data pages (and, without TABLE_FREE, tables) */
	int nr_pages;
	int tables[PTRS_PER_TABLE * 2]; /* tables freed like pages (no MMU_GATHER_TABLE_FREE) */
	int nr_tables;
};

/* pgtable.c */
int mm_init(struct mm_struct *mm, int nr_cpus, const struct pt_alloc_ops *pt, const struct mm_hooks *hooks);
/* guest boot: mm->flush becomes what its guest_init installs (after mm->flush is set) */
void mm_guest_init(struct mm_struct *mm);
static inline struct pt_page *pt_va(struct mm_struct *mm, int pfn)
{
	return mm->pt->slab ? &mm->pt->slab[pfn] : mm->pt->va(mm->pt->ctx, pfn);
}
static inline struct ptdesc *pt_desc(struct mm_struct *mm, int pfn)
{
	return mm->pt->descs ? &mm->pt->descs[pfn] : mm->pt->desc(mm->pt->ctx, pfn);
}
int pte_alloc_table(struct mm_struct *mm);                 /* pte_alloc_one */
void pte_free(struct mm_struct *mm, int pfn);              /* pte_free / __tlb_remove_table */
int alloc_data_page(struct mm_struct *mm);                 /* refcount 1, -1 if none */
void put_page(struct mm_struct *mm, int pfn);
u64 *pmd_entry_ptr(struct mm_struct *mm, int pmd_index);   /* &pmd table[i] (pmd table is never freed) */
bool mm_map_region(struct mm_struct *mm, int region);      /* populate a pte table + pages */
/* guest user access to vpn through the TLB / PSC / hardware walk: pfn or -1 */
int mm_user_access(struct mm_struct *mm, int vpn, bool write);
/* a speculative hardware walk through the PSC (lazy CPUs too) */
void mm_speculative_walk(struct mm_struct *mm, int vpn);
/* ground-truth reference mapping of vpn (plain reads): pfn or -1 */
int mm_ref_lookup(struct mm_struct *mm, int vpn);

/* tlb.c */
void flush_tlb_mm_range(struct mm_struct *mm, int start, int end, bool freed_tables);
void flush_tlb_range(struct mm_struct *mm, int start, int end);
void flush_tlb_func(void *info);                            /* the IPI handler */
void native_flush_tlb_multi(struct mm_struct *mm, pv_cpumask_t cpus, const struct flush_tlb_info *info);
void mm_tlb_flush_cpu(struct mm_struct *mm, int cpu);       /* whole TLB + PSC of one vCPU (host or local) */
/* INVLPG of the pages [start, end) on one vCPU (the PSC goes too) */
void mm_tlb_flush_cpu_range(struct mm_struct *mm, int cpu, int start, int end);
void enter_lazy_tlb(struct mm_struct *mm);
void switch_mm_back(struct mm_struct *mm);                  /* user task returns: switch_mm_irqs_off */
void tlb_remove_table_sync_one(struct mm_struct *mm);

/* mmu_gather.c */
void tlb_gather_mmu(struct mmu_gather *tlb, struct mm_struct *mm);   /* inc_tlb_flush_pending */
void tlb_finish_mmu(struct mmu_gather *tlb);                         /* mm->mut's, or mainline */
void tlb_finish_mmu_mainline(struct mmu_gather *tlb);
void tlb_flush_mmu(struct mmu_gather *tlb);                          /* flush, then free */
void tlb_flush_pte_range(struct mmu_gather *tlb, int start, int end); /* a pte of [start,end) changed */
void dec_tlb_flush_pending(struct mm_struct *mm);
bool mm_tlb_flush_nested(struct mm_struct *mm);
/* zap [region's ptes] under the PTL into tlb; returns how many were present */
int zap_pte_range(struct mmu_gather *tlb, int region);
void mmap_read_lock(struct mm_struct *mm);
void mmap_read_unlock(struct mm_struct *mm);
void mmap_write_lock(struct mm_struct *mm);
void mmap_write_unlock(struct mm_struct *mm);
void pte_lock(struct mm_struct *mm, int region);   /* pte_offset_map_lock's spin_lock */
void pte_unlock(struct mm_struct *mm, int region);
/* cond_resched() inside a long zap: a voluntary preemption point and, no
 * spinlock held, an RCU quiescent state */
void mm_cond_resched(struct mm_struct *mm);
void madvise_dontneed(struct mm_struct *mm, int region);        /* MADV_DONTNEED (mmap_lock read) */
void madvise_dontneed_mainline(struct mm_struct *mm, int region);
void mprotect_region(struct mm_struct *mm, int region, bool writable); /* mprotect (mmap_lock write) */
void mprotect_region_mainline(struct mm_struct *mm, int region, bool writable);
/* munmap of nr regions from region (zap + free_pgtables, cond_resched between) */
void munmap_regions(struct mm_struct *mm, int region, int nr);
void tlb_table_invalidate(struct mmu_gather *tlb);
void tlb_remove_table_rcu_cb(struct mm_struct *mm, int pfn);
void unmap_region(struct mm_struct *mm, int region, bool free_tables); /* zap + free_pgtables */
void change_pte(struct mm_struct *mm, int vpn);                 /* remap to a new page + flush */
void collapse_region(struct mm_struct *mm, int region, int slow_copies); /* khugepaged-style collapse */

/* Variant registration (like PVCLOCK_READER). */
#define TLB_VARIANT(var, role_, ops_, ...)                                    \
	static const struct pv_variant var = {                                \
		.name = #var, .protocol = PV_TLB, .role = (role_),            \
		.ops = &(ops_), .file = __FILE__, __VA_ARGS__                 \
	};                                                                    \
	PV_REGISTER(var)

#endif
