#!/usr/bin/env bash
# scripts/incus-setup.sh: prepare the Incus 6.0 daemon that effect-lxd's
# integration tests run against, next to LXD (Debian 12 + bookworm-backports,
# no systemd needed).
#
#   bash scripts/incus-setup.sh          install, start and configure; safe to repeat
#   bash scripts/incus-setup.sh --reset  the same, after removing everything earlier
#                                        test runs may have left in the daemon
#   bash scripts/incus-setup.sh --stop   shut the daemon down (`incus admin shutdown`)
#
# What a run guarantees when it exits with status 0:
#   * packages: incus-base and incus-client from bookworm-backports (the
#               daemon and the CLI only: no qemu, VMs cannot run here anyway),
#               plus the tools the tests use from bookworm itself
#   * daemon:   /usr/libexec/incus/incusd is answering on
#               /var/lib/incus/unix.socket (started here in its own session
#               if it was not running)
#   * storage:  "dir" pool "default"; network: bridge "incusbr0" without any
#               address (no DHCP, no NAT, no uplink); profile "default" = root
#               disk on "default" + eth0 on incusbr0
#   * server:   HTTPS on 127.0.0.1:8543 only (LXD keeps 8443),
#               images.auto_update_interval=0. Incus has no trust password.
#   * certs:    a trusted client certificate and an untrusted one (never added)
#   * image:    the busybox test image, imported with alias "busybox"; the same
#               image also as files (unified, split squashfs, split tarball)
#   * env file: /var/lib/incus-test/incus-test.env describing all of the above
#
# --reset also deletes: instances (every project), images other than the test
# image, aliases other than "busybox", custom volumes, storage buckets,
# profiles other than "default", managed networks other than incusbr0 (and
# network ACLs/zones), projects other than "default", pools other than
# "default", trusted certificates other than the test client, pending trust
# tokens, and server or default-project config keys this script does not
# own. Then it puts the default profile and incusbr0 back exactly as
# described above.
#
# Environment knobs:
#   INCUS_TEST_DIR       certificates, image files, env file (/var/lib/incus-test)
#   INCUS_HTTPS_ADDRESS  must be 127.0.0.1:<port>           (127.0.0.1:8543)
#   INCUS_SETUP_SMOKE=0  skip the launch/exec/delete smoke test
#   INCUS_SETUP_DEBUG=1  start the daemon with --debug
#
# Network rules this script keeps: it never uses `incus admin init --auto` or
# "auto" bridge addresses (the daemon would probe random private subnets to
# pick one); the daemon runs with HTTP(S)_PROXY pointing at a closed loopback
# port, so its built-in downloads (the instance-type list) fail locally
# instead of leaving the machine; the HTTPS listener binds 127.0.0.1 only.
# The only internet access is apt-get talking to the configured Debian mirror.

set -Eeuo pipefail
shopt -s inherit_errexit
# Never read from the caller: CI runs us without a terminal.
exec </dev/null
umask 022

export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME="${HOME:-/root}"
export LANG=C.UTF-8 LC_ALL=C.UTF-8
export DEBIAN_FRONTEND=noninteractive
export INCUS_DIR=/var/lib/incus
unset INCUS_SOCKET INCUS_PROJECT INCUS_REMOTE || true

TAG=incus-setup
SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# ------------------------------------------------------------------ settings
INCUSD=/usr/libexec/incus/incusd
DAEMON_GROUP=incus-admin
SOCKET=$INCUS_DIR/unix.socket
SERVER_CERT=$INCUS_DIR/server.crt
LOG_DIR=/var/log/incus
TEST_DIR=${INCUS_TEST_DIR:-/var/lib/incus-test}
IMAGE_DIR=$TEST_DIR/images
ENV_FILE=$TEST_DIR/incus-test.env
HTTPS_ADDRESS=${INCUS_HTTPS_ADDRESS:-127.0.0.1:8543}
RUN_SMOKE=${INCUS_SETUP_SMOKE:-1}
DAEMON_DEBUG=${INCUS_SETUP_DEBUG:-0}
POOL=default
BRIDGE=incusbr0
PROFILE_DESCRIPTION="Default Incus profile"
IMAGE_ALIAS=busybox
CLIENT_CN=incus-test-client
UNTRUSTED_CN=incus-test-untrusted
CLIENT_CERT=$TEST_DIR/client.crt
CLIENT_KEY=$TEST_DIR/client.key
UNTRUSTED_CERT=$TEST_DIR/untrusted.crt
UNTRUSTED_KEY=$TEST_DIR/untrusted.key
BACKPORTS=bookworm-backports
BACKPORTS_SOURCE=/etc/apt/sources.list.d/effect-lxd-bookworm-backports.sources
# from bookworm itself (nftables must be there before the daemon first starts;
# incus-base only recommends dnsmasq-base, so it is listed here)
BASE_PACKAGES=(nftables dnsmasq-base busybox-static squashfs-tools uidmap
  jq curl openssl ca-certificates)
# from bookworm-backports, installed in a separate apt call: with -t on the
# whole list apt would also move curl and friends to their backports versions
INCUS_PACKAGES=(incus-base incus-client)
# server config keys this script owns (--reset unsets every other key)
OWNED_SERVER_KEYS='["core.https_address","images.auto_update_interval"]'
PROXY=http://127.0.0.1:9
NO_PROXY_LIST=127.0.0.1,localhost,::1

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
    incus delete --force "local:$SMOKE_INSTANCE" >/dev/null 2>&1 || true
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
  if ! reply=$("${cmd[@]}" "http://incus$path" 2>&1); then
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
          "http://incus$op/wait?timeout=$API_TIMEOUT" 2>&1); then
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
daemon_answers() { curl -sf --max-time 5 --unix-socket "$SOCKET" http://incus/1.0 >/dev/null 2>&1; }

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

# ------------------------------------------------------------------ steps
preflight() {
  [ "$(id -u)" -eq 0 ] || die "run me as root (I install packages and start a system daemon)"
  command -v apt-get >/dev/null 2>&1 || die "apt-get not found: this script is for Debian 12 (bookworm)"
  local port=0
  if [[ $HTTPS_ADDRESS =~ ^127\.0\.0\.1:([0-9]{1,5})$ ]]; then port=$((10#${BASH_REMATCH[1]})); fi
  ((port > 0 && port < 65536)) || die "INCUS_HTTPS_ADDRESS must be 127.0.0.1:<port> (loopback only), not '$HTTPS_ADDRESS'"
  [[ $TEST_DIR == /* ]] || die "INCUS_TEST_DIR must be an absolute path, not '$TEST_DIR'"
}

pkg_installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q '^install ok installed$'; }

# Is some enabled apt source (one-line or deb822 style) already using the
# backports suite?
backports_configured() {
  local f
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] && grep -Eq "^[[:space:]]*deb[[:space:]].*[[:space:]]$BACKPORTS([[:space:]]|$)" "$f" && return 0
  done
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    # deb822 files hold paragraphs; look at each one separately
    awk -v suite="$BACKPORTS" '
      function check() { if (has && enabled) found = 1; has = 0; enabled = 1 }
      BEGIN { enabled = 1 }
      /^[[:space:]]*$/ { check(); next }
      /^[[:space:]]*#/ { next }
      tolower($1) == "suites:" { for (i = 2; i <= NF; i++) if ($i == suite) has = 1 }
      tolower($1) == "enabled:" && tolower($2) == "no" { enabled = 0 }
      END { check(); exit found ? 0 : 1 }' "$f" && return 0
  done
  return 1
}

add_backports_source() {
  local codename mirror
  codename=$(. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-}")
  [ "$codename" = bookworm ] \
    || die "Incus is not installed and this is not Debian 12 bookworm (found '${codename:-unknown}'); I only know how to install it from $BACKPORTS"
  backports_configured && return 0
  # use the mirror this machine already uses for bookworm
  mirror=$(awk '/^[[:space:]]*URIs:/ { print $2; exit }' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
  if [ -z "$mirror" ]; then
    mirror=$(awk '$1 == "deb" && $3 == "bookworm" { print $2; exit }' /etc/apt/sources.list 2>/dev/null || true)
  fi
  [ -n "$mirror" ] || die "could not find this machine's Debian mirror (looked in /etc/apt/sources.list.d/debian.sources and /etc/apt/sources.list)"
  [ -s /usr/share/keyrings/debian-archive-keyring.gpg ] \
    || die "/usr/share/keyrings/debian-archive-keyring.gpg is missing (package debian-archive-keyring)"
  cat >"$BACKPORTS_SOURCE" <<SOURCES
# Added by effect-lxd scripts/incus-setup.sh: Incus 6.0 LTS for Debian 12 is
# only published in bookworm-backports.
Types: deb
URIs: $mirror
Suites: $BACKPORTS
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
  note "added apt source $BACKPORTS_SOURCE ($mirror $BACKPORTS)"
}

install_packages() {
  local -a base_missing=() incus_missing=()
  local p log=$TEST_DIR/apt.log
  for p in "${BASE_PACKAGES[@]}"; do pkg_installed "$p" || base_missing+=("$p"); done
  for p in "${INCUS_PACKAGES[@]}"; do pkg_installed "$p" || incus_missing+=("$p"); done
  if [ ${#base_missing[@]} -eq 0 ] && [ ${#incus_missing[@]} -eq 0 ]; then
    note "packages: all installed"
  else
    [ ${#incus_missing[@]} -eq 0 ] || add_backports_source
    # the incus maintainer scripts read these two files line by line
    touch /etc/subuid /etc/subgid
    : >"$log"
    note "packages: apt-get update (log: $log)"
    apt-get -q -o DPkg::Lock::Timeout=300 update >>"$log" 2>&1 \
      || { tail -n 15 "$log" >&2; die "apt-get update failed (full log: $log)"; }
    if [ ${#base_missing[@]} -gt 0 ]; then
      note "packages: installing ${base_missing[*]}"
      apt-get -q -y -o DPkg::Lock::Timeout=300 install --no-install-recommends "${base_missing[@]}" >>"$log" 2>&1 \
        || { tail -n 15 "$log" >&2; die "apt-get install ${base_missing[*]} failed (full log: $log)"; }
    fi
    if [ ${#incus_missing[@]} -gt 0 ]; then
      note "packages: installing ${incus_missing[*]} from $BACKPORTS"
      apt-get -q -y -o DPkg::Lock::Timeout=300 install --no-install-recommends -t "$BACKPORTS" \
        "${incus_missing[@]}" >>"$log" 2>&1 \
        || { tail -n 15 "$log" >&2; die "apt-get install -t $BACKPORTS ${incus_missing[*]} failed (full log: $log)"; }
    fi
    note "packages: installed after $(took)"
  fi
  local tool
  for tool in incus nft dnsmasq mksquashfs jq curl openssl flock; do
    command -v "$tool" >/dev/null 2>&1 || die "'$tool' is still missing after installing the packages"
  done
  [ -x "$INCUSD" ] || die "$INCUSD is missing (package incus-base)"
  # the package creates its groups with systemd-sysusers; make sure they exist
  for p in incus-admin incus; do
    getent group "$p" >/dev/null || { groupadd --system "$p"; note "created group $p"; }
  done
  # unprivileged containers need a subordinate id range for root (incus adds
  # one only when root has none yet, e.g. none from lxd)
  for p in /etc/subuid /etc/subgid; do
    if ! grep -q '^root:' "$p" 2>/dev/null; then
      echo 'root:1000000:1000000000' >>"$p"
      note "added a root range to $p"
    fi
  done
}

# Serialise concurrent runs of this script (the lock is on fd 9; start_daemon
# makes sure the daemon does not inherit it).
take_lock() {
  exec 9>"$TEST_DIR/.setup.lock"
  flock -w 600 9 || die "another incus-setup.sh run still holds $TEST_DIR/.setup.lock after 10 minutes"
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

DAEMON_NOTE=""
start_daemon() {
  if daemon_answers; then
    DAEMON_NOTE="was already running"
    return 0
  fi
  mkdir -p "$LOG_DIR" "$INCUS_DIR"
  chown "root:$DAEMON_GROUP" "$LOG_DIR"
  local -a extra=()
  [ "$DAEMON_DEBUG" = 1 ] && extra+=(--debug)
  note "starting incusd (log: $LOG_DIR/incus.log)"
  (
    # the daemon keeps only stdin/stdout/stderr: no lock (fd 9), and no pipe
    # some caller (a CI runner) may be waiting on for end-of-file
    for fd in "/proc/$BASHPID/fd"/*; do
      fd=${fd##*/}
      if [[ $fd =~ ^[0-9]+$ ]] && ((fd > 2)); then eval "exec $fd>&-" 2>/dev/null || true; fi
    done
    ulimit -n 1048576 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
    cd /
    # the packaged service runs incusd with /usr/libexec/incus first on PATH
    exec setsid env -i PATH="/usr/libexec/incus:$PATH" HOME=/root LANG=C.UTF-8 INCUS_DIR="$INCUS_DIR" \
      HTTPS_PROXY="$PROXY" HTTP_PROXY="$PROXY" https_proxy="$PROXY" http_proxy="$PROXY" \
      NO_PROXY="$NO_PROXY_LIST" no_proxy="$NO_PROXY_LIST" \
      "$INCUSD" --group "$DAEMON_GROUP" --logfile="$LOG_DIR/incus.log" "${extra[@]}" \
      </dev/null >>"$LOG_DIR/incusd.stdout" 2>&1
  ) &
  local pid=$! deadline=$((SECONDS + 90))
  until daemon_answers; do
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -n 20 "$LOG_DIR/incus.log" "$LOG_DIR/incusd.stdout" >&2 2>/dev/null || true
      die "incusd exited while starting (logs: $LOG_DIR/incus.log, $LOG_DIR/incusd.stdout)"
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      tail -n 20 "$LOG_DIR/incus.log" >&2 2>/dev/null || true
      die "incusd (pid $pid) did not answer on $SOCKET within 90 s"
    fi
    sleep 0.2
  done
  incus admin waitready --timeout=120 || die "incusd answered but did not become ready (log: $LOG_DIR/incus.log)"
  DAEMON_NOTE="started now"
}

stop_daemon() {
  if ! daemon_answers; then
    note "incusd is not running"
    return 0
  fi
  local pid
  pid=$(api GET /1.0 | jq -r '.environment.server_pid')
  note "shutting down incusd (pid $pid); running instances are stopped first"
  incus remote list >/dev/null 2>&1 || true
  timeout 300 incus admin shutdown --timeout=240 || die "incus admin shutdown failed; the daemon is pid $pid"
  local deadline=$((SECONDS + 30))
  while kill -0 "$pid" 2>/dev/null; do
    [ "$SECONDS" -lt "$deadline" ] || die "incusd (pid $pid) is still running 30 s after shutdown"
    sleep 0.2
  done
  rm -f "$TEST_DIR/incus.pid"
  note "incusd stopped"
}

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
  jq -e --arg p "$2" --arg k "features.$1" 'any(.[]; .name == $p and .config[$k] == "true")' \
    <<<"$PROJECTS_JSON" >/dev/null
}

reset_leftovers() {
  local base_fp=$1 client_fp=$2 p q name status pool
  note "reset: removing leftovers of earlier test runs"
  PROJECTS_JSON=$(api GET '/1.0/projects?recursion=1')
  local -a projects pools
  mapfile -t projects < <(jq -r '.[].name' <<<"$PROJECTS_JSON")
  mapfile -t pools < <(api GET '/1.0/storage-pools?recursion=1' | jq -r '.[].name')

  # pending trust tokens are running operations of class "token"
  while IFS= read -r p; do
    [ -n "$p" ] && attempt "cancel token operation $p" api DELETE "/1.0/operations/$(enc "$p")"
  done < <(api GET '/1.0/operations?recursion=1&all-projects=true' | jq -r '.running[]? | select(.class == "token") | .id')

  # instances, in every project
  while IFS=$'\t' read -r p name status; do
    [ -n "$name" ] && attempt "delete instance $name (project $p)" remove_instance "$p" "$name" "$status"
  done < <(api GET '/1.0/instances?all-projects=true&recursion=1' | jq -r '.[] | [.project, .name, .status] | @tsv')

  # profiles: empty every project's "default" (so nothing pins networks,
  # volumes or pools any more; the baseline comes back below), delete the rest
  for p in "${projects[@]}"; do
    project_has profiles "$p" || continue
    q="?project=$(enc "$p")"
    while IFS= read -r name; do
      if [ "$name" = default ]; then
        attempt "empty profile default (project $p)" api PUT "/1.0/profiles/default$q" \
          "$(jq -nc --arg d "$PROFILE_DESCRIPTION" '{config: {}, description: $d, devices: {}}')"
      else
        attempt "delete profile $name (project $p)" api DELETE "/1.0/profiles/$(enc "$name")$q"
      fi
    done < <(api GET "/1.0/profiles?recursion=1&project=$(enc "$p")" | jq -r '.[].name')
  done

  # images and aliases (the test image and its alias stay in the default project)
  for p in "${projects[@]}"; do
    project_has images "$p" || continue
    q="?project=$(enc "$p")"
    while IFS= read -r name; do
      [ "$p" = default ] && [ "$name" = "$IMAGE_ALIAS" ] && continue
      attempt "delete image alias $name (project $p)" api DELETE "/1.0/images/aliases/$(enc "$name")$q"
    done < <(api GET "/1.0/images/aliases?recursion=1&project=$(enc "$p")" | jq -r '.[].name')
    while IFS= read -r name; do
      [ "$p" = default ] && [ "$name" = "$base_fp" ] && continue
      attempt "delete image $name (project $p)" api DELETE "/1.0/images/$name$q"
    done < <(api GET "/1.0/images?recursion=1&project=$(enc "$p")" | jq -r '.[].fingerprint')
  done

  # custom volumes (the listing also shows snapshots as vol/snap: skip those,
  # they go with their volume) and storage buckets
  for p in "${projects[@]}"; do
    for pool in "${pools[@]}"; do
      if project_has storage.volumes "$p"; then
        while IFS= read -r name; do
          attempt "delete volume $pool/$name (project $p)" \
            api DELETE "/1.0/storage-pools/$(enc "$pool")/volumes/custom/$(enc "$name")?project=$(enc "$p")"
        done < <(api GET "/1.0/storage-pools/$(enc "$pool")/volumes/custom?recursion=1&project=$(enc "$p")" \
          | jq -r '.[].name | select(contains("/") | not)')
      fi
      if project_has storage.buckets "$p"; then
        while IFS= read -r name; do
          [ -n "$name" ] && attempt "delete bucket $pool/$name (project $p)" \
            api DELETE "/1.0/storage-pools/$(enc "$pool")/buckets/$(enc "$name")?project=$(enc "$p")"
        done < <(api GET "/1.0/storage-pools/$(enc "$pool")/buckets?recursion=1&project=$(enc "$p")" 2>/dev/null \
          | jq -r '.[]?.name' || true)
      fi
    done
  done

  # networks: baseline bridge back to its baseline first (it may point at
  # ACLs or zones), its forwards, then every other managed network, ACL and zone
  if api GET "/1.0/networks/$BRIDGE" 2>/dev/null | jq -e '.managed' >/dev/null 2>&1; then
    attempt "restore network $BRIDGE" api PUT "/1.0/networks/$BRIDGE" "$(baseline_network_json)"
    while IFS= read -r name; do
      [ -n "$name" ] && attempt "delete forward $name on $BRIDGE" \
        api DELETE "/1.0/networks/$BRIDGE/forwards/$(enc "$name")"
    done < <(api GET "/1.0/networks/$BRIDGE/forwards" 2>/dev/null | jq -r '.[]? | sub(".*/"; "")' || true)
  fi
  for p in "${projects[@]}"; do
    q="?project=$(enc "$p")"
    if project_has networks "$p"; then
      while IFS= read -r name; do
        [ "$p" = default ] && [ "$name" = "$BRIDGE" ] && continue
        attempt "delete network $name (project $p)" api DELETE "/1.0/networks/$(enc "$name")$q"
      done < <(api GET "/1.0/networks?recursion=1&project=$(enc "$p")" | jq -r '.[] | select(.managed) | .name')
      while IFS= read -r name; do
        [ -n "$name" ] && attempt "delete network ACL $name (project $p)" api DELETE "/1.0/network-acls/$(enc "$name")$q"
      done < <(api GET "/1.0/network-acls?recursion=1&project=$(enc "$p")" 2>/dev/null | jq -r '.[]?.name' || true)
    fi
    if project_has networks.zones "$p"; then
      while IFS= read -r name; do
        [ -n "$name" ] && attempt "delete network zone $name (project $p)" api DELETE "/1.0/network-zones/$(enc "$name")$q"
      done < <(api GET "/1.0/network-zones?recursion=1&project=$(enc "$p")" 2>/dev/null | jq -r '.[]?.name' || true)
    fi
  done

  # projects (a plain DELETE first; ?force=true removes whatever is still
  # inside, but in Incus 6.0 it also empties the default project's default
  # profile when features.profiles=false: the baseline PUT below repairs that)
  for p in "${projects[@]}"; do
    [ "$p" = default ] && continue
    api_ok DELETE "/1.0/projects/$(enc "$p")" \
      || attempt "delete project $p" api DELETE "/1.0/projects/$(enc "$p")?force=true"
  done
  for pool in "${pools[@]}"; do
    [ "$pool" = "$POOL" ] && continue
    attempt "delete storage pool $pool" api DELETE "/1.0/storage-pools/$(enc "$pool")"
  done

  # certificates: only the test client stays trusted, unrestricted
  while IFS= read -r p; do
    [ "$p" = "$client_fp" ] && continue
    attempt "remove trusted certificate $p" api DELETE "/1.0/certificates/$p"
  done < <(api GET '/1.0/certificates?recursion=1' | jq -r '.[] | select(.type != "server") | .fingerprint')
  if api GET "/1.0/certificates/$client_fp" 2>/dev/null | jq -e '.restricted' >/dev/null; then
    attempt "lift the project restriction of the client certificate" \
      api PATCH "/1.0/certificates/$client_fp" '{"restricted":false,"projects":[]}'
  fi

  # server and default-project config keys that tests may have added
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
}

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
# reset also PUTs the exact baseline, because a preseed merges instead)
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
    incus admin init --preseed <<PRESEED || die "incus admin init --preseed failed (see $LOG_DIR/incus.log)"
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

configure_server() {
  local cfg patch
  cfg=$(api GET /1.0 | jq -c '.config')
  patch=$(jq -c --arg addr "$HTTPS_ADDRESS" '
      (if .["core.https_address"] == $addr then {} else {"core.https_address": $addr} end)
    + (if .["images.auto_update_interval"] == "0" then {} else {"images.auto_update_interval": "0"} end)' <<<"$cfg")
  [ "$patch" = '{}' ] && return 0
  api PATCH /1.0 "$(jq -c '{config: .}' <<<"$patch")" >/dev/null \
    || die "could not configure the server (is $HTTPS_ADDRESS already used by another program?)"
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
    [ "$got" = "$fp" ] || die "Incus computed fingerprint '$got' for $file, expected $fp"
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
  incus launch -q "local:$IMAGE_ALIAS" "local:$name" >/dev/null \
    || die "could not launch a container from '$IMAGE_ALIAS' (see $LOG_DIR/incus.log and $LOG_DIR/$name/lxc.log)"
  out=$(incus exec "local:$name" -- /bin/echo "smoke $$") || die "incus exec in $name failed"
  [ "$out" = "smoke $$" ] || die "incus exec in $name printed '$out' instead of 'smoke $$'"
  incus delete --force "local:$name" >/dev/null || die "could not delete the smoke-test container $name"
  SMOKE_INSTANCE=""
  note "smoke test passed (launch, exec, delete)"
}

write_env_file() {
  local tmp=$ENV_FILE.new
  {
    echo "# Written by scripts/incus-setup.sh on $(date -u +%Y-%m-%dT%H:%M:%SZ). Load with: set -a; . $ENV_FILE; set +a"
    printf '%s\n' "$@"
  } >"$tmp"
  # every value must be usable unquoted by the shell and by simple dotenv readers
  if grep -v '^#' "$tmp" | grep -qvE '^[A-Z_]+=[A-Za-z0-9_./:@+-]*$'; then
    die "refusing to write $ENV_FILE: a value contains unexpected characters"
  fi
  chmod 600 "$tmp"
  mv -f "$tmp" "$ENV_FILE"
}

# ------------------------------------------------------------------ main
main() {
  local mode=setup
  case "${1:-}" in
    "") ;;
    --reset) mode=reset ;;
    --stop) mode=stop ;;
    -h | --help) sed -n '2,/^$/s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; return 0 ;;
    *) die "unknown argument '$1' (expected --reset, --stop or nothing)" ;;
  esac
  [ $# -le 1 ] || die "expected at most one argument"
  preflight
  if [ "$mode" = stop ]; then
    if command -v incus >/dev/null 2>&1; then stop_daemon; else note "incus is not installed"; fi
    return 0
  fi

  mkdir -p "$TEST_DIR" "$IMAGE_DIR"
  chmod 700 "$TEST_DIR"
  take_lock
  install_packages

  bash "$SCRIPT_DIR/lib/busybox-image.sh" "$IMAGE_DIR" || die "building the busybox image failed"
  local image_fp split_fp split_tar_fp
  image_fp=$(sha256sum "$IMAGE_DIR/busybox.tar.gz" | cut -c1-64)
  # the fingerprint of a split image is the sha256 of metadata then rootfs
  split_fp=$(cat "$IMAGE_DIR/busybox-meta.tar.gz" "$IMAGE_DIR/busybox-rootfs.squashfs" | sha256sum | cut -c1-64)
  split_tar_fp=$(cat "$IMAGE_DIR/busybox-meta.tar.gz" "$IMAGE_DIR/busybox-rootfs.tar.gz" | sha256sum | cut -c1-64)

  make_cert "$CLIENT_CERT" "$CLIENT_KEY" "$CLIENT_CN"
  make_cert "$UNTRUSTED_CERT" "$UNTRUSTED_KEY" "$UNTRUSTED_CN"
  local client_fp untrusted_fp
  client_fp=$(cert_fingerprint "$CLIENT_CERT")
  untrusted_fp=$(cert_fingerprint "$UNTRUSTED_CERT")

  # the first incus command on a machine prints a welcome text; get it out of the way
  incus remote list >/dev/null 2>&1 || true
  start_daemon
  local info pid version
  info=$(api GET /1.0) || die "GET /1.0 over $SOCKET failed"
  pid=$(jq -r '.environment.server_pid' <<<"$info")
  version=$(jq -r '.environment.server_version' <<<"$info")
  echo "$pid" >"$TEST_DIR/incus.pid"
  note "incus $version, pid $pid, $DAEMON_NOTE"

  local reset=no
  if [ "$mode" = reset ]; then
    reset=yes
    reset_leftovers "$image_fp" "$client_fp"
  fi
  ensure_baseline "$reset"
  configure_server
  trust_client "$client_fp"
  check_https "$reset" "$untrusted_fp"
  import_image "$image_fp"
  if [ "$RUN_SMOKE" != 0 ]; then smoke_test; else note "smoke test skipped (INCUS_SETUP_SMOKE=0)"; fi

  write_env_file \
    INCUS_SOCKET="$SOCKET" \
    INCUS_HTTPS_URL="https://$HTTPS_ADDRESS" \
    INCUS_SERVER_CERT="$SERVER_CERT" \
    INCUS_CLIENT_CERT="$CLIENT_CERT" \
    INCUS_CLIENT_KEY="$CLIENT_KEY" \
    INCUS_CLIENT_FINGERPRINT="$client_fp" \
    INCUS_UNTRUSTED_CERT="$UNTRUSTED_CERT" \
    INCUS_UNTRUSTED_KEY="$UNTRUSTED_KEY" \
    INCUS_UNTRUSTED_FINGERPRINT="$untrusted_fp" \
    INCUS_TEST_IMAGE_ALIAS="$IMAGE_ALIAS" \
    INCUS_TEST_IMAGE_FINGERPRINT="$image_fp" \
    INCUS_TEST_IMAGE_UNIFIED="$IMAGE_DIR/busybox.tar.gz" \
    INCUS_TEST_IMAGE_SPLIT_METADATA="$IMAGE_DIR/busybox-meta.tar.gz" \
    INCUS_TEST_IMAGE_SPLIT_ROOTFS="$IMAGE_DIR/busybox-rootfs.squashfs" \
    INCUS_TEST_IMAGE_SPLIT_ROOTFS_TAR="$IMAGE_DIR/busybox-rootfs.tar.gz" \
    INCUS_TEST_IMAGE_SPLIT_FINGERPRINT="$split_fp" \
    INCUS_TEST_IMAGE_SPLIT_TAR_FINGERPRINT="$split_tar_fp" \
    INCUS_STORAGE_POOL="$POOL" \
    INCUS_NETWORK="$BRIDGE" \
    INCUS_PID="$pid" \
    INCUS_SERVER_VERSION="$version"

  if [ "$RESET_PROBLEMS" -gt 0 ]; then
    die "reset finished with $RESET_PROBLEMS item(s) that could not be removed (see the warnings above)"
  fi
  note "ready after $(took): unix $SOCKET, https://$HTTPS_ADDRESS, env file $ENV_FILE"
}

main "$@"
