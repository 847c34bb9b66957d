#!/usr/bin/env bash
# Every combination expected safe, N libFuzzer runs each from an empty corpus.
#   tools/tlb_safe_runs.sh BUILD_LF_DIR OUTDIR [RUNS]
# Prints: combination outcome(clean|oracle) runs seconds exec/s
set -u
lf=$1/tlb_flush; out=$2; runs=${3:-200000}
combos=("" free_immediate free_semi_rcu free_sync_rcu_2026 hyperv_hypercall,free_rcu xen_mmuext,free_rcu
  kvm_pv_preempted,free_rcu pte_offset_map_rcu,free_rcu)
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
