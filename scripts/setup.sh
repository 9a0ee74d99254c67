#!/usr/bin/env bash
# Sets up everything ttsd needs on a fresh Debian machine, as root: system packages, the npm
# dependencies, a Docker engine (started without systemd), the sandbox image (built offline
# when no registry is reachable), the native SDPO trainer and llama-server. Idempotent: each step is skipped
# when its result is already there; heavy artefacts are cached under $TTSD_CACHE keyed by
# their recipe, but nothing depends on the cache existing.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
export TTSD_CACHE=${TTSD_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ttsd}
mkdir -p "$TTSD_CACHE"
step() { printf '\n== %s (%ss)\n' "$1" "$SECONDS"; }

# python3-numpy: scripts/device-check.sh writes its models with gguf-py (test/scripts/device-check.test.ts);
# slurmctld, slurmd, slurm-client and munge: the one-node SLURM cluster of the sharding test (scripts/slurm/cluster.sh);
# libvulkan-dev, glslc, spirv-headers: the Vulkan trainer build (ttsd trainer build --vulkan); mesa-vulkan-drivers: Mesa's
# lavapipe, a conformant Vulkan device that runs on the CPU, on which test/trainer/device.test.ts runs the GPU code paths.
APT_PACKAGES=(docker.io mmdebstrap cmake g++ make git ca-certificates chromium python3 python3-numpy slurmctld slurmd slurm-client munge
  libvulkan-dev glslc spirv-headers mesa-vulkan-drivers)
missing=()
for p in "${APT_PACKAGES[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  step "apt: ${missing[*]}"
  if [ "$(id -u)" != 0 ]; then echo "setup: need root to install ${missing[*]}" >&2; exit 1; fi
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

step "npm dependencies"
# npm install, not npm ci: the lock file leaves out other platforms' optional node-llama-cpp
# binaries, which npm ci treats as out of sync; install still honours the locked versions.
npm install --no-audit --no-fund

step "docker engine + sandbox image"
bash scripts/setup-docker.sh

step "native trainer"
node bin/ttsd.js trainer build

# the Vulkan trainer: test/trainer/device.test.ts runs it on lavapipe (the GPU code paths without a GPU)
step "native trainer (Vulkan)"
node bin/ttsd.js trainer build --vulkan

step "llama-server (for --sampler server and its test)"
node bin/ttsd.js model server build

step "ready"
