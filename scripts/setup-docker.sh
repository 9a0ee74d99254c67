#!/usr/bin/env bash
# Docker engine + the ttsd Python sandbox image, on a Debian machine as root, with no container
# registry needed:
#   1. install docker.io + mmdebstrap if missing (apt); openssh-server and openssl too: the tests
#      of ssh:// and tcp+TLS Docker hosts run a local sshd and a second dockerd with TLS;
#   2. start dockerd without systemd (no iptables, no bridge: sandboxes run with --network=none)
#      and poll until it answers;
#   3. build the base image offline: an mmdebstrap rootfs tar (cached under $TTSD_CACHE, keyed by
#      its recipe) + `docker import`;
#   4. `docker build` sandboxes/python/Dockerfile FROM that base, adding the grader; the image is
#      labelled with the grader's sha256 so ttsd can tell a stale image from a current one.
# Every step is skipped when its result already exists. Fails loudly (non-zero, one clear line).
# The image is ttsd-sandbox-python:g<first 12 hex of sha256(grader.py)> (TTSD_SANDBOX_IMAGE overrides).
# Options: --force (rebuild the image even if current), --registry (build FROM debian:bookworm-slim
# through a registry instead of the offline rootfs). With DOCKER_HOST set, the image is built on
# that engine (the rootfs is made here and imported there); no local dockerd is started.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
TTSD_CACHE=${TTSD_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ttsd}
DOCKERD_LOG=${TTSD_DOCKERD_LOG:-/var/log/ttsd-dockerd.log}
SUITE=bookworm
PACKAGES=python3,python3-numpy,python3-sortedcontainers
force=0; registry=0
for arg in "$@"; do
  case "$arg" in
    --force) force=1 ;;
    --registry) registry=1 ;;
    *) echo "setup-docker: unknown option $arg" >&2; exit 2 ;;
  esac
done
die() { echo "setup-docker: $*" >&2; exit 1; }
say() { printf 'setup-docker: %s (%ss)\n' "$*" "$SECONDS"; }

# Two setups at once (CI step + a developer) would race on the rootfs and the image tag.
mkdir -p "$TTSD_CACHE/sandbox"
exec 9>"$TTSD_CACHE/sandbox/.setup.lock"
flock -w 900 9 || die "another setup-docker.sh has held $TTSD_CACHE/sandbox/.setup.lock for 15 min; is it stuck?"

# --- 1. packages -------------------------------------------------------------------------------
need=()
command -v dockerd >/dev/null || need+=(docker.io)
[ "$registry" = 1 ] || command -v mmdebstrap >/dev/null || need+=(mmdebstrap)
# Only the tests of ssh:// and tcp+TLS hosts need these: without root, say so and go on.
test_tools=()
[ -x /usr/sbin/sshd ] || test_tools+=(openssh-server)
command -v openssl >/dev/null || test_tools+=(openssl)
if [ ${#test_tools[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then need+=("${test_tools[@]}")
  else echo "setup-docker: warning: ${test_tools[*]} missing (needed by the Docker-hosts tests; install as root)" >&2; fi
fi
if [ ${#need[@]} -gt 0 ]; then
  [ "$(id -u)" = 0 ] || die "need root to install ${need[*]}"
  say "apt-get install ${need[*]}"
  apt-get update -q && apt-get install -y -q --no-install-recommends "${need[@]}" || die "apt-get install ${need[*]} failed"
fi

# --- 2. engine ---------------------------------------------------------------------------------
if [ -n "${DOCKER_HOST:-}" ]; then
  # Another engine (`ttsd sandbox build --docker-hosts`): build there, never start one here.
  docker version >/dev/null 2>&1 || die "Docker at $DOCKER_HOST does not answer"
elif ! docker version >/dev/null 2>&1; then
  [ "$(id -u)" = 0 ] || die "Docker is not running and only root can start dockerd"
  say "starting dockerd (log: $DOCKERD_LOG)"
  # setsid + nohup: the daemon must outlive this script and the CI step that ran it.
  # 9>&-: the daemon must not inherit the lock fd, or it would hold the setup lock forever and
  # every later setup-docker.sh would wait on it.
  setsid nohup dockerd --iptables=false --ip-masq=false --bridge=none >>"$DOCKERD_LOG" 2>&1 </dev/null 9>&- &
  for _ in $(seq 300); do docker version >/dev/null 2>&1 && break; sleep 0.1; done
  docker version >/dev/null 2>&1 || { tail -n 20 "$DOCKERD_LOG" >&2; die "dockerd did not come up within 30 s (log: $DOCKERD_LOG)"; }
fi
driver=$(docker info --format '{{.Driver}}')
say "engine up: $(docker version --format '{{.Server.Version}} ({{.Server.Os}})') driver $driver"
if [ "$driver" = vfs ]; then
  echo "setup-docker: warning: storage driver vfs makes every sandbox start take seconds; overlay2 or fuse-overlayfs is needed for speed" >&2
fi

# --- 3+4. image --------------------------------------------------------------------------------
grader_sha=$(sha256sum sandboxes/python/grader.py | cut -c1-64)
# Tagged by the grader's hash: checkouts with different graders (a CI clone, a colleague's tree)
# share one engine without overwriting each other's image. :latest follows the newest build.
IMAGE=${TTSD_SANDBOX_IMAGE:-ttsd-sandbox-python:g${grader_sha:0:12}}
current=$(docker image inspect --format '{{ index .Config.Labels "ttsd.grader.sha256" }}' "$IMAGE" 2>/dev/null || true)
if [ "$force" = 0 ] && [ "$current" = "$grader_sha" ]; then
  say "image $IMAGE is current"
  exit 0
fi

if [ "$registry" = 1 ]; then
  base=debian:bookworm-slim
  build_network=host
else
  # The apt mirror this machine already uses (deb822 or one-line sources).
  mirror=${TTSD_APT_MIRROR:-$(grep -hoE '^(URIs:[[:space:]]*|deb[[:space:]]+)https?://[^[:space:]]+' /etc/apt/sources.list.d/* /etc/apt/sources.list 2>/dev/null \
    | grep -v security | head -n1 | grep -oE 'https?://[^[:space:]]+' || true)}
  [ -n "$mirror" ] || die "no apt mirror found in /etc/apt/sources.list*: set TTSD_APT_MIRROR to your Debian mirror URL"
  # Everything that decides the rootfs content goes into the recipe; its hash names the cache.
  recipe="mmdebstrap --variant=essential --include=$PACKAGES excludes=doc,man,locale,info $SUITE $mirror"
  key=$(printf '%s' "$recipe" | sha256sum | cut -c1-16)
  rootfs="$TTSD_CACHE/sandbox/rootfs-$key.tar"
  base="ttsd-python-base:$key"
  if ! docker image inspect "$base" >/dev/null 2>&1; then
    if [ ! -s "$rootfs" ]; then
      [ "$(id -u)" = 0 ] || die "need root for mmdebstrap"
      mkdir -p "$(dirname "$rootfs")"
      partial="${rootfs%.tar}.partial.tar"   # mmdebstrap picks its output format from the suffix
      say "bootstrapping rootfs ($recipe) -> $rootfs"
      mmdebstrap --quiet --variant=essential --include="$PACKAGES" \
        --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
        --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-exclude=/usr/share/info/*' \
        "$SUITE" "$partial" "$mirror" || { rm -rf "$partial"; die "mmdebstrap failed (mirror $mirror)"; }
      mv "$partial" "$rootfs"   # only a complete tar ever carries the final name
    fi
    say "docker import $rootfs -> $base"
    docker import "$rootfs" "$base" >/dev/null || die "docker import failed"
  fi
  build_network=none
fi

say "docker build $IMAGE FROM $base"
DOCKER_BUILDKIT=0 docker build --quiet --network="$build_network" --build-arg "BASE=$base" \
  --label "ttsd.grader.sha256=$grader_sha" -t "$IMAGE" -t ttsd-sandbox-python:latest sandboxes/python >/dev/null 2>/tmp/ttsd-docker-build.log || { cat /tmp/ttsd-docker-build.log >&2; die "docker build failed"; }
# Earlier builds of the image, now untagged, only take disk space.
docker image prune -f --filter "label=ttsd.grader.sha256" >/dev/null 2>&1 || true
out=$(echo '{"selftest": true}' | docker run --rm -i --network=none "$IMAGE" 2>&1) || die "image self-test failed: $out"
say "image $IMAGE ready: $out"
