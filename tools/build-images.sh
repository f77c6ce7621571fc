#!/usr/bin/env bash
# Build every image the sandbox and the container tests use, locally (no registry answers here):
#   local/debian:bookworm, local/debian:trixie       debootstrap --variant=minbase + docker import
#   sentinel-drill/redis:7.0-bookworm                Debian bookworm's redis-server 7.0
#   sentinel-drill/redis:trixie                      Debian trixie's newer redis-server
#   sentinel-drill/pause:3.10                        a static pause binary, FROM scratch
#   sentinel/brain:sandbox, sentinel/gateway:sandbox deploy/images/{brain,gateway}
#   sentinel-drill:<version from pyproject>          the repo's Dockerfile (the CronJobs' image)
#
# Usage: tools/build-images.sh [--nodes] [--rebuild] [--print]
#   (no args)  build what is missing; one line per image says `built` or `reused`.
#   --nodes    only the images real sandbox nodes run (harness/sandbox/images.py: no trixie base, no
#              trixie Redis, which only the container tests use): what `make drill` needs.
#   --rebuild  ignore cached rootfs tarballs and input hashes (build everything again).
#   --print    print the image names, one a line; never builds.
#
# Reuse: a base rootfs tarball is cached per suite under
# ${SENTINEL_DRILL_CACHE:-~/.cache/sentinel-drill}/images/ (a warm run skips debootstrap); each
# built image carries the label sentinel-drill.inputs=<sha256 of its Dockerfile, context files,
# build args and base image id> and is rebuilt only when that hash changes.
# Needs a running engine (tools/docker-engine.sh ensure, which `make images` runs first) and
# root for debootstrap (Debian's debootstrap, from `make system-packages`). Environment: DEBIAN_MIRROR.
# Docs: docs/images.md
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE_ROOT="${SENTINEL_DRILL_CACHE:-${HOME}/.cache/sentinel-drill}"
IMAGE_CACHE="${CACHE_ROOT}/images"
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
LABEL="sentinel-drill.inputs"
VERSION="$(sed -n 's/^version *= *"\(.*\)"/\1/p' "${REPO}/pyproject.toml" | head -n 1)"
# Docker's BuildKit needs the buildx plugin, which Debian's docker.io does not ship.
docker buildx version >/dev/null 2>&1 || export DOCKER_BUILDKIT=0

START_TS="$(date +%s)"
log() { printf '[build-images +%ss] %s\n' "$(( $(date +%s) - START_TS ))" "$*" >&2; }
die() { printf 'build-images: error: %s\n' "$*" >&2; exit 1; }

# name | context dir | Dockerfile (both relative to the repo, or absolute) | base suite or image | build args
BUILDS=(
  "sentinel-drill/redis:7.0-bookworm|deploy/images/redis|deploy/images/redis/Dockerfile|bookworm|BASE=local/debian:bookworm"
  "sentinel-drill/redis:trixie|deploy/images/redis|deploy/images/redis/Dockerfile|trixie|BASE=local/debian:trixie"
  "sentinel-drill/pause:3.10|deploy/images/pause|deploy/images/pause/Dockerfile|bookworm|"
  "sentinel/brain:sandbox|deploy/images/brain|deploy/images/brain/Dockerfile|bookworm|"
  "sentinel/gateway:sandbox|deploy/images/gateway|deploy/images/gateway/Dockerfile|bookworm|"
  "sentinel-drill:${VERSION}|.|Dockerfile|bookworm|"
)
SUITES=(bookworm trixie)

rebuild=0 print_only=0 nodes_only=0
for arg in "$@"; do
  case "${arg}" in
    --nodes) nodes_only=1 ;;
    --rebuild) rebuild=1 ;;
    --print) print_only=1 ;;
    -h|--help) sed -n '2,23p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument: ${arg} (see --help)" ;;
  esac
done
if ((nodes_only)); then
  SUITES=(bookworm)
  kept=()
  for b in "${BUILDS[@]}"; do [[ "${b}" == *"|trixie|"* ]] || kept+=("${b}"); done
  BUILDS=("${kept[@]}")
fi
if ((print_only)); then
  for s in "${SUITES[@]}"; do echo "local/debian:${s}"; done
  for b in "${BUILDS[@]}"; do echo "${b%%|*}"; done
  exit 0
fi

docker info >/dev/null 2>&1 || die "the Docker engine does not answer; run: tools/docker-engine.sh ensure"

image_exists() { docker image inspect "$1" >/dev/null 2>&1; }

# ------------------------------------------------------------------ base images
# The rootfs gets what Docker's official Debian images add (debuerreotype): a policy-rc.d so
# package scripts never start services, the -updates and -security sources, and no apt lists.
make_rootfs() {
  local suite="$1" tarball="$2" dir
  PATH="${PATH}:/usr/sbin" command -v debootstrap >/dev/null \
    || die "debootstrap is missing (Debian package debootstrap); fix: make system-packages"
  [[ "$(id -u)" == 0 ]] || die "debootstrap needs root (run: sudo $0)"
  dir="$(mktemp -d "${IMAGE_CACHE}/rootfs-${suite}.XXXXXX")"
  trap "rm -rf '${dir}' '${tarball}.partial'" EXIT
  log "debootstrap --variant=minbase ${suite} (≈ 1 min)"
  debootstrap --variant=minbase "${suite}" "${dir}" "${MIRROR}" >"${IMAGE_CACHE}/debootstrap-${suite}.log" 2>&1 \
    || { rm -rf "${dir}"; die "debootstrap ${suite} failed; see ${IMAGE_CACHE}/debootstrap-${suite}.log"; }
  printf '#!/bin/sh\nexit 101\n' >"${dir}/usr/sbin/policy-rc.d" && chmod 755 "${dir}/usr/sbin/policy-rc.d"
  cat >"${dir}/etc/apt/sources.list" <<EOF
deb ${MIRROR} ${suite} main
deb ${MIRROR} ${suite}-updates main
deb ${MIRROR%/debian}/debian-security ${suite}-security main
EOF
  rm -rf "${dir}/var/lib/apt/lists/"* "${dir}/var/cache/apt/"*.bin "${dir}/var/cache/apt/archives/"*.deb
  tar --numeric-owner -C "${dir}" -cf "${tarball}.partial" .
  rm -rf "${dir}"
  mv "${tarball}.partial" "${tarball}"
  trap - EXIT
}

import_rootfs() {
  local suite="$1" tag="local/debian:$1-minbase" tarball
  tarball="${IMAGE_CACHE}/rootfs-${suite}-minbase-$(dpkg --print-architecture 2>/dev/null || uname -m).tar"
  if ((!rebuild)) && image_exists "${tag}"; then return; fi
  mkdir -p "${IMAGE_CACHE}"
  if ((rebuild)) || [[ ! -s "${tarball}" ]]; then make_rootfs "${suite}" "${tarball}"; fi
  log "docker import ${tag}"
  docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["bash"]' \
    --message "debootstrap --variant=minbase ${suite}" \
    "${tarball}" "${tag}" >/dev/null
}

# local/debian:<suite> = the imported rootfs + this machine's local trust anchors
# (/usr/local/share/ca-certificates/*.crt, e.g. a TLS-inspecting egress proxy's CA), so builds
# reach PyPI over the same TLS path as the host; installing ca-certificates picks them up.
base_context() {
  local suite="$1" dir="${IMAGE_CACHE}/context-debian-$1" crt
  rm -rf "${dir}" && mkdir -p "${dir}/ca"
  for crt in /usr/local/share/ca-certificates/*.crt; do [[ -f "${crt}" ]] && cp "${crt}" "${dir}/ca/"; done
  printf 'FROM local/debian:%s-minbase\nCOPY ca/ /usr/local/share/ca-certificates/\n' "${suite}" >"${dir}/Dockerfile"
  printf '%s\n' "${dir}"
}

# ------------------------------------------------------------------ builds
# The hash of what goes into an image: the Dockerfile, every file of the context the build sees
# (the repo's context is narrowed by .dockerignore; only what the Dockerfile copies is hashed
# there), the build args and the base image's id.
inputs_hash() {
  local context="$1" dockerfile="$2" suite="$3" args="$4" files
  if [[ "${context}" == "." ]]; then
    files="$({ echo pyproject.toml; echo README.md; echo conftest.py; find harness steps -type f -name '*.py'
               find features experiments -type f; } | sort)"
  else
    files="$(find "${context}" -type f ! -name '*.pyc' ! -path '*/__pycache__/*' | sort)"
  fi
  {
    echo "dockerfile $(sha256sum <"${dockerfile}")"
    echo "args ${args}"
    echo "base $(docker image inspect --format '{{.Id}}' "${suite}")"
    xargs -r sha256sum <<<"${files}"
  } | sha256sum | cut -c1-16
}

build_one() {
  local spec="$1" name context dockerfile suite args hash have
  IFS='|' read -r name context dockerfile suite args <<<"${spec}"
  [[ "${suite}" == */* ]] || suite="local/debian:${suite}"
  hash="$(cd "${REPO}" && inputs_hash "${context}" "${dockerfile}" "${suite}" "${args}")"
  have="$(docker image inspect --format "{{index .Config.Labels \"${LABEL}\"}}" "${name}" 2>/dev/null || true)"
  if ((!rebuild)) && [[ "${have}" == "${hash}" ]]; then
    echo "reused ${name}"
    return
  fi
  local build_args=() t0=${SECONDS}
  [[ -n "${args}" ]] && build_args+=(--build-arg "${args}")
  log "docker build ${name}"
  local logfile="${IMAGE_CACHE}/build-${name//[\/:]/_}.log"
  if ! (cd "${REPO}" && docker build --label "${LABEL}=${hash}" "${build_args[@]}" -t "${name}" \
       -f "${dockerfile}" "${context}" >"${logfile}" 2>&1); then
    tail -n 15 "${logfile}" >&2
    die "docker build ${name} failed; see ${logfile}"
  fi
  echo "built  ${name} ($((SECONDS - t0)) s)"
}

for suite in "${SUITES[@]}"; do
  import_rootfs "${suite}"
  ctx="$(base_context "${suite}")"
  build_one "local/debian:${suite}|${ctx}|${ctx}/Dockerfile|local/debian:${suite}-minbase|"
done
for spec in "${BUILDS[@]}"; do build_one "${spec}"; done
# a rebuilt image leaves its predecessor untagged (≈ 0.5 GB each for the project image): drop ours
docker image prune -f --filter "label=${LABEL}" >/dev/null || true
log "done"
