#!/usr/bin/env bash
# `make image`: builds slabridge:<version> and slabridge:latest from deploy/docker/Dockerfile,
# with docker where a Docker daemon answers, else with buildah (Debian's package, installed
# if missing; chroot isolation, no daemon, overlay storage or vfs where overlay cannot mount).
# Where python:3.11-slim cannot be pulled (no registry reachable), the two base images are
# first made from Debian's packages by make-base.sh, and the build says so.
#
# Env:
#   ENGINE          docker | buildah (default: docker if `docker info` answers, else buildah)
#   PYTHON_IMAGE    runtime base (default python:3.11-slim, or the local Debian base)
#   BUILD_IMAGE     build-stage base (default: the same choice, -dev for the local base)
#   CA_BUNDLE       CA certificates for pip in the build, passed as a build secret, never
#                   stored in the image (default: $SSL_CERT_FILE or Debian's bundle if present)
#   EXTRAS          optional extras of the project (comma separated)
#   REBUILD_BASE=1  make the local base again even if it exists
# Last stdout line: IMAGE=slabridge:<version>
set -euo pipefail
cd "$(dirname "$0")/../.."

say() { echo "[image $(date +%H:%M:%S)] $*" >&2; }

version=$(sed -n 's/^version = "\(.*\)"$/\1/p' pyproject.toml | head -1)
[ -n "$version" ] || { say "no version in pyproject.toml"; exit 1; }
image=slabridge:$version

engine=${ENGINE:-}
if [ -z "$engine" ]; then
    if command -v docker >/dev/null && docker info >/dev/null 2>&1; then
        engine=docker
    else
        engine=buildah
        say "no Docker daemon answers here: building with buildah (no daemon needed)"
    fi
fi

if [ "$engine" = buildah ]; then
    command -v buildah >/dev/null || {
        say "installing buildah (Debian package)"
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq buildah
    }
    export BUILDAH_ISOLATION=chroot
    if [ -z "${STORAGE_DRIVER:-}" ]; then
        # overlay where the kernel lets it mount here, else vfs (slower, works anywhere).
        probe=$(buildah from scratch 2>/dev/null) || true
        if [ -n "$probe" ] && buildah mount "$probe" >/dev/null 2>&1; then
            buildah umount "$probe" >/dev/null
        else
            export STORAGE_DRIVER=vfs
            say "overlay storage unavailable: using vfs"
        fi
        [ -z "$probe" ] || buildah rm "$probe" >/dev/null 2>&1 || true
    fi
fi

exists() {
    case "$engine" in
        docker) docker image inspect "$1" >/dev/null 2>&1 ;;
        buildah) buildah inspect --type image "$1" >/dev/null 2>&1 ;;
    esac
}
pull() {
    case "$engine" in
        docker) timeout 300 docker pull -q "$1" >/dev/null 2>&1 ;;
        buildah) timeout 300 buildah pull -q "$1" >/dev/null 2>&1 ;;
    esac
}

local_runtime=localhost/slabridge-python:3.11-bookworm
local_build=localhost/slabridge-python:3.11-bookworm-dev
if [ -z "${PYTHON_IMAGE:-}" ]; then
    if exists python:3.11-slim || pull python:3.11-slim; then
        PYTHON_IMAGE=python:3.11-slim
        BUILD_IMAGE=${BUILD_IMAGE:-python:3.11-slim}
    else
        if [ "${REBUILD_BASE:-}" = 1 ] || ! exists "$local_runtime" || ! exists "$local_build"
        then
            say "python:3.11-slim cannot be pulled (no registry reachable): making a local" \
                "base from Debian's packages (deploy/docker/make-base.sh)"
            deploy/docker/make-base.sh "$engine"
        else
            say "python:3.11-slim cannot be pulled: using the local Debian base" \
                "$local_runtime (REBUILD_BASE=1 makes it again)"
        fi
        PYTHON_IMAGE=$local_runtime
        BUILD_IMAGE=${BUILD_IMAGE:-$local_build}
    fi
fi
BUILD_IMAGE=${BUILD_IMAGE:-$PYTHON_IMAGE}

ca_bundle=${CA_BUNDLE:-${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}}
secret=()
if [ -s "$ca_bundle" ]; then
    secret=(--secret "id=ca-bundle,src=$ca_bundle")
fi

args=(-f deploy/docker/Dockerfile --build-arg "PYTHON_IMAGE=$PYTHON_IMAGE"
      --build-arg "BUILD_IMAGE=$BUILD_IMAGE" --build-arg "EXTRAS=${EXTRAS:-}"
      "${secret[@]}" -t "$image" -t slabridge:latest)
image_id() {
    case "$engine" in
        docker) docker image inspect -f '{{.Id}}' "$1" 2>/dev/null || true ;;
        buildah) buildah inspect --type image -f '{{.FromImageID}}' "$1" 2>/dev/null || true ;;
    esac
}
previous=$(image_id "$image")
say "building $image on $PYTHON_IMAGE with $engine"
case "$engine" in
    docker) DOCKER_BUILDKIT=1 docker build "${args[@]}" . >&2 || {
                say "docker build failed; a Docker client of 23 or later needs its buildx" \
                    "plugin for BuildKit (docker-buildx-plugin), or build with ENGINE=buildah"
                exit 1
            } ;;
    # --format docker: OCI images have no HEALTHCHECK, and buildah would drop it.
    # No --layers: buildah 1.28's layer cache ignores what `RUN --mount=from=build` mounts
    # (a changed source kept the old code) and, with the build stage cached, mounts nothing.
    buildah) buildah bud --format docker "${args[@]}" . >&2 ;;
    *) say "unknown ENGINE $engine (docker or buildah)"; exit 2 ;;
esac

case "$engine" in
    docker) size="$(( $(docker image inspect -f '{{.Size}}' "$image") / 1000000 )) MB" ;;
    buildah) size=$(buildah images --format '{{.Size}}' "$image" | sed -n 1p) ;;
esac
say "built $image: $size (goal: under 200 MB)"
# The image these tags named before is left untagged: remove it, unless something else
# still uses it (another tag, a container), in which case rmi refuses and it stays.
if [ -n "$previous" ] && [ "$previous" != "$(image_id "$image")" ]; then
    "$engine" rmi "$previous" >/dev/null 2>&1 && say "removed the previous build ${previous:0:12}" || true
fi
echo "IMAGE=$image"
