#!/usr/bin/env bash
# The device check: builds the native trainer for CUDA (and the CPU) on a bare Linux GPU machine,
# checks that a CUDA training step matches the CPU one, and benches long-sequence steps.
#
#   here (with Node):   bash scripts/device-check.sh --bundle OUT.tar.gz
#   on the GPU machine: tar xzf OUT.tar.gz && bash ttsd-device-check/device-check.sh [--out DIR]
#
# The GPU machine needs nvcc, cmake, a C++ compiler, python3 and numpy; no Node, no network: the
# bundle carries node-llama-cpp's llama.cpp source (patched with ttsd-llama.patch), the trainer's
# sources, their CMake flags (from src/trainer/build.ts) and the Python driver (device-check/).
# Options of the run (inside the bundle):
#   --out DIR            results: device-check.json, summary.txt, logs/ (default ./device-check-out)
#   --cpu-only           no GPU: the CPU build twice (a determinism check) on tiny shapes
#   --trainer PATH       reuse this CPU trainer binary instead of building one
#   --cuda-trainer PATH  reuse this CUDA trainer binary instead of building one
#   --budget-s N         everything within N seconds (default 600); benches start only while time is left
#   --bench-shapes A,B   random Qwen shapes to bench, smallest first (default qwen2.5-0.5b,qwen3-8b)
#   --bench-tokens N     tokens of a bench step (default 8192)     --bench-type f16|f32 (default f16)
#   --compare-shape S    model of the CPU/CUDA comparison (default small)   --threads N   --jobs N
#   --keep-models        keep the written models under OUT/models (they are deleted after their bench)
# Every step prints one line; a failure prints one line (on stderr) and exits non-zero.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
say() { echo "device-check: $*"; }
fail() {
  echo "device-check: FAILED: $*" >&2
  # once the output dir exists, a failure before the driver still leaves its JSON and summary
  if [ -n "${out_ready:-}" ] && command -v python3 >/dev/null; then
    python3 -c 'import json, sys; json.dump({"version": 1, "ok": False, "error": sys.argv[2]}, open(sys.argv[1] + "/device-check.json", "w"), indent=2)' "$out" "$*" || true
    echo "ttsd device check: FAILED: $*" >"$out/summary.txt"
  fi
  exit 1
}
started=$(date +%s)

# ---------------------------------------------------------------- bundle (run in the repository)
make_bundle() {
  local out="$1" repo
  repo="$(cd "$here/.." && pwd)"
  [ -f "$repo/package.json" ] && [ -d "$repo/scripts/device-check" ] || fail "--bundle runs from the ttsd repository (scripts/device-check.sh)"
  command -v node >/dev/null || fail "--bundle needs Node (it reads the project's build recipe); run it where ttsd is installed"
  case "$out" in /*) ;; *) out="$PWD/$out" ;; esac
  mkdir -p "$(dirname "$out")"
  # global: the EXIT trap runs after this function has returned
  stage="$(mktemp -d)"
  trap 'rm -rf "$stage"' EXIT
  local root="$stage/ttsd-device-check"
  mkdir -p "$root/driver" "$root/trainer" "$root/llama.cpp/models"
  (cd "$repo" && node_modules/.bin/tsx scripts/device-check/manifest.ts) >"$stage/manifest.json" || fail "could not read the build recipe (scripts/device-check/manifest.ts)"
  local field
  field() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$stage/manifest.json" "$1"; }
  local source native patch tag
  source="$(field llamaSource)" native="$(field nativeSourceDir)" patch="$(field patchFile)" tag="$(field llamaTag)"
  say "bundle: llama.cpp $tag from $source"
  # the source minus what a library build never reads (git history, docs, test vocabularies but Qwen's)
  tar -C "$source" --exclude=./.git --exclude=./docs --exclude=./media --exclude=./models --exclude=./app --exclude=./benches -cf - . | tar -C "$root/llama.cpp" -xf -
  cp "$source/models/ggml-vocab-qwen2.gguf" "$root/llama.cpp/models/"
  # patched here, where git is: the GPU machine then needs neither git nor patch
  (cd "$root/llama.cpp" && git init -q && git apply --whitespace=nowarn "$patch" && rm -rf .git) || fail "ttsd-llama.patch does not apply to llama.cpp $tag"
  cp "$native"/* "$root/trainer/"
  cp "$repo"/scripts/device-check/*.py "$root/driver/"
  cp "$here/device-check.sh" "$root/device-check.sh"
  # the bundle's manifest: no paths of this machine
  python3 - "$stage/manifest.json" "$root/manifest.json" <<'EOF'
import json, sys
m = json.load(open(sys.argv[1]))
for k in ("llamaSource", "nativeSourceDir", "patchFile"):
    m.pop(k)
json.dump(m, open(sys.argv[2], "w"), indent=2)
EOF
  tar -C "$stage" -czf "$out" ttsd-device-check
  say "bundle: $out ($(du -m "$out" | cut -f1) MB); on the GPU machine: tar xzf $(basename "$out") && bash ttsd-device-check/device-check.sh"
}

if [ "${1:-}" = "--bundle" ]; then
  [ -n "${2:-}" ] || fail "--bundle needs the output file, e.g. --bundle device-check.tar.gz"
  make_bundle "$2"
  exit 0
fi

# ---------------------------------------------------------------- run (inside the unpacked bundle)
[ -f "$here/manifest.json" ] && [ -d "$here/llama.cpp" ] || fail "not inside an unpacked bundle; make one with: bash scripts/device-check.sh --bundle OUT.tar.gz"

out="$PWD/device-check-out" cpu_only=0 cpu_trainer="" cuda_trainer="" budget=600 jobs="$(nproc)" threads="$(nproc)"
bench_shapes="" bench_tokens="" bench_type="" compare_shape="" keep_models=0
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out="$2"; shift 2 ;;
    --cpu-only) cpu_only=1; shift ;;
    --trainer) cpu_trainer="$2"; shift 2 ;;
    --cuda-trainer) cuda_trainer="$2"; shift 2 ;;
    --budget-s) budget="$2"; shift 2 ;;
    --jobs) jobs="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    --bench-shapes) bench_shapes="$2"; shift 2 ;;
    --bench-tokens) bench_tokens="$2"; shift 2 ;;
    --bench-type) bench_type="$2"; shift 2 ;;
    --compare-shape) compare_shape="$2"; shift 2 ;;
    --keep-models) keep_models=1; shift ;;
    *) fail "unknown option $1 (see the header of device-check.sh)" ;;
  esac
done
[[ "$budget" =~ ^[0-9]+$ ]] || fail "--budget-s must be a number of seconds, got $budget"
[[ "$jobs" =~ ^[1-9][0-9]*$ && "$threads" =~ ^[1-9][0-9]*$ ]] || fail "--jobs and --threads must be positive integers"
case "$out" in /*) ;; *) out="$PWD/$out" ;; esac
deadline=$((started + budget))
mkdir -p "$out/logs"
out_ready=1

# no GPU: the same flow on tiny shapes, the CPU build against itself
if [ "$cpu_only" = 1 ]; then
  devices=cpu,cpu
  : "${compare_shape:=tiny}" "${bench_shapes:=tiny}" "${bench_tokens:=128}" "${bench_type:=f32}"
else
  devices=cpu,cuda
fi

command -v python3 >/dev/null || fail "python3 is not installed"
python3 -c 'import numpy' 2>/dev/null || fail "python3 has no numpy (pip install numpy); gguf-py needs it to write the models"
say "python3 $(python3 -c 'import platform, numpy; print(platform.python_version(), "numpy", numpy.__version__)')"

nvcc=""
if [ "$cpu_only" = 0 ] && [ -z "$cuda_trainer" ]; then
  # as findNvcc in src/trainer/build.ts: $CUDACXX, nvcc on PATH, the toolkit's usual places
  if [ -n "${CUDACXX:-}" ]; then nvcc="$CUDACXX"
  elif command -v nvcc >/dev/null; then nvcc="$(command -v nvcc)"
  else for f in /usr/local/cuda/bin/nvcc /opt/cuda/bin/nvcc; do [ -x "$f" ] && nvcc="$f" && break; done
  fi
  [ -n "$nvcc" ] && [ -x "$nvcc" ] || fail "no nvcc (CUDA toolkit) found (\$CUDACXX, PATH, /usr/local/cuda/bin); use --cpu-only on a machine without a GPU"
  say "nvcc: $nvcc ($("$nvcc" --version | grep -i release | sed 's/.*release/release/'))"
fi

# flags of a build from the manifest (src/trainer/build.ts cmakeFlags), one per line
flags_of() { python3 -c 'import json,sys; print("\n".join(json.load(open(sys.argv[1]))["cmakeFlags"][sys.argv[2]]))' "$here/manifest.json" "$1"; }

builds_json="$out/builds.json"
echo '{}' >"$builds_json"
record_build() { python3 -c 'import json,sys; p=sys.argv[1]; d=json.load(open(p)); d[sys.argv[2]]={"seconds":int(sys.argv[3]),"trainer":sys.argv[4],"reused":sys.argv[5]=="1"}; json.dump(d,open(p,"w"))' "$builds_json" "$@"; }

build() { # build NAME -> prints the trainer's path
  local name="$1" dir="$out/build-$1" log="$out/logs/build-$1.log" t0 flags=()
  command -v cmake >/dev/null || fail "cmake is not installed"
  command -v c++ >/dev/null || command -v g++ >/dev/null || fail "no C++ compiler (c++/g++) is installed"
  mapfile -t flags < <(flags_of "$name")
  [ "$name" = cuda ] && flags+=("-DCMAKE_CUDA_COMPILER=$nvcc")
  t0=$(date +%s)
  if ! cmake -S "$here/trainer" -B "$dir" "-DLLAMA_SOURCE_DIR=$here/llama.cpp" "${flags[@]}" >"$log" 2>&1; then
    fail "configuring the $name trainer failed: $(grep -m1 -i 'error' "$log" || tail -n1 "$log") (log: $log)"
  fi
  if ! cmake --build "$dir" --target ttsd-trainer -j "$jobs" >>"$log" 2>&1; then
    fail "building the $name trainer failed: $(grep -m1 -i 'error' "$log" || tail -n1 "$log") (log: $log)"
  fi
  record_build "$name" $(($(date +%s) - t0)) "$dir/ttsd-trainer" 0
  echo "$dir/ttsd-trainer"
}

if [ "$cpu_only" = 0 ]; then
  if [ -n "$cuda_trainer" ]; then
    [ -x "$cuda_trainer" ] || fail "--cuda-trainer $cuda_trainer is not an executable"
    record_build cuda 0 "$cuda_trainer" 1
    say "CUDA trainer: reusing $cuda_trainer"
  else
    say "building the CUDA trainer (GGML_CUDA=ON, $jobs jobs; log: $out/logs/build-cuda.log)"
    cuda_trainer="$(build cuda)"
    say "built the CUDA trainer in $(($(date +%s) - started))s"
  fi
fi
if [ -n "$cpu_trainer" ]; then
  [ -x "$cpu_trainer" ] || fail "--trainer $cpu_trainer is not an executable"
  record_build cpu 0 "$cpu_trainer" 1
  say "CPU trainer: reusing $cpu_trainer"
else
  t0=$(date +%s)
  say "building the CPU trainer ($jobs jobs; log: $out/logs/build-cpu.log)"
  cpu_trainer="$(build cpu)"
  say "built the CPU trainer in $(($(date +%s) - t0))s"
fi

args=(--bundle "$here" --out "$out" --devices "$devices" --cpu-trainer "$cpu_trainer" --threads "$threads" --deadline "$deadline" --started "$started" --builds "$builds_json")
[ -n "$cuda_trainer" ] && args+=(--cuda-trainer "$cuda_trainer")
[ -n "$bench_shapes" ] && args+=(--bench-shapes "$bench_shapes")
[ -n "$bench_tokens" ] && args+=(--bench-tokens "$bench_tokens")
[ -n "$bench_type" ] && args+=(--bench-type "$bench_type")
[ -n "$compare_shape" ] && args+=(--compare-shape "$compare_shape")
[ "$keep_models" = 1 ] && args+=(--keep-models)
exec python3 "$here/driver/check.py" "${args[@]}"
