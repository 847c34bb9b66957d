// SPDX-License-Identifier: MIT
/*
 * TLB / page-table-freeing oracles (tlb-protocols.md section 6, TO1-TO6):
 * the named failure points the tlb harness (src/mm/tlb_harness.c) calls
 * when its ground truth disagrees with what the code under test did.
 */
#include "oracle/oracle.h"

/* TO1: a freed or re-generation'd table page touched through a walker's pointer */
__noinline void oracle_table_uaf(const char *what)
{
	pv_oracle_fail("table_uaf", "%s (TO1)", what);
}

/* TO3: a translation used after the flush that removed it returned */
__noinline void oracle_stale_tlb(const char *what)
{
	pv_oracle_fail("stale_tlb", "%s (TO3)", what);
}

/* TO2: the page returned is not the mapping at any instant of the walk */
__noinline void oracle_walker_linearizable(const char *what)
{
	pv_oracle_fail("walker_linearizable", "%s (TO2)", what);
}

/* TO4: a paging-structure-cache hit on a freed or reused table page */
__noinline void oracle_stale_psc(const char *what)
{
	pv_oracle_fail("stale_psc", "%s (TO4)", what);
}

/* TO5: a reference taken on a page whose refcount was zero (a free page) */
__noinline void oracle_refcount_zero(const char *what)
{
	pv_oracle_fail("refcount_zero", "%s (TO5)", what);
}

/* TO6: model self-check - an IPI or quiescent state inside a read-side section */
__noinline void oracle_irq_discipline(const char *what)
{
	pv_oracle_fail("irq_discipline", "%s (TO6)", what);
}

/* TO7: a flush backend uses per-CPU state its boot-time init never set up */
__noinline void oracle_backend_init(const char *what)
{
	pv_oracle_fail("backend_init", "%s (TO7)", what);
}

/* TO8: once every task has finished, a data page's references are not its mappings */
__noinline void oracle_page_refs(const char *what)
{
	pv_oracle_fail("page_refs", "%s (TO8)", what);
}
