#!/bin/bash -eu
# SPDX-License-Identifier: MIT
#
# OSS-Fuzz / ClusterFuzzLite build script (docs: shared fuzzing-conventions.md
# section 2).  Honours $CC $CXX $CFLAGS $CXXFLAGS $LIB_FUZZING_ENGINE $OUT
# (and $WORK, $SRC when set): builds every fuzz target with
# FUZZ_ENGINE=oss-fuzz - CMake adds no sanitizer or coverage flag of its own -
# and puts into $OUT, per target: the binary, <target>_seed_corpus.zip
# (corpora/<t>/seeds plus the regression reproducers the default selection
# runs clean), <target>.dict and
# <target>.options when present.
#
# Every target is targets/*.c: a new target needs no edit here.
#
# Local test: ci/oss_fuzz_emulate.py CONFIG (ctest -L oss-fuzz) runs this
# script with base-builder's environment for libfuzzer-address,
# libfuzzer-undefined, afl-address and coverage, then check_build's checks.

: "${CC:=clang}" "${CXX:=clang++}" "${CFLAGS:=}" "${CXXFLAGS:=}"
: "${LIB_FUZZING_ENGINE:=-fsanitize=fuzzer}" "${OUT:?set OUT to the output directory}"

# The source: $SRC/pvfuzz inside the builder image, else this script's checkout.
if [[ -n ${SRC:-} && -f $SRC/pvfuzz/CMakeLists.txt ]]; then
	top=$SRC/pvfuzz
else
	top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
fi
build=${WORK:-/tmp}/pvfuzz-oss-fuzz-build
jobs=${PVFUZZ_BUILD_JOBS:-$(nproc)}

generator=()
if command -v ninja >/dev/null; then generator=(-G Ninja); fi

rm -rf "$build"
cmake -S "$top" -B "$build" "${generator[@]}" \
	-DCMAKE_C_COMPILER="$CC" -DCMAKE_CXX_COMPILER="$CXX" \
	-DCMAKE_C_FLAGS="$CFLAGS" -DCMAKE_CXX_FLAGS="$CXXFLAGS" \
	-DFUZZ_ENGINE=oss-fuzz -DLIB_FUZZING_ENGINE="$LIB_FUZZING_ENGINE" \
	-DPVFUZZ_NATIVE_STRESS=OFF -DBUILD_SHARED_LIBS=OFF
cmake --build "$build" -j "$jobs"

mkdir -p "$OUT"
for src in "$top"/targets/*.c; do
	t=$(basename "$src" .c)
	[[ $t != standalone_main ]] || continue
	cp "$build/$t" "$OUT/$t"
	seeds=()
	for f in "$top/corpora/$t/seeds"/*; do
		[[ -f $f ]] && seeds+=("$f")
	done
	# A reproducer goes in only if the target's default selection runs it
	# clean: one of a bug in a mainline variant (kvm_tsc_mainline) would make
	# every fuzzing session start with that known finding.
	for f in "$top/corpora/regress/$t"/*; do
		[[ -f $f ]] || continue
		if env -u PVFUZZ_VARIANT timeout 60 "$OUT/$t" "$f" >/dev/null 2>&1; then
			seeds+=("$f")
		else
			echo "ci/build.sh: $t: leaving ${f#"$top"/} out of the seed corpus: the default selection trips it (a known finding)" >&2
		fi
	done
	rm -f "$OUT/${t}_seed_corpus.zip"
	if ((${#seeds[@]} > 0)); then
		zip -q -j "$OUT/${t}_seed_corpus.zip" "${seeds[@]}"
	fi
	for f in "$top/corpora/$t/$t.dict" "$top/corpora/$t/$t.options"; do
		[[ ! -f $f ]] || cp "$f" "$OUT/"
	done
done
