#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Regenerates corpora/regress/<target>/<variant>: a minimized reproducer of a
# buggy variant, found by libFuzzer from an empty corpus, minimized with
# -minimize_crash=1 and verified with the std replayer (oracle in the
# registry's expect, 100 identical replays).
#
#   tools/make_regress.sh [options] TARGET VARIANT...
#   tools/make_regress.sh [options] TARGET --all      every buggy variant of TARGET
#
# options: --lf-dir DIR (build/lf)  --std-dir DIR (build/std)
#          --seeds "1 2 3 4 5"      --runs N (per seed, 3000000)
#          --min-runs N (-minimize_crash runs, 20000)
# Expectations (of the selection PVFUZZ_VARIANT=<variant>) come from
# `pvfuzz-list --select` in the std build ($PVFUZZ_LIST overrides the path).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
lf_dir=$root/build/lf std_dir=$root/build/std seeds="1 2 3 4 5" runs=3000000 min_runs=20000
die() { echo "make_regress: $*" >&2; exit 2; }
args=()
while [ $# -gt 0 ]; do
	case $1 in
	--lf-dir) lf_dir=${2:?}; shift 2 ;;
	--std-dir) std_dir=${2:?}; shift 2 ;;
	--seeds) seeds=${2:?}; shift 2 ;;
	--runs) runs=${2:?}; shift 2 ;;
	--min-runs) min_runs=${2:?}; shift 2 ;;
	-h|--help) sed -n '3,16p' "$0"; exit 0 ;;
	--all) args+=(--all); shift ;;
	-*) die "unknown option '$1' (see --help)" ;;
	*) args+=("$1"); shift ;;
	esac
done
[ ${#args[@]} -ge 2 ] || die "usage: make_regress.sh [options] TARGET VARIANT...|--all"
target=${args[0]}
lf=$lf_dir/$target std=$std_dir/$target
[ -x "$lf" ] || die "no libFuzzer binary $lf (configure and build build/lf)"
[ -x "$std" ] || die "no std replayer $std (build build/std)"
lister=${PVFUZZ_LIST:-}
if [ -z "$lister" ]; then
	lister=$(find "$std_dir" -name pvfuzz-list -type f -perm -u+x 2>/dev/null | head -1)
fi
[ -n "$lister" ] && [ -x "$lister" ] || die "pvfuzz-list not found in $std_dir (build it, or set PVFUZZ_LIST)"
# expectations and the target's protocol come from the C registry
expect_of() { "$lister" --select "$1" | cut -f4; }
proto=$("$lister" --protocols | awk -F'\t' -v t="$target" '$2 == t { print $1 }')
[ -n "$proto" ] || die "no protocol runs target '$target' (pvfuzz-list --protocols)"

variants=("${args[@]:1}")
if [ "${variants[0]}" = --all ]; then
	mapfile -t variants < <("$lister" --runs "$proto" | cut -f1 | grep -v '^mainline$')
fi

out_dir=$root/corpora/regress/$target
mkdir -p "$out_dir"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0}:dedup_token_length=3
rc_all=0
for v in "${variants[@]}"; do
	exp=$(expect_of "$v") || die "unknown variant '$v'"
	[ -n "$exp" ] || die "unknown variant '$v'"
	[ "$exp" != safe ] || die "variant '$v' is safe: nothing to reproduce"
	work=$(mktemp -d)
	found=""
	for s in $seeds; do
		mkdir -p "$work/c$s"
		PVFUZZ_VARIANT=$v "$lf" -seed="$s" -runs="$runs" -artifact_prefix="$work/s$s-" \
			"$work/c$s" >"$work/log$s" 2>&1 || true
		crash=$(ls "$work"/s"$s"-crash-* 2>/dev/null | head -1 || true)
		[ -n "$crash" ] || { echo "  $v seed $s: nothing in $runs runs"; continue; }
		if PVFUZZ_VARIANT=$v "$std" --expect "$exp" "$crash" >/dev/null 2>&1; then
			found=$crash; break
		fi
		echo "  $v seed $s: $(grep -o 'SUMMARY: pvfuzz: [a-z_]*' "$work/log$s" | head -1) is not in '$exp'"
	done
	if [ -z "$found" ]; then
		echo "make_regress: $v: no reproducer with an expected oracle (seeds $seeds)" >&2
		rc_all=1; rm -rf "$work"; continue
	fi
	PVFUZZ_VARIANT=$v "$lf" -minimize_crash=1 -runs="$min_runs" -exact_artifact_path="$work/min" \
		"$found" >"$work/minlog" 2>&1 || true
	best=$found
	if [ -s "$work/min" ] && PVFUZZ_VARIANT=$v "$std" --expect "$exp" --check-determinism 100 "$work/min" >/dev/null 2>&1; then
		best=$work/min
	fi
	# libAFLDriver does not run 0-byte files: an empty reproducer becomes a
	# single 0x00 byte (the default of the first field, so the same scenario)
	if [ ! -s "$best" ]; then
		printf '\0' >"$work/one"
		best=$work/one
	fi
	PVFUZZ_VARIANT=$v "$std" --expect "$exp" --check-determinism 100 "$best" >/dev/null 2>&1 ||
		{ echo "make_regress: $v: reproducer fails verification" >&2; rc_all=1; rm -rf "$work"; continue; }
	cp "$best" "$out_dir/$v"
	echo "$v: $(stat -c %s "$found") -> $(stat -c %s "$out_dir/$v") bytes, $(PVFUZZ_VARIANT=$v "$std" --expect "$exp" "$out_dir/$v" 2>/dev/null | sed 's/.*: //')"
	rm -rf "$work"
done
exit $rc_all
