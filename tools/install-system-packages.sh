#!/usr/bin/env bash
# Install the Debian packages of tools/apt-packages.txt that are missing, in one apt run.
# `make system-packages` runs it before any other step (and before anything runs in parallel), so
# two apt runs never race; no other script calls apt.
#
# Usage: tools/install-system-packages.sh [--check] [GROUP...]
#   GROUP    every-run and/or real-nodes (default: every-run, plus real-nodes when run as root: real
#            nodes need root, so elsewhere their packages are not installed)
#   --check  install nothing: print the missing packages on one line and exit 1, or exit 0 silently
#
# Instant and silent when nothing is missing. Otherwise: as root it runs apt-get; as another user
# sudo (without a prompt when stdin is no terminal); when neither can, or there is no apt-get (not
# Debian), one line naming what is missing and the command to run, exit 1 (0 when only real nodes'
# packages are missing: the sandbox is then kwok-only). Every apt call waits up to 10 min for the
# dpkg/apt locks (another program's apt run); `apt-get update` runs only when something is missing.
# apt's output: ${SENTINEL_DRILL_CACHE:-~/.cache/sentinel-drill}/apt/install.log.
# Environment: SYSTEM_PACKAGES_LIST (another list of the same form; tests/unit/test_make_system_packages.py).
# Docs: README.md (first lines), docs/performance.md ("Cold start")
set -euo pipefail

TOOLS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
LIST="${SYSTEM_PACKAGES_LIST:-${TOOLS_DIR}/apt-packages.txt}"
LOG_DIR="${SENTINEL_DRILL_CACHE:-${HOME}/.cache/sentinel-drill}/apt"
LOCK_WAIT_S=600
APT_OPTS=(-o "DPkg::Lock::Timeout=${LOCK_WAIT_S}" -qq)

say() { printf 'system packages: %s\n' "$*" >&2; }

check_only=0 groups=()
for arg in "$@"; do
  case "${arg}" in
    --check) check_only=1 ;;
    every-run|real-nodes) groups+=("${arg}") ;;
    -h|--help) sed -n '2,18p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) say "unknown argument: ${arg} (see --help)"; exit 2 ;;
  esac
done
if ((${#groups[@]} == 0)); then
  groups=(every-run)
  [[ "$(id -u)" == 0 ]] && groups+=(real-nodes)
fi

# sbin holds iptables, nft, conntrack and ip; a non-root PATH often lacks it
present() {
  if [[ "$1" == /* ]]; then [[ -e "$1" ]]; else PATH="${PATH}:/usr/sbin:/sbin" command -v "$1" >/dev/null 2>&1; fi
}

missing=() required=0
while read -r package group check _; do
  [[ -z "${package}" || "${package}" == \#* ]] && continue
  [[ " ${groups[*]} " == *" ${group} "* ]] || continue
  present "${check}" && continue
  missing+=("${package}")
  [[ "${group}" == real-nodes ]] || required=1
done <"${LIST}"

((${#missing[@]} == 0)) && exit 0
if ((check_only)); then
  echo "missing ${missing[*]} (make system-packages installs them)"
  exit 1
fi

# Without a way to install: fail when a package every run needs is missing; real nodes' alone only
# leave the sandbox kwok-only (real-node-parts says so).
command -v apt-get >/dev/null 2>&1 || {
  say "missing ${missing[*]} (Debian package names; tools/apt-packages.txt): there is no apt-get here, install them with this system's package manager"
  exit "${required}"
}
sudo=()
if [[ "$(id -u)" != 0 ]]; then
  if command -v sudo >/dev/null 2>&1 && { [[ -t 0 ]] || sudo -n true 2>/dev/null; }; then
    sudo=(sudo)
  else
    say "missing ${missing[*]}; install them as root: apt-get install --no-install-recommends ${missing[*]}"
    exit "${required}"
  fi
fi

mkdir -p "${LOG_DIR}"
log="${LOG_DIR}/install.log"
attempt="${LOG_DIR}/attempt.log"
# one apt-get call; its output appended to the log and kept alone in $attempt (to read why it failed)
apt_get() {
  local rc=0
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get "${APT_OPTS[@]}" "$@" >"${attempt}" 2>&1 || rc=$?
  cat "${attempt}" >>"${log}"
  return "${rc}"
}
failed() {
  tail -n 5 "${log}" >&2
  say "apt-get $1 failed (log: ${log}); run make again once apt works, or install by hand: apt-get install ${missing[*]}"
  exit 1
}

start=${SECONDS}
say "installing ${missing[*]} (apt, one run; log: ${log})"
: >"${log}"
# DPkg::Lock::Timeout covers the dpkg lock; `update`'s lock on the package lists is not waited for by
# apt itself, so a busy lists lock is retried here for as long.
deadline=$((SECONDS + LOCK_WAIT_S))
until apt_get update; do
  grep -q 'Could not get lock' "${attempt}" && ((SECONDS < deadline)) || failed update
  sleep 2
done
apt_get install -y --no-install-recommends "${missing[@]}" || failed install

still=()
while read -r package group check _; do
  [[ " ${missing[*]} " == *" ${package} "* ]] && ! present "${check}" && still+=("${package}:${check}")
done <"${LIST}"
((${#still[@]} == 0)) || { say "installed, but still not found: ${still[*]} (log: ${log})"; exit 1; }
say "installed ${#missing[@]} packages in $((SECONDS - start)) s"
