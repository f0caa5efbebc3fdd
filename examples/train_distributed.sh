#!/usr/bin/env bash
# Data-parallel training with torchrun: one process per GPU (nccl), or per CPU core group
# (gloo) on a machine without GPUs. Rank 0 writes the checkpoints and metrics; evaluation is
# split across the processes and gathered. --batch-size is per process.
#
#   examples/train_distributed.sh DATA_DIR OUT [NPROC] [extra nasfpn train options...]
#
# e.g. examples/train_distributed.sh /data/coco runs/nasfpn 8 --recipe paper --sync-bn --amp
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${1:?usage: $0 DATA_DIR OUT [NPROC] [options...]}
OUT=${2:?usage: $0 DATA_DIR OUT [NPROC] [options...]}
NPROC=${3:-2}
shift $(( $# < 3 ? $# : 3 ))
PYTHON=${PYTHON:-.venv/bin/python}
# CPU processes share the cores: one torch thread each unless the caller says otherwise
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
RESUME=()
if [ -f "$OUT/last.pt" ]; then
  RESUME=(--resume)  # rerunning the recipe after a crash continues where it stopped
fi
exec "$PYTHON" -m torch.distributed.run --standalone --nproc_per_node "$NPROC" \
  -m nasfpn_cli train nasfpn --data "$DATA" --output-dir "$OUT" "${RESUME[@]}" "$@"
