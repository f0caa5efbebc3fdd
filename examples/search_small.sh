#!/usr/bin/env bash
# The search demonstration of docs/search.md, end to end on the 2-core CPU (about 2 hours with
# the defaults below; not measured end to end yet, see docs/search.md):
#  1. a small real dataset: scikit-learn's handwritten digits on its bundled photos
#  2. a search (regularized evolution, the proxy reward on that data, 2 workers)
#  3. the top 3 architectures found and fpn, panet, nasfpn retrained under the proxy and under
#     the longer reference schedule at 2 seeds (`search calibrate` on those six), and the table:
#     reference score mean +- std, neck MACs, found vs hand-designed.
# Every setting can be overridden from the environment for a quick look, e.g.
#   TRIALS=4 WORKERS=1 NUM_TRAIN=24 NUM_VAL=8 SIZE=64 EPOCHS=1 REF_EPOCHS=2 CHANNELS=16 STACK=1 \
#     examples/search_small.sh
set -euo pipefail
cd "$(dirname "$0")/.."
NASFPN=${NASFPN:-.venv/bin/nasfpn}
OUT=${OUT:-out/search_small}
TRIALS=${TRIALS:-120}
WORKERS=${WORKERS:-2}
NUM_TRAIN=${NUM_TRAIN:-300}
NUM_VAL=${NUM_VAL:-100}
SIZE=${SIZE:-96}
EPOCHS=${EPOCHS:-4}
REF_EPOCHS=${REF_EPOCHS:-12}
CHANNELS=${CHANNELS:-32}
STACK=${STACK:-3}
SEED=${SEED:-0}
# one torch thread per worker: two threads fighting for a busy core run several times slower
export OMP_NUM_THREADS=1

rm -rf "$OUT"
$NASFPN data digits "$OUT/digits" --num-train "$NUM_TRAIN" --num-val "$NUM_VAL" \
  --image-size "$SIZE" --max-object-size $((SIZE / 2)) --seed "$SEED"
DATA=(--proxy-train-ann "$OUT/digits/annotations/instances_train2017.json"
      --proxy-train-images "$OUT/digits/train2017"
      --proxy-val-ann "$OUT/digits/annotations/instances_val2017.json"
      --proxy-val-images "$OUT/digits/val2017")
PROXY=(--proxy-image-size "$SIZE" --proxy-epochs "$EPOCHS" --proxy-channels "$CHANNELS"
       --proxy-stack "$STACK")

$NASFPN search --controller evolution --population-size 20 --sample-size 5 \
  --trials "$TRIALS" --workers "$WORKERS" --threads 1 --seed "$SEED" \
  -o "$OUT/search" "${DATA[@]}" "${PROXY[@]}"
$NASFPN search report "$OUT/search" --top 3 --genotypes-dir "$OUT/found"

FOUND=$(ls "$OUT"/found/found*.txt | paste -sd, -)
$NASFPN search calibrate --architectures "fpn,panet,nasfpn,$FOUND" --sampled 0 --poor 0 \
  --seeds 2 --workers "$WORKERS" --threads 1 --seed "$SEED" -o "$OUT/retrain" \
  "${DATA[@]}" "${PROXY[@]}" --reference-epochs "$REF_EPOCHS"
echo "the table above: $OUT/retrain/calibration.json; the search: $OUT/search"
