#!/usr/bin/env bash
# The runtime as its users get it, as CI checks it after the test suite: built alone from runtime/,
# installed with `cmake --install` into a fresh prefix, then used from outside the tree by
#   1. a CMake project (tests/runtime/consumer: find_package(PocketRecRuntime), the C example against
#      PocketRec::runtime, the C++ example against PocketRec::runtime_static),
#   2. the C example compiled by hand with `pkg-config --cflags --libs pocketrec-runtime`,
#   3. the Python example with the installed module on PYTHONPATH;
# each prints the top-20 of one history on a bundled model, and the four outputs must be identical.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-build-package}
JOBS=${JOBS:-$(nproc)}
PYTHON=/usr/bin/python3
[ -x "$PYTHON" ] || PYTHON=$(command -v python3)
rm -rf "$OUT"
prefix="$PWD/$OUT/prefix"
cmake -S runtime -B "$OUT/runtime" -DCMAKE_BUILD_TYPE=Release -DPython3_EXECUTABLE="$PYTHON" >/dev/null
cmake --build "$OUT/runtime" -j "$JOBS" >/dev/null
cmake --install "$OUT/runtime" --prefix "$prefix" >/dev/null
echo "runtime_package_check: installed into $prefix:" >&2
(cd "$prefix" && find . -type f -o -type l | sort | sed 's/^/  /') >&2

cmake -S tests/runtime/consumer -B "$OUT/consumer" -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$OUT/consumer" -j "$JOBS" >/dev/null
libdir=$(dirname "$(find "$prefix" -name 'libpocketrec_runtime.so' | head -1)")
export PKG_CONFIG_PATH="$libdir/pkgconfig"
# shellcheck disable=SC2046  # pkg-config's output is a list of flags
cc -std=c99 -Wall -Werror runtime/examples/recommend.c $(pkg-config --cflags --libs pocketrec-runtime) -o "$OUT/recommend_pkgconfig"

model=tests/testdata/runtime/nyc-sasrec-fp16.pocket
history="3 6 9 2 178"
# shellcheck disable=SC2086
{
  LD_LIBRARY_PATH="$libdir" "$OUT/consumer/recommend_c" $model 20 $history > "$OUT/top20_cmake_c.txt"
  "$OUT/consumer/recommend_cpp" $model 20 $history > "$OUT/top20_cmake_cpp.txt"
  LD_LIBRARY_PATH="$libdir" "$OUT/recommend_pkgconfig" $model 20 $history > "$OUT/top20_pkgconfig_c.txt"
  PYTHONPATH=$(dirname "$(find "$prefix" -name 'pocketrec_runtime*.so' | head -1)") \
    "$PYTHON" runtime/examples/recommend.py $model 20 $history > "$OUT/top20_python.txt"
}
[ "$(wc -l < "$OUT/top20_cmake_c.txt")" -eq 20 ] || { echo "runtime_package_check: no top-20 printed" >&2; exit 1; }
for f in top20_cmake_cpp top20_pkgconfig_c top20_python; do
  cmp -s "$OUT/top20_cmake_c.txt" "$OUT/$f.txt" || { echo "runtime_package_check: $f differs from the C program" >&2; diff "$OUT/top20_cmake_c.txt" "$OUT/$f.txt" >&2; exit 1; }
done
echo "runtime_package_check: CMake (C, C++), pkg-config (C) and Python print the same top-20" >&2
