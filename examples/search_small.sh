#!/usr/bin/env bash
# The search demonstration of docs/search.md, end to end on the 2-core CPU:
#  0. with CALIBRATION=DIR (a `search calibrate` folder, e.g. docs/runs/calibration-k16-shapes)
#     and the proxy reward: the calibration is copied to OUT/calibration and tuned there
#     (`search calibrate --tune`, no training), and the search uses the proxy it chose
#     (`--proxy-config OUT/calibration/proxy.toml`); with CALIBRATE=1 instead, a fresh
#     calibration on DATA (`search calibrate`'s defaults, K = 16) is run in OUT/calibration-fresh
#     (the whole pipeline from nothing), with its bf16 twin (TWIN=1: the same plan with
#     `--proxy-amp on --proxy-channels-last on`, its reference trainings copied) so that the
#     tuning picks the proxy's precision on DATA too; otherwise the default proxy
#  1. a search (CONTROLLER evolution or local, in SPACE anchored or paper; REWARD proxy or
#     supernet; 2 workers) on DATA (digits:
#     scikit-learn's handwritten digits on its bundled photos; shapes: `nasfpn data synth`),
#     written once in OUT/search/proxy_data, ending with the final selection (its top
#     FINAL_TOP_K, and in the anchored space the anchors, scored again at FINAL_SEEDS more seeds)
#  2. the top 3 of the final selection (for a supernet search: re-scored by short proxy
#     trainings) and the BUNDLED pyramids retrained under the default proxy
#     and under the reference schedule (REF_EPOCHS, REF_IMAGES) at SEEDS seeds (`search calibrate`
#     on them; with CALIBRATION its recorded trainings are reused, so the bundled pyramids are
#     not trained again), and the table: reference score mean +- std, found vs hand-designed.
# SEARCH_OPTIONS adds `nasfpn search` options (split at spaces), e.g. "--macs-target 1.38e7" for a
# cost-aware search (MnasNet's penalty above PANet's neck multiply-adds at the proxy's size), or
# "--supernet-path FILE" to reuse a supernet trained with the same settings.
# With TUNE=0 a CALIBRATION's trainings are reused but its proxy is not tuned (the default proxy
# searches). Each stage's time is printed at the end: calibration, tuning, search, final
# selection (a resumed search with --final-top-k), retraining, and the total.
# Every setting can be overridden from the environment, e.g. the measured runs of docs/lab/:
#   OUT=out/ss-digits SPACE=paper SEEDS=2 BUNDLED=fpn,panet,nasfpn examples/search_small.sh
#   OUT=out/ss-shapes SPACE=paper SEEDS=2 DATA=shapes \
#     CALIBRATION=docs/runs/calibration-k16-shapes examples/search_small.sh
#   OUT=out/ss-supernet SPACE=paper SEEDS=2 DATA=shapes REWARD=supernet TRIALS=1000 \
#     CALIBRATION=docs/runs/calibration-k16-shapes examples/search_small.sh
#   OUT=out/ss-anchored DATA=shapes CONTROLLER=local TRIALS=60 TUNE=0 FINAL_TOP_K=3 SEEDS=2 \
#     CALIBRATION=docs/runs/calibration-k16-shapes examples/search_small.sh
# or a quick look:
#   TRIALS=4 WORKERS=1 IMAGES=24 SIZE=64 EPOCHS=1 REF_EPOCHS=2 REF_IMAGES=24 CHANNELS=16 STACK=1 \
#     examples/search_small.sh
set -euo pipefail
cd "$(dirname "$0")/.."
NASFPN=${NASFPN:-.venv/bin/nasfpn}
OUT=${OUT:-out/search_small}
DATA=${DATA:-digits}
REWARD=${REWARD:-proxy}
CONTROLLER=${CONTROLLER:-evolution}
SPACE=${SPACE:-anchored}
TUNE=${TUNE:-1}
FINAL_TOP_K=${FINAL_TOP_K:-10}
FINAL_SEEDS=${FINAL_SEEDS:-2}
SEEDS=${SEEDS:-3}
CALIBRATION=${CALIBRATION:-}
CALIBRATE=${CALIBRATE:-0}
TWIN=${TWIN:-1}
BUNDLED=${BUNDLED:-fpn,panet,nasfpn,bifpn}
TRIALS=${TRIALS:-100}
WORKERS=${WORKERS:-2}
SEED=${SEED:-0}
REF_EPOCHS=${REF_EPOCHS:-12}
# the proxy: its defaults (or the tuned one) unless set here (see `nasfpn search --help`)
PROXY=()
for setting in IMAGES:--proxy-images SIZE:--proxy-image-size EPOCHS:--proxy-epochs \
               CHANNELS:--proxy-channels STACK:--proxy-stack; do
  name=${setting%%:*}
  if [ -n "${!name:-}" ]; then PROXY+=("${setting#*:}" "${!name}"); fi
done
REFERENCE=(--reference-epochs "$REF_EPOCHS")
if [ -n "${REF_IMAGES:-}" ]; then REFERENCE+=(--reference-images "$REF_IMAGES"); fi
# one torch thread per worker: two threads fighting for a busy core run several times slower
export OMP_NUM_THREADS=1

rm -rf "$OUT"
mkdir -p "$OUT"
STAGES=()
stage() { STAGES+=("$1 $((SECONDS - STARTED)) s"); STARTED=$SECONDS; }
STARTED=$SECONDS
BEGAN=$SECONDS
TUNED=()
REUSE=()
LADDER=()
if [ -z "$CALIBRATION" ] && [ "$CALIBRATE" = 1 ]; then
  FRESH=(--proxy-data "$DATA" --workers "$WORKERS" --threads 1 --seed "$SEED"
         ${PROXY[@]+"${PROXY[@]}"} "${REFERENCE[@]}")
  $NASFPN search calibrate "${FRESH[@]}" -o "$OUT/calibration-fresh"
  if [ "$TWIN" = 1 ]; then
    $NASFPN search calibrate "${FRESH[@]}" --proxy-amp on --proxy-channels-last on \
      --reference-from "$OUT/calibration-fresh" -o "$OUT/calibration-fresh-bf16"
    LADDER=(--ladder-from "$OUT/calibration-fresh-bf16")
  fi
  CALIBRATION=$OUT/calibration-fresh
fi
stage calibration
if [ -n "$CALIBRATION" ]; then
  REUSE=(--reference-from "$CALIBRATION")
  if [ "$REWARD" = proxy ] && [ "$TUNE" = 1 ]; then
    cp -r "$CALIBRATION" "$OUT/calibration"
    rm -f "$OUT/calibration/proxy.toml" "$OUT/calibration/tuning.json"
    $NASFPN search calibrate --tune ${LADDER[@]+"${LADDER[@]}"} -o "$OUT/calibration"
    # no proxy.toml: no cheaper proxy ranked well enough, the default proxy searches
    if [ -f "$OUT/calibration/proxy.toml" ]; then
      TUNED=(--proxy-config "$OUT/calibration/proxy.toml")
    fi
  fi
fi
CONTROL=(--controller "$CONTROLLER" --space "$SPACE")
if [ "$CONTROLLER" = evolution ]; then CONTROL+=(--population-size 20 --sample-size 5); fi
read -r -a MORE <<< "${SEARCH_OPTIONS:-}"
stage tuning
$NASFPN search "${CONTROL[@]}" --final-top-k 0 \
  --reward "$REWARD" --proxy-data "$DATA" ${TUNED[@]+"${TUNED[@]}"} \
  --trials "$TRIALS" --workers "$WORKERS" --threads 1 --seed "$SEED" \
  -o "$OUT/search" ${PROXY[@]+"${PROXY[@]}"} ${MORE[@]+"${MORE[@]}"}
stage search
$NASFPN search --resume -o "$OUT/search" --final-top-k "$FINAL_TOP_K" \
  --final-seeds "$FINAL_SEEDS" --workers "$WORKERS" --threads 1
$NASFPN search report "$OUT/search" --top 3 --genotypes-dir "$OUT/found"
stage "final selection"

# retrain on the data the search scored on: generated again from the same settings, so that
# the trainings of a calibration on that data can be reused
# (none when the top 3 are all anchors: then the anchors alone)
FOUND=$(ls "$OUT"/found/found*.txt 2>/dev/null | paste -sd, - || true)
if [ -z "$FOUND" ]; then echo "the final selection's top 3 are all anchors: none found"; fi
$NASFPN search calibrate --architectures "$BUNDLED${FOUND:+,$FOUND}" --sampled 0 --poor 0 \
  --seeds "$SEEDS" --workers "$WORKERS" --threads 1 --seed "$SEED" -o "$OUT/retrain" \
  --proxy-data "$DATA" ${PROXY[@]+"${PROXY[@]}"} "${REFERENCE[@]}" ${REUSE[@]+"${REUSE[@]}"}
stage retraining
STAGES+=("total $((SECONDS - BEGAN)) s")
printf 'stage times: %s\n' "${STAGES[@]}"
echo "the table above: $OUT/retrain/calibration.json; the search: $OUT/search"
