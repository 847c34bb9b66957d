#!/usr/bin/env bash
# Replays every tlb_flush reproducer with the expectation the C registry
# gives its selection, three times each (determinism):
#   tools/tlb_regress.sh [BUILD_DIR]   (default build/std)
# (ctest's regress.* tests do the same for every target.)
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
dir=${1:-$top/build/std}
bin=$dir/tlb_flush
rc=0
for f in "$top"/corpora/regress/tlb_flush/*; do
	v=$(basename "$f")
	want=$("$dir/pvfuzz-list" --select "$v" | cut -f4) || { echo "unknown variant $v"; rc=1; continue; }
	[ "$want" != safe ] || want=none
	PVFUZZ_VARIANT=$v "$bin" --check-determinism 3 --expect "$want" "$f" || rc=1
done
exit $rc
