#!/usr/bin/env bash
# Prepares what the compose image build needs on a machine without an image registry:
#  1. a Debian bookworm base image with Python, built with debootstrap (once, a few
#     minutes, needs root) and tagged kemu-base:bookworm -- unless KEMU_BASE_IMAGE names
#     another image that exists already;
#  2. a wheelhouse in compose/wheels: kemu's dependencies and build backend as wheels for the
#     base image's Python, glibc and architecture, fetched with the host's pip (from PyPI or the
#     host's configured index). With it the image build needs no network at all. Skipped when
#     pyproject.toml and the base are unchanged since the last run.
#
#   export KEMU_BASE_IMAGE=$(compose/prepare.sh)      # prints the base image to build on
#
# Environment: KEMU_BASE_IMAGE, KEMU_DEBIAN_MIRROR (default http://deb.debian.org/debian),
# PYTHON (the host Python whose pip downloads; default .venv/bin/python, else python3).
set -euo pipefail
cd "$(dirname "$0")/.."

fail() {
  echo "compose/prepare.sh: $*" >&2
  exit 1
}

command -v docker >/dev/null || fail "docker is not installed; run scripts/setup-docker (as root)"
docker info >/dev/null 2>&1 || fail "no Docker engine answers; run scripts/setup-docker (as root)"

# One preparation at a time on this machine (the base image is shared by every checkout).
exec 9>"${TMPDIR:-/tmp}/kemu-compose-prepare.lock"
flock 9

base="${KEMU_BASE_IMAGE:-kemu-base:bookworm}"
if ! docker image inspect "$base" >/dev/null 2>&1; then
  [ "$base" = "kemu-base:bookworm" ] || fail "base image $base not found"
  [ "$(id -u)" -eq 0 ] || fail "building $base needs root (debootstrap); run this as root once, or set KEMU_BASE_IMAGE to an existing image"
  command -v debootstrap >/dev/null || fail "debootstrap is not installed; run scripts/setup-docker (as root)"
  rootfs=$(mktemp -d)
  trap 'rm -rf "$rootfs"' EXIT
  echo "building $base with debootstrap (a few minutes, once per machine)" >&2
  debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
    bookworm "$rootfs" "${KEMU_DEBIAN_MIRROR:-http://deb.debian.org/debian}" >&2
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
  tar -C "$rootfs" -c . \
    | docker import --change 'ENV LANG=C.UTF-8' --change 'CMD ["python3"]' - "$base" >&2
  rm -rf "$rootfs"
  trap - EXIT
fi

python="${PYTHON:-python3}"
[ -z "${PYTHON:-}" ] && [ -x .venv/bin/python ] && python=.venv/bin/python

# What the wheels must fit: the base image's Python, C library and machine.
read -r pyver glibc machine < <(docker run --rm --network none --entrypoint python3 "$base" -c \
  'import platform, sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}", platform.libc_ver()[1] or "none", platform.machine())')
[ -n "${machine:-}" ] || fail "cannot run python3 in base image $base"
[ "$glibc" != "none" ] || fail "base image $base has no glibc; use a Debian-based image"
requirements=$("$python" -c 'import sys, tomllib
p = tomllib.load(open("pyproject.toml", "rb"))
print("\n".join(p["project"]["dependencies"] + p["build-system"]["requires"]))')

stamp="python $pyver glibc $glibc $machine
$requirements"
if [ -f compose/wheels/.prepared ] && [ "$(cat compose/wheels/.prepared)" = "$stamp" ] \
   && ls compose/wheels/*.whl >/dev/null 2>&1; then
  echo "$base"
  exit 0
fi

platforms=()
for minor in $(seq 5 "${glibc#2.}"); do
  platforms+=(--platform "manylinux_2_${minor}_${machine}")
done
platforms+=(--platform "manylinux2014_${machine}")
download=$(mktemp -d)
trap 'rm -rf "$download"' EXIT
printf '%s\n' "$requirements" > "$download/requirements.txt"
echo "downloading the wheelhouse for Python $pyver ($machine, glibc $glibc)" >&2
"$python" -m pip download --quiet --disable-pip-version-check --dest "$download" \
  --only-binary=:all: --implementation cp --python-version "$pyver" --abi "cp${pyver/./}" \
  "${platforms[@]}" -r "$download/requirements.txt" >&2
rm -f compose/wheels/*.whl compose/wheels/.prepared
mv "$download"/*.whl compose/wheels/
printf '%s\n' "$stamp" > compose/wheels/.prepared
echo "$base"
