#!/usr/bin/env bash
# The main job, one command on a fresh machine: set everything up, run a SHORT search of all
# three strategies (best-of-K, multi-turn, SDPO) on shipped tasks under one generation budget,
# and write the report.
#
#   bash scripts/main-job.sh                      # online: a small real coder model (below);
#                                                 # offline: a generated tiny random-weight model
#   bash scripts/main-job.sh path/to/model.gguf   # or an hf: URI, e.g.
#   bash scripts/main-job.sh hf:Qwen/Qwen2.5-Coder-1.5B-Instruct-GGUF:Q8_0
#
# With no model: if the Hugging Face endpoint answers (MODEL_ENDPOINT or HF_ENDPOINT, as
# node-llama-cpp reads them; else huggingface.co; 5 s), the job downloads HF_MODEL once into
# $TTSD_CACHE/models (default Qwen2.5-Coder-0.5B-Instruct, Q8_0, ~676 MB) and searches the easy
# shipped tasks long enough to show real discoveries; if the endpoint does not answer or the
# download fails, it says so in one line and uses the tiny random model, which proves the
# pipeline end to end but solves nothing.
#
# Knobs (environment), defaults for the real model / the tiny one: PRESET (ttsd-smoke), BUDGET
# (32 / 8), SEEDS (2), ROLLOUTS (4), MAX_TOKENS (1024 / 128), CONTEXT (4096 / 2048), THREADS
# (all cores; use 1 on a CPU shared with other jobs: llama.cpp's spinning threads collapse when
# oversubscribed), OUT (results/main-<time>), SKIP_SETUP=1 to skip scripts/setup.sh, HF_MODEL
# (the default real model's hf: URI), STRATEGIES (best-of-k,multi-turn,sdpo; e.g.
# best-of-k,sdpo,grpo,ssd,opd for the whole family, which needs TEACHER_MODEL: opd's teacher).
set -euo pipefail
cd "$(dirname "$0")/.."
export TTSD_CACHE=${TTSD_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ttsd}

if [ "${SKIP_SETUP:-0}" != 1 ]; then bash scripts/setup.sh; fi

# The exact Q8_0 file of Qwen's own GGUF repo: a file URI needs only /resolve/main/ (every
# mirror has it), where the :Q8_0 tag form needs the Hub's manifest API.
HF_MODEL=${HF_MODEL:-hf:Qwen/Qwen2.5-Coder-0.5B-Instruct-GGUF/qwen2.5-coder-0.5b-instruct-q8_0.gguf}

# Prints the local path of $1 (an hf: URI) in node-llama-cpp's cache under $TTSD_CACHE/models,
# the directory `ttsd run` resolves hf: URIs in, downloading it first if the endpoint answers.
# Exits non-zero with the reason, one line, in the file $2 when the model cannot be had.
fetch_hf_model() {
  node --input-type=module - "$1" "$2" <<'NODE'
import { resolveModelFile } from 'node-llama-cpp';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
const [uri, reasonFile] = process.argv.slice(2);
const directory = join(process.env.TTSD_CACHE, 'models');
const endpoint = [process.env.MODEL_ENDPOINT, process.env.HF_ENDPOINT].find((e) => e && /^https?:\/\//.test(e)) ?? 'https://huggingface.co/';
const fail = (why) => { writeFileSync(reasonFile, why); process.exit(1); };
try {
  process.stdout.write(await resolveModelFile(uri, { directory, download: false, cli: false }) + '\n');
  process.exit(0);
} catch {}
try {
  await fetch(endpoint, { method: 'HEAD', signal: AbortSignal.timeout(5000) });
} catch (error) {
  fail(`offline: ${new URL(endpoint).host} does not answer (${error?.cause?.code ?? error?.name ?? error})`);
}
const stallMs = Number(process.env.TTSD_DOWNLOAD_STALL_MS ?? 60000);
const abort = new AbortController();
let timer;
const arm = () => { clearTimeout(timer); timer = setTimeout(() => abort.abort(), stallMs); };
arm();
try {
  const path = await resolveModelFile(uri, { directory, cli: process.stderr.isTTY === true, signal: abort.signal, onProgress: arm });
  clearTimeout(timer);
  process.stdout.write(path + '\n');
  process.exit(0);
} catch (error) {
  fail(abort.signal.aborted ? `download of ${uri} stalled (no data for ${stallMs / 1000} s)` : `cannot download ${uri}: ${String(error?.message ?? error).split('\n')[0]}`);
}
NODE
}

MODEL=${1:-${MODEL:-}}
REAL=1
if [ -z "$MODEL" ]; then
  echo "main job: looking for $HF_MODEL (cached, or downloaded once into $TTSD_CACHE/models)"
  reason=$(mktemp)
  if fetch_hf_model "$HF_MODEL" "$reason" >/dev/null; then
    MODEL=$HF_MODEL
    echo "main job: using $MODEL"
  else
    REAL=0
    why=$(head -c 300 "$reason" | tr '\n' ' ')
    MODEL="$TTSD_CACHE/models/main-job-tiny-qwen2.gguf"
    echo "main job: ${why:-no real model}: falling back to the tiny random-weight model (it proves the pipeline end to end; it cannot solve tasks)"
    if [ ! -f "$MODEL" ]; then
      mkdir -p "$(dirname "$MODEL")"
      node bin/ttsd.js model tiny --arch qwen2 --out "$MODEL"
    fi
  fi
  rm -f "$reason"
fi

if [ "$REAL" = 1 ]; then
  BUDGET=${BUDGET:-32} MAX_TOKENS=${MAX_TOKENS:-1024} CONTEXT=${CONTEXT:-4096}
else
  BUDGET=${BUDGET:-8} MAX_TOKENS=${MAX_TOKENS:-128} CONTEXT=${CONTEXT:-2048}
fi

OUT=${OUT:-results/main-$(date -u +%Y%m%d-%H%M%S)}
node bin/ttsd.js run \
  --model "$MODEL" \
  --tasks tasks --preset "${PRESET:-ttsd-smoke}" \
  --strategies "${STRATEGIES:-best-of-k,multi-turn,sdpo}" \
  ${TEACHER_MODEL:+--teacher-model "$TEACHER_MODEL"} \
  --budget "$BUDGET" --seeds "${SEEDS:-2}" --rollouts "${ROLLOUTS:-4}" \
  --max-tokens "$MAX_TOKENS" --context-size "$CONTEXT" \
  ${THREADS:+--threads "$THREADS"} \
  --out "$OUT"
node bin/ttsd.js report "$OUT"
echo "main job done: $OUT/report.html"
