#!/usr/bin/env bash
# The main job of `make demo`, on built-in data. Outputs go under out/.
#  1. the bundled genotypes: list, validate, show, draw
#  2. a synthetic dataset, a small detector trained on it on the CPU (about 8 minutes on
#     2 cores), its COCO evaluation, drawn predictions and the training curves
set -euo pipefail
cd "$(dirname "$0")/.."
NASFPN=".venv/bin/nasfpn"
mkdir -p out
$NASFPN list
for g in nasfpn fpn panet bifpn; do
  $NASFPN validate "$g"
done
$NASFPN show nasfpn
for g in nasfpn fpn panet bifpn; do
  $NASFPN draw "$g" -o "out/$g.svg" --stack 1  # one copy, as the paper draws it
done
echo "drawings written to out/*.svg"

# One torch thread: on a machine whose cores are busy with other work, two threads fighting
# for them run several times slower. Set OMP_NUM_THREADS=2 on an idle machine to go faster.
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
rm -rf out/data out/run out/predictions
$NASFPN data synth out/data --num-images 200 --image-size 256 --seed 0
# ResNet-10 + NAS-FPN 3@64 at 256 px, from scratch; one loader worker leaves the cores to
# the training step
$NASFPN train nasfpn --data out/data --output-dir out/run \
  --backbone resnet10 --stack 3 --channels 64 --image-size 256 \
  --epochs 12 --batch-size 8 --lr 0.01 --warmup 100 --schedule cosine \
  --workers 1 --eval-every 3 --seed 0
$NASFPN eval out/run/best.pt --ann out/data/annotations/instances_val2017.json \
  --images out/data/val2017
$NASFPN eval out/run/best.pt --ann out/data/annotations/instances_val2017.json \
  --images out/data/val2017 --json > out/run/eval.json
mapfile -t SAMPLES < <(ls out/data/val2017/*.png | head -n 8)
$NASFPN predict out/run/best.pt "${SAMPLES[@]}" -o out/predictions --score-threshold 0.4
$NASFPN plot out/run -o out
echo "demo outputs: out/run (checkpoints, metrics.jsonl, eval.json), out/predictions/*.png," \
     "out/losses.png out/lr.png out/ap.png"
