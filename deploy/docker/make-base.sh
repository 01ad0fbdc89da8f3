#!/usr/bin/env bash
# Makes the two Python base images the Dockerfile needs, from Debian's packages only, for
# a machine that reaches Debian's mirror but no container registry (python:3.11-slim is
# then out of reach). Debian 12's Python is 3.11, as in python:3.11-slim.
#
#   deploy/docker/make-base.sh docker|buildah
#
# Images (names overridable by RUNTIME_BASE / BUILD_BASE):
#   localhost/slabridge-python:3.11-bookworm       python3 on the PATH as `python`, the venv
#                                                  module, CA certificates: the runtime stage
#   localhost/slabridge-python:3.11-bookworm-dev   the same, plus pip and Python's headers
#                                                  (for the optional C extension): the build
#                                                  stage; it installs its compiler itself
# Docs, man pages and translations are left out (as in Docker's -slim images), also from
# packages installed later on top.
#
# Needs root (debootstrap); installs debootstrap from Debian if it is missing.
# Env: DEBIAN_MIRROR (http://deb.debian.org/debian), SUITE (bookworm).
set -euo pipefail

engine=${1:?usage: make-base.sh docker|buildah}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
suite=${SUITE:-bookworm}
runtime_image=${RUNTIME_BASE:-localhost/slabridge-python:3.11-bookworm}
build_image=${BUILD_BASE:-localhost/slabridge-python:3.11-bookworm-dev}

say() { echo "[make-base $(date +%H:%M:%S)] $*" >&2; }

[ "$(id -u)" = 0 ] || { say "debootstrap needs root: run as root (or sudo)"; exit 1; }
command -v debootstrap >/dev/null || {
    say "installing debootstrap (Debian package)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap
}

work=$(mktemp -d "${TMPDIR:-/tmp}/slabridge-base.XXXXXX")
trap 'rm -rf "$work"' EXIT

say "debootstrap $suite (minbase + python3, python3-venv, ca-certificates) from $mirror"
debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
    "$suite" "$work/runtime" "$mirror" >"$work/debootstrap.log" 2>&1 \
    || { tail -20 "$work/debootstrap.log" >&2; exit 1; }

say "the build variant: + python3-dev, python3-pip"
cp -a "$work/runtime" "$work/build"
chroot "$work/build" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -q --no-install-recommends python3-dev python3-pip >"$work/apt.log" 2>&1 \
    || { tail -20 "$work/apt.log" >&2; exit 1; }

slim() {
    local root=$1
    # Later installs (the build stage's compiler) stay slim too.
    cat >"$root/etc/dpkg/dpkg.cfg.d/slabridge-slim" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
EOF
    find "$root/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
    find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete
    rm -rf "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/usr/share/locale/*
    rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
    rm -rf "$root"/var/log/* "$root"/tmp/*
    find "$root/usr/lib/python3" "$root/usr/lib/python3.11" -name __pycache__ -prune \
        -exec rm -rf {} +
    # python:3.11-slim answers to `python`; Debian's package only to `python3`.
    ln -sf /usr/bin/python3 "$root/usr/local/bin/python"
}
slim "$work/runtime"
slim "$work/build"

import_rootfs() {
    local root=$1 image=$2
    local path=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
    case "$engine" in
        docker)
            tar -C "$root" -c . | docker import --change "ENV PATH=$path" \
                --change "ENV LANG=C.UTF-8" --change 'CMD ["python"]' - "$image" >/dev/null
            ;;
        buildah)
            local container mount
            container=$(buildah from scratch)
            mount=$(buildah mount "$container")
            tar -C "$root" -c . | tar -C "$mount" -x
            buildah umount "$container" >/dev/null
            buildah config --env PATH="$path" --env LANG=C.UTF-8 --cmd python "$container"
            buildah commit --quiet --rm "$container" "$image" >/dev/null
            ;;
        *) say "unknown engine $engine (docker or buildah)"; exit 2 ;;
    esac
    say "made $image ($(du -sm "$root" | cut -f1) MB)"
}
import_rootfs "$work/runtime" "$runtime_image"
import_rootfs "$work/build" "$build_image"
