#!/usr/bin/env python3
"""Records the runtime's top-20 on the bundled models (tests/testdata/runtime/*.pocket) into
tests/testdata/runtime/expected_top20.tsv, which tests/runtime/test_runtime_parity.cpp reproduces on
every target (x86-64 with each kernel ISA, aarch64 under QEMU). Run on x86-64 after the bundled
models change (tools/make_runtime_testdata.sh does):

    PYTHONPATH=build/runtime/python/module /usr/bin/python3 tools/record_runtime_parity.py

Each model gets QUERIES histories of 1..30 items drawn from its catalogue with a fixed seed; a line
is `model<TAB>history<TAB>items<TAB>scores` (space-separated ids, scores as float32 with 9 digits).
"""
import os
import sys

import numpy as np
import pocketrec_runtime as pr

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(ROOT, "tests", "testdata", "runtime")
MODELS = ["nyc-sasrec-fp16.pocket", "nyc-sasrec-pq.pocket"]
QUERIES, K, SEED = 50, 20, 2026


def main():
    lines = [f"# written by tools/record_runtime_parity.py (runtime {pr.__version__}, kernels {pr.kernel_isa()})"]
    for name in MODELS:
        model = pr.Model(os.path.join(DATA, name))
        ids = model.item_ids()
        rng = np.random.default_rng(SEED)
        for _ in range(QUERIES):
            history = rng.choice(ids, size=int(rng.integers(1, 31)))
            items, scores = model.recommend(history, k=K, exclude_history=True)
            lines.append("\t".join([name, " ".join(map(str, history)), " ".join(map(str, items)),
                                    " ".join(f"{s:.9g}" for s in scores)]))
    out = os.path.join(DATA, "expected_top20.tsv")
    tmp = out + ".tmp"
    with open(tmp, "w") as f:
        f.write("\n".join(lines) + "\n")
    os.replace(tmp, out)
    print(f"wrote {out}: {len(lines) - 1} queries", file=sys.stderr)


if __name__ == "__main__":
    main()
