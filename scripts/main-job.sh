#!/usr/bin/env bash
# The main job, one command on a fresh machine: set everything up, run a SHORT search of all
# three strategies (best-of-K, multi-turn, SDPO) on shipped tasks under one generation budget,
# and write the report.
#
#   bash scripts/main-job.sh                      # offline: a generated tiny random-weight model
#   bash scripts/main-job.sh path/to/model.gguf   # or an hf: URI, e.g.
#   bash scripts/main-job.sh hf:Qwen/Qwen2.5-Coder-1.5B-Instruct-GGUF:Q8_0
#
# Knobs (environment): PRESET (ttsd-smoke), BUDGET (8), SEEDS (2), ROLLOUTS (4), MAX_TOKENS
# (128), CONTEXT (2048), THREADS (all cores; use 1 on a CPU shared with other jobs: llama.cpp's
# spinning threads collapse when oversubscribed), OUT (results/main-<time>), SKIP_SETUP=1 to
# skip scripts/setup.sh.
# The tiny model cannot solve anything: it shows the whole pipeline working end to end, not
# SDPO's gains — use a real coder model for that.
set -euo pipefail
cd "$(dirname "$0")/.."
export TTSD_CACHE=${TTSD_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ttsd}

if [ "${SKIP_SETUP:-0}" != 1 ]; then bash scripts/setup.sh; fi

MODEL=${1:-${MODEL:-}}
if [ -z "$MODEL" ]; then
  MODEL="$TTSD_CACHE/models/main-job-tiny-qwen2.gguf"
  if [ ! -f "$MODEL" ]; then
    mkdir -p "$(dirname "$MODEL")"
    node bin/ttsd.js model tiny --arch qwen2 --out "$MODEL"
  fi
fi

OUT=${OUT:-results/main-$(date -u +%Y%m%d-%H%M%S)}
node bin/ttsd.js run \
  --model "$MODEL" \
  --tasks tasks --preset "${PRESET:-ttsd-smoke}" \
  --strategies best-of-k,multi-turn,sdpo \
  --budget "${BUDGET:-8}" --seeds "${SEEDS:-2}" --rollouts "${ROLLOUTS:-4}" \
  --max-tokens "${MAX_TOKENS:-128}" --context-size "${CONTEXT:-2048}" \
  ${THREADS:+--threads "$THREADS"} \
  --out "$OUT"
node bin/ttsd.js report "$OUT"
echo "main job done: $OUT/report.html"
