#!/usr/bin/env bash
# Time-to-bug of every unsafe tlb_flush variant from an empty corpus.
#   tools/tlb_time_to_bug.sh BUILD_LF_DIR OUTDIR [SEEDS] [MAX_SECONDS] [VARIANT...]
# Prints: variant seed found(oracle|-) execs seconds
set -u
lf=$1/tlb_flush; out=$2; seeds=${3:-"1 2 3"}; max=${4:-60}; shift 4 2>/dev/null || shift $#
variants=("$@")
if [ ${#variants[@]} -eq 0 ]; then
  variants=(hyperv_hypercall xen_mmuext kvm_pv_preempted native_lazy_skip_2018
    native_flush_range_no_freed_tables free_batch_fail_no_invalidate free_rcu_table_no_invalidate_2018
    free_pages_before_flush_2018 free_collapse_no_sync_2022 gup_fast_no_pmd_recheck gup_fast_get_page
    gup_fast_folded_offset pte_offset_map_rcu tlb_finish_mmu_no_nested_2017 kvm_pv_mask_unchecked_2020)
fi
mkdir -p "$out"
for v in "${variants[@]}"; do
  for s in $seeds; do
    d=$out/$v.$s; rm -rf "$d"; mkdir -p "$d/corpus"
    t0=$(date +%s.%N)
    PVFUZZ_VARIANT=$v timeout $((max + 30)) "$lf" -seed="$s" -max_total_time="$max" -print_final_stats=1 \
      -artifact_prefix="$d/" "$d/corpus" > "$d/log" 2>&1
    t1=$(date +%s.%N)
    o=$(grep -oE 'SUMMARY: (pvfuzz: [a-z_]+|AddressSanitizer: [a-z-]+)' "$d/log" | head -1 | sed 's/SUMMARY: //; s/pvfuzz: //; s/AddressSanitizer: /asan:/')
    n=$(grep -oE 'stat::number_of_executed_units: [0-9]+' "$d/log" | awk '{print $2}')
    # an ASan report ends the process before the final stats: the last status line
    [ -n "$n" ] || n=$(grep -oE '^#[0-9]+' "$d/log" | tail -1 | tr -d '#')
    printf '%s %s %s %s %.1f\n' "$v" "$s" "${o:--}" "${n:-?}" "$(echo "$t1 - $t0" | bc)"
  done
done
