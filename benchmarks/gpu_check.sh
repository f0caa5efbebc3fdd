#!/usr/bin/env bash
# The GPU figures in one go (aim: under 8 minutes on one modern GPU), ending in one summary table:
#   1. AMP training (fp16 + loss scaling) of RetinaNet R-50 NAS-FPN 7@256 at 640 px: images/s and
#      peak memory at batch 8 and 16, and AMP losses against fp32 over the first steps
#      (benchmarks/gpu_check.py);
#   2. `nasfpn bench` of the same network: the defaults (fp16 + channels_last on CUDA), fp32,
#      --amp, --amp --channels-last, --amp --compile;
#   3. with two or more GPUs: a 2-process NCCL DDP training epoch (torchrun);
#   4. with Ray installed: a 4-trial proxy search on Ray, a GPU per trial.
# Where no CUDA GPU is present it says so and exits 0.
#
#   bash benchmarks/gpu_check.sh            # PYTHON=... to choose the interpreter, OUT=... the folder
set -uo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python3 )}"
OUT="${OUT:-out/gpu_check}"
STEPS="${STEPS:-150}"

gpus=$("$PYTHON" -c "import torch; print(torch.cuda.device_count() if torch.cuda.is_available() else 0)" 2>/dev/null || echo 0)
if [ "${gpus:-0}" = "0" ]; then
  echo "gpu_check: no CUDA GPU here; nothing measured (the figures in docs/training.md stay unmeasured)"
  exit 0
fi

nasfpn() { "$PYTHON" -m nasfpn_cli "$@"; }
mkdir -p "$OUT"
SUMMARY="$OUT/summary.txt"
: > "$SUMMARY"
row() { printf '%-44s %s\n' "$1" "$2" >> "$SUMMARY"; echo "done: $1"; }
started=$SECONDS
device=$("$PYTHON" -c "import torch; print(torch.cuda.get_device_name(0))")
echo "gpu_check on $gpus x $device"

# data: synthetic shapes at 640 px (no download)
if [ ! -f "$OUT/data/annotations/instances_train2017.json" ]; then
  nasfpn data synth "$OUT/data" --num-images 320 --image-size 640 --num-classes 3 >/dev/null
fi

# 1. AMP training throughput, peak memory, AMP vs fp32
if timeout 240 "$PYTHON" benchmarks/gpu_check.py --data "$OUT/data" --steps "$STEPS" \
     --batch-sizes 8,16 --json "$OUT/train.json" > "$OUT/train.log" 2>&1; then
  "$PYTHON" - "$OUT/train.json" <<'EOF' | while IFS='|' read -r name value; do row "$name" "$value"; done
import json, sys
r = json.load(open(sys.argv[1]))
for t in r["throughput"]:
    print(f"train R-50 7@256 640px amp, batch {t['batch_size']}|{t['images_per_s']:.1f} images/s, peak {t['peak_memory_gib']:.2f} GiB")
c = r["amp_check"]
print(f"amp vs fp32 losses, first {c['steps']} steps|max relative difference {c['max_relative_difference']:.4f}")
EOF
else
  row "train R-50 7@256 640px amp" "FAILED (see $OUT/train.log)"
fi

# 2. inference latency variants (raw network, batch 8)
bench_variant() {  # NAME FLAGS...
  local name="$1"; shift
  if timeout 240 "$PYTHON" -m nasfpn_cli bench nasfpn --device cuda --image-size 640 --batch-size 8 \
       --post-processing without --warmup 5 --runs 20 --json "$@" > "$OUT/bench-$name.json" 2> "$OUT/bench-$name.log"; then
    row "bench 7@256 640px batch 8, $name" "$("$PYTHON" -c "import json,sys; r=json.load(open(sys.argv[1]))['results'][0]; print(f\"{r['median_ms']:.2f} ms median, {r['p90_ms']:.2f} p90, {r['images_per_s']:.1f} images/s, peak {r['peak_memory_bytes']/2**30:.2f} GiB\")" "$OUT/bench-$name.json")"
  else
    row "bench 7@256 640px batch 8, $name" "FAILED (see $OUT/bench-$name.log)"
  fi
}
bench_variant defaults                                  # --amp auto --channels-last auto
bench_variant fp32 --no-amp --no-channels-last
bench_variant amp --amp on --no-channels-last
bench_variant amp-channels-last --amp on --channels-last on
bench_variant amp-compile --amp on --no-channels-last --compile

# 3. two-process NCCL DDP, one short epoch
if [ "$gpus" -ge 2 ]; then
  rm -rf "$OUT/ddp"
  if timeout 180 "$PYTHON" -m torch.distributed.run --nproc_per_node 2 -m nasfpn_cli train nasfpn \
       --data "$OUT/data" --backbone resnet50 --stack 7 --channels 256 --image-size 640 \
       --batch-size 8 --epochs 1 --amp --device cuda --workers 4 --log-every 5 --no-progress \
       -o "$OUT/ddp" > "$OUT/ddp.log" 2>&1; then
    row "DDP 2 x GPU (NCCL), batch 8 per GPU, amp" "$("$PYTHON" -c "import json,sys; rs=[json.loads(l) for l in open(sys.argv[1]) if '\"train\"' in l]; print(f\"{rs[-1]['images_per_s']:.1f} images/s (last log interval)\")" "$OUT/ddp/metrics.jsonl")"
  else
    row "DDP 2 x GPU (NCCL)" "FAILED (see $OUT/ddp.log)"
  fi
else
  row "DDP 2 x GPU (NCCL)" "skipped: one GPU"
fi

# 4. a 4-trial proxy search on Ray, a GPU per trial
if "$PYTHON" -c "import ray" 2>/dev/null; then
  rm -rf "$OUT/search"
  search_start=$SECONDS
  if timeout 240 "$PYTHON" -m nasfpn_cli search --controller random --reward proxy --trials 4 \
       --workers 4 --executor ray --proxy-device cuda --proxy-epochs 2 -o "$OUT/search" \
       > "$OUT/search.log" 2>&1; then
    row "Ray search, 4 proxy trials, GPU per trial" "$((SECONDS - search_start)) s, best reward $(sed -n 's/.*reward \([0-9.]*\).*/\1/p' "$OUT/search/best.txt" | head -n 1)"
  else
    row "Ray search, 4 proxy trials" "FAILED (see $OUT/search.log)"
  fi
else
  row "Ray search" "skipped: ray not installed"
fi

echo
echo "== gpu_check summary ($gpus x $device, $((SECONDS - started)) s) =="
cat "$SUMMARY"
