#!/usr/bin/env bash
# Grid search on validation: trains CONFIG with every combination of the given overrides, then
# prints all runs and the one selected by the validation metric (its test row is the result).
#   tools/sweep.sh CONFIG OUTDIR METRIC "key=v1,v2" ["key=v1,v2" ...]
# e.g. tools/sweep.sh configs/rd/gowalla-lbsn1k.json runs/sweep map "model.dim=32,64" "train.lr=0.001,0.005"
set -euo pipefail
config=$1 out=$2 metric=$3
shift 3
combos=("")
for axis in "$@"; do
  key=${axis%%=*}
  IFS=, read -r -a values <<<"${axis#*=}"
  next=()
  for c in "${combos[@]}"; do for v in "${values[@]}"; do next+=("$c --$key=$v"); done; done
  combos=("${next[@]}")
done
mkdir -p "$out"
dirs=()
for c in "${combos[@]}"; do
  name=$(echo "$c" | sed 's/ --/_/g; s/^_//; s/[^A-Za-z0-9_.=-]//g')
  dir="$out/${name:-default}"
  # shellcheck disable=SC2086
  build/pocketrec train -c "$config" $c --output.dir="$dir" --output.progress=false >/dev/null 2>"$dir.log" ||
    { cat "$dir.log" >&2; exit 1; }
  dirs+=("$dir")
done
build/pocketrec report --best-by "$metric" "${dirs[@]}"
