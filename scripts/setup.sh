#!/usr/bin/env bash
# Installs every build dependency (Debian 12 packages) when missing, then configures and builds Release.
# Idempotent: a second run installs nothing and rebuilds only what changed.
#   BUILD_DIR (default: build)   where to build
#   JOBS      (default: nproc)   parallel compile jobs
#   CI        (true in CI)       compiler warnings are errors
#   TARGETS   (default: all)     the build targets (e.g. "pocketrec": the command-line tool alone)
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  g++ cmake make pkg-config
  libtorch-dev          # LibTorch 1.13 C++ frontend (training)
  libgloo-dev           # c10d ProcessGroupGloo headers (distributed training, src/train/data_parallel.cpp)
  libopenblas-dev       # without it libtorch-dev uses the netlib reference BLAS (~9x slower, docs/stack notes)
  libdnnl-dev           # oneDNN's sgemm for the training kernels' products (src/kernels/gemm.h)
  libeigen3-dev
  libfmt-dev nlohmann-json3-dev libcli11-dev zlib1g-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  clang libclang-rt-14-dev   # the runtime's sanitizer and libFuzzer run (tools/runtime_sanitize.sh)
  pybind11-dev python3-dev python3-numpy python3-pytest   # the runtime's Python module and its tests
  g++-aarch64-linux-gnu qemu-user   # the runtime cross-built for aarch64, tested under QEMU (tools/runtime_aarch64.sh)
  gnuplot-nox           # the results' plots (pocketrec repro)
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}" >&2
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

BUILD_DIR=${BUILD_DIR:-build}
JOBS=${JOBS:-$(nproc)}
# CI (CI=true) builds with warnings as errors.
WERROR=OFF
[ "${CI:-}" = "true" ] && WERROR=ON
# The Python module is built for, and tested with, Debian's interpreter (where python3-numpy and
# python3-pytest live), not whichever python3 comes first on PATH.
PYTHON=/usr/bin/python3
[ -x "$PYTHON" ] || PYTHON=$(command -v python3)
cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release -DPOCKETREC_WERROR="$WERROR" -DPython3_EXECUTABLE="$PYTHON" >/dev/null
# shellcheck disable=SC2086 # TARGETS is a list
cmake --build "$BUILD_DIR" -j "$JOBS" ${TARGETS:+--target $TARGETS}
