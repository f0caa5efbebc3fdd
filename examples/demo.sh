#!/usr/bin/env bash
# The main job of `make demo`, on built-in data. Outputs go under out/.
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
  $NASFPN draw "$g" -o "out/$g.svg"
done
echo "drawings written to out/*.svg"
