#!/usr/bin/env bash
# Build one image holding PostgreSQL 15 and Redis 7 from Debian packages, for compose.yaml's
# postgres and redis services where no image registry is reachable (the compose test; compose.yaml
# itself names the official postgres and redis images). Prints its tag. The image has no
# entrypoint of its own: tests/e2e/compose.test.yaml gives each service its command.
#
# debootstrap --variant=minbase bookworm with postgresql-15 and redis-server, imported with
# `docker import`; kept while the tag (which names the recipe) exists. Needs root, debootstrap
# and a running Docker engine; DEBIAN_MIRROR and DEBOOTSTRAP_CACHE as in build_sandbox_image.sh.
set -euo pipefail

tag="draftsmith-services:bookworm-pg15-redis7"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
cache="${DEBOOTSTRAP_CACHE:-/var/cache/draftsmith-debootstrap}"
packages="postgresql-15,redis-server,procps"

if ! docker info >/dev/null 2>&1; then
  echo "build_services_image: no Docker engine answers (start dockerd, check DOCKER_HOST)" >&2
  exit 1
fi
if docker image inspect "$tag" >/dev/null 2>&1; then
  echo "$tag"
  exit 0
fi
command -v debootstrap >/dev/null || {
  echo "build_services_image: debootstrap is missing (apt-get install -y debootstrap)" >&2
  exit 1
}
work="$(mktemp -d /tmp/draftsmith-services.XXXXXX)"
trap 'rm -rf "$work"' EXIT
echo "build_services_image: debootstrap bookworm ($packages)" >&2
mkdir -p "$cache"
debootstrap --variant=minbase --cache-dir="$cache" --include="$packages" bookworm \
  "$work/rootfs" "$mirror" >&2
# The package's own cluster is not used: the postgres service makes its own at start.
rm -rf "$work"/rootfs/var/lib/postgresql/15/main "$work"/rootfs/etc/postgresql/15/main
rm -rf "$work"/rootfs/var/cache/apt/archives/*.deb "$work"/rootfs/var/lib/apt/lists/*
find "$work/rootfs/root" -mindepth 1 -delete
tar -C "$work/rootfs" -c . | docker import \
  --change 'ENV PATH=/usr/lib/postgresql/15/bin:/usr/local/bin:/usr/bin:/bin' \
  --change 'ENV LANG=C.UTF-8' --change 'CMD ["/bin/sh"]' - "$tag" >&2
echo "$tag"
