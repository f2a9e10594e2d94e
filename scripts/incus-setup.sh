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

# Everything both daemons need the same way (output helpers, REST client,
# daemon start/stop, reset steps, baseline, certificates, image, env file)
# is in scripts/lib/daemon-common.sh; this file holds the Incus settings and
# what only Incus does (packages from backports, buckets, zones, projects).

set -Eeuo pipefail
shopt -s inherit_errexit

TAG=incus-setup
SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib/daemon-common.sh
. "$SCRIPT_DIR/lib/daemon-common.sh"

export INCUS_DIR=/var/lib/incus
unset INCUS_SOCKET INCUS_PROJECT INCUS_REMOTE || true

# ------------------------------------------------------------------ settings
PRODUCT=Incus
ENV_PREFIX=INCUS
CLI=incus
ADMIN=(incus admin)
API_HOST=incus
DAEMON_NAME=incusd
INCUSD=/usr/libexec/incus/incusd
DAEMON_GROUP=incus-admin
DAEMON_DIR=$INCUS_DIR
SOCKET=$INCUS_DIR/unix.socket
SERVER_CERT=$INCUS_DIR/server.crt
LOG_DIR=/var/log/incus
LOG_GROUP=$DAEMON_GROUP
DAEMON_LOG=$LOG_DIR/incus.log
DAEMON_STDOUT=$LOG_DIR/incusd.stdout
# the packaged service runs incusd with /usr/libexec/incus first on PATH
DAEMON_ENV=(PATH="/usr/libexec/incus:$PATH" HOME=/root LANG=C.UTF-8 INCUS_DIR="$INCUS_DIR")
DAEMON_CMD=("$INCUSD" --group "$DAEMON_GROUP")
TEST_DIR=${INCUS_TEST_DIR:-/var/lib/incus-test}
IMAGE_DIR=$TEST_DIR/images
ENV_FILE=$TEST_DIR/incus-test.env
PID_FILE=$TEST_DIR/incus.pid
HTTPS_ADDRESS=${INCUS_HTTPS_ADDRESS:-127.0.0.1:8543}
RUN_SMOKE=${INCUS_SETUP_SMOKE:-1}
DAEMON_DEBUG=${INCUS_SETUP_DEBUG:-0}
BRIDGE=incusbr0
PROFILE_DESCRIPTION="Default Incus profile"
CLIENT_CN=incus-test-client
UNTRUSTED_CN=incus-test-untrusted
CLIENT_CERT=$TEST_DIR/client.crt
CLIENT_KEY=$TEST_DIR/client.key
UNTRUSTED_CERT=$TEST_DIR/untrusted.crt
UNTRUSTED_KEY=$TEST_DIR/untrusted.key
RESET_BUCKETS=yes
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

# ------------------------------------------------------------------ steps
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
    apt_update "$log"
    if [ ${#base_missing[@]} -gt 0 ]; then
      note "packages: installing ${base_missing[*]}"
      apt_install "$log" "${base_missing[@]}"
    fi
    if [ ${#incus_missing[@]} -gt 0 ]; then
      note "packages: installing ${incus_missing[*]} from $BACKPORTS"
      apt_install "$log" -t "$BACKPORTS" "${incus_missing[@]}"
    fi
    note "packages: installed after $(took)"
  fi
  require_tools incus nft dnsmasq mksquashfs jq curl openssl flock
  [ -x "$INCUSD" ] || die "$INCUSD is missing (package incus-base)"
  # the package creates its groups with systemd-sysusers; make sure they exist
  for p in incus-admin incus; do
    getent group "$p" >/dev/null || { groupadd --system "$p"; note "created group $p"; }
  done
  ensure_root_subids
}

# `incus admin shutdown` is a client command: keep the welcome text out of it
before_shutdown() { quiet_welcome; }

reset_leftovers() {
  local base_fp=$1 client_fp=$2 p
  reset_scan
  reset_tokens '/1.0/operations?recursion=1&all-projects=true'
  reset_instances
  reset_profiles
  reset_images "$base_fp"
  reset_volumes
  # networks: the bridge and its forwards, then every other managed network
  # and ACL, and the zones (a project feature of their own in Incus)
  reset_bridge
  for p in "${RESET_PROJECTS[@]}"; do
    if project_has networks "$p"; then
      reset_networks_of "$p"
      reset_named_of network-acls "$p" "network ACL "
    fi
    if project_has networks.zones "$p"; then
      reset_named_of network-zones "$p" "network zone "
    fi
  done
  # projects (a plain DELETE first; ?force=true removes whatever is still
  # inside, but in Incus 6.0 it also empties the default project's default
  # profile when features.profiles=false: the baseline PUT later repairs that)
  for p in "${RESET_PROJECTS[@]}"; do
    [ "$p" = default ] && continue
    api_ok DELETE "/1.0/projects/$(enc "$p")" \
      || attempt "delete project $p" api DELETE "/1.0/projects/$(enc "$p")?force=true"
  done
  reset_pools
  reset_certificates "$client_fp"
  reset_config
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

# ------------------------------------------------------------------ main
main() {
  parse_args "$@"
  preflight
  if [ "$MODE" = stop ]; then
    if command -v incus >/dev/null 2>&1; then stop_daemon; else note "incus is not installed"; fi
    return 0
  fi

  prepare_test_dir
  install_packages
  prepare_image
  prepare_certs

  # the first incus command on a machine prints a welcome text; get it out of the way
  quiet_welcome
  start_daemon
  read_daemon_info

  converge
  write_test_env_file
  finish
}

main "$@"
