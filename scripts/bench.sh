#!/usr/bin/env bash
# Every benchmark, each measuring its ratios side by side in one run, on the model shape the
# issues name (a Qwen2.5-0.5B-shaped Q8_0 model with random weights, generated once and cached).
# Prints one JSON object per line: sandbox, sampler, trainer (and trainer-low-memory, its
# OUT_PROD backward), search (cells one at a time vs interleaved, on a tiny model; search-graded with
# every attempt graded in the sandbox), search-sdpo (2 interleaved SDPO cells vs one at a time, every
# attempt graded and every step trained, on the 0.5B shape) and sdpo-cost (SDPO's wall time per
# generation / best-of-K's, same model, task and G). Needs scripts/setup.sh first.
# Sizes of the SDPO benches (the issue's: G 4, 512-token responses): SDPO_G, SDPO_TOKENS, SDPO_BUDGET.
# Usage: npm run bench [-- MODEL.gguf]
set -euo pipefail
cd "$(dirname "$0")/.."
TTSD_CACHE=${TTSD_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ttsd}
MODEL=${1:-$TTSD_CACHE/models/bench-qwen2.5-0.5b-q8_0.gguf}
if [ ! -f "$MODEL" ]; then
  mkdir -p "$(dirname "$MODEL")"
  node bin/ttsd.js model tiny --arch qwen2 --shape qwen2.5-0.5b --type q8_0 --out "$MODEL" >&2
fi
TINY=$TTSD_CACHE/models/bench-tiny-qwen2.gguf
[ -f "$TINY" ] || node bin/ttsd.js model tiny --arch qwen2 --out "$TINY" >&2
ttsd() { node bin/ttsd.js "$@"; }
printf '{"bench":"sandbox","result":%s}\n' "$(ttsd bench sandbox --json)"
printf '{"bench":"sampler","result":%s}\n' "$(ttsd bench sampler --model "$MODEL" --json)"
printf '{"bench":"trainer","result":%s}\n' "$(ttsd bench trainer --model "$MODEL" --tokens 512 --json)"
# the same step through ggml's OUT_PROD backward (no transposed weight copies): what they save
printf '{"bench":"trainer-low-memory","result":%s}\n' "$(ttsd bench trainer --model "$MODEL" --tokens 512 --low-memory --json)"
printf '{"bench":"search","result":%s}\n' "$(ttsd bench search --json --model "$TINY" --preset ttsd-smoke \
  --strategies best-of-k,multi-turn,sdpo --budget 6 --seeds 1 --rollouts 2 --max-tokens 32 --context-size 2048 --threads 1)"
# the same with every rollout turned into a wrong program, so attempts are really graded and
# multi-turn's sequential turns (one generation each) wait on the grader: does interleaving keep the sampler busy?
printf '{"bench":"search-graded","result":%s}\n' "$(ttsd bench search --json --graded-programs --model "$TINY" --preset ttsd-smoke \
  --strategies best-of-k,multi-turn,sdpo --budget 6 --seeds 1 --rollouts 2 --max-tokens 32 --context-size 2048 --threads 1)"
# SDPO at the issue's size: G rollouts of SDPO_TOKENS tokens per step (random weights run to the
# length limit), each rollout turned into a graded wrong program whose feedback reaches the
# teacher, one training step between steps. --threads 1: the run's core budget (src/run/cores.ts)
# keeps the sampler contexts' and trainers' spin-waiting threads within the cores; at one thread
# each, two cells' sampling (each in its own context), one's training and another's sampling, or two
# trainers fit side by side on 2 cores (one cell alone runs at the same --threads, so the ratios
# compare alike).
SDPO_G=${SDPO_G:-4}
SDPO_TOKENS=${SDPO_TOKENS:-512}
SDPO_BUDGET=${SDPO_BUDGET:-8}
SDPO_CONTEXT=$((SDPO_TOKENS + 1536))
# 2 cells (the preset's 2 tasks × sdpo), one at a time vs interleaved: overlap of sampling, grading and training
printf '{"bench":"search-sdpo","result":%s}\n' "$(ttsd bench search --json --graded-programs --model "$MODEL" --preset ttsd-smoke \
  --strategies sdpo --budget "$SDPO_BUDGET" --seeds 1 --rollouts "$SDPO_G" --max-tokens "$SDPO_TOKENS" --context-size "$SDPO_CONTEXT" --threads 1 --compare 2)"
# SDPO's wall time per generation / best-of-K's: one cell each, alone, same task, seed, G and budget
printf '{"bench":"sdpo-cost","result":%s}\n' "$(ttsd bench search --json --sdpo-cost --graded-programs --model "$MODEL" --preset ttsd-smoke \
  --budget "$SDPO_BUDGET" --seeds 1 --rollouts "$SDPO_G" --max-tokens "$SDPO_TOKENS" --context-size "$SDPO_CONTEXT" --threads 1)"
