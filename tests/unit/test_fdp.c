// SPDX-License-Identifier: MIT
/*
 * The FuzzedDataProvider-style decoder (src/sim/fdp.h): defaults when bytes
 * run out, front and back meeting in the middle, byte order, and no read
 * outside the input (buffers are exact-size heap copies, so an ASan build
 * catches any over-read).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/fdp.h"

static int failures;
#define CHECK(c)                                                                 \
	do {                                                                     \
		if (!(c)) {                                                      \
			fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #c); \
			failures++;                                              \
		}                                                                \
	} while (0)

static u8 *dup_bytes(const void *p, size_t n)
{
	u8 *b = malloc(n ? n : 1);
	if (n)
		memcpy(b, p, n);
	return b;
}

static void test_empty(void)
{
	u8 *b = dup_bytes("", 0);
	struct fdp f;
	fdp_init(&f, b, 0);
	CHECK(fdp_remaining(&f) == 0);
	CHECK(fdp_u8(&f, 0x42) == 0x42);
	CHECK(fdp_uint(&f, 8, 0x1122334455667788ULL) == 0x1122334455667788ULL);
	CHECK(fdp_tail_u8(&f, 7) == 7);
	CHECK(fdp_tail_u16(&f, 0xbeef) == 0xbeef);
	u8 dst[4] = { 9, 9, 9, 9 };
	CHECK(fdp_bytes(&f, dst, sizeof(dst)) == 0);
	CHECK(dst[0] == 9 && dst[3] == 9);
	CHECK(fdp_remaining(&f) == 0);
	/* a NULL data pointer with size 0 is an input too */
	fdp_init(&f, NULL, 0);
	CHECK(fdp_u8(&f, 1) == 1 && fdp_tail_u8(&f, 2) == 2);
	free(b);
}

static void test_front_back_meet(void)
{
	static const u8 in[3] = { 1, 2, 3 };
	u8 *b = dup_bytes(in, 3);
	struct fdp f;
	fdp_init(&f, b, 3);
	CHECK(fdp_u8(&f, 0) == 1);
	CHECK(fdp_tail_u8(&f, 0) == 3);
	CHECK(fdp_remaining(&f) == 1);
	CHECK(fdp_tail_u16(&f, 0xaaaa) == 0xaaaa); /* one byte is not enough: default, nothing taken */
	CHECK(fdp_remaining(&f) == 1);
	CHECK(fdp_u8(&f, 0) == 2);
	CHECK(fdp_u8(&f, 0x55) == 0x55);
	CHECK(fdp_tail_u8(&f, 0x66) == 0x66);
	CHECK(fdp_remaining(&f) == 0);
	free(b);
}

static void test_byte_order(void)
{
	static const u8 in[8] = { 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08 };
	u8 *b = dup_bytes(in, 8);
	struct fdp f;
	fdp_init(&f, b, 8);
	CHECK(fdp_uint(&f, 2, 0) == 0x0201);           /* front: little-endian */
	CHECK(fdp_tail_u16(&f, 0) == 0x0708);          /* back: last byte is the low byte */
	CHECK(fdp_uint(&f, 4, 0xdead) == 0x06050403);  /* exactly the 4 between the cursors */
	CHECK(fdp_remaining(&f) == 0);
	CHECK(fdp_uint(&f, 1, 0xdead) == 0xdead);
	free(b);

	b = dup_bytes(in, 8);
	fdp_init(&f, b, 8);
	CHECK(fdp_uint(&f, 8, 0) == 0x0807060504030201ULL);
	CHECK(fdp_remaining(&f) == 0);
	free(b);
}

static void test_uint_short(void)
{
	static const u8 in[3] = { 0xaa, 0xbb, 0xcc };
	u8 *b = dup_bytes(in, 3);
	struct fdp f;
	fdp_init(&f, b, 3);
	CHECK(fdp_uint(&f, 4, 77) == 77); /* too few bytes: default, none consumed */
	CHECK(fdp_remaining(&f) == 3);
	CHECK(fdp_uint(&f, 3, 0) == 0xccbbaa);
	CHECK(fdp_uint(&f, 1, 5) == 5);
	free(b);
}

static void test_bytes_partial(void)
{
	static const u8 in[5] = { 1, 2, 3, 4, 5 };
	u8 *b = dup_bytes(in, 5);
	struct fdp f;
	fdp_init(&f, b, 5);
	CHECK(fdp_tail_u8(&f, 0) == 5);
	u8 dst[8];
	memset(dst, 0xee, sizeof(dst));
	CHECK(fdp_bytes(&f, dst, sizeof(dst)) == 4); /* stops at the back cursor */
	CHECK(dst[0] == 1 && dst[3] == 4 && dst[4] == 0xee && dst[7] == 0xee);
	CHECK(fdp_remaining(&f) == 0);
	CHECK(fdp_bytes(&f, dst, 1) == 0);
	free(b);
}

/* Random interleavings of all calls never over-read and conserve bytes. */
static void test_random_walk(void)
{
	u32 x = 12345;
	for (int round = 0; round < 2000; round++) {
		x = x * 1103515245u + 12345u;
		size_t n = (x >> 8) % 70;
		u8 *b = malloc(n ? n : 1);
		for (size_t i = 0; i < n; i++)
			b[i] = (u8)(x >> (i % 24));
		struct fdp f;
		fdp_init(&f, b, n);
		size_t taken = 0;
		for (int k = 0; k < 40; k++) {
			x = x * 1103515245u + 12345u;
			size_t before = fdp_remaining(&f);
			u8 dst[40];
			switch ((x >> 16) % 5) {
			case 0: (void)fdp_u8(&f, 0); break;
			case 1: (void)fdp_uint(&f, 1 + (x >> 20) % 8, 0); break;
			case 2: (void)fdp_tail_u8(&f, 0); break;
			case 3: (void)fdp_tail_u16(&f, 0); break;
			case 4: (void)fdp_bytes(&f, dst, (x >> 20) % 40); break;
			}
			CHECK(fdp_remaining(&f) <= before);
			taken += before - fdp_remaining(&f);
			CHECK(f.front <= f.back && f.back <= n);
		}
		CHECK(taken + fdp_remaining(&f) == n);
		free(b);
	}
}

int main(void)
{
	test_empty();
	test_front_back_meet();
	test_byte_order();
	test_uint_short();
	test_bytes_partial();
	test_random_walk();
	if (failures) {
		fprintf(stderr, "test_fdp: %d check(s) failed\n", failures);
		return 1;
	}
	printf("test_fdp: ok\n");
	return 0;
}
