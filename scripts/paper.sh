#!/usr/bin/env bash
# The SDPO paper's test-time protocol on one GPU machine: the 19 hard LCBv6 problems
# (--preset lcbv6-hard), best-of-k + multi-turn + sdpo, 5 seeds, a budget of 2750 generations
# per (task, strategy, seed), G = 16 rollouts per step, responses up to 8192 tokens. Before it
# runs it prints what it will cost: generations, and hours at this machine's measured tokens/s.
#
#   bash scripts/paper.sh [MODEL]            # default MODEL: the paper's Qwen3-8B (Q8_0 GGUF)
#   DRY_RUN=1 bash scripts/paper.sh [MODEL]  # print the plan and the cost, run nothing
#
# Knobs (environment): LCB_DIR (LiveCodeBench release_v6 files; unset: `ttsd tasks fetch lcb`
# downloads them into $TTSD_CACHE/lcb/code_generation_lite), PRESET (lcbv6-hard), STRATEGIES
# (best-of-k,multi-turn,sdpo), SEEDS (5), BUDGET (2750), ROLLOUTS (16), MAX_TOKENS (8192),
# CONTEXT (10240 = the paper's 2048-token prompt + 8192-token response; 40192 gives multi-turn
# the paper's 32,000-token prompt window, at 4x the KV memory), THREADS, OUT
# (results/paper-<time>), GPU_FLAGS (below), TOK_S / TOK_S_1 (skip the measurement: tokens/s
# with G and with 1 rollout), SKIP_SETUP=1 (skip scripts/setup.sh), EXTRA (more `ttsd run` flags).
set -euo pipefail
cd "$(dirname "$0")/.."
export TTSD_CACHE=${TTSD_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ttsd}
ttsd() { node bin/ttsd.js "$@"; }

MODEL=${1:-${MODEL:-hf:Qwen/Qwen3-8B-GGUF/Qwen3-8B-Q8_0.gguf}}
PRESET=${PRESET:-lcbv6-hard}
STRATEGIES=${STRATEGIES:-best-of-k,multi-turn,sdpo}
SEEDS=${SEEDS:-5}
BUDGET=${BUDGET:-2750}
ROLLOUTS=${ROLLOUTS:-16}
MAX_TOKENS=${MAX_TOKENS:-8192}
CONTEXT=${CONTEXT:-10240}
OUT=${OUT:-results/paper-$(date -u +%Y%m%d-%H%M%S)}

if [ "${SKIP_SETUP:-0}" != 1 ]; then bash scripts/setup.sh; fi

# GPU_FLAGS: how `ttsd run` uses the GPU (its --gpu auto|cuda|vulkan|off and --gpu-layers N|max).
# Default: --gpu auto when this checkout's `ttsd run` has --gpu, else nothing (CPU sampling).
# GPU_FLAGS= (empty) forces the CPU; GPU_FLAGS="--gpu cuda --gpu-layers max" pins it. auto trains on the CPU;
# --gpu cuda / --gpu vulkan (AMD, Intel) also build and train with the CUDA / Vulkan trainer on that GPU.
if [ -z "${GPU_FLAGS+set}" ]; then
  if ttsd run --help | grep -q -- '--gpu <'; then GPU_FLAGS="--gpu auto"; else GPU_FLAGS=""; fi
fi

# 1. The task files.
if [ -z "${LCB_DIR:-}" ]; then
  LCB_DIR="$TTSD_CACHE/lcb/code_generation_lite"
  echo "paper: LCB_DIR not set: fetching LiveCodeBench release_v6 into $LCB_DIR"
  ttsd tasks fetch lcb --release v6 --out "$LCB_DIR"
fi
resolved=$(ttsd tasks show-preset "$PRESET" --tasks "$LCB_DIR" --json)
TASKS=$(node -e 'const r = JSON.parse(process.argv[1]); process.stdout.write(String(r.ids.length))' "$resolved")
IDS=$(node -e 'const r = JSON.parse(process.argv[1]); process.stdout.write(r.ids.join(","))' "$resolved")
node -e 'const r = JSON.parse(process.argv[1]); console.log(`paper: preset ${r.name}: ${r.reading}`); for (const w of r.warnings) console.log(`paper: warning: ${w}`)' "$resolved"
NSTRAT=$(awk -F, '{print NF}' <<<"$STRATEGIES")

# 2. This machine's speed: tokens/s of the sampler with G rollouts side by side (best-of-k,
# sdpo) and with one (multi-turn generates one per turn).
if [ -z "${TOK_S:-}" ] || [ -z "${TOK_S_1:-}" ]; then
  BENCH_FLAGS=()
  if ttsd bench sampler --help | grep -q -- '--gpu'; then BENCH_FLAGS=(--gpu auto); fi
  echo "paper: measuring tokens/s: ttsd bench sampler --model $MODEL --g $ROLLOUTS --tokens 256 --repeats 1 ${BENCH_FLAGS[*]} ${THREADS:+--threads $THREADS}"
  bench=$(ttsd bench sampler --model "$MODEL" --g "$ROLLOUTS" --tokens 256 --repeats 1 "${BENCH_FLAGS[@]}" ${THREADS:+--threads "$THREADS"} --json)
  TOK_S=${TOK_S:-$(node -e 'process.stdout.write(String(JSON.parse(process.argv[1]).tok_s_g))' "$bench")}
  TOK_S_1=${TOK_S_1:-$(node -e 'process.stdout.write(String(JSON.parse(process.argv[1]).tok_s_1))' "$bench")}
  if [ ${#BENCH_FLAGS[@]} = 0 ]; then BENCH_NOTE="measured on the CPU sampler (bench sampler has no --gpu; a GPU run is faster: set TOK_S/TOK_S_1)"; else BENCH_NOTE="measured by bench sampler --gpu auto at 256-token responses"; fi
else
  BENCH_NOTE="given as TOK_S/TOK_S_1"
fi

# 3. The plan and its cost.
CMD=(node bin/ttsd.js run --model "$MODEL" --tasks "$LCB_DIR" --preset "$PRESET"
  --strategies "$STRATEGIES" --seeds "$SEEDS" --budget "$BUDGET" --rollouts "$ROLLOUTS"
  --max-tokens "$MAX_TOKENS" --context-size "$CONTEXT" ${THREADS:+--threads "$THREADS"} ${GPU_FLAGS} ${EXTRA:-} --out "$OUT")
node - "$TASKS" "$STRATEGIES" "$SEEDS" "$BUDGET" "$MAX_TOKENS" "$TOK_S" "$TOK_S_1" "$ROLLOUTS" "$BENCH_NOTE" <<'NODE'
const [tasks, strategies, seeds, budget, maxTokens, tokS, tokS1, g, note] = process.argv.slice(2);
const list = strategies.split(',');
const cells = Number(tasks) * Number(seeds);
const perStrategy = cells * Number(budget);
const gens = perStrategy * list.length;
const n = (x) => Math.round(x).toLocaleString('en-US');
// Upper bound: every cell spends its whole budget (a cell stops at its first discovery) and
// every response runs to the token limit.
const seconds = list.reduce((s, name) => s + (perStrategy * Number(maxTokens)) / Number(name === 'multi-turn' ? tokS1 : tokS), 0);
const lines = [
  `paper: cost, at most: ${tasks} tasks x ${list.length} strategies x ${seeds} seeds x ${budget} generations = ${n(gens)} generations`,
  `paper: tokens/s here: ${Number(tokS).toFixed(1)} with G=${g} rollouts side by side, ${Number(tokS1).toFixed(1)} with one (multi-turn), ${note}; at long responses decoding is slower`,
  `paper: time, at most: ${n(gens)} generations x ${maxTokens} tokens (assumed: every response runs to the limit) / tokens/s = ${(seconds / 3600).toLocaleString('en-US', { maximumFractionDigits: 1 })} hours of sampling (${(seconds / 86400).toLocaleString('en-US', { maximumFractionDigits: 1 })} days); SDPO training steps and grading come on top, and cells stop at their first discovery`,
];
process.stdout.write(lines.join('\n') + '\n');
NODE
echo "paper: tasks ($PRESET): $IDS"
echo "paper: command: ${CMD[*]}"
if [ "${DRY_RUN:-0}" = 1 ]; then
  echo "paper: DRY_RUN=1: nothing run"
  exit 0
fi

# 4. The run (after a crash or kill: node bin/ttsd.js run --resume "$OUT"), then the report.
"${CMD[@]}"
ttsd report "$OUT"
echo "paper: done: $OUT/report.html"
