#!/usr/bin/env bash
# Every combination the registry expects safe (pvfuzz-list --combos tlb), N
# libFuzzer runs each from an empty corpus.
#   tools/tlb_safe_runs.sh BUILD_LF_DIR OUTDIR [RUNS]
# Prints: combination outcome(clean|oracle) runs seconds exec/s
set -u
lf=$1/tlb_flush; out=$2; runs=${3:-200000}
# the safe combinations come from the registry (one rule, in C)
lister=${PVFUZZ_LIST:-$(dirname "$0")/../build/std/pvfuzz-list}
mapfile -t combos < <("$lister" --combos tlb | awk -F'\t' '$3 == "safe" { print $1 }')
mkdir -p "$out"
for c in "${combos[@]}"; do
  d=$out/${c:-mainline}; rm -rf "$d"; mkdir -p "$d/corpus"
  t0=$(date +%s.%N)
  PVFUZZ_VARIANT=$c "$lf" -seed=1 -runs="$runs" -print_final_stats=1 -artifact_prefix="$d/" "$d/corpus" > "$d/log" 2>&1
  t1=$(date +%s.%N)
  o=$(grep -oE 'SUMMARY: (pvfuzz: [a-z_]+|AddressSanitizer: [a-z-]+|UndefinedBehaviorSanitizer)' "$d/log" | head -1)
  n=$(grep -oE 'stat::number_of_executed_units: [0-9]+' "$d/log" | awk '{print $2}')
  secs=$(echo "$t1 - $t0" | bc)
  printf '%s %s %s %.0f %.0f\n' "${c:-mainline}" "${o:-clean}" "${n:-?}" "$secs" "$(echo "${n:-0} / $secs" | bc)"
done
