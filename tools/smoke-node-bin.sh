#!/usr/bin/env bash
# Smoke check of the node binaries built by tools/build-node-bin.sh: each one
# runs and reports the version in tools/versions.env (runc with seccomp), and
# the Debian CNI plugins are present. Starts nothing. Docs: docs/sandbox-bin.md
set -euo pipefail
TOOLS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=versions.env
source "${TOOLS_DIR}/versions.env"
BIN="$("${TOOLS_DIR}/build-node-bin.sh" --print-dir)"
[[ -f "${BIN}/.complete" ]] || { echo "smoke-node-bin: ${BIN} is not built; run make node-bin" >&2; exit 1; }

fail=0
check() {  # check <binary> <expected substring> <args...>
  local bin="$1" want="$2"; shift 2
  local out; out="$("${BIN}/${bin}" "$@" 2>&1 || true)"
  if grep -qF -- "${want}" <<<"${out}"; then
    printf 'ok   %-24s %s\n' "${bin}" "$(grep -m1 -F -- "${want}" <<<"${out}" | tr -s ' ')"
  else
    printf 'FAIL %-24s wanted %s, got: %s\n' "${bin}" "${want}" "$(head -n1 <<<"${out}")"; fail=1
  fi
}
check kubelet "Kubernetes ${KUBE_VERSION}" --version
check kube-proxy "Kubernetes ${KUBE_VERSION}" --version
check containerd "${CONTAINERD_VERSION}" --version
check ctr "${CONTAINERD_VERSION}" --version
check containerd-shim-runc-v2 "${CONTAINERD_VERSION}" -v
check runc "runc version ${RUNC_VERSION#v}" --version
check runc "libseccomp:" --version
check "${NETPOL_NAME}" "${NETPOL_VERSION}${NETPOL_LOCAL}" --version
for p in bridge host-local loopback portmap; do
  if [[ -x "/usr/lib/cni/${p}" ]]; then printf 'ok   %-24s /usr/lib/cni/%s\n' "cni ${p}" "${p}"
  else printf 'FAIL %-24s missing (Debian package containernetworking-plugins); fix: make system-packages\n' "cni ${p}"; fail=1; fi
done
exit "${fail}"
