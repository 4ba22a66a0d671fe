#!/usr/bin/env bash
# The runtime's kernels as shipped (portable baseline + run-time dispatch) against a build for this
# CPU (-march=native), side by side: both builds of bench/bench_runtime_kernels.cpp, run ROUNDS times
# in alternation (the machine's noise hits both alike), then the median time of each row per build
# and their ratio (portable / native; the goal is at most 1.1).
#   bash tools/bench_runtime_dispatch.sh [ROUNDS=5]
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-5}
JOBS=${JOBS:-$(nproc)}
for build in portable native; do
  flags=""
  [ "$build" = native ] && flags="-march=native"
  cmake -S bench/runtime_kernels -B "build-bench-$build" -DPOCKETREC_RUNTIME_ARCH_FLAGS="$flags" >/dev/null
  cmake --build "build-bench-$build" -j "$JOBS" >/dev/null
done
out=$(mktemp -d)
for r in $(seq 1 "$ROUNDS"); do
  for build in portable native; do
    "build-bench-$build/bench_runtime_kernels" --benchmark_format=json --benchmark_min_time=0.3 >"$out/$build-$r.json" 2>/dev/null
  done
done
python3 - "$out" "$ROUNDS" <<'PY'
import json, statistics, sys
out, rounds = sys.argv[1], int(sys.argv[2])
times, labels = {}, {}
for build in ("portable", "native"):
    for r in range(1, rounds + 1):
        for b in json.load(open(f"{out}/{build}-{r}.json"))["benchmarks"]:
            times.setdefault((build, b["name"]), []).append(b["real_time"])
            labels[(build, b["name"])] = b.get("label", "")
names = [n for (b, n) in times if b == "portable"]
print(f"| kernel | portable + dispatch (us) | -march=native (us) | ratio (goal <= 1.1) |")
print("|---|---|---|---|")
for n in names:
    p, q = statistics.median(times[("portable", n)]), statistics.median(times[("native", n)])
    print(f"| {n} ({labels[('portable', n)]}) | {p:.1f} | {q:.1f} | {p / q:.2f} |")
print(f"\nmedians of {rounds} alternating runs")
PY
