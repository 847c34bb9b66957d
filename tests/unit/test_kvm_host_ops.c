// SPDX-License-Identifier: MIT
/*
 * The host-operation encoding (include/pvfuzz/kvm_host_ops.h): every byte
 * string decodes, missing bytes read as 0, an op consumes exactly its
 * fixed and value bytes, and each kind has a name and an actor.
 */
#include <stdio.h>
#include <string.h>

#include "pvfuzz/kvm_host_ops.h"

static int failed;

#define CHECK(cond, ...)                                                      \
	do {                                                                  \
		if (!(cond)) {                                                \
			failed++;                                             \
			printf("FAIL %s:%d: ", __FILE__, __LINE__);           \
			printf(__VA_ARGS__);                                  \
			printf("\n");                                         \
		}                                                             \
	} while (0)

int main(void)
{
	struct kvm_host_op op;
	u8 buf[64];

	/* nothing at all: the first kind, arg 0, delay 0, value 0 */
	CHECK(kvm_host_op_decode(NULL, 0, &op) == 0, "empty input consumed bytes");
	CHECK(op.kind == 0 && op.arg == 0 && op.delay == 0 && op.value == 0, "empty input defaults");

	for (int k = 0; k < 256; k++) {
		enum kvm_host_op_kind kind = (enum kvm_host_op_kind)(k % KVM_HOP_NR);
		unsigned nv = kvm_host_op_value_bytes(kind);
		memset(buf, 0, sizeof(buf));
		buf[0] = (u8)k;
		buf[1] = 0xa5;
		buf[2] = 0xff;
		for (unsigned b = 0; b < 8; b++)
			buf[3 + b] = (u8)(0x11 * (b + 1));
		size_t n = kvm_host_op_decode(buf, sizeof(buf), &op);
		CHECK(op.kind == kind, "kind %d", k);
		CHECK(n == KVM_HOP_FIXED_BYTES + nv, "kind %d consumed %zu", k, n);
		CHECK(op.arg == 0xa5 && op.delay == 15, "arg/delay");
		u64 want = 0;
		for (unsigned b = 0; b < nv; b++)
			want |= (u64)(0x11 * (b + 1)) << (8 * b);
		CHECK(op.value == want, "kind %d value %llx want %llx", k, (unsigned long long)op.value,
		      (unsigned long long)want);
		CHECK(kvm_host_op_name(kind)[0] != '?', "kind %d unnamed", k);
		unsigned who = kvm_host_op_who(kind);
		CHECK(who == KVM_HOP_BY_VMM || who == KVM_HOP_BY_HOST || who == KVM_HOP_BY_KVM ||
		      who == KVM_HOP_BY_GUEST, "kind %d has no actor", k);
		/* a truncated op: never reads past the end, zeros for the rest */
		for (size_t len = 0; len <= n; len++) {
			struct kvm_host_op t;
			size_t m = kvm_host_op_decode(buf, len, &t);
			CHECK(m == len, "truncated to %zu consumed %zu", len, m);
			u64 mask = len <= 3 ? 0 : (len - 3 >= 8 ? ~0ULL : (1ULL << (8 * (len - 3))) - 1);
			CHECK(t.value == (want & mask), "truncated value");
		}
	}
	CHECK(kvm_host_op_s32(&(struct kvm_host_op){ .value = 0xffffffffu }) == -1, "s32 sign");
	printf("test_kvm_host_ops: %s\n", failed ? "FAILED" : "ok");
	return failed != 0;
}
