#!/usr/bin/env bash
# OD-Rec ablation of docs/results/odrec.md on one session data set, every compressed student trained
# for the same number of epochs (default 1) from the same seed:
#   tools/odrec_ablation.sh DATA [EPOCHS] [DENSE_EPOCHS]        DATA = tmall or retailrocket
# Rows: the teacher (runs/teachers/sasrec-odrec-DATA, trained beforehand); the STT student trained
# alone (no KD); + KL only (distill.beta = distill.alpha = 0); + full SSKD (the reference's weights);
# a plain TT table (t = 1) with the rank that gives at most the STT table's parameters; a dense
# student whose d gives about the STT student's whole parameter count, which learns far more slowly
# (one epoch leaves it near chance), so it gets up to DENSE_EPOCHS (default 20) with early stopping on
# validation (patience 2); its epochs are cheap (about 100 s on Tmall). Every row is then evaluated on
# test with the hot/cold breakdown (eval.popularity_split = 0.2, the KD's own hot fraction), so the
# table also shows HR@20 on cold (long-tail) target items.
set -euo pipefail
data=$1 epochs=${2:-1} dense_epochs=${3:-20}
bin=${POCKETREC:-build/pocketrec}
cfg=configs/odrec/$data-student.json teacher=runs/teachers/sasrec-odrec-$data out=runs/odrec/ablation-$data
case $data in
  # Tmall: STT [[169,241],[16,8]] R=60 t=2 = 191,160 parameters; TT R=41: 169*16*41 + 41*241*8 = 189,912.
  # Dense d=8: 40,728 x 8 item rows plus an 8-dim encoder, about the STT student's 329,144 in all.
  tmall) tt_rank=41 dense_dim=8 ;;
  # RetailRocket: STT [[117,316],[16,16]] R=60 t=2 = 188,160; TT R=27: 27*(117*16 + 316*16) = 187,056.
  retailrocket) tt_rank=27 dense_dim=20 ;;
  *) echo "unknown data set '$data' (tmall or retailrocket)" >&2; exit 2 ;;
esac
[[ -f $teacher/results.json ]] || { echo "$teacher: train the teacher first (configs/teachers)" >&2; exit 2; }
common=(--output.progress=false)
mkdir -p "$out"
run() {  # run NAME COMMAND EPOCHS CONFIG-OVERRIDES...
  local name=$1 cmd=$2 n_epochs=$3; shift 3
  [[ -f $out/$name/results.json ]] ||
    "$bin" "$cmd" -c "$cfg" "${common[@]}" --train.epochs="$n_epochs" --output.dir="$out/$name" "$@" >"$out/$name.log" 2>&1
}
run stt-alone train "$epochs"
run tt-r$tt_rank train "$epochs" --model.stt_t=1 --model.stt_rank=$tt_rank
run stt-kl distill "$epochs" --distill.beta=0 --distill.alpha=0
run stt-sskd distill "$epochs"
run dense-d$dense_dim train "$dense_epochs" --model.item_table=dense --model.dim=$dense_dim --model.inner=$dense_dim \
  --train.patience=2
for dir in "$teacher" "$out/dense-d$dense_dim" "$out/stt-alone" "$out/tt-r$tt_rank" "$out/stt-kl" "$out/stt-sskd"; do
  echo "== $dir ($(python3 -c "import json; print(json.load(open('$dir/results.json'))['n_parameters'])") parameters)"
  "$bin" eval "$dir" --split test --eval.popularity_split=0.2
done
