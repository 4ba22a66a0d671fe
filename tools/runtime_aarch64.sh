#!/usr/bin/env bash
# The runtime cross-compiled for aarch64 (Debian's g++-aarch64-linux-gnu, cmake/toolchains/) and its
# tests run under qemu-aarch64, as CI runs it after the test suite:
#   1. tests/runtime/standalone: the runtime library, the C example and test_runtime (every runtime
#      test, the kernel dispatch and the parity test against top-20 lists recorded on x86-64), run by ctest;
#   2. the stripped shared library's size and how many NEON multiply-adds the scoring kernels hold
#      (the compiler's vectorisation of runtime/src/simd/kernels.inc, read from the object file).
# Needs g++-aarch64-linux-gnu, qemu-user and libgtest-dev (installed by scripts/setup.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-build-aarch64}
JOBS=${JOBS:-$(nproc)}
WERROR=OFF
[ "${CI:-}" = "true" ] && WERROR=ON
cmake -S tests/runtime/standalone -B "$OUT" -DCMAKE_TOOLCHAIN_FILE="$PWD/cmake/toolchains/aarch64-linux-gnu.cmake" \
  -DPOCKETREC_WERROR="$WERROR" >/dev/null
cmake --build "$OUT" -j "$JOBS"
ctest --test-dir "$OUT" --output-on-failure -V 2>&1 | grep -E "parity \(|tests passed|Failed|Passed" || true
ctest --test-dir "$OUT" --output-on-failure >/dev/null  # the verdict (the line above only reports)

lib="$OUT/runtime/libpocketrec_runtime.so"
aarch64-linux-gnu-readelf -h "$lib" | grep -q "Machine:.*AArch64" || { echo "runtime_aarch64: $lib is not an aarch64 library" >&2; exit 1; }
obj=$(find "$OUT/runtime" -name 'baseline.cpp.o' -path '*pocketrec_runtime.dir*' | head -1)
neon=$(aarch64-linux-gnu-objdump -d "$obj" | grep -cE 'fmla\s+v[0-9]+\.4s|fadd\s+v[0-9]+\.4s' || true)
echo "runtime_aarch64: stripped libpocketrec_runtime.so $(stat -L -c %s "$lib") bytes; NEON fmla/fadd (.4s) in the scoring kernels: $neon"
[ "$neon" -gt 0 ] || { echo "runtime_aarch64: the scoring kernels were not vectorised for NEON" >&2; exit 1; }
