# shellcheck shell=bash
# shellcheck disable=SC2153,SC2154 # the settings used here come from the sourcing script
# scripts/lib/daemon-common.sh: what scripts/lxd-setup.sh and
# scripts/incus-setup.sh have in common. Sourced (never run) by both, right
# after their `set -Eeuo pipefail`; it sets up the environment, the output
# helpers and the error trap at once, and defines functions that the scripts
# call later.
#
# The sourcing script defines, before it calls any function here:
#   TAG                 message prefix and script name ("lxd-setup")
#   PRODUCT             daemon product name in messages ("LXD", "Incus")
#   ENV_PREFIX          prefix of the env knobs and env-file keys ("LXD")
#   CLI                 client command ("lxc"); ADMIN: admin command (array)
#   API_HOST            host part of the URLs sent over the unix socket
#   DAEMON_NAME         daemon name in messages ("lxd", "incusd")
#   DAEMON_DIR          the daemon's state directory
#   DAEMON_ENV          array: environment of the daemon besides the proxies
#   DAEMON_CMD          array: the daemon command line without --logfile
#   LOG_DIR DAEMON_LOG DAEMON_STDOUT PID_FILE
#   SOCKET SERVER_CERT TEST_DIR IMAGE_DIR ENV_FILE HTTPS_ADDRESS RUN_SMOKE
#   DAEMON_DEBUG BRIDGE PROFILE_DESCRIPTION CLIENT_CN UNTRUSTED_CN
#   CLIENT_CERT CLIENT_KEY UNTRUSTED_CERT UNTRUSTED_KEY OWNED_SERVER_KEYS
# optionally LOG_GROUP (group owning LOG_DIR), RESET_BUCKETS=yes and ENV_EXTRA
# (more env-file lines), and the
# functions install_packages, configure_server and reset_leftovers (called by
# converge). It may redefine the hooks preflight_extra and before_shutdown.

# Never read from the caller: CI runs us without a terminal, and some lxc
# commands fail outright when stdin is closed rather than empty.
exec </dev/null
umask 022

export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME="${HOME:-/root}"
export LANG=C.UTF-8 LC_ALL=C.UTF-8
export DEBIAN_FRONTEND=noninteractive

LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# ------------------------------------------------------------------ shared settings
POOL=default
IMAGE_ALIAS=busybox
# the daemons' built-in downloads go to this closed loopback port and fail
# locally instead of leaving the machine
PROXY=http://127.0.0.1:9
NO_PROXY_LIST=127.0.0.1,localhost,::1
LOG_GROUP=""
RESET_BUCKETS=no
ENV_EXTRA=()

# ------------------------------------------------------------------ output
STARTED_AT=$(date +%s%N)
took() { echo "$(( ($(date +%s%N) - STARTED_AT) / 1000000 ))" | awk '{printf "%.1fs", $1/1000}'; }
note() { printf '%s: %s\n' "$TAG" "$*"; }
warn() { printf '%s: warning: %s\n' "$TAG" "$*" >&2; }
die() { printf '%s: ERROR: %s\n' "$TAG" "$*" >&2; exit 1; }
on_error() {
  printf '%s: ERROR: line %s: "%s" failed with status %s\n' "$TAG" "$2" "$3" "$1" >&2
  exit "$1"
}
trap 'on_error "$?" "$LINENO" "$BASH_COMMAND"' ERR

SMOKE_INSTANCE=""
on_exit() {
  if [ -n "$SMOKE_INSTANCE" ]; then
    "$CLI" delete --force "local:$SMOKE_INSTANCE" >/dev/null 2>&1 || true
  fi
}
trap on_exit EXIT

# ------------------------------------------------------------------ REST over the unix socket
API_TIMEOUT=300

# percent-encode one path segment or query value (byte by byte, no subprocess)
enc() {
  local LC_ALL=C s=$1 out="" c i
  for ((i = 0; i < ${#s}; i++)); do
    c=${s:i:1}
    case $c in
      [A-Za-z0-9._~-]) out+=$c ;;
      *) printf -v c '%%%02X' "'$c"; out+=$c ;;
    esac
  done
  printf '%s\n' "$out"
}

# api METHOD PATH [BODY [CONTENT-TYPE]]
# Prints the `metadata` of the answer as compact JSON. For background work
# (async answers) it waits for the operation and prints the operation's own
# metadata. A BODY starting with "@" names a file to upload. On an error
# answer it prints the daemon's message on stderr and returns 1.
api() {
  local method=$1 path=$2 body=${3-} ctype=${4:-application/json} reply kind op err meta
  local -a cmd=(curl -sS --max-time "$((API_TIMEOUT + 30))" --unix-socket "$SOCKET" -X "$method")
  if [ -n "$body" ]; then
    cmd+=(-H "Content-Type: $ctype" --data-binary "$body")
  fi
  if ! reply=$("${cmd[@]}" "http://$API_HOST$path" 2>&1); then
    printf '%s: %s %s: no answer from %s: %s\n' "$TAG" "$method" "$path" "$SOCKET" "$reply" >&2
    return 1
  fi
  # one jq run per answer: kind, operation, error text, metadata (one line each)
  { read -r kind; read -r op; read -r err; read -r meta; } < <(jq -rc '
      (.type // "unknown"), (.operation // ""),
      (if .type == "error" then "\(.error) (HTTP \(.error_code))" | gsub("\n"; " ") else "" end), .metadata' \
      <<<"$reply" 2>/dev/null) || true
  case ${kind:-unknown} in
    sync)
      printf '%s\n' "$meta"
      ;;
    async)
      if ! reply=$(curl -sS --max-time "$((API_TIMEOUT + 30))" --unix-socket "$SOCKET" \
          "http://$API_HOST$op/wait?timeout=$API_TIMEOUT" 2>&1); then
        printf '%s: %s %s: waiting for %s failed: %s\n' "$TAG" "$method" "$path" "$op" "$reply" >&2
        return 1
      fi
      { read -r kind; read -r err; read -r meta; } < <(jq -rc '
          (.metadata.status // "unknown"), (.metadata.err // .error // "" | gsub("\n"; " ")), (.metadata.metadata // {})' \
          <<<"$reply" 2>/dev/null) || true
      if [ "$kind" = Success ]; then
        printf '%s\n' "$meta"
      else
        printf '%s: %s %s: operation %s: %s\n' "$TAG" "$method" "$path" "${kind:-unreadable}" "${err:-$reply}" >&2
        return 1
      fi
      ;;
    error)
      printf '%s: %s %s: %s\n' "$TAG" "$method" "$path" "$err" >&2
      return 1
      ;;
    *)
      printf '%s: %s %s: unexpected answer: %.300s\n' "$TAG" "$method" "$path" "$reply" >&2
      return 1
      ;;
  esac
}
# true when the call succeeds; prints nothing
api_ok() { api "$@" >/dev/null 2>&1; }
daemon_answers() { curl -sf --max-time 5 --unix-socket "$SOCKET" "http://$API_HOST/1.0" >/dev/null 2>&1; }

# Best-effort step used by --reset: run it; a failure is counted and reported
# (the run then ends with an error), but the reset goes on with the next item.
RESET_PROBLEMS=0
attempt() {
  local what=$1 err
  shift
  if ! err=$("$@" 2>&1 >/dev/null); then
    RESET_PROBLEMS=$((RESET_PROBLEMS + 1))
    err=${err##*$'\n'}
    warn "could not $what: ${err#"$TAG: "}"
  fi
  return 0
}

# ------------------------------------------------------------------ arguments, checks, packages
# parse_args "$@": sets MODE to setup, reset or stop; --help prints the
# script's header comment (BASH_SOURCE[-1] is the script itself) and exits
MODE=setup
parse_args() {
  case "${1:-}" in
    "") ;;
    --reset) MODE=reset ;;
    --stop) MODE=stop ;;
    -h | --help) sed -n '2,/^$/s/^# \{0,1\}//p' "${BASH_SOURCE[-1]}"; exit 0 ;;
    *) die "unknown argument '$1' (expected --reset, --stop or nothing)" ;;
  esac
  [ $# -le 1 ] || die "expected at most one argument"
}

preflight_extra() { :; } # hook: more checks of the settings
preflight() {
  [ "$(id -u)" -eq 0 ] || die "run me as root (I install packages and start a system daemon)"
  command -v apt-get >/dev/null 2>&1 || die "apt-get not found: this script is for Debian 12 (bookworm)"
  local port=0
  if [[ $HTTPS_ADDRESS =~ ^127\.0\.0\.1:([0-9]{1,5})$ ]]; then port=$((10#${BASH_REMATCH[1]})); fi
  ((port > 0 && port < 65536)) || die "${ENV_PREFIX}_HTTPS_ADDRESS must be 127.0.0.1:<port> (loopback only), not '$HTTPS_ADDRESS'"
  preflight_extra
  [[ $TEST_DIR == /* ]] || die "${ENV_PREFIX}_TEST_DIR must be an absolute path, not '$TEST_DIR'"
}

pkg_installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q '^install ok installed$'; }

apt_update() { # LOG
  apt-get -q -o DPkg::Lock::Timeout=300 update >>"$1" 2>&1 \
    || { tail -n 15 "$1" >&2; die "apt-get update failed (full log: $1)"; }
}
apt_install() { # LOG [-t SUITE] PACKAGE...
  local log=$1
  shift
  apt-get -q -y -o DPkg::Lock::Timeout=300 install --no-install-recommends "$@" >>"$log" 2>&1 \
    || { tail -n 15 "$log" >&2; die "apt-get install $* failed (full log: $log)"; }
}

require_tools() { # TOOL...
  local tool
  for tool in "$@"; do
    command -v "$tool" >/dev/null 2>&1 || die "'$tool' is still missing after installing the packages"
  done
}

# unprivileged containers need a subordinate id range for root (the packages
# normally add one when root has none yet)
ensure_root_subids() {
  local f
  for f in /etc/subuid /etc/subgid; do
    if ! grep -q '^root:' "$f" 2>/dev/null; then
      echo 'root:1000000:1000000000' >>"$f"
      note "added a root range to $f"
    fi
  done
}

# Create the test directory and serialise concurrent runs of this script (the
# lock is on fd 9; start_daemon makes sure the daemon does not inherit it).
prepare_test_dir() {
  mkdir -p "$TEST_DIR" "$IMAGE_DIR"
  chmod 700 "$TEST_DIR"
  exec 9>"$TEST_DIR/.setup.lock"
  flock -w 600 9 || die "another $TAG.sh run still holds $TEST_DIR/.setup.lock after 10 minutes"
}

# ------------------------------------------------------------------ image and certificates
IMAGE_FP="" SPLIT_FP="" SPLIT_TAR_FP=""
prepare_image() {
  bash "$LIB_DIR/busybox-image.sh" "$IMAGE_DIR" || die "building the busybox image failed"
  IMAGE_FP=$(sha256sum "$IMAGE_DIR/busybox.tar.gz" | cut -c1-64)
  # the fingerprint of a split image is the sha256 of metadata then rootfs
  SPLIT_FP=$(cat "$IMAGE_DIR/busybox-meta.tar.gz" "$IMAGE_DIR/busybox-rootfs.squashfs" | sha256sum | cut -c1-64)
  SPLIT_TAR_FP=$(cat "$IMAGE_DIR/busybox-meta.tar.gz" "$IMAGE_DIR/busybox-rootfs.tar.gz" | sha256sum | cut -c1-64)
}

make_cert() { # CERT KEY CN
  if [ -s "$1" ] && [ -s "$2" ]; then return 0; fi
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:secp384r1 -sha384 -nodes \
    -days 3650 -subj "/CN=$3" -keyout "$2.new" -out "$1.new" >/dev/null 2>&1 \
    || die "openssl could not create a certificate for CN=$3"
  chmod 600 "$2.new"
  mv -f "$2.new" "$2"
  mv -f "$1.new" "$1"
  note "created certificate $1 (CN=$3)"
}
cert_fingerprint() { openssl x509 -in "$1" -noout -fingerprint -sha256 | sed 's/.*=//; s/://g' | tr 'A-F' 'a-f'; }

CLIENT_FP="" UNTRUSTED_FP=""
prepare_certs() {
  make_cert "$CLIENT_CERT" "$CLIENT_KEY" "$CLIENT_CN"
  make_cert "$UNTRUSTED_CERT" "$UNTRUSTED_KEY" "$UNTRUSTED_CN"
  CLIENT_FP=$(cert_fingerprint "$CLIENT_CERT")
  UNTRUSTED_FP=$(cert_fingerprint "$UNTRUSTED_CERT")
}

# ------------------------------------------------------------------ the daemon
# the first command of a client on a machine prints a welcome text
quiet_welcome() { "$CLI" remote list >/dev/null 2>&1 || true; }

DAEMON_NOTE=""
start_daemon() {
  if daemon_answers; then
    DAEMON_NOTE="was already running"
    return 0
  fi
  mkdir -p "$LOG_DIR" "$DAEMON_DIR"
  if [ -n "$LOG_GROUP" ]; then chown "root:$LOG_GROUP" "$LOG_DIR"; fi
  local -a extra=()
  [ "$DAEMON_DEBUG" = 1 ] && extra+=(--debug)
  note "starting $DAEMON_NAME (log: $DAEMON_LOG)"
  (
    # the daemon keeps only stdin/stdout/stderr: no lock (fd 9), and no pipe
    # some caller (a CI runner) may be waiting on for end-of-file
    for fd in "/proc/$BASHPID/fd"/*; do
      fd=${fd##*/}
      if [[ $fd =~ ^[0-9]+$ ]] && ((fd > 2)); then eval "exec $fd>&-" 2>/dev/null || true; fi
    done
    ulimit -n 1048576 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
    cd /
    exec setsid env -i "${DAEMON_ENV[@]}" \
      HTTPS_PROXY="$PROXY" HTTP_PROXY="$PROXY" https_proxy="$PROXY" http_proxy="$PROXY" \
      NO_PROXY="$NO_PROXY_LIST" no_proxy="$NO_PROXY_LIST" \
      "${DAEMON_CMD[@]}" --logfile="$DAEMON_LOG" "${extra[@]}" \
      </dev/null >>"$DAEMON_STDOUT" 2>&1
  ) &
  local pid=$! deadline=$((SECONDS + 90))
  until daemon_answers; do
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -n 20 "$DAEMON_LOG" "$DAEMON_STDOUT" >&2 2>/dev/null || true
      die "$DAEMON_NAME exited while starting (logs: $DAEMON_LOG, $DAEMON_STDOUT)"
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      tail -n 20 "$DAEMON_LOG" >&2 2>/dev/null || true
      die "$DAEMON_NAME (pid $pid) did not answer on $SOCKET within 90 s"
    fi
    sleep 0.2
  done
  "${ADMIN[@]}" waitready --timeout=120 || die "$DAEMON_NAME answered but did not become ready (log: $DAEMON_LOG)"
  DAEMON_NOTE="started now"
}

before_shutdown() { :; } # hook: runs right before the shutdown command
stop_daemon() {
  if ! daemon_answers; then
    note "$DAEMON_NAME is not running"
    return 0
  fi
  local pid
  pid=$(api GET /1.0 | jq -r '.environment.server_pid')
  note "shutting down $DAEMON_NAME (pid $pid); running instances are stopped first"
  before_shutdown
  timeout 300 "${ADMIN[@]}" shutdown --timeout=240 || die "${ADMIN[*]} shutdown failed; the daemon is pid $pid"
  local deadline=$((SECONDS + 30))
  while kill -0 "$pid" 2>/dev/null; do
    [ "$SECONDS" -lt "$deadline" ] || die "$DAEMON_NAME (pid $pid) is still running 30 s after shutdown"
    sleep 0.2
  done
  rm -f "$PID_FILE"
  note "$DAEMON_NAME stopped"
}

DAEMON_PID="" DAEMON_VERSION=""
read_daemon_info() {
  local info
  info=$(api GET /1.0) || die "GET /1.0 over $SOCKET failed"
  DAEMON_PID=$(jq -r '.environment.server_pid' <<<"$info")
  DAEMON_VERSION=$(jq -r '.environment.server_version' <<<"$info")
  echo "$DAEMON_PID" >"$PID_FILE"
  note "${PRODUCT,,} $DAEMON_VERSION, pid $DAEMON_PID, $DAEMON_NOTE"
}

# ------------------------------------------------------------------ reset steps
# The scripts' reset_leftovers run these in order, with their own steps for
# what differs between the daemons. Each step returns 0 (failures are counted
# by attempt); note that a loop ending in `[ ... ] && ...` would not.

# remove_instance PROJECT NAME STATUS: unfreeze, force-stop and delete one
# instance. An instance that is busy with another operation (a start that is
# still going on, say) refuses, so it is tried a few times.
remove_instance() {
  local q path status=$3 try
  q="?project=$(enc "$1")"
  path="/1.0/instances/$(enc "$2")"
  for try in 1 2 3 4 5 6; do
    if [ "$status" = Frozen ]; then api_ok PUT "$path/state$q" '{"action":"unfreeze"}' || true; fi
    if [ "$status" != Stopped ]; then
      api_ok PUT "$path/state$q" '{"action":"stop","force":true,"timeout":30}' || true
    fi
    if [ "$try" -eq 6 ]; then api DELETE "$path$q"; return; fi
    api_ok DELETE "$path$q" && return 0
    api_ok GET "$path$q" || return 0 # gone meanwhile
    sleep 1
    status=$(api GET "$path$q" 2>/dev/null | jq -r '.status // "Running"') || status=Running
  done
}

# does project $2 have its own set of $1 (images, profiles, networks,
# networks.zones, storage.volumes, storage.buckets)? A project without the
# feature sees, and would delete, the default project's.
PROJECTS_JSON='[]'
project_has() {
  [ "$2" = default ] && return 0
  jq -e --arg p "$2" --arg k "features.$1" 'any(.[]?; .name == $p and .config[$k] == "true")' \
    <<<"$PROJECTS_JSON" >/dev/null
}

RESET_PROJECTS=() RESET_POOLS=()
reset_scan() {
  note "reset: removing leftovers of earlier test runs"
  PROJECTS_JSON=$(api GET '/1.0/projects?recursion=1')
  mapfile -t RESET_PROJECTS < <(jq -r '.[]?.name' <<<"$PROJECTS_JSON")
  mapfile -t RESET_POOLS < <(api GET '/1.0/storage-pools?recursion=1' | jq -r '.[]?.name')
}

# pending trust tokens are running operations of class "token"
reset_tokens() { # OPERATIONS-LISTING-PATH
  local id
  while IFS= read -r id; do
    [ -n "$id" ] && attempt "cancel token operation $id" api DELETE "/1.0/operations/$(enc "$id")"
  done < <(api GET "$1" | jq -r '.running[]? | select(.class == "token") | .id')
  return 0
}

# instances, in every project
reset_instances() {
  local p name status
  while IFS=$'\t' read -r p name status; do
    [ -n "$name" ] && attempt "delete instance $name (project $p)" remove_instance "$p" "$name" "$status"
  done < <(api GET '/1.0/instances?all-projects=true&recursion=1' | jq -r '.[]? | [.project, .name, .status] | @tsv')
  return 0
}

# profiles: empty every project's "default" (so nothing pins networks,
# volumes or pools any more; the baseline comes back later), delete the rest
reset_profiles() {
  local p q name
  for p in "${RESET_PROJECTS[@]}"; do
    project_has profiles "$p" || continue
    q="?project=$(enc "$p")"
    while IFS= read -r name; do
      if [ "$name" = default ]; then
        attempt "empty profile default (project $p)" api PUT "/1.0/profiles/default$q" \
          "$(jq -nc --arg d "$PROFILE_DESCRIPTION" '{config: {}, description: $d, devices: {}}')"
      else
        attempt "delete profile $name (project $p)" api DELETE "/1.0/profiles/$(enc "$name")$q"
      fi
    done < <(api GET "/1.0/profiles?recursion=1&project=$(enc "$p")" | jq -r '.[]?.name')
  done
  return 0
}

# images and aliases (the test image and its alias stay in the default project)
reset_images() { # TEST-IMAGE-FINGERPRINT
  local base_fp=$1 p q name
  for p in "${RESET_PROJECTS[@]}"; do
    project_has images "$p" || continue
    q="?project=$(enc "$p")"
    while IFS= read -r name; do
      [ "$p" = default ] && [ "$name" = "$IMAGE_ALIAS" ] && continue
      attempt "delete image alias $name (project $p)" api DELETE "/1.0/images/aliases/$(enc "$name")$q"
    done < <(api GET "/1.0/images/aliases?recursion=1&project=$(enc "$p")" | jq -r '.[]?.name')
    while IFS= read -r name; do
      [ "$p" = default ] && [ "$name" = "$base_fp" ] && continue
      attempt "delete image $name (project $p)" api DELETE "/1.0/images/$name$q"
    done < <(api GET "/1.0/images?recursion=1&project=$(enc "$p")" | jq -r '.[]?.fingerprint')
  done
  return 0
}

# custom volumes (the listing also shows snapshots as vol/snap: skip those,
# they go with their volume) and, with RESET_BUCKETS=yes, storage buckets
reset_volumes() {
  local p pool name
  for p in "${RESET_PROJECTS[@]}"; do
    for pool in "${RESET_POOLS[@]}"; do
      if project_has storage.volumes "$p"; then
        while IFS= read -r name; do
          attempt "delete volume $pool/$name (project $p)" \
            api DELETE "/1.0/storage-pools/$(enc "$pool")/volumes/custom/$(enc "$name")?project=$(enc "$p")"
        done < <(api GET "/1.0/storage-pools/$(enc "$pool")/volumes/custom?recursion=1&project=$(enc "$p")" \
          | jq -r '.[]?.name | select(contains("/") | not)')
      fi
      if [ "$RESET_BUCKETS" = yes ] && project_has storage.buckets "$p"; then
        while IFS= read -r name; do
          [ -n "$name" ] && attempt "delete bucket $pool/$name (project $p)" \
            api DELETE "/1.0/storage-pools/$(enc "$pool")/buckets/$(enc "$name")?project=$(enc "$p")"
        done < <(api GET "/1.0/storage-pools/$(enc "$pool")/buckets?recursion=1&project=$(enc "$p")" 2>/dev/null \
          | jq -r '.[]?.name' || true)
      fi
    done
  done
  return 0
}

# networks: the baseline bridge back to its baseline first (it may point at
# ACLs or zones), then its forwards
reset_bridge() {
  local name
  if api GET "/1.0/networks/$BRIDGE" 2>/dev/null | jq -e '.managed' >/dev/null 2>&1; then
    attempt "restore network $BRIDGE" api PUT "/1.0/networks/$BRIDGE" "$(baseline_network_json)"
    while IFS= read -r name; do
      [ -n "$name" ] && attempt "delete forward $name on $BRIDGE" \
        api DELETE "/1.0/networks/$BRIDGE/forwards/$(enc "$name")"
    done < <(api GET "/1.0/networks/$BRIDGE/forwards" 2>/dev/null | jq -r '.[]? | sub(".*/"; "")' || true)
  fi
  return 0
}

# every managed network of project $1 except the baseline bridge
reset_networks_of() { # PROJECT
  local p=$1 q name
  q="?project=$(enc "$p")"
  while IFS= read -r name; do
    [ "$p" = default ] && [ "$name" = "$BRIDGE" ] && continue
    attempt "delete network $name (project $p)" api DELETE "/1.0/networks/$(enc "$name")$q"
  done < <(api GET "/1.0/networks?recursion=1&project=$(enc "$p")" | jq -r '.[]? | select(.managed) | .name')
  return 0
}

# every entry of /1.0/KIND (network-acls, network-zones) in PROJECT; the
# warnings read "could not delete LABEL<name> (project PROJECT)"
reset_named_of() { # KIND PROJECT LABEL
  local kind=$1 p=$2 label=$3 q name
  q="?project=$(enc "$p")"
  while IFS= read -r name; do
    [ -n "$name" ] && attempt "delete $label$name (project $p)" api DELETE "/1.0/$kind/$(enc "$name")$q"
  done < <(api GET "/1.0/$kind?recursion=1&project=$(enc "$p")" 2>/dev/null | jq -r '.[]?.name' || true)
  return 0
}

reset_pools() {
  local pool
  for pool in "${RESET_POOLS[@]}"; do
    [ "$pool" = "$POOL" ] && continue
    attempt "delete storage pool $pool" api DELETE "/1.0/storage-pools/$(enc "$pool")"
  done
  return 0
}

# certificates: only the test client stays trusted, unrestricted
reset_certificates() { # CLIENT-FINGERPRINT
  local client_fp=$1 fp
  while IFS= read -r fp; do
    [ "$fp" = "$client_fp" ] && continue
    attempt "remove trusted certificate $fp" api DELETE "/1.0/certificates/$fp"
  done < <(api GET '/1.0/certificates?recursion=1' | jq -r '.[]? | select(.type != "server") | .fingerprint')
  if api GET "/1.0/certificates/$client_fp" 2>/dev/null | jq -e '.restricted' >/dev/null; then
    attempt "lift the project restriction of the client certificate" \
      api PATCH "/1.0/certificates/$client_fp" '{"restricted":false,"projects":[]}'
  fi
  return 0
}

# server and default-project config keys that tests may have added
reset_config() {
  local extra
  extra=$(api GET /1.0 | jq -c --argjson own "$OWNED_SERVER_KEYS" \
    '.config | with_entries(select(.key as $k | $own | index($k) | not)) | map_values("")')
  if [ "$extra" != '{}' ]; then
    attempt "unset server config $(jq -r 'keys | join(" ")' <<<"$extra")" \
      api PATCH /1.0 "$(jq -c '{config: .}' <<<"$extra")"
  fi
  extra=$(api GET /1.0/projects/default)
  if jq -e '.config | keys | any(startswith("features.") | not)' <<<"$extra" >/dev/null; then
    attempt "drop non-feature config of project default" api PUT /1.0/projects/default \
      "$(jq -c '{description, config: (.config | with_entries(select(.key | startswith("features."))))}' <<<"$extra")"
  fi
  return 0
}

# ------------------------------------------------------------------ baseline and configuration
baseline_profile_json() {
  jq -nc --arg d "$PROFILE_DESCRIPTION" --arg pool "$POOL" --arg net "$BRIDGE" \
    '{config: {}, description: $d, devices: {
        root: {type: "disk", path: "/", pool: $pool},
        eth0: {type: "nic", name: "eth0", network: $net}}}'
}
baseline_network_json() {
  jq -nc '{config: {"ipv4.address": "none", "ipv6.address": "none"}, description: ""}'
}

# pool, bridge and default profile (preseed only when something is off; a
# reset also PUTs the exact baseline, because a preseed merges instead).
# Never `init --auto` and never "auto" addresses: the daemon would probe
# random private subnets to pick one.
ensure_baseline() {
  local reset=$1 ok=yes net profile
  api_ok GET "/1.0/storage-pools/$POOL" || ok=no
  net=$(api GET "/1.0/networks/$BRIDGE" 2>/dev/null || echo '{}')
  jq -e '.managed == true and .config["ipv4.address"] == "none" and .config["ipv6.address"] == "none"' \
    <<<"$net" >/dev/null || ok=no
  profile=$(api GET /1.0/profiles/default 2>/dev/null || echo '{}')
  jq -e --argjson want "$(baseline_profile_json)" '.devices.root == $want.devices.root and .devices.eth0 == $want.devices.eth0' \
    <<<"$profile" >/dev/null || ok=no
  if [ "$ok" = no ]; then
    if [ "$(jq -r '.managed // "absent"' <<<"$net")" != true ] && [ -e "/sys/class/net/$BRIDGE" ]; then
      # an interface of that name that this daemon does not manage: left over
      # from a daemon whose database is gone; it would block the preseed
      note "deleting stale interface $BRIDGE (not managed by this daemon)"
      ip link delete "$BRIDGE" || die "could not delete the stale interface $BRIDGE"
    fi
    note "applying preseed: pool $POOL (dir), bridge $BRIDGE (no addresses), profile default"
    "${ADMIN[@]}" init --preseed <<PRESEED || die "${ADMIN[*]} init --preseed failed (see $DAEMON_LOG)"
config: {}
storage_pools:
- name: $POOL
  driver: dir
  config: {}
networks:
- name: $BRIDGE
  type: bridge
  config:
    ipv4.address: none
    ipv6.address: none
profiles:
- name: default
  devices:
    root:
      type: disk
      path: /
      pool: $POOL
    eth0:
      type: nic
      name: eth0
      network: $BRIDGE
PRESEED
  fi
  if [ "$reset" = yes ]; then
    api PUT /1.0/profiles/default "$(baseline_profile_json)" >/dev/null \
      || die "could not restore the default profile"
    api PUT "/1.0/networks/$BRIDGE" "$(baseline_network_json)" >/dev/null \
      || die "could not restore network $BRIDGE"
  fi
}

trust_client() {
  local fp=$1 body
  if api_ok GET "/1.0/certificates/$fp"; then return 0; fi
  body=$(jq -nc --arg name "$CLIENT_CN" \
    --arg cert "$(openssl x509 -in "$CLIENT_CERT" -outform der | base64 -w0)" \
    '{type: "client", name: $name, certificate: $cert}')
  api POST /1.0/certificates "$body" >/dev/null || die "could not add $CLIENT_CERT to the trust store"
  note "trusted $CLIENT_CERT"
}

https_auth() { # CERT KEY -> trusted | untrusted | (empty on failure)
  curl -s --max-time 5 --cacert "$SERVER_CERT" --cert "$1" --key "$2" "https://$HTTPS_ADDRESS/1.0" 2>/dev/null \
    | jq -r '.metadata.auth // empty' 2>/dev/null || true
}

check_https() {
  local reset=$1 untrusted_fp=$2 seen="" i
  for i in $(seq 1 40); do
    seen=$(https_auth "$CLIENT_CERT" "$CLIENT_KEY")
    [ "$seen" = trusted ] && break
    sleep 0.25
  done
  [ "$seen" = trusted ] || die "GET https://$HTTPS_ADDRESS/1.0 with $CLIENT_CERT gave auth='${seen:-no answer}', expected trusted"
  if api_ok GET "/1.0/certificates/$untrusted_fp"; then
    if [ "$reset" = yes ]; then
      die "the untrusted test certificate is still in the trust store after the reset"
    fi
    warn "$UNTRUSTED_CERT is in the trust store (left by a test); run with --reset to remove it"
  else
    seen=$(https_auth "$UNTRUSTED_CERT" "$UNTRUSTED_KEY")
    [ "$seen" = untrusted ] || die "GET https://$HTTPS_ADDRESS/1.0 with $UNTRUSTED_CERT gave auth='${seen:-no answer}', expected untrusted"
  fi
}

import_image() {
  local fp=$1 file=$IMAGE_DIR/busybox.tar.gz got target
  if ! api_ok GET "/1.0/images/$fp"; then
    got=$(api POST /1.0/images "@$file" application/octet-stream | jq -r '.fingerprint // empty') \
      || die "could not import $file"
    [ "$got" = "$fp" ] || die "$PRODUCT computed fingerprint '$got' for $file, expected $fp"
    note "imported $file ($fp)"
  fi
  target=$(api GET "/1.0/images/aliases/$IMAGE_ALIAS" 2>/dev/null | jq -r '.target // empty' || true)
  if [ -z "$target" ]; then
    api POST /1.0/images/aliases "$(jq -nc --arg n "$IMAGE_ALIAS" --arg t "$fp" '{name: $n, target: $t, description: "effect-lxd busybox test image"}')" >/dev/null \
      || die "could not create image alias $IMAGE_ALIAS"
  elif [ "$target" != "$fp" ]; then
    # one PUT moves the alias, so it never disappears for tests running now
    api PUT "/1.0/images/aliases/$IMAGE_ALIAS" "$(jq -nc --arg t "$fp" '{target: $t, description: "effect-lxd busybox test image"}')" >/dev/null \
      || die "could not point image alias $IMAGE_ALIAS at $fp"
    note "alias $IMAGE_ALIAS moved from $target to $fp"
  fi
}

smoke_test() {
  local name="setup-smoke-$$" out
  SMOKE_INSTANCE=$name
  "$CLI" launch -q "local:$IMAGE_ALIAS" "local:$name" >/dev/null \
    || die "could not launch a container from '$IMAGE_ALIAS' (see $DAEMON_LOG and $LOG_DIR/$name/lxc.log)"
  out=$("$CLI" exec "local:$name" -- /bin/echo "smoke $$") || die "$CLI exec in $name failed"
  [ "$out" = "smoke $$" ] || die "$CLI exec in $name printed '$out' instead of 'smoke $$'"
  "$CLI" delete --force "local:$name" >/dev/null || die "could not delete the smoke-test container $name"
  SMOKE_INSTANCE=""
  note "smoke test passed (launch, exec, delete)"
}

# everything after the daemon answers: reset (with --reset), baseline,
# server config, trust, HTTPS check, image, smoke test
converge() {
  local reset=no
  if [ "$MODE" = reset ]; then
    reset=yes
    reset_leftovers "$IMAGE_FP" "$CLIENT_FP"
  fi
  ensure_baseline "$reset"
  configure_server
  trust_client "$CLIENT_FP"
  check_https "$reset" "$UNTRUSTED_FP"
  import_image "$IMAGE_FP"
  if [ "$RUN_SMOKE" != 0 ]; then smoke_test; else note "smoke test skipped (${ENV_PREFIX}_SETUP_SMOKE=0)"; fi
}

# ------------------------------------------------------------------ env file
write_env_file() { # LINE...
  local tmp=$ENV_FILE.new
  {
    echo "# Written by scripts/$TAG.sh on $(date -u +%Y-%m-%dT%H:%M:%SZ). Load with: set -a; . $ENV_FILE; set +a"
    printf '%s\n' "$@"
  } >"$tmp"
  # every value must be usable unquoted by the shell and by simple dotenv readers
  if grep -v '^#' "$tmp" | grep -qvE '^[A-Z_]+=[A-Za-z0-9_./:@+-]*$'; then
    die "refusing to write $ENV_FILE: a value contains unexpected characters"
  fi
  chmod 600 "$tmp"
  mv -f "$tmp" "$ENV_FILE"
}

# the env file describing the daemon; the ENV_EXTRA lines (full KEY=value)
# go after the certificate entries
write_test_env_file() {
  local p=$ENV_PREFIX
  write_env_file \
    "${p}_SOCKET=$SOCKET" \
    "${p}_HTTPS_URL=https://$HTTPS_ADDRESS" \
    "${p}_SERVER_CERT=$SERVER_CERT" \
    "${p}_CLIENT_CERT=$CLIENT_CERT" \
    "${p}_CLIENT_KEY=$CLIENT_KEY" \
    "${p}_CLIENT_FINGERPRINT=$CLIENT_FP" \
    "${p}_UNTRUSTED_CERT=$UNTRUSTED_CERT" \
    "${p}_UNTRUSTED_KEY=$UNTRUSTED_KEY" \
    "${p}_UNTRUSTED_FINGERPRINT=$UNTRUSTED_FP" \
    "${ENV_EXTRA[@]}" \
    "${p}_TEST_IMAGE_ALIAS=$IMAGE_ALIAS" \
    "${p}_TEST_IMAGE_FINGERPRINT=$IMAGE_FP" \
    "${p}_TEST_IMAGE_UNIFIED=$IMAGE_DIR/busybox.tar.gz" \
    "${p}_TEST_IMAGE_SPLIT_METADATA=$IMAGE_DIR/busybox-meta.tar.gz" \
    "${p}_TEST_IMAGE_SPLIT_ROOTFS=$IMAGE_DIR/busybox-rootfs.squashfs" \
    "${p}_TEST_IMAGE_SPLIT_ROOTFS_TAR=$IMAGE_DIR/busybox-rootfs.tar.gz" \
    "${p}_TEST_IMAGE_SPLIT_FINGERPRINT=$SPLIT_FP" \
    "${p}_TEST_IMAGE_SPLIT_TAR_FINGERPRINT=$SPLIT_TAR_FP" \
    "${p}_STORAGE_POOL=$POOL" \
    "${p}_NETWORK=$BRIDGE" \
    "${p}_PID=$DAEMON_PID" \
    "${p}_SERVER_VERSION=$DAEMON_VERSION"
}

finish() {
  if [ "$RESET_PROBLEMS" -gt 0 ]; then
    die "reset finished with $RESET_PROBLEMS item(s) that could not be removed (see the warnings above)"
  fi
  note "ready after $(took): unix $SOCKET, https://$HTTPS_ADDRESS, env file $ENV_FILE"
}
