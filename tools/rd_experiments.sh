#!/usr/bin/env bash
# Ranking Distillation experiments of docs/results/rd.md for one model on one data set:
#   tools/rd_experiments.sh MODEL DATA [ALPHAS] [SEEDS]
# e.g. tools/rd_experiments.sh fossil gowalla-lbsn1k "0.3 1 3" "1 2 3"
# 1. the teacher (configs/teachers/MODEL-DATA.json), if runs/teachers/MODEL-DATA has no results;
# 2. Model-S for every seed (pocketrec train on configs/rd/MODEL-DATA-student.json);
# 3. Model-RD with seed 1 for every alpha (the alpha sweep); the alpha with the best validation
#    MAP is selected, then Model-RD for the other seeds with it;
# 4. the T / RD / S table (pocketrec distill-report). Everything runs with one LibTorch thread.
set -euo pipefail
model=$1 data=$2 alphas=${3:-"0.3 1 3"} seeds=${4:-"1 2 3"}
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
first=${seeds%% *}
best_alpha="" best_map=-1
for a in $alphas; do
  dir=$out/rd-alpha$a-seed$first
  [[ -f $dir/results.json ]] ||
    "$bin" distill -c "$cfg" "${common[@]}" --train.seed="$first" --distill.rd_alpha="$a" --output.dir="$dir" \
      >"$dir.log" 2>&1
  map=$(python3 -c "import json; print(json.load(open('$dir/results.json'))['valid']['metrics']['map'])")
  echo "alpha $a: validation MAP $map"
  if python3 -c "import sys; sys.exit(0 if $map > $best_map else 1)"; then best_alpha=$a best_map=$map; fi
done
echo "selected alpha $best_alpha (validation MAP $best_map)"
rd_dirs=()
for s in $seeds; do
  dir=$out/rd-alpha$best_alpha-seed$s
  [[ -f $dir/results.json ]] ||
    "$bin" distill -c "$cfg" "${common[@]}" --train.seed="$s" --distill.rd_alpha="$best_alpha" --output.dir="$dir" \
      >"$dir.log" 2>&1
  rd_dirs+=("$dir")
done
s_dirs=()
for s in $seeds; do s_dirs+=("$out/s-seed$s"); done
"$bin" distill-report --teacher "$teacher" --rd "${rd_dirs[@]}" --student "${s_dirs[@]}"
