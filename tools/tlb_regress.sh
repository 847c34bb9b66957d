#!/usr/bin/env bash
# Replay every tlb_flush reproducer with its variant and expected outcome:
#   corpora/regress/tlb_flush/<variant-name>  ->  PVFUZZ_VARIANT=<variant-name> tlb_flush --expect <expected>
#   tools/tlb_regress.sh [BUILD_DIR]   (default build/std)
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
bin=${1:-$top/build/std}/tlb_flush
rc=0
for f in "$top"/corpora/regress/tlb_flush/*; do
  v=$(basename "$f")
  want=$(python3 "$top/tools/tlb_variants.py" expect "$v") || { echo "unknown variant $v"; rc=1; continue; }
  PVFUZZ_VARIANT=$v "$bin" --check-determinism 3 --expect "$want" "$f" || rc=1
done
exit $rc
