#!/usr/bin/env bash
# The paper's COCO recipe (R-50 NAS-FPN 7@256 at 640 px, batch 64, SGD lr 0.08, 50 epochs with
# x0.1 steps at 30 and 40, scale jitter 0.8-1.2, focal loss alpha 0.25 gamma 1.5) on 8 GPUs
# (8 x 8 images per step), with DropBlock as in the paper's long schedules, then the COCO
# evaluation of the best checkpoint.
#
#   examples/train_paper.sh /data/coco runs/nasfpn-paper --backbone-weights resnet50.pth \
#       [--schedule cosine] [--amp]
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${1:?usage: $0 COCO_DIR OUT [options...]}
OUT=${2:?usage: $0 COCO_DIR OUT [options...]}
shift 2
PYTHON=${PYTHON:-.venv/bin/python}
RESUME=()
if [ -f "$OUT/last.pt" ]; then
  RESUME=(--resume)
fi
"$PYTHON" -m torch.distributed.run --standalone --nproc_per_node 8 \
  -m nasfpn_cli train nasfpn --data "$DATA" --output-dir "$OUT" --recipe paper \
  --batch-size 8 --sync-bn --dropblock 0.9 --workers 4 "${RESUME[@]}" "$@"
"$PYTHON" -m nasfpn_cli eval "$OUT/best.pt" --ann "$DATA/annotations/instances_val2017.json" \
  --images "$DATA/val2017"
