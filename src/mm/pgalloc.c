// SPDX-License-Identifier: MIT
/*
 * Table-page allocator: a pool of separate table pages with descriptors kept
 * apart from the page memory (as struct ptdesc is apart from the page).
 *
 * A freed page is poisoned (ASAN_POISON_MEMORY_REGION) and goes to the head
 * of a LIFO free list, so the next allocation reuses it at once with a new
 * generation: a walker that touches a freed page is an ASan report in ASan
 * builds, and one that touches a reused page is a generation mismatch in
 * every build (TO1).  World-agnostic: malloc once, then no system calls.
 */
#include <stdlib.h>
#include <string.h>

#include "pvfuzz/mm.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define PV_MM_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define PV_MM_ASAN 1
#endif
#ifdef PV_MM_ASAN
#include <sanitizer/asan_interface.h>
#define POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define POISON(p, n) ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

void pt_pool_init(struct pt_pool *p)
{
	p->slab = aligned_alloc(64, sizeof(struct pt_page) * PT_POOL_PAGES);
	if (!p->slab)
		abort();
	pt_pool_reset(p);
}

void pt_pool_reset(struct pt_pool *p)
{
	UNPOISON(p->slab, sizeof(struct pt_page) * PT_POOL_PAGES);
	memset(p->slab, 0, sizeof(struct pt_page) * PT_POOL_PAGES);
	POISON(p->slab, sizeof(struct pt_page) * PT_POOL_PAGES);
	memset(p->desc, 0, sizeof(p->desc));
	p->nfree = PT_POOL_PAGES;
	for (int i = 0; i < PT_POOL_PAGES; i++)
		p->free_list[i] = PT_POOL_PAGES - 1 - i; /* pfn 0 first */
}

bool pt_pool_owns(const struct pt_pool *p, const volatile void *addr, int *pfn)
{
	const u8 *a = (const u8 *)addr, *b = (const u8 *)p->slab;
	if (a < b || a >= b + sizeof(struct pt_page) * PT_POOL_PAGES)
		return false;
	*pfn = (int)((size_t)(a - b) / sizeof(struct pt_page));
	return true;
}

static int pool_alloc(void *ctx, enum pt_type type)
{
	struct pt_pool *p = ctx;
	if (!p->nfree)
		return -1;
	int pfn = p->free_list[--p->nfree];
	UNPOISON(&p->slab[pfn], sizeof(struct pt_page));
	memset(&p->slab[pfn], 0, sizeof(struct pt_page));
	p->desc[pfn].gen++;
	p->desc[pfn].type = (u8)type;
	return pfn;
}

static void pool_free(void *ctx, int pfn)
{
	struct pt_pool *p = ctx;
	if (pfn < 0 || pfn >= PT_POOL_PAGES || p->desc[pfn].type == PT_FREE)
		abort(); /* double free: a model bug */
	p->desc[pfn].type = PT_FREE;
	POISON(&p->slab[pfn], sizeof(struct pt_page));
	p->free_list[p->nfree++] = pfn;
}

static struct pt_page *pool_va(void *ctx, int pfn)
{
	return &((struct pt_pool *)ctx)->slab[pfn];
}

static struct ptdesc *pool_desc(void *ctx, int pfn)
{
	return &((struct pt_pool *)ctx)->desc[pfn];
}

const struct pt_alloc_ops pt_pool_ops = { pool_alloc, pool_free, pool_va, pool_desc, NULL, NULL, NULL };

struct pt_alloc_ops pt_pool_ops_of(struct pt_pool *p)
{
	struct pt_alloc_ops ops = pt_pool_ops;
	ops.ctx = p;
	ops.slab = p->slab;
	ops.descs = p->desc;
	return ops;
}
