#!/usr/bin/env bash
# The main job on the bundled data (data/foursquare-nyc-2k): install and build, train POP, ItemCF
# and BPR-MF under the RD protocol (validation-selected), and print their test metrics side by side.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
for model in pop itemcf bpr; do
  build/pocketrec train -c configs/quickstart.json --model.name="$model" --output.dir="runs/quickstart/$model"
done
echo
echo "Test split of data/foursquare-nyc-2k (full ranking, training items masked; models selected on validation):"
echo
build/pocketrec report runs/quickstart/pop runs/quickstart/itemcf runs/quickstart/bpr
