#!/usr/bin/env bash
# The main job of `make demo`, on built-in data. Outputs go under out/.
#  1. the bundled genotypes: list, validate, show, draw
#  2. a synthetic dataset, a small detector trained on it on the CPU (about 8 minutes on
#     2 cores), its COCO evaluation, drawn predictions and the training curves
#  3. the pretrained path beside it: the published backbone weights, and where they can be
#     downloaded (never waiting long offline) a short fine-tune of ResNet-18 from ImageNet
#     (a few minutes), its AP beside the from-scratch one
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

# The pretrained path: torchvision's ImageNet weights of the backbone, fine-tuned with
# --recipe finetune (docs/training.md) made small: ResNet-18, the same data and pyramid,
# 3 epochs of 20 steps, batch 8 with the recipe's lr scaled to it (0.01 x 8/16), a warmup of a
# third of the run (the recipe's 1000 steps would be all of it) and one x0.1 step at epoch 2.
# Offline the download fails at once where names do not resolve, after --timeout seconds
# where the network drops packets; its messages go to out/fetch.log.
$NASFPN weights list
ap_of() { .venv/bin/python -c 'import json, sys; print("%.3f" % json.load(open(sys.argv[1]))["AP"])' "$1"; }
rm -rf out/ft
if $NASFPN weights fetch resnet18 imagenet --timeout 10 2> out/fetch.log; then
  $NASFPN train nasfpn --data out/data --output-dir out/ft --recipe finetune \
    --backbone resnet18 --stack 3 --channels 64 --image-size 256 \
    --epochs 3 --batch-size 8 --lr 0.005 --warmup 20 --milestones 2 \
    --workers 1 --eval-every 3 --seed 0
  $NASFPN eval out/ft/best.pt --ann out/data/annotations/instances_val2017.json \
    --images out/data/val2017 --json > out/ft/eval.json
  echo "val AP: from scratch (ResNet-10, 12 epochs) $(ap_of out/run/eval.json)," \
       "fine-tuned from ImageNet (ResNet-18, 3 epochs) $(ap_of out/ft/eval.json)"
else
  why=$(sed -n 's/^error: //p' out/fetch.log | head -n 1)
  echo "pretrained path skipped: ${why:-the download failed (out/fetch.log)}; on a machine with" \
       "internet run \`nasfpn weights fetch resnet18\`, or place the file with" \
       "\`nasfpn weights add\`"
fi
echo "demo outputs: out/run and out/ft (checkpoints, metrics.jsonl, eval.json), out/predictions/*.png," \
     "out/losses.png out/lr.png out/ap.png"
