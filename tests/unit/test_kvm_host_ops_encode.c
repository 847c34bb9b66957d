// SPDX-License-Identifier: MIT
/*
 * kvm_host_op_encode() is kvm_host_op_decode()'s inverse: every op a random
 * generator (pvfuzz-kvm's seeded mode) can produce decodes back to itself,
 * value truncated to the kind's value bytes, and a stream of encoded ops
 * decodes op by op.
 */
#include <stdio.h>
#include <string.h>

#include "pvfuzz/kvm_host_ops.h"

static int failed;

static void expect(bool ok, const char *what, int i)
{
	if (!ok) {
		failed++;
		printf("FAIL: %s (op %d)\n", what, i);
	}
}

int main(void)
{
	u8 stream[11 * 4096];
	size_t len = 0;
	u64 x = 0x9E3779B97F4A7C15ULL;
	struct kvm_host_op want[4096];

	for (int i = 0; i < 4096; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		struct kvm_host_op op = { .kind = (enum kvm_host_op_kind)(x % KVM_HOP_NR),
					  .arg = (u8)(x >> 8), .delay = (u8)((x >> 16) & 15), .value = x * 31 };
		unsigned nv = kvm_host_op_value_bytes(op.kind);
		op.value &= nv == 8 ? ~0ULL : (1ULL << (8 * nv)) - 1;
		size_t n = kvm_host_op_encode(&op, stream + len);
		expect(n == KVM_HOP_FIXED_BYTES + nv, "encoded length", i);
		struct kvm_host_op back;
		expect(kvm_host_op_decode(stream + len, n, &back) == n, "decoded length", i);
		expect(back.kind == op.kind && back.arg == op.arg && back.delay == op.delay &&
		       back.value == op.value, "round trip", i);
		want[i] = op;
		len += n;
	}
	size_t off = 0;
	for (int i = 0; i < 4096; i++) {
		struct kvm_host_op back;
		off += kvm_host_op_decode(stream + off, len - off, &back);
		expect(back.kind == want[i].kind && back.value == want[i].value, "stream decode", i);
	}
	expect(off == len, "the stream decodes to its end", -1);
	printf("test_kvm_host_ops_encode: %s\n", failed ? "FAILED" : "ok");
	return failed != 0;
}
