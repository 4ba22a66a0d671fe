#!/usr/bin/env bash
# The on-device runtime under clang's sanitizers, as CI runs it after the test suite:
#   1. the runtime's tests (tests/runtime/test_*.cpp) built with ASan + UBSan (every runtime source
#      included) and run;
#   2. the libFuzzer target tests/fuzz/fuzz_model_load.cpp run for FUZZ_SECONDS (default 60) from
#      valid seed files and the saved finds in tests/testdata/fuzz (replayed first), with ASan + UBSan;
#      any crash fails the script and leaves the input in $OUT.
# Needs clang (installed by scripts/setup.sh). Independent of the main (g++) build.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-build-sanitize}
FUZZ_SECONDS=${FUZZ_SECONDS:-60}
mkdir -p "$OUT/corpus" "$OUT/generated"
# The version header CMake generates for the runtime (runtime/src/version.h.in), from VERSION.
sed "s/@POCKETREC_VERSION@/$(head -1 VERSION)/" runtime/src/version.h.in > "$OUT/generated/version.h"
CXX="clang++ -std=c++17 -O1 -g -fno-omit-frame-pointer -fno-sanitize-recover=all"
SAN="-fsanitize=address,undefined"
INC="-Iruntime/include -Iruntime/src -I$OUT/generated -Isrc -Itests"
RUNTIME=$(ls runtime/src/*.cpp runtime/src/simd/*.cpp)
WRITER="src/export/pocket_writer.cpp src/core/atomic_file.cpp src/core/error.cpp"

echo "runtime_sanitize: building test_runtime with ASan + UBSan" >&2
$CXX $SAN $INC -DPOCKETREC_SOURCE_DIR="\"$PWD\"" tests/runtime/test_*.cpp $RUNTIME $WRITER -lgtest -lgtest_main -lfmt -pthread \
  -o "$OUT/test_runtime"
"$OUT/test_runtime" --gtest_brief=1

echo "runtime_sanitize: fuzzing the model loader for ${FUZZ_SECONDS} s" >&2
$CXX $INC -DPOCKETREC_FUZZ_WRITE_SEEDS tests/fuzz/fuzz_model_load.cpp $WRITER -lfmt -o "$OUT/write_seeds"
"$OUT/write_seeds" "$OUT/corpus"
$CXX $SAN,fuzzer $INC tests/fuzz/fuzz_model_load.cpp $RUNTIME -o "$OUT/fuzz_model_load"
"$OUT/fuzz_model_load" -max_total_time="$FUZZ_SECONDS" -max_len=8192 -rss_limit_mb=2048 \
  -artifact_prefix="$OUT/" "$OUT/corpus" tests/testdata/fuzz 2>&1 | tail -5
echo "runtime_sanitize: no crash" >&2
