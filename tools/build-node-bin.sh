#!/usr/bin/env bash
# Build the binaries a real kubelet node of the sandbox needs, from Go modules:
#   containerd, ctr, containerd-shim-runc-v2, runc, kubelet, kube-proxy,
#   kube-network-policies (the NetworkPolicy enforcer)
# into a cache directory keyed by version (see tools/versions.env):
#   ${SENTINEL_DRILL_CACHE:-$HOME/.cache/sentinel-drill}/bin/node-k8s-<KUBE>_containerd-<C>_runc-<R>_<NETPOL_NAME>-<V><NETPOL_LOCAL>/
# The CNI plugins are Debian's (containernetworking-plugins, /usr/lib/cni); they
# are checked, not built. `make node-bin` installs the Debian packages first
# (`make system-packages`, tools/apt-packages.txt).
#
# Usage: tools/build-node-bin.sh [--print-dir] [--rebuild]
#   (no args)    build if needed; progress on stderr, the directory on stdout.
#                A no-op (instant) when <dir>/.complete exists.
#   --print-dir  print the directory path only; never builds.
#   --rebuild    ignore an existing .complete stamp and build again.
#
# Environment: SENTINEL_DRILL_CACHE (cache root), SANDBOX_BIN_JOBS (go build -p,
# default: number of CPUs), CNI_BIN_DIR (default /usr/lib/cni), plus the usual
# Go variables (GOPROXY, GOMODCACHE, GOCACHE...).
# Docs: docs/sandbox-bin.md
set -euo pipefail

TOOLS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=versions.env
source "${TOOLS_DIR}/versions.env"

BIN_BUILD_NAME=build-node-bin
# shellcheck source=bin-build-common.sh
source "${TOOLS_DIR}/bin-build-common.sh"
OUT_DIR="${BIN_ROOT}/node-k8s-${KUBE_VERSION}_containerd-${CONTAINERD_VERSION}_runc-${RUNC_VERSION}_${NETPOL_NAME}-${NETPOL_VERSION}${NETPOL_LOCAL}"
BINARIES=(containerd ctr containerd-shim-runc-v2 runc kubelet kube-proxy "${NETPOL_NAME}")
CNI_BIN_DIR="${CNI_BIN_DIR:-/usr/lib/cni}"
CNI_PLUGINS=(bridge host-local loopback portmap)

bin_build_args 20 "$@"

# The CNI plugins come from apt, not from this build: check them on every run
# (four stat calls), so a machine that lost them fails here with the fix.
check_cni() {
  local p
  for p in "${CNI_PLUGINS[@]}"; do
    [[ -x "${CNI_BIN_DIR}/${p}" ]] \
      || die "CNI plugin ${CNI_BIN_DIR}/${p} is missing (Debian package containernetworking-plugins); fix: make system-packages"
  done
}

is_complete() {
  [[ -f "${OUT_DIR}/.complete" ]] || return 1
  local b
  for b in "${BINARIES[@]}"; do [[ -x "${OUT_DIR}/${b}" ]] || return 1; done
}

# Fast path: no Go needed, no network.
if ((!rebuild)) && is_complete; then
  check_cni
  printf '%s\n' "${OUT_DIR}"
  exit 0
fi

# ------------------------------------------------------------------ checks
check_cni
command -v go >/dev/null 2>&1 || die "'go' not found in PATH; install Go >= ${NODE_GO_MIN_VERSION} (https://go.dev/dl/)"
export GOTOOLCHAIN=local   # never download a toolchain for a dependency's go line
go_version="$(go env GOVERSION 2>/dev/null || true)"
go_version="${go_version#go}"; go_version="${go_version%% *}"
[[ "${go_version}" =~ ^[0-9]+\.[0-9]+ ]] || die "cannot determine Go version from 'go env GOVERSION' (need Go >= ${NODE_GO_MIN_VERSION})"
if [[ "$(printf '%s\n%s\n' "${NODE_GO_MIN_VERSION}" "${go_version}" | sort -V | head -n1)" != "${NODE_GO_MIN_VERSION}" ]]; then
  die "Go ${go_version} is too old; need Go >= ${NODE_GO_MIN_VERSION} ($(command -v go))"
fi
# runc needs cgo and libseccomp's headers.
command -v "${CC:-gcc}" >/dev/null 2>&1 || die "no C compiler (${CC:-gcc}) for runc's cgo (Debian package gcc); fix: make system-packages"
[[ -f /usr/include/seccomp.h ]] || pkg-config --exists libseccomp 2>/dev/null \
  || die "libseccomp headers missing (runc is built with seccomp: Debian package libseccomp-dev); fix: make system-packages"

# The committed wrapper modules must match versions.env.
grep -qE "^require k8s\.io/kubernetes ${KUBE_VERSION//./\\.}\$" "${TOOLS_DIR}/kube/go.mod" \
  || die "tools/kube/go.mod does not require k8s.io/kubernetes ${KUBE_VERSION}; run tools/update-wrapper-modules.sh"
grep -qE "^require github\.com/containerd/containerd/v2 ${CONTAINERD_VERSION//./\\.}\$" "${TOOLS_DIR}/containerd/go.mod" \
  || die "tools/containerd/go.mod does not require github.com/containerd/containerd/v2 ${CONTAINERD_VERSION}; run tools/update-wrapper-modules.sh"
grep -qE "^[[:space:]]*sigs\.k8s\.io/kube-network-policies ${NETPOL_VERSION//./\\.}\$" "${TOOLS_DIR}/netpol/go.mod" \
  || die "tools/netpol/go.mod does not require sigs.k8s.io/kube-network-policies ${NETPOL_VERSION}; run tools/update-wrapper-modules.sh"
grep -qE '^[[:space:]]*_ "k8s\.io/kubernetes/cmd/kubelet"' "${TOOLS_DIR}/kube/tools.go" \
  || die "tools/kube/tools.go does not import k8s.io/kubernetes/cmd/kubelet; add it and run go mod tidy in tools/kube"

# readonly: build exactly what the committed go.mod/go.sum say.
export GOFLAGS="-mod=readonly -buildvcs=false"
JOBS="${SANDBOX_BIN_JOBS:-$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 2)}"
BUILD_FLAGS=(-p "${JOBS}" -trimpath)

mkdir -p "${BIN_ROOT}"

# Serialize concurrent builds of the cache (the control plane's lock: the two
# builds share GOCACHE and would only slow each other down).
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

# ------------------------------------------------------------------ runc
log "[1/4] runc (github.com/opencontainers/runc ${RUNC_VERSION}; cgo, seccomp)"
(
  # `go install pkg@version` ignores any go.mod (runc has no replace directives).
  cd "${TMP_DIR}"
  CGO_ENABLED=1 GOFLAGS="-buildvcs=false" GOBIN="${TMP_DIR}" go install "${BUILD_FLAGS[@]}" \
    -tags "seccomp urfave_cli_no_docs" -ldflags "-s -w" \
    "github.com/opencontainers/runc@${RUNC_VERSION}"
)

# ------------------------------------------------------------------ containerd
log "[2/4] containerd ctr containerd-shim-runc-v2 (github.com/containerd/containerd/v2 ${CONTAINERD_VERSION})"
(
  cd "${TOOLS_DIR}/containerd"
  pkg=github.com/containerd/containerd/v2
  CGO_ENABLED=0 go build "${BUILD_FLAGS[@]}" \
    -ldflags "-s -w -X ${pkg}/version.Version=${CONTAINERD_VERSION} -X ${pkg}/version.Package=${pkg}" \
    -o "${TMP_DIR}/" "${pkg}/cmd/containerd" "${pkg}/cmd/ctr" "${pkg}/cmd/containerd-shim-runc-v2"
)

# ------------------------------------------------------------------ netpol
log "[3/4] ${NETPOL_NAME} (sigs.k8s.io/kube-network-policies ${NETPOL_VERSION}${NETPOL_LOCAL} via tools/netpol)"
(
  cd "${TOOLS_DIR}/netpol"
  go mod download sigs.k8s.io/kube-network-policies   # checked against go.sum
  upstream="$(go list -m -f '{{.Dir}}' sigs.k8s.io/kube-network-policies)"
  [[ -f "${upstream}/pkg/networkpolicy/controller.go" ]] || die "sigs.k8s.io/kube-network-policies not in the module cache (${upstream})"
  # Go refuses overlays of files in the module cache, so build from a patched
  # copy: a temporary -modfile = tools/netpol/go.mod + a replace to the copy.
  # The change: the x_tables NFQUEUE target instead of nft's native queue
  # expression (the kernel may lack CONFIG_NFT_QUEUE; see
  # tools/netpol/overlay/xtqueue.go.overlay): every rule expression `queue,`
  # / `&expr.Queue{...},` becomes xtQueue(...).
  ovl="${TMP_DIR}/.netpol-src"; src="${ovl}/kube-network-policies"
  mkdir -p "${ovl}"; cp -R "${upstream}" "${src}"; chmod -R u+w "${src}"
  pkg="${src}/pkg/networkpolicy"
  sed -i 's/^\([[:space:]]*\)queue,$/\1xtQueue(queue),/' "${pkg}/controller.go"
  sed -i 's/^\([[:space:]]*\)\(&expr\.Queue{.*}\),$/\1xtQueue(\2),/' "${pkg}/dnsagent.go"
  cp "${TOOLS_DIR}/netpol/overlay/xtqueue.go.overlay" "${pkg}/zz_xtqueue.go"
  n_ctl="$(grep -c 'xtQueue(' "${pkg}/controller.go" || true)" n_dns="$(grep -c 'xtQueue(' "${pkg}/dnsagent.go" || true)"
  [[ "${n_ctl}" == 10 && "${n_dns}" == 1 ]] \
    || die "kube-network-policies ${NETPOL_VERSION}: expected 10+1 queue rules to rewrite, found ${n_ctl}+${n_dns}; check tools/build-node-bin.sh against the new source"
  { cat go.mod; printf '\nreplace sigs.k8s.io/kube-network-policies => %s\n' "${src}"; } > "${ovl}/go.mod"
  cp go.sum "${ovl}/go.sum"
  CGO_ENABLED=0 go build "${BUILD_FLAGS[@]}" -modfile "${ovl}/go.mod" \
    -ldflags "-s -w -X main.version=${NETPOL_VERSION}${NETPOL_LOCAL}" \
    -o "${TMP_DIR}/${NETPOL_NAME}" .
  rm -rf "${ovl}"
)

# ------------------------------------------------------------------ kube
# Same version stamping as tools/build-sandbox-bin.sh.
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

log "[4/4] kubelet kube-proxy (k8s.io/kubernetes ${KUBE_VERSION}; the long one)"
(
  cd "${TOOLS_DIR}/kube"
  CGO_ENABLED=0 go build "${BUILD_FLAGS[@]}" -ldflags "${kube_ldflags}" -o "${TMP_DIR}/" \
    k8s.io/kubernetes/cmd/kubelet \
    k8s.io/kubernetes/cmd/kube-proxy
)

# ------------------------------------------------------------------ verify
for b in "${BINARIES[@]}"; do
  [[ -x "${TMP_DIR}/${b}" ]] || die "build finished but ${b} is missing"
done
expect_version kubelet "Kubernetes ${KUBE_VERSION}" --version
expect_version kube-proxy "Kubernetes ${KUBE_VERSION}" --version
expect_version containerd "${CONTAINERD_VERSION}" --version
expect_version ctr "${CONTAINERD_VERSION}" --version
expect_version containerd-shim-runc-v2 "${CONTAINERD_VERSION}" -v
expect_version runc "runc version ${RUNC_VERSION#v}" --version
expect_version runc "seccomp" --version
expect_version "${NETPOL_NAME}" "${NETPOL_VERSION}${NETPOL_LOCAL}" --version

{
  echo "KUBE_VERSION=${KUBE_VERSION}"
  echo "CONTAINERD_VERSION=${CONTAINERD_VERSION}"
  echo "RUNC_VERSION=${RUNC_VERSION}"
  echo "NETPOL_NAME=${NETPOL_NAME}"
  echo "NETPOL_VERSION=${NETPOL_VERSION}"
  echo "NETPOL_LOCAL=${NETPOL_LOCAL}"
  echo "CNI_BIN_DIR=${CNI_BIN_DIR}"
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
