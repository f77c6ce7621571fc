#!/usr/bin/env bash
# Build helm from its Go module (helm.sh/helm/v3/cmd/helm, HELM_VERSION in
# tools/versions.env) into a cache directory keyed by version:
#   ${SENTINEL_DRILL_CACHE:-$HOME/.cache/sentinel-drill}/bin/helm-<HELM_VERSION>/helm
# The harness uses it for `deploy_method: helm` when no helm is on PATH
# (harness/platform/tools_bin.py); the chart test renders deploy/chart/ with it.
#
# Usage: tools/build-helm-bin.sh [--print-dir] [--rebuild]
#   (no args)    build if needed; progress on stderr, the directory on stdout.
#                A no-op (instant) when <dir>/.complete exists.
#   --print-dir  print the directory path only; never builds.
#   --rebuild    ignore an existing .complete stamp and build again.
# Docs: docs/deploy-methods.md
set -euo pipefail

TOOLS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=versions.env
source "${TOOLS_DIR}/versions.env"

BIN_BUILD_NAME=build-helm-bin
# shellcheck source=bin-build-common.sh
source "${TOOLS_DIR}/bin-build-common.sh"
OUT_DIR="${BIN_ROOT}/helm-${HELM_VERSION}"

bin_build_args 13 "$@"

is_complete() { [[ -f "${OUT_DIR}/.complete" && -x "${OUT_DIR}/helm" ]]; }

if ((!rebuild)) && is_complete; then
  printf '%s\n' "${OUT_DIR}"
  exit 0
fi

command -v go >/dev/null 2>&1 || die "'go' not found in PATH; install Go >= ${GO_MIN_VERSION} (https://go.dev/dl/) or put helm on PATH"
export GOTOOLCHAIN=local CGO_ENABLED=0
JOBS="${SANDBOX_BIN_JOBS:-$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 2)}"

mkdir -p "${BIN_ROOT}"
if command -v flock >/dev/null 2>&1; then
  exec 9>"${BIN_ROOT}/.build-helm.lock"
  flock 9
  if ((!rebuild)) && is_complete; then
    printf '%s\n' "${OUT_DIR}"
    exit 0
  fi
fi

bin_build_tmp_dir

log "go install helm.sh/helm/v3/cmd/helm@${HELM_VERSION} (-p ${JOBS})"
(
  # `go install pkg@version` ignores any go.mod: run it outside the repo.
  cd "${TMP_DIR}"
  GOFLAGS="-buildvcs=false" GOBIN="${TMP_DIR}" go install -p "${JOBS}" -trimpath \
    -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=${HELM_VERSION} -X helm.sh/helm/v3/internal/version.gitTreeState=clean" \
    "helm.sh/helm/v3/cmd/helm@${HELM_VERSION}"
)
expect_version helm "${HELM_VERSION}" version --short

{
  echo "HELM_VERSION=${HELM_VERSION}"
  echo "BUILT_AT=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "BUILD_SECONDS=$(( $(date +%s) - START_TS ))"
} > "${TMP_DIR}/.complete"

if [[ -e "${OUT_DIR}" ]]; then rm -rf "${OUT_DIR}"; fi
mv "${TMP_DIR}" "${OUT_DIR}"
trap - EXIT
log "done in ${OUT_DIR}"
printf '%s\n' "${OUT_DIR}"
