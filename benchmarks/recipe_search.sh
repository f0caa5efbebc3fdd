#!/usr/bin/env bash
# The measurements behind `--recipe small` (docs/training.md, "Learning fast from scratch"):
# every arm trains for the same CPU seconds on one thread, side by side in one process
# (benchmarks/learning_speed.py). Round 1 adds one change at a time to today's defaults;
# round 2 is the final comparison on another seed, with curves. About 20 CPU-minutes and
# 10 CPU-minutes; on a busy machine the wall time is larger, the figures are not.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
export OMP_NUM_THREADS=1

$PY benchmarks/learning_speed.py --seconds 180 --evals 1 --seeds 0 -o out/recipe_search/round1 \
  --arm "today=default" \
  --arm "s128=default image_size=128" \
  --arm "s128a2=default image_size=128 anchor_size=2 warmup=30" \
  --arm "s128a2_sgd02=default image_size=128 anchor_size=2 warmup=30 lr=0.02" \
  --arm "s128a2_adamw=default image_size=128 anchor_size=2 warmup=30 optimizer=adamw lr=0.001 weight_decay=0.05" \
  --arm "s128a2_adamw_ema=default image_size=128 anchor_size=2 warmup=30 optimizer=adamw lr=0.001 weight_decay=0.05 ema=true ema_decay=0.99"

# round 2 reuses the step counts round 1's calibration fitted to 180 CPU-seconds (a calibration
# on a machine whose host is overcommitted inflates CPU time too, and fits fewer steps)
$PY benchmarks/learning_speed.py --seconds 180 --evals 3 --seeds 1 -o out/recipe_search/round2 \
  --steps "today=121,small=399,small_ema=374" \
  --arm "today=default" --arm "small=small" --arm "small_ema=small ema=true ema_decay=0.99"
