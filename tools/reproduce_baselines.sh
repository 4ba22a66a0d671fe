#!/usr/bin/env bash
# Reproduces docs/results/baselines.md: POP, ItemCF and BPR-MF on the RD protocol (gowalla-lbsn1k,
# foursquare-lbsn5k) and the session protocol (Tmall, RetailRocket). Each model's hyper-parameters
# are chosen on validation by tools/sweep.sh; the selected run's test row is the result.
# Needs ../shared/data. About 35 minutes on 2 cores. Tables go to runs/sweeps/*.md.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh >/dev/null
mkdir -p runs/sweeps
for ds in gowalla-lbsn1k foursquare-lbsn5k; do
  tools/sweep.sh configs/rd/$ds.json runs/sweeps/$ds-pop map "model.name=pop" > runs/sweeps/$ds-pop.md
  tools/sweep.sh configs/rd/$ds.json runs/sweeps/$ds-itemcf map "model.name=itemcf" \
    "model.itemcf_neighbors=0,20,100" > runs/sweeps/$ds-itemcf.md
  tools/sweep.sh configs/rd/$ds.json runs/sweeps/$ds-bpr map "model.dim=64,128" "train.lr=0.001,0.005" \
    "train.l2=0,0.00001,0.0001" > runs/sweeps/$ds-bpr.md
done
for ds in tmall retailrocket; do
  tools/sweep.sh configs/session/$ds.json runs/sweeps/$ds-pop mrr@20 "model.name=pop" > runs/sweeps/$ds-pop.md
  tools/sweep.sh configs/session/$ds.json runs/sweeps/$ds-itemcf mrr@20 "model.name=itemcf" \
    "model.itemcf_neighbors=0,100" > runs/sweeps/$ds-itemcf.md
  tools/sweep.sh configs/session/$ds.json runs/sweeps/$ds-bpr mrr@20 "model.dim=64,128" \
    "train.lr=0.0001,0.001" "train.epochs=10" > runs/sweeps/$ds-bpr.md
done
tail -n 1 runs/sweeps/*.md
