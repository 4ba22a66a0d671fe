#!/usr/bin/env bash
# README command 1: installs the dependencies, builds the command-line tool (the tests are built by
# command 2), then runs the quickstart suite (configs/repro/quickstart.json) on the bundled data:
# baselines, a Caser teacher with its RD student, a SASRec teacher with its product-quantised
# on-device student, their exports checked and timed by the runtime, and one on-device query.
# Prints the page it writes (runs under runs/repro/quickstart, the page in docs/results/quickstart).
set -euo pipefail
cd "$(dirname "$0")/.."
TARGETS=pocketrec bash scripts/setup.sh
build/pocketrec repro quickstart
