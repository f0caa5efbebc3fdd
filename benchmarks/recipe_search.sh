#!/usr/bin/env bash
# The measurements behind `--recipe small` (docs/training.md, "Learning fast from scratch"):
# every arm trains for the same CPU seconds on one thread, side by side in one process
# (benchmarks/learning_speed.py). Round 1 adds one change at a time to today's defaults;
# round 2 is the final comparison on another seed, with curves. "today" is the CPU default
# model the issue measured: ResNet-18 NAS-FPN 3@64 at 256 px, SGD lr 0.01, warmup 100. About 20 CPU-minutes and
# 10 CPU-minutes; on a busy machine the wall time is larger, the figures are not.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
export OMP_NUM_THREADS=1

$PY benchmarks/learning_speed.py --seconds 180 --evals 1 --seeds 0 -o out/recipe_search/round1 \
  --arm "today=default stack=3 channels=64" \
  --arm "s128=default stack=3 channels=64 image_size=128" \
  --arm "s128a2=default stack=3 channels=64 image_size=128 anchor_size=2 warmup=30" \
  --arm "s128a2_sgd02=default stack=3 channels=64 image_size=128 anchor_size=2 warmup=30 lr=0.02" \
  --arm "s128a2_adamw=default stack=3 channels=64 image_size=128 anchor_size=2 warmup=30 optimizer=adamw lr=0.001 weight_decay=0.05" \
  --arm "s128a2_adamw_ema=default stack=3 channels=64 image_size=128 anchor_size=2 warmup=30 optimizer=adamw lr=0.001 weight_decay=0.05 ema=true ema_decay=0.99"

# round 2 reuses the step counts round 1's calibration fitted to 180 CPU-seconds, so both seeds
# train the same schedules (on a crowded machine CPU time per step grows too, and a fresh
# calibration would fit fewer steps)
$PY benchmarks/learning_speed.py --seconds 180 --evals 3 --seeds 1 -o out/recipe_search/round2 \
  --steps "today=121,small=399" --arm "today=default stack=3 channels=64" --arm "small=small"
