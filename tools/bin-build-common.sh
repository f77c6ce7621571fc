# Sourced by tools/build-{sandbox,node,helm}-bin.sh: the cache layout, log/die, and the flags they share.
#   BIN_BUILD_NAME=build-x-bin; source "${TOOLS_DIR}/bin-build-common.sh"
#   OUT_DIR="${BIN_ROOT}/<name>-<versions>"
#   bin_build_args <last line of the script's header comment> "$@"   # sets rebuild; --print-dir exits here
#   bin_build_tmp_dir                                                # TMP_DIR, removed on exit
# shellcheck shell=bash

CACHE_ROOT="${SENTINEL_DRILL_CACHE:-${HOME}/.cache/sentinel-drill}"
BIN_ROOT="${CACHE_ROOT}/bin"
START_TS="$(date +%s)"

log() { printf '[%s +%ss] %s\n' "${BIN_BUILD_NAME}" "$(( $(date +%s) - START_TS ))" "$*" >&2; }
die() { printf '%s: error: %s\n' "${BIN_BUILD_NAME}" "$*" >&2; exit 1; }

# expect_version <binary in TMP_DIR> <expected substring> <args...>: the output is captured first and searched
# after; `bin --version | grep -q` under pipefail fails a matching version when grep exits before bin has
# written its last line (SIGPIPE), as a cold build's etcd once did.
expect_version() {
  local bin="$1" want="$2"; shift 2
  local out; out="$("${TMP_DIR}/${bin}" "$@" 2>&1 || true)"
  grep -qF -- "${want}" <<<"${out}" || die "${bin} $* does not report '${want}': $(head -n3 <<<"${out}")"
}

bin_build_args() {
  local help_end="$1" arg print_dir=0
  shift
  rebuild=0
  for arg in "$@"; do
    case "${arg}" in
      --print-dir) print_dir=1 ;;
      --rebuild) rebuild=1 ;;
      -h|--help) sed -n "2,${help_end}p" "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
      *) die "unknown argument: ${arg} (see --help)" ;;
    esac
  done
  if ((print_dir)); then
    printf '%s\n' "${OUT_DIR}"
    exit 0
  fi
}

# TMP_DIR: a scratch directory beside the cache (same filesystem: the result is moved into place), removed
# when the script exits; a failed build says so once. The script clears the trap (`trap - EXIT`) after the move.
bin_build_tmp_dir() {
  TMP_DIR="$(mktemp -d "${BIN_ROOT}/.tmp.$(basename "${OUT_DIR}").XXXXXX")"
  chmod 0755 "${TMP_DIR}"  # mktemp -d creates 0700
  trap _bin_build_cleanup EXIT
}

_bin_build_cleanup() {
  local rc=$?
  rm -rf "${TMP_DIR}"
  ((rc == 0)) || printf '%s: error: build failed (exit %s); see the output above. Nothing was installed.\n' \
    "${BIN_BUILD_NAME}" "${rc}" >&2
}
