#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Bug-finding benchmark entry point (`./pvfuzz bench` calls this).
#
#   bench/run.sh [--targets pvclock,...] [--variants a,b] [--seeds 1,2,3,4,5]
#                [--cap SECONDS] [--engines lf,afl] [--jobs 1] [--speed-secs 10]
#                [--build DIR] [--out docs/benchmarks.md] [--validation]
#
# Needs build/std (with pvfuzz-list), build/lf, and for AFL++ build/afl;
# build/release (libFuzzer without sanitizers) is measured when present.
# Defaults: 5 seeds, 600 s cap, one trial at a time (run on a quiet machine).
#
#   bench/run.sh mutate [bench/mutate.py options]
#
# runs the mutation check of mainline code instead (bench/mutate.py --help).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
if [[ ${1:-} == mutate ]]; then
	shift
	exec python3 "$root/bench/mutate.py" "$@"
fi
for a in "$@"; do
	case $a in -h|--help) sed -n '4,16p' "$0"; exec python3 "$root/bench/bench.py" --help ;; esac
done
exec python3 "$root/bench/bench.py" "$@"
