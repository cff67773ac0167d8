#!/usr/bin/env bash
# Prepares what `docker-compose build` needs on a machine without an image registry:
#  1. a Debian bookworm base image with Python (debootstrap; once, about a minute), tagged
#     kemu-base:bookworm, unless KEMU_BASE_IMAGE names another one that exists;
#  2. a wheelhouse of kemu and its dependencies in compose/wheels, built with the host's pip,
#     so the image installs with no network access (the base's Python must be 3.11, as here).
# Prints the base image to use: export KEMU_BASE_IMAGE=$(compose/prepare.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
base="${KEMU_BASE_IMAGE:-kemu-base:bookworm}"
if ! docker image inspect "$base" >/dev/null 2>&1; then
  if [ "$base" != "kemu-base:bookworm" ]; then
    echo "base image $base not found" >&2
    exit 1
  fi
  rootfs=$(mktemp -d)
  echo "building $base with debootstrap (about a minute)" >&2
  debootstrap --variant=minbase --include=python3,python3-venv,python3-pip,ca-certificates \
    bookworm "$rootfs" >&2
  tar -C "$rootfs" -c . | docker import - "$base" >&2
  rm -rf "$rootfs"
fi
python="${PYTHON:-python3}"
[ -x .venv/bin/python ] && python=.venv/bin/python
rm -f compose/wheels/*.whl
"$python" -m pip wheel --quiet --wheel-dir compose/wheels . >&2
echo "$base"
