/* SPDX-License-Identifier: MIT */
/*
 * FuzzedDataProvider-style decoding in C.  Scenario values and page images
 * come from the front, the schedule from the back; a value whose bytes have
 * run out takes its default, so every byte string is a valid, replayable
 * scenario and nothing is ever rejected.
 */
#ifndef PVFUZZ_FDP_H
#define PVFUZZ_FDP_H

#include "pvfuzz/types.h"

struct fdp {
	const u8 *data;
	size_t front; /* next unread byte from the front */
	size_t back;  /* one past the last unread byte from the back */
};

static inline void fdp_init(struct fdp *f, const u8 *data, size_t size)
{
	f->data = data;
	f->front = 0;
	f->back = size;
}

static inline size_t fdp_remaining(const struct fdp *f)
{
	return f->back - f->front;
}

/* Front: scenario bytes and page images. */
static inline u8 fdp_u8(struct fdp *f, u8 dflt)
{
	if (f->front >= f->back)
		return dflt;
	return f->data[f->front++];
}

static inline u64 fdp_uint(struct fdp *f, unsigned bytes, u64 dflt)
{
	u64 v = 0;
	if (fdp_remaining(f) < bytes)
		return dflt;
	for (unsigned i = 0; i < bytes; i++)
		v |= (u64)f->data[f->front++] << (8 * i);
	return v;
}

/* Copies up to n bytes; the rest of dst keeps what the caller put there. */
static inline size_t fdp_bytes(struct fdp *f, void *dst, size_t n)
{
	size_t k = fdp_remaining(f) < n ? fdp_remaining(f) : n;
	for (size_t i = 0; i < k; i++)
		((u8 *)dst)[i] = f->data[f->front + i];
	f->front += k;
	return k;
}

/* Back: the schedule. */
static inline u8 fdp_tail_u8(struct fdp *f, u8 dflt)
{
	if (f->back <= f->front)
		return dflt;
	return f->data[--f->back];
}

static inline u16 fdp_tail_u16(struct fdp *f, u16 dflt)
{
	if (fdp_remaining(f) < 2)
		return dflt;
	u16 v = (u16)(f->data[f->back - 1] | (f->data[f->back - 2] << 8));
	f->back -= 2;
	return v;
}

#endif
