#!/usr/bin/env bash
# Run the local Docker engine the sandbox images are built with.
#
# Usage: tools/docker-engine.sh ensure|stop|status
#   ensure  start dockerd as root if the socket does not answer, wait (≤ 60 s) until `docker info`
#           answers. Instant when the engine already answers. Installs nothing: Debian's docker.io
#           comes from `make system-packages` (tools/apt-packages.txt); without dockerd, exit 3.
#   stop    stop the dockerd this script started (its pidfile); leaves any other engine alone.
#   status  one line: running (server version, storage driver) or not; exit 0 / 1.
#
# Exit codes: 0 ok · 1 the engine did not come up (the line names the log) · 3 Docker cannot run
# on this machine (one line why; the sandbox then falls back to kwok-only).
# Files: ${SENTINEL_DRILL_CACHE:-~/.cache/sentinel-drill}/docker/{dockerd.log,dockerd.pid}.
# Environment: DOCKER_HOST (default unix:///var/run/docker.sock), DOCKER_ENGINE_WAIT_S (default 60).
# Docs: docs/images.md
set -euo pipefail

CACHE_ROOT="${SENTINEL_DRILL_CACHE:-${HOME}/.cache/sentinel-drill}"
STATE_DIR="${CACHE_ROOT}/docker"
LOG="${STATE_DIR}/dockerd.log"
PIDFILE="${STATE_DIR}/dockerd.pid"
SOCKET="/var/run/docker.sock"
WAIT_S="${DOCKER_ENGINE_WAIT_S:-60}"

say() { printf 'docker-engine: %s\n' "$*" >&2; }
cannot_run() { printf 'docker-engine: Docker cannot run here: %s\n' "$*" >&2; exit 3; }

answers() { timeout 10 docker info --format '{{.ServerVersion}}' >/dev/null 2>&1; }

describe() {
  docker info --format 'running: Docker {{.ServerVersion}}, storage driver {{.Driver}}, cgroup {{.CgroupVersion}} ({{.CgroupDriver}})' 2>/dev/null
}

no_engine() {
  cannot_run "dockerd is missing (Debian package docker.io); fix: make system-packages (as root or with sudo)"
}

# The engine's client is /usr/local/bin/docker on some machines; docker.io brings its own. Either works.
start_engine() {
  if [[ -S "${SOCKET}" && ! -w "${SOCKET}" ]]; then
    cannot_run "${SOCKET} exists but this user may not use it (join group docker, or run as root)"
  fi
  [[ "$(id -u)" == 0 ]] || cannot_run "dockerd must be started as root (run: sudo $0 ensure)"
  [[ -d /sys/fs/cgroup ]] || cannot_run "no /sys/fs/cgroup (containers need cgroups)"
  mkdir -p "${STATE_DIR}"
  if [[ -f "${PIDFILE}" ]] && kill -0 "$(cat "${PIDFILE}")" 2>/dev/null; then
    say "dockerd (pid $(cat "${PIDFILE}")) is starting; waiting"
  else
    rm -f "${PIDFILE}"
    say "starting dockerd (log: ${LOG})"
    # setsid: the engine outlives this shell and a terminal's Ctrl-C.
    setsid dockerd --host "unix://${SOCKET}" --storage-driver overlay2 --pidfile "${PIDFILE}" \
      >>"${LOG}" 2>&1 </dev/null &
  fi
  local deadline=$((SECONDS + WAIT_S))
  while ((SECONDS < deadline)); do
    answers && return 0
    if [[ -f "${PIDFILE}" ]] && ! kill -0 "$(cat "${PIDFILE}")" 2>/dev/null; then break; fi
    if ! pgrep -x dockerd >/dev/null; then sleep 0.5; pgrep -x dockerd >/dev/null || break; fi
    sleep 0.5
  done
  local why
  why="$(grep -E 'level=(fatal|error)|failed to start' "${LOG}" 2>/dev/null | tail -n 1 | cut -c1-200 || true)"
  if grep -qE 'operation not permitted|permission denied|overlay.*not supported|no cgroup' <<<"${why}"; then
    cannot_run "dockerd exited: ${why} (log: ${LOG})"
  fi
  say "dockerd did not answer within ${WAIT_S} s; see ${LOG}${why:+ (last error: ${why})}"
  exit 1
}

cmd_ensure() {
  command -v docker >/dev/null || no_engine
  if answers; then return 0; fi
  command -v dockerd >/dev/null || no_engine
  start_engine
  describe >&2 || true
}

cmd_stop() {
  if [[ ! -f "${PIDFILE}" ]]; then say "no dockerd started by this script (no ${PIDFILE})"; return 0; fi
  local pid; pid="$(cat "${PIDFILE}")"
  if kill -0 "${pid}" 2>/dev/null; then
    kill -TERM "${pid}"
    for _ in $(seq 1 60); do kill -0 "${pid}" 2>/dev/null || break; sleep 0.5; done
    kill -0 "${pid}" 2>/dev/null && { say "dockerd (pid ${pid}) still running after 30 s; see ${LOG}"; exit 1; }
  fi
  rm -f "${PIDFILE}"
  say "dockerd stopped"
}

cmd_status() {
  if answers; then describe; return 0; fi
  echo "not running (docker info does not answer on ${DOCKER_HOST:-unix://${SOCKET}})"
  return 1
}

case "${1:-}" in
  ensure) cmd_ensure ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  -h|--help) sed -n '2,15p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' ;;
  *) say "usage: $0 ensure|stop|status"; exit 2 ;;
esac
