#!/usr/bin/env bash
# Regenerates the runtime's bundled test models and their recorded top-20 (tests/testdata/runtime):
# trains configs/runtime/nyc-sasrec.json (dense) and nyc-sasrec-pq.json (PQ table) on the bundled
# data, exports them (fp16 and fp32, each checked against LibTorch on 200 test queries), then records
# the runtime's top-20 on x86-64 (tools/record_runtime_parity.py). Needs the main build (scripts/setup.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
out=tests/testdata/runtime
build/pocketrec train -c configs/runtime/nyc-sasrec.json
build/pocketrec train -c configs/runtime/nyc-sasrec-pq.json
build/pocketrec export runs/runtime-testdata/nyc-sasrec -o "$out/nyc-sasrec-fp16.pocket" --dtype fp16 --verify 200
build/pocketrec export runs/runtime-testdata/nyc-sasrec-pq -o "$out/nyc-sasrec-pq.pocket" --dtype fp32 --verify 200
PYTHON=/usr/bin/python3
[ -x "$PYTHON" ] || PYTHON=$(command -v python3)
PYTHONPATH=build/runtime/python/module "$PYTHON" tools/record_runtime_parity.py
