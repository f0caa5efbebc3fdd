#!/usr/bin/env bash
# The search demonstration of docs/search.md, end to end on the 2-core CPU (about an hour with
# the defaults below; the measured run is in docs/search.md):
#  1. a search (regularized evolution, the default proxy reward, 2 workers) on the default proxy
#     data: scikit-learn's handwritten digits on its bundled photos, written once in
#     OUT/search/proxy_data (200 training and 100 validation images of 128 px)
#  2. the top 3 architectures found and fpn, panet, nasfpn retrained under the proxy and under
#     the 3x longer reference schedule on the same data at 2 seeds (`search calibrate` on those
#     six), and the table: reference score mean +- std, neck MACs, found vs hand-designed.
# Every setting can be overridden from the environment for a quick look, e.g.
#   TRIALS=4 WORKERS=1 IMAGES=24 SIZE=64 EPOCHS=1 REF_EPOCHS=2 CHANNELS=16 STACK=1 \
#     examples/search_small.sh
set -euo pipefail
cd "$(dirname "$0")/.."
NASFPN=${NASFPN:-.venv/bin/nasfpn}
OUT=${OUT:-out/search_small}
TRIALS=${TRIALS:-100}
WORKERS=${WORKERS:-2}
SEED=${SEED:-0}
REF_EPOCHS=${REF_EPOCHS:-12}
# the proxy: its defaults unless set here (see `nasfpn search --help`)
PROXY=()
for setting in IMAGES:--proxy-images SIZE:--proxy-image-size EPOCHS:--proxy-epochs \
               CHANNELS:--proxy-channels STACK:--proxy-stack; do
  name=${setting%%:*}
  if [ -n "${!name:-}" ]; then PROXY+=("${setting#*:}" "${!name}"); fi
done
# one torch thread per worker: two threads fighting for a busy core run several times slower
export OMP_NUM_THREADS=1

rm -rf "$OUT"
$NASFPN search --controller evolution --population-size 20 --sample-size 5 \
  --trials "$TRIALS" --workers "$WORKERS" --threads 1 --seed "$SEED" \
  -o "$OUT/search" ${PROXY[@]+"${PROXY[@]}"}
$NASFPN search report "$OUT/search" --top 3 --genotypes-dir "$OUT/found"

# retrain on the data the search scored on (the proxy options other than the data stay)
DIGITS=$OUT/search/proxy_data
FOUND=$(ls "$OUT"/found/found*.txt | paste -sd, -)
$NASFPN search calibrate --architectures "fpn,panet,nasfpn,$FOUND" --sampled 0 --poor 0 \
  --seeds 2 --workers "$WORKERS" --threads 1 --seed "$SEED" -o "$OUT/retrain" \
  --proxy-train-ann "$DIGITS/annotations/instances_train2017.json" \
  --proxy-train-images "$DIGITS/train2017" \
  --proxy-val-ann "$DIGITS/annotations/instances_val2017.json" \
  --proxy-val-images "$DIGITS/val2017" \
  ${PROXY[@]+"${PROXY[@]}"} --reference-epochs "$REF_EPOCHS"
echo "the table above: $OUT/retrain/calibration.json; the search: $OUT/search"
