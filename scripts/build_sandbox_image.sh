#!/usr/bin/env bash
# Build the Docker sandbox image from Debian packages (no image registry needed) and print its
# image ID (sha256:...), which is what DRAFTSMITH_DOCKER_IMAGE should name.
#
#   scripts/build_sandbox_image.sh [TAG]        (default draftsmith-sandbox:bookworm)
#
# debootstrap --variant=minbase bookworm with Python 3.11 (the interpreter, venv and pip) and the
# CA certificates (and procps), imported with `docker import`. Cached: when TAG exists already, nothing is
# built and its ID is printed. Rebuild with `docker rmi TAG` first. Needs root, debootstrap and a
# running Docker engine; downloaded packages are kept in DEBOOTSTRAP_CACHE
# (default /var/cache/draftsmith-debootstrap); DEBIAN_MIRROR overrides the mirror (default http://deb.debian.org/debian).
set -euo pipefail

tag="${1:-draftsmith-sandbox:bookworm}"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
packages="python3,python3-venv,python3-pip,ca-certificates,procps"
cache="${DEBOOTSTRAP_CACHE:-/var/cache/draftsmith-debootstrap}"

if ! docker info >/dev/null 2>&1; then
  echo "build_sandbox_image: no Docker engine answers (start dockerd, check DOCKER_HOST)" >&2
  exit 1
fi
if id="$(docker image inspect --format '{{.Id}}' "$tag" 2>/dev/null)"; then
  echo "$id"
  exit 0
fi
command -v debootstrap >/dev/null || {
  echo "build_sandbox_image: debootstrap is missing (apt-get install -y debootstrap)" >&2
  exit 1
}

rootfs="$(mktemp -d /tmp/draftsmith-sandbox-rootfs.XXXXXX)"
trap 'rm -rf "$rootfs"' EXIT
echo "build_sandbox_image: debootstrap bookworm ($packages) into $rootfs" >&2
mkdir -p "$cache"
debootstrap --variant=minbase --cache-dir="$cache" --include="$packages" bookworm "$rootfs" "$mirror" >&2
# Nothing of the build host's identity or apt state in the image.
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
find "$rootfs/root" -mindepth 1 -delete
tar -C "$rootfs" -c . | docker import \
  --change 'ENV PATH=/usr/local/bin:/usr/bin:/bin' \
  --change 'ENV LANG=C.UTF-8' \
  --change 'CMD ["/bin/sh"]' \
  - "$tag" >&2
docker image inspect --format '{{.Id}}' "$tag"
