#!/usr/bin/env bash
# Smoke-test the binaries built by tools/build-sandbox-bin.sh:
#   kwokctl --runtime binary cluster on 127.0.0.1, kubectl get ns, a fake
#   kwok node becomes Ready, `kwokctl get artifacts` lists no URL for a core
#   component (prometheus/metrics-server are listed but never fetched), delete,
#   and no process is left behind.
# Uses a throw-away KWOK_WORKDIR and kubeconfig; never touches ~/.kwok or
# ~/.kube (config or cache). Prints timings and RSS to stderr. Docs: docs/sandbox-bin.md
set -euo pipefail

TOOLS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
NAME="${SMOKE_CLUSTER_NAME:-smoke}"

log() { printf '[smoke] %s\n' "$*" >&2; }
die() { printf '[smoke] FAIL: %s\n' "$*" >&2; exit 1; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN{printf "%.1f", b-a}'; }

BIN_DIR="$("${TOOLS_DIR}/build-sandbox-bin.sh")"
# shellcheck disable=SC1091
source "${BIN_DIR}/kwokctl.env"
export PATH="${BIN_DIR}:${PATH}"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/sentinel-drill-smoke.XXXXXX")"
export KWOK_WORKDIR="${WORK}/kwok"
# kubectl's discovery/http cache would otherwise go to ~/.kube/cache.
export KUBECACHEDIR="${WORK}/kube-cache"
KUBECONFIG_FILE="${WORK}/kubeconfig"
CONFIG_FILE="${WORK}/kwokctl.yaml"
CLUSTER_DIR="${KWOK_WORKDIR}/clusters/${NAME}"
mkdir -p "${KWOK_WORKDIR}"
cat > "${CONFIG_FILE}" <<'EOF'
apiVersion: config.kwok.x-k8s.io/v1alpha1
kind: KwokctlConfiguration
options:
  bindAddress: 127.0.0.1
EOF

created=0
cleanup() {
  local rc=$?
  if ((created)); then
    log "cleanup: deleting cluster ${NAME}"
    kwokctl delete cluster --name "${NAME}" --kubeconfig "${KUBECONFIG_FILE}" >&2 || true
  fi
  rm -rf "${WORK}"
  exit "${rc}"
}
trap cleanup EXIT

log "bin dir: ${BIN_DIR}"
log "KWOK_WORKDIR=${KWOK_WORKDIR}"

log "kwokctl get artifacts --runtime binary"
artifacts="$(kwokctl get artifacts --runtime binary)"
printf '%s\n' "${artifacts}" | sed 's/^/[smoke]   /' >&2
# kwokctl 0.8.0 always lists the optional prometheus and metrics-server
# binaries (URLs) even though they are not enabled and never fetched by
# `create cluster` unless --enable/--prometheus-port asks for them. Every
# other (core) artifact must be a local path.
core_urls="$(grep -E '://' <<<"${artifacts}" | grep -vE '/(prometheus|metrics-server)[^/]*$' || true)"
[[ -z "${core_urls}" ]] || die "kwokctl get artifacts lists a URL for a core component (would download): ${core_urls}"

t0="$(now)"
created=1
kwokctl create cluster --runtime binary --name "${NAME}" \
  --config "${CONFIG_FILE}" \
  --kube-apiserver-port 0 \
  --kubeconfig "${KUBECONFIG_FILE}" \
  --wait 120s >&2
up_s="$(elapsed "${t0}")"
log "cluster up in ${up_s}s"
# kwokctl downloads into ${KWOK_WORKDIR}/cache; it must not have fetched anything.
if [[ -n "$(find "${KWOK_WORKDIR}/cache" -type f 2>/dev/null | head -n1)" ]]; then
  die "kwokctl downloaded something into ${KWOK_WORKDIR}/cache: $(find "${KWOK_WORKDIR}/cache" -type f | head)"
fi

kubectl --kubeconfig "${KUBECONFIG_FILE}" get ns >&2 || die "kubectl get ns failed"
server="$(kubectl --kubeconfig "${KUBECONFIG_FILE}" config view --minify -o jsonpath='{.clusters[0].cluster.server}')"
log "apiserver: ${server}"

# Listening sockets of the cluster's processes must all be loopback.
pids=()
for f in "${CLUSTER_DIR}"/pids/*.pid; do pids+=("$(cat "${f}")"); done
((${#pids[@]} > 0)) || die "no pid files in ${CLUSTER_DIR}/pids"
log "processes (RSS KiB):"
ps -o pid=,rss=,comm= -p "$(IFS=,; echo "${pids[*]}")" | sed 's/^/[smoke]   /' >&2
total_rss="$(ps -o rss= -p "$(IFS=,; echo "${pids[*]}")" | awk '{s+=$1} END{printf "%d", s/1024}')"
log "total RSS: ${total_rss} MiB"
if command -v ss >/dev/null 2>&1; then
  listen="$(ss -Hltnp 2>/dev/null | grep -E "pid=($(IFS='|'; echo "${pids[*]}"))," || true)"
  printf '%s\n' "${listen}" | awk '{print "[smoke]   listen " $4}' >&2
  if [[ -n "$(awk '{print $4}' <<<"${listen}" | grep -vE '^(127\.0\.0\.1|\[::1\]):')" ]]; then
    die "a component listens on a non-loopback address"
  fi
fi

# kwok fakes nodes: a node with the kwok annotation must become Ready.
kubectl --kubeconfig "${KUBECONFIG_FILE}" apply -f - >&2 <<'EOF'
apiVersion: v1
kind: Node
metadata:
  name: kwok-node-0
  annotations:
    kwok.x-k8s.io/node: fake
  labels:
    type: kwok
spec:
  taints:
  - effect: NoSchedule
    key: kwok.x-k8s.io/node
    value: fake
EOF
kubectl --kubeconfig "${KUBECONFIG_FILE}" wait --for=condition=Ready node/kwok-node-0 --timeout=60s >&2 \
  || die "fake node did not become Ready (kwok controller)"

t1="$(now)"
kwokctl delete cluster --name "${NAME}" --kubeconfig "${KUBECONFIG_FILE}" >&2
created=0
log "cluster deleted in $(elapsed "${t1}")s"

# `kwokctl delete cluster` returns right after signalling the processes;
# etcd in particular needs a moment to exit. Wait up to 30s.
alive=()
for _ in $(seq 1 60); do
  alive=()
  for p in "${pids[@]}"; do
    if kill -0 "${p}" 2>/dev/null && [[ "$(ps -o stat= -p "${p}" 2>/dev/null)" != Z* ]]; then alive+=("${p}"); fi
  done
  ((${#alive[@]} == 0)) && break
  sleep 0.5
done
((${#alive[@]} == 0)) || die "processes still running 30s after delete: $(ps -o pid=,comm= -p "$(IFS=,; echo "${alive[*]}")" | tr '\n' ' ')"
log "all cluster processes gone $(elapsed "${t1}")s after delete started"
if pgrep -f "${KWOK_WORKDIR}" >/dev/null 2>&1; then
  die "processes referencing ${KWOK_WORKDIR} still running: $(pgrep -af "${KWOK_WORKDIR}")"
fi
log "OK: up ${up_s}s, RSS ${total_rss} MiB, no core URL in artifacts, nothing downloaded, no process left"
