/* SPDX-License-Identifier: MIT */
/*
 * The counting CHECK of the layout unit tests: a failed check prints its
 * line and the test goes on, so one run lists every wrong offset; main()
 * returns failed != 0.
 */
#ifndef PVFUZZ_TEST_CHECK_H
#define PVFUZZ_TEST_CHECK_H

#include <stdio.h>

static int passed, failed;

#define CHECK(cond, ...)                                                      \
	do {                                                                  \
		if (cond) {                                                   \
			passed++;                                             \
		} else {                                                      \
			failed++;                                             \
			printf("FAIL %s:%d: ", __FILE__, __LINE__);           \
			printf(__VA_ARGS__);                                  \
			printf("\n");                                         \
		}                                                             \
	} while (0)

#define CHECK_EQ(a, b) CHECK((size_t)(a) == (size_t)(b), "%s = %zu, want %zu", #a, (size_t)(a), (size_t)(b))

#endif
