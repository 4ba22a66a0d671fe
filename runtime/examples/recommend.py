#!/usr/bin/env python3
"""The smallest use of the runtime from Python (module pocketrec_runtime, built with the runtime).
    recommend.py student.pocket 10 12 55 7      (k = 10, history 12 55 7)
"""
import sys

import pocketrec_runtime as pr

if len(sys.argv) < 4:
    sys.exit(f"usage: {sys.argv[0]} MODEL.pocket K ITEM [ITEM...]")
model = pr.Model(sys.argv[1])
items, scores = model.recommend([int(a) for a in sys.argv[3:]], k=int(sys.argv[2]), exclude_history=True)
for item, score in zip(items, scores):
    print(f"{item}\t{score:.6f}")
