#!/usr/bin/env bash
# Build the bot's image (the Dockerfile at the repository root) on a base image made from Debian
# packages, so that no image registry is needed, and print the image's tag, which is what
# compose.yaml's DRAFTSMITH_IMAGE should name.
#
#   scripts/build_bot_image.sh                 base from Debian packages (debootstrap), then the bot
#   BASE_IMAGE=python:3.11-slim scripts/build_bot_image.sh   your registry's base instead
#
# The base (built when BASE_IMAGE is unset): debootstrap --variant=minbase trixie (Debian 13) with
# Python 3.13 (python3, python3-venv), git, bubblewrap, the CA certificates, procps and passwd,
# brought up to trixie-updates and trixie-security, imported with `docker import` as
# draftsmith-base:trixie-updates. Not bookworm: Debian 12's Python is 3.11.2, whose tarfile lacks
# the extraction filters (3.11.4) that Draftsmith's reviewing phase uses. (The tag names its recipe: change it when the
# recipe changes; kept while it exists).
# The bot image's tag is draftsmith:<content key>, the key a hash of everything the build reads
# (the Dockerfile, .dockerignore, the base's ID, pyproject.toml, README.md, bot/, webhooks/,
# policies/): when that tag exists nothing is built. Docker's layer cache keeps the dependency
# layer while pyproject.toml is unchanged.
# pip inside the build trusts PIP_CERT (or SSL_CERT_FILE) when set: a TLS-inspecting proxy's CA,
# handed to the build as a BuildKit secret, never stored in the image.
# Needs a running Docker engine with BuildKit (Docker 23+, or Debian's docker.io 20.10 CLI), and
# root and debootstrap for the Debian base. DEBIAN_MIRROR and DEBOOTSTRAP_CACHE as in
# scripts/build_sandbox_image.sh; DEBIAN_SECURITY_MIRROR (default http://deb.debian.org/debian-security).
set -euo pipefail
cd "$(dirname "$0")/.."

mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
cache="${DEBOOTSTRAP_CACHE:-/var/cache/draftsmith-debootstrap}"
base_tag="draftsmith-base:trixie-updates"
suite=trixie
packages="python3,python3-venv,git,bubblewrap,ca-certificates,procps,passwd"

if ! docker info >/dev/null 2>&1; then
  echo "build_bot_image: no Docker engine answers (start dockerd, check DOCKER_HOST)" >&2
  exit 1
fi
# A Docker CLI of 23 or later builds with BuildKit through its buildx plugin; Debian's docker.io
# CLI (20.10) has BuildKit built in. Use that one when the first on PATH lacks buildx.
cli=(docker)
if ! docker buildx version >/dev/null 2>&1 && [ -x /usr/bin/docker ] && [ "$(command -v docker)" != /usr/bin/docker ]; then
  cli=(/usr/bin/docker)
fi

base="${BASE_IMAGE:-}"
if [ -z "$base" ]; then
  base="$base_tag"
  if ! docker image inspect "$base_tag" >/dev/null 2>&1; then
    command -v debootstrap >/dev/null || {
      echo "build_bot_image: debootstrap is missing (apt-get install -y debootstrap), or set BASE_IMAGE" >&2
      exit 1
    }
    work="$(mktemp -d /tmp/draftsmith-bot-base.XXXXXX)"
    trap 'rm -rf "$work"' EXIT
    echo "build_bot_image: debootstrap $suite ($packages)" >&2
    mkdir -p "$cache"
    debootstrap --variant=minbase --cache-dir="$cache" --include="$packages" "$suite" \
      "$work/rootfs" "$mirror" >&2
    security="${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}"
    printf 'deb %s %s main\ndeb %s %s-updates main\ndeb %s %s-security main\n' \
      "$mirror" "$suite" "$mirror" "$suite" "$security" "$suite" >"$work/rootfs/etc/apt/sources.list"
    cp /etc/resolv.conf "$work/rootfs/etc/resolv.conf"
    chroot "$work/rootfs" apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive chroot "$work/rootfs" apt-get upgrade -y -qq >&2
    chroot "$work/rootfs" python3 -c 'import tarfile; tarfile.data_filter' >&2
    : >"$work/rootfs/etc/resolv.conf"
    rm -rf "$work"/rootfs/var/cache/apt/archives/*.deb "$work"/rootfs/var/lib/apt/lists/*
    find "$work/rootfs/root" -mindepth 1 -delete
    tar -C "$work/rootfs" -c . | docker import \
      --change 'ENV PATH=/usr/local/bin:/usr/bin:/bin' --change 'ENV LANG=C.UTF-8' \
      --change 'CMD ["/bin/sh"]' - "$base_tag" >&2
  fi
fi

base_id="$(docker image inspect --format '{{.Id}}' "$base" 2>/dev/null || echo "$base")"
key="$({
  echo "$base_id"
  find Dockerfile .dockerignore pyproject.toml README.md bot webhooks policies -type f \
    ! -path '*/__pycache__/*' ! -name '*.pyc' -print0 | sort -z | xargs -0 sha256sum
} | sha256sum | cut -c1-16)"
tag="draftsmith:$key"
if docker image inspect "$tag" >/dev/null 2>&1; then
  echo "$tag"
  exit 0
fi

secret=()
cert="${PIP_CERT:-${SSL_CERT_FILE:-}}"
if [ -n "$cert" ] && [ -s "$cert" ]; then
  secret=(--secret "id=pip_cert,src=$cert")
fi
echo "build_bot_image: building $tag on $base" >&2
DOCKER_BUILDKIT=1 "${cli[@]}" build --progress=plain --build-arg "BASE_IMAGE=$base" \
  "${secret[@]}" -t "$tag" . >&2
echo "$tag"
