#!/usr/bin/env bash
# Reproduces models/predictive_maintenance.onnx and its card exactly: the same twin history (seeded)
# and the same forest seed give the same model, byte for byte (the card's trained_at aside).
#   bash models/reproduce.sh        (after npm ci; takes about a minute)
set -euo pipefail
cd "$(dirname "$0")/.."
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
npx tsc -p tsconfig.build.json
lp() { node dist/cli/main.js "$@"; }
# 60 days of 5 presses at 60 s, operators moving setpoints; about 36 bearing failures.
lp generate --machines 5 --duration 60d --interval 60s --seed 42 --out "$work/train.db"
# A held-out run: other seed, machine 2 with a bearing that wears three times faster.
lp generate --machines 5 --duration 21d --interval 60s --seed 99 --wear-rate 2=3 --out "$work/holdout.db"
lp train --data "$work/train.db" --holdout "$work/holdout.db" --seed 7 --trees 60 --max-depth 8 \
  --horizon 48 --stride 30 --model-version 2026.11.1 --out models/predictive_maintenance.onnx
# The production optimizer's PPO policy, trained on the twin (no store needed), and its comparison
# with the twin search on the same 8-hour shifts (about half a minute).
lp train-optimizer --seed 7 --iterations 150 --model-version 2026.11.1 --out models/production_optimizer.onnx
