#!/usr/bin/env bash
# Ranking Distillation experiments of docs/results/rd.md for one model on one data set:
#   tools/rd_experiments.sh MODEL DATA [ALPHAS] [SEEDS] [MUS]
# e.g. tools/rd_experiments.sh fossil gowalla-lbsn1k "0.3 1 3" "1 2 3" "0.1 0.01 0"
# 1. the teacher (configs/teachers/MODEL-DATA.json), if runs/teachers/MODEL-DATA has no results;
# 2. Model-S for every seed (pocketrec train on configs/rd/MODEL-DATA-student.json);
# 3. Model-RD with the first seed for every alpha x mu (mu: distill.rd_mu, the discrepancy weight's
#    slope; the reference's 0.1 by default); the pair with the best validation MAP is selected,
#    then Model-RD for the other seeds with it;
# 4. the T / RD / S table (pocketrec distill-report). Everything runs with one LibTorch thread.
set -euo pipefail
model=$1 data=$2 alphas=${3:-"0.3 1 3"} seeds=${4:-"1 2 3"} mus=${5:-"0.1"}
bin=${POCKETREC:-build/pocketrec}
cfg=configs/rd/$model-$data-student.json teacher=runs/teachers/$model-$data out=runs/rd/$model-$data
common=(--threads.torch=1 --output.progress=false)
mkdir -p "$out"
[[ -f $teacher/results.json ]] ||
  "$bin" train -c "configs/teachers/$model-$data.json" "${common[@]}" >"$teacher.log" 2>&1
for s in $seeds; do
  [[ -f $out/s-seed$s/results.json ]] ||
    "$bin" train -c "$cfg" "${common[@]}" --train.seed="$s" --output.dir="$out/s-seed$s" >"$out/s-seed$s.log" 2>&1
done
# Run directory of one RD run; the reference's mu keeps the name runs had before mu was swept.
rd_dir() { if [[ $2 == 0.1 ]]; then echo "$out/rd-alpha$1-seed$3"; else echo "$out/rd-alpha$1-mu$2-seed$3"; fi; }
rd_run() {
  local dir
  dir=$(rd_dir "$1" "$2" "$3")
  [[ -f $dir/results.json ]] ||
    "$bin" distill -c "$cfg" "${common[@]}" --train.seed="$3" --distill.rd_alpha="$1" --distill.rd_mu="$2" \
      --output.dir="$dir" >"$dir.log" 2>&1
}
first=${seeds%% *}
best_alpha="" best_mu="" best_map=-1
for a in $alphas; do
  for m in $mus; do
    rd_run "$a" "$m" "$first"
    dir=$(rd_dir "$a" "$m" "$first")
    map=$(python3 -c "import json; print(json.load(open('$dir/results.json'))['valid']['metrics']['map'])")
    echo "alpha $a, mu $m: validation MAP $map"
    if python3 -c "import sys; sys.exit(0 if $map > $best_map else 1)"; then best_alpha=$a best_mu=$m best_map=$map; fi
  done
done
echo "selected alpha $best_alpha, mu $best_mu (validation MAP $best_map)"
rd_dirs=()
for s in $seeds; do
  rd_run "$best_alpha" "$best_mu" "$s"
  rd_dirs+=("$(rd_dir "$best_alpha" "$best_mu" "$s")")
done
s_dirs=()
for s in $seeds; do s_dirs+=("$out/s-seed$s"); done
"$bin" distill-report --teacher "$teacher" --rd "${rd_dirs[@]}" --student "${s_dirs[@]}"
