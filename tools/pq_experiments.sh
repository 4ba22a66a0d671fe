#!/usr/bin/env bash
# The item-table comparison of docs/results/pq-DATA.md (issue "teacher-coded product-quantised item
# tables"), resumable: a row whose results.json exists is not retrained.
#   tools/pq_experiments.sh DATA [EPOCHS]        DATA = tmall or retailrocket, EPOCHS default 1
# 1. The teacher (configs/teachers/sasrec-odrec-DATA.json, early stopping on validation MRR@20), unless
#    runs/teachers/sasrec-odrec-DATA holds one trained with the same data settings.
# 2. The ceiling: the teacher's table replaced by its PQ reconstruction, nothing retrained
#    (pocketrec pq-probe, M = 8/16/32, K = 256, no rotation).
# 3. Students, every one distilled from that teacher with the same KD and budget, fixed before any was
#    trained: the KL term at T = 1 with para 0.8 and the self-supervised terms off (distill.beta =
#    distill.alpha = 0, which also lets a student of another d be distilled), EPOCHS epochs, the epoch
#    with the best validation MRR@20 kept; students of the teacher's d start from its encoder weights
#    (distill.init_from_teacher), PQ codebooks from its k-means centroids.
#    Rows: PQ M = 8/16/32 with K = 256 and teacher codes; PQ M = 16 with K = 128 (the M = 16 table
#    that is >= 27x smaller in fp32 bytes: K = 256 gives 26.6x); PQ M = 16, K = 256 with random codes
#    (the control); STT rank 60/120/240 (t = 2, the OD-Rec student's shape); plain TT (t = 1) at the
#    rank whose parameters match STT rank 60; a dense student of small d.
# Every run reports HR/MRR on valid and test with the repeat/new and hot/cold target splits.
# Then tools/pq_report.py writes docs/results/pq-DATA.md and the plots from the runs' results.json.
set -euo pipefail
cd "$(dirname "$0")/.."
data=${1:?usage: tools/pq_experiments.sh tmall|retailrocket [EPOCHS]} epochs=${2:-1}
bin=${POCKETREC:-build/pocketrec}
case $data in
  # Tmall, 40,728 items, d = 128: STT [[169,241],[16,8]]; TT R = 41: 169*16*41 + 41*241*8 = 189,912
  # parameters (STT R = 60: 191,160); dense d = 4: 651 KB, 32x smaller than the teacher's table.
  tmall) tt_rank=41 dense_dim=4 ;;
  # RetailRocket, d = 256: STT [[117,316],[16,16]]; TT R = 27: 27*(117*16 + 316*16) = 187,056
  # (STT R = 60: 188,160); dense d = 8: 32x smaller.
  retailrocket) tt_rank=27 dense_dim=8 ;;
  *) echo "unknown data set '$data' (tmall or retailrocket)" >&2; exit 2 ;;
esac
teacher=runs/teachers/sasrec-odrec-$data out=runs/pq/$data
splits=(--eval.repeat_split=true --eval.popularity_split=0.2)
common=(--output.progress=false "${splits[@]}")
mkdir -p "$out"

if [[ ! -f $teacher/results.json ]]; then
  echo "== teacher -> $teacher"
  "$bin" train -c "configs/teachers/sasrec-odrec-$data.json" "${common[@]}" --output.dir="$teacher" \
    >"$out/teacher.log" 2>&1
fi
if [[ ! -f $teacher/pq_probe.json ]]; then
  echo "== ceiling (pq-probe) of $teacher"
  "$bin" pq-probe "$teacher" --subspaces 8 16 32 --codewords 256 --rotation no >"$out/pq-probe.log" 2>&1
fi

student() {  # student NAME CONFIG-OVERRIDES...
  local name=$1; shift
  [[ -f $out/$name/results.json ]] && return 0
  echo "== $name"
  "$bin" distill -c "configs/odrec/$data-student.json" "${common[@]}" --distill.teacher="$teacher" \
    --distill.beta=0 --distill.alpha=0 --train.epochs="$epochs" --train.patience="$epochs" \
    --output.dir="$out/$name" "$@" >"$out/$name.log" 2>&1
}
pq=(--model.item_table=pq --distill.init_from_teacher=true)
student pq-m16 "${pq[@]}" --model.pq_subspaces=16
student pq-m8 "${pq[@]}" --model.pq_subspaces=8
student pq-m16-k128 "${pq[@]}" --model.pq_subspaces=16 --model.pq_codewords=128
student pq-m16-random "${pq[@]}" --model.pq_subspaces=16 --model.pq_codes=random
student stt-r60 --distill.init_from_teacher=true
student pq-m32 "${pq[@]}" --model.pq_subspaces=32
student dense-d$dense_dim --model.item_table=dense --model.dim=$dense_dim --model.inner=$dense_dim
student tt-r$tt_rank --distill.init_from_teacher=true --model.stt_t=1 --model.stt_rank=$tt_rank
student stt-r120 --distill.init_from_teacher=true --model.stt_rank=120
student stt-r240 --distill.init_from_teacher=true --model.stt_rank=240

# The PQ students with teacher codes as .pocket files (fp32), each checked against LibTorch by the
# runtime on 1,000 test queries (scores and top-20).
for name in pq-m8 pq-m16-k128 pq-m16 pq-m32; do
  [[ -f $out/$name/results.json && ! -f $out/$name.export.json ]] || continue
  "$bin" export "$out/$name" -o "$out/$name.pocket" --verify 1000 >"$out/$name.export.json.tmp" 2>"$out/$name.export.log"
  mv "$out/$name.export.json.tmp" "$out/$name.export.json"
done

python3 tools/pq_report.py "$data" "$teacher" "$out"
