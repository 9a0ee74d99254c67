#!/usr/bin/env bash
# Entry point of the Kubernetes image (deploy/k8s): one shard of the grid per Indexed Job pod.
# JOB_COMPLETION_INDEX (0-based, set by Kubernetes) picks the shard, `--shard-count n` (among
# the arguments) says how many there are; `ttsd run` reads both. The shard's run directory is
# $RUN_ROOT/shard-<index+1>-of-<n>; a pod retried for the same index resumes it.
set -euo pipefail
: "${JOB_COMPLETION_INDEX:?not an Indexed Job pod (JOB_COMPLETION_INDEX unset)}"
: "${RUN_ROOT:?set RUN_ROOT to a directory on the shared volume}"
count=""
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  if [ "${args[i]}" = --shard-count ]; then count=${args[i + 1]:-}; fi
done
[ -n "$count" ] || { echo "run-shard: --shard-count n is required" >&2; exit 2; }
dir="$RUN_ROOT/shard-$((JOB_COMPLETION_INDEX + 1))-of-$count"
if [ -s "$dir/events.jsonl" ]; then
  threads=()
  for ((i = 0; i < ${#args[@]}; i++)); do
    case "${args[i]}" in --threads | --concurrency | --docker-hosts) threads+=("${args[i]}" "${args[i + 1]}") ;; esac
  done
  exec node bin/ttsd.js run --resume "$dir" "${threads[@]}"
fi
exec node bin/ttsd.js run --out "$dir" "$@"
