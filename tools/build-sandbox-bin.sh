#!/usr/bin/env bash
# Build the sandbox Kubernetes control-plane binaries from Go modules:
#   etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubectl,
#   kwok, kwokctl
# into a cache directory keyed by version (see tools/versions.env):
#   ${SENTINEL_DRILL_CACHE:-$HOME/.cache/sentinel-drill}/bin/k8s-<KUBE>_etcd-<ETCD>_kwok-<KWOK>/
#
# Usage: tools/build-sandbox-bin.sh [--print-dir] [--rebuild]
#   (no args)    build if needed; progress on stderr, the directory on stdout.
#                A no-op (instant) when <dir>/.complete exists.
#   --print-dir  print the directory path only; never builds.
#   --rebuild    ignore an existing .complete stamp and build again.
#
# Environment: SENTINEL_DRILL_CACHE (cache root), SANDBOX_BIN_JOBS (go build -p,
# default: number of CPUs), plus the usual Go variables (GOPROXY, GOMODCACHE,
# GOCACHE...). The result dir also gets kwokctl.env (KWOK_*_BINARY exports).
# Docs: docs/sandbox-bin.md
set -euo pipefail

TOOLS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=versions.env
source "${TOOLS_DIR}/versions.env"

BIN_BUILD_NAME=build-sandbox-bin
# shellcheck source=bin-build-common.sh
source "${TOOLS_DIR}/bin-build-common.sh"
OUT_DIR="${BIN_ROOT}/k8s-${KUBE_VERSION}_etcd-${ETCD_VERSION}_kwok-${KWOK_VERSION}"
BINARIES=(etcd kube-apiserver kube-controller-manager kube-scheduler kubectl kwok kwokctl)

bin_build_args 18 "$@"

is_complete() {
  [[ -f "${OUT_DIR}/.complete" ]] || return 1
  local b
  for b in "${BINARIES[@]}"; do [[ -x "${OUT_DIR}/${b}" ]] || return 1; done
}

# Fast path: no Go needed, no network.
if ((!rebuild)) && is_complete; then
  printf '%s\n' "${OUT_DIR}"
  exit 0
fi

# ------------------------------------------------------------------ checks
command -v go >/dev/null 2>&1 || die "'go' not found in PATH; install Go >= ${GO_MIN_VERSION} (https://go.dev/dl/)"
# Never let a dependency's go/toolchain line trigger a toolchain download.
export GOTOOLCHAIN=local
go_version="$(go env GOVERSION 2>/dev/null || true)"      # e.g. go1.26.8
go_version="${go_version#go}"; go_version="${go_version%% *}"
[[ "${go_version}" =~ ^[0-9]+\.[0-9]+ ]] || die "cannot determine Go version from 'go env GOVERSION' (need Go >= ${GO_MIN_VERSION})"
if [[ "$(printf '%s\n%s\n' "${GO_MIN_VERSION}" "${go_version}" | sort -V | head -n1)" != "${GO_MIN_VERSION}" ]]; then
  die "Go ${go_version} is too old; need Go >= ${GO_MIN_VERSION} ($(command -v go))"
fi

# The committed wrapper modules must match versions.env.
grep -qE "^require k8s\.io/kubernetes ${KUBE_VERSION//./\\.}\$" "${TOOLS_DIR}/kube/go.mod" \
  || die "tools/kube/go.mod does not require k8s.io/kubernetes ${KUBE_VERSION}; run tools/update-wrapper-modules.sh"
grep -qE "^require go\.etcd\.io/etcd/server/v3 ${ETCD_VERSION//./\\.}\$" "${TOOLS_DIR}/etcd/go.mod" \
  || die "tools/etcd/go.mod does not require go.etcd.io/etcd/server/v3 ${ETCD_VERSION}; run tools/update-wrapper-modules.sh"

export CGO_ENABLED=0
# readonly: build exactly what the committed go.mod/go.sum say.
export GOFLAGS="-mod=readonly -buildvcs=false"
JOBS="${SANDBOX_BIN_JOBS:-$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 2)}"
BUILD_FLAGS=(-p "${JOBS}" -trimpath)

mkdir -p "${BIN_ROOT}"

# Serialize concurrent builds of the cache (best effort: flock is Linux-only).
if command -v flock >/dev/null 2>&1; then
  exec 9>"${BIN_ROOT}/.build.lock"
  if ! flock -n 9; then
    log "another build is running; waiting for ${BIN_ROOT}/.build.lock"
    flock 9
  fi
  if ((!rebuild)) && is_complete; then
    printf '%s\n' "${OUT_DIR}"
    exit 0
  fi
fi

bin_build_tmp_dir

log "go ${go_version}, -p ${JOBS}, GOMODCACHE=$(go env GOMODCACHE), GOCACHE=$(go env GOCACHE)"
log "building into ${TMP_DIR}"

# ------------------------------------------------------------------ kube
kube_minor="${KUBE_VERSION#v1.}"; kube_minor="${kube_minor%%.*}"
kube_build_date="$(cd "${TOOLS_DIR}/kube" && go list -m -json k8s.io/kubernetes \
  | sed -n 's/^[[:space:]]*"Time": "\(.*\)",\{0,1\}$/\1/p' || true)"
kube_ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  kube_ldflags+=" -X ${pkg}.gitVersion=${KUBE_VERSION}"
  kube_ldflags+=" -X ${pkg}.gitMajor=1 -X ${pkg}.gitMinor=${kube_minor}"
  kube_ldflags+=" -X ${pkg}.gitTreeState=clean"
  if [[ -n "${kube_build_date}" ]]; then kube_ldflags+=" -X ${pkg}.buildDate=${kube_build_date}"; fi
done

log "[1/3] kube-apiserver kube-controller-manager kube-scheduler kubectl (k8s.io/kubernetes ${KUBE_VERSION}; the long one)"
(
  cd "${TOOLS_DIR}/kube"
  go build "${BUILD_FLAGS[@]}" -ldflags "${kube_ldflags}" -o "${TMP_DIR}/" \
    k8s.io/kubernetes/cmd/kube-apiserver \
    k8s.io/kubernetes/cmd/kube-controller-manager \
    k8s.io/kubernetes/cmd/kube-scheduler \
    k8s.io/kubernetes/cmd/kubectl
)

# ------------------------------------------------------------------ etcd
log "[2/3] etcd (go.etcd.io/etcd/server/v3 ${ETCD_VERSION})"
(
  cd "${TOOLS_DIR}/etcd"
  go build "${BUILD_FLAGS[@]}" -ldflags "-s -w" -o "${TMP_DIR}/etcd" go.etcd.io/etcd/server/v3
)

# ------------------------------------------------------------------ kwok
log "[3/3] kwok kwokctl (sigs.k8s.io/kwok ${KWOK_VERSION})"
(
  # `go install pkg@version` ignores any go.mod; run it outside the repo and
  # without -mod (not allowed there).
  cd "${TMP_DIR}"
  GOFLAGS="-buildvcs=false" GOBIN="${TMP_DIR}" go install "${BUILD_FLAGS[@]}" \
    -ldflags "-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=${KWOK_VERSION#v} -X sigs.k8s.io/kwok/pkg/consts.KubeVersion=${KUBE_VERSION#v}" \
    "sigs.k8s.io/kwok/cmd/kwok@${KWOK_VERSION}" "sigs.k8s.io/kwok/cmd/kwokctl@${KWOK_VERSION}"
)

# ------------------------------------------------------------------ verify
for b in "${BINARIES[@]}"; do
  [[ -x "${TMP_DIR}/${b}" ]] || die "build finished but ${b} is missing"
done
expect_version kube-apiserver "Kubernetes ${KUBE_VERSION}" --version
expect_version etcd "etcd Version: ${ETCD_VERSION#v}" --version
"${TMP_DIR}/kwokctl" --version >/dev/null || die "kwokctl --version failed"

cat > "${TMP_DIR}/kwokctl.env" <<EOF
# Source this (or export these) before running 'kwokctl --runtime binary'
# so that kwokctl uses these binaries and downloads nothing.
export KWOK_KUBE_APISERVER_BINARY=${OUT_DIR}/kube-apiserver
export KWOK_KUBE_CONTROLLER_MANAGER_BINARY=${OUT_DIR}/kube-controller-manager
export KWOK_KUBE_SCHEDULER_BINARY=${OUT_DIR}/kube-scheduler
export KWOK_KUBECTL_BINARY=${OUT_DIR}/kubectl
export KWOK_ETCD_BINARY=${OUT_DIR}/etcd
export KWOK_CONTROLLER_BINARY=${OUT_DIR}/kwok
export KWOK_KUBE_VERSION=${KUBE_VERSION}
export KWOK_ETCD_VERSION=${ETCD_VERSION#v}
EOF

{
  echo "KUBE_VERSION=${KUBE_VERSION}"
  echo "ETCD_VERSION=${ETCD_VERSION}"
  echo "KWOK_VERSION=${KWOK_VERSION}"
  echo "GO_VERSION=go${go_version}"
  echo "BUILT_AT=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "BUILD_SECONDS=$(( $(date +%s) - START_TS ))"
} > "${TMP_DIR}/.complete"

# ------------------------------------------------------------------ commit
# rename(2) within one filesystem is atomic; a stale incomplete dir is replaced.
if [[ -e "${OUT_DIR}" ]]; then
  rm -rf "${OUT_DIR}"
fi
mv "${TMP_DIR}" "${OUT_DIR}"
trap - EXIT

log "done: $(cd "${OUT_DIR}" && du -ch "${BINARIES[@]}" | tail -n1 | cut -f1) in ${OUT_DIR}"
printf '%s\n' "${OUT_DIR}"
