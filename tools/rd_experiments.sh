#!/usr/bin/env bash
# Ranking Distillation experiments for one model on one data set, as the pre-suite foursquare tables
# of docs/results/rd.md were made (`pocketrec repro rd-gowalla` and `rd-foursquare` run the protocol):
#   tools/rd_experiments.sh MODEL DATA [ALPHAS] [SEEDS] [MUS] [EXCLUSIONS]
# e.g. tools/rd_experiments.sh fossil gowalla-lbsn1k "0.3 1 3" "1 2 3" "0.1 0.01 0"
#      tools/rd_experiments.sh fossil foursquare-lbsn5k "0.3 0.5 1 2 3" "1 2 3" "0.1" "history target"
# 1. the teacher (configs/teachers/MODEL-DATA.json), if runs/teachers/MODEL-DATA has no results;
# 2. Model-S for every seed (pocketrec train on configs/rd/MODEL-DATA-student.json);
# 3. Model-RD with the first seed for every alpha x mu x exclusion (mu: distill.rd_mu, the
#    discrepancy weight's slope, 0.1 by default; exclusion: distill.rd_topk_exclusion, history by
#    default, target = the reference code's top-K exclusion); the setting with the best validation
#    MAP is selected, then Model-RD for the other seeds with it;
# 4. the T / RD / S table (pocketrec distill-report). Everything runs with one LibTorch thread.
set -euo pipefail
model=$1 data=$2 alphas=${3:-"0.3 1 3"} seeds=${4:-"1 2 3"} mus=${5:-"0.1"} exclusions=${6:-"history"}
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
# Run directory of one RD run (alpha mu exclusion seed); the defaults (mu 0.1, exclusion history)
# add nothing to the name.
rd_dir() {
  local name=$out/rd-alpha$1
  [[ $2 == 0.1 ]] || name+=-mu$2
  [[ $3 == history ]] || name+=-exclude-$3
  echo "$name-seed$4"
}
rd_run() {
  local dir
  dir=$(rd_dir "$@")
  [[ -f $dir/results.json ]] ||
    "$bin" distill -c "$cfg" "${common[@]}" --train.seed="$4" --distill.rd_alpha="$1" --distill.rd_mu="$2" \
      --distill.rd_topk_exclusion="$3" --output.dir="$dir" >"$dir.log" 2>&1
}
first=${seeds%% *}
best=() best_map=-1
for a in $alphas; do
  for m in $mus; do
    for p in $exclusions; do
      rd_run "$a" "$m" "$p" "$first"
      dir=$(rd_dir "$a" "$m" "$p" "$first")
      map=$(python3 -c "import json; print(json.load(open('$dir/results.json'))['valid']['metrics']['map'])")
      echo "alpha $a, mu $m, exclusion $p: validation MAP $map"
      if python3 -c "import sys; sys.exit(0 if $map > $best_map else 1)"; then best=("$a" "$m" "$p") best_map=$map; fi
    done
  done
done
echo "selected alpha ${best[0]}, mu ${best[1]}, exclusion ${best[2]} (validation MAP $best_map)"
rd_dirs=()
for s in $seeds; do
  rd_run "${best[@]}" "$s"
  rd_dirs+=("$(rd_dir "${best[@]}" "$s")")
done
s_dirs=()
for s in $seeds; do s_dirs+=("$out/s-seed$s"); done
"$bin" distill-report --teacher "$teacher" --rd "${rd_dirs[@]}" --student "${s_dirs[@]}"
