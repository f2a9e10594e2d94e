#!/usr/bin/env bash
# scripts/lxd-setup.sh: prepare the LXD 5.0 daemon that effect-lxd's
# integration tests run against (Debian 12 packages, no systemd needed).
#
#   bash scripts/lxd-setup.sh          install, start and configure; safe to repeat
#   bash scripts/lxd-setup.sh --reset  the same, after removing everything earlier
#                                      test runs may have left in the daemon
#   bash scripts/lxd-setup.sh --stop   shut the daemon down (`lxd shutdown`)
#
# What a run guarantees when it exits with status 0:
#   * packages: lxd, lxd-client and the tools the tests use are installed
#   * daemon:   /usr/bin/lxd is answering on /var/lib/lxd/unix.socket (started
#               here in its own session if it was not running)
#   * storage:  "dir" pool "default"; network: bridge "lxdbr0" without any
#               address (no DHCP, no NAT, no uplink); profile "default" = root
#               disk on "default" + eth0 on lxdbr0
#   * server:   HTTPS on 127.0.0.1:8443 only, core.trust_password set,
#               images.auto_update_interval=0
#   * certs:    a trusted client certificate and an untrusted one (never added)
#   * image:    the busybox test image, imported with alias "busybox"; the same
#               image also as files (unified, split squashfs, split tarball)
#   * env file: /var/lib/lxd-test/lxd-test.env describing all of the above
#
# --reset also deletes: instances (every project), images other than the test
# image, aliases other than "busybox", custom volumes, profiles other than
# "default", managed networks other than lxdbr0 (and network ACLs/zones),
# projects other than "default", pools other than "default", trusted
# certificates other than the test client, pending trust tokens, and server or
# default-project config keys this script does not own. Then it puts the
# default profile and lxdbr0 back exactly as described above.
#
# Environment knobs:
#   LXD_TEST_DIR        certificates, image files, env file  (/var/lib/lxd-test)
#   LXD_HTTPS_ADDRESS   must be 127.0.0.1:<port>            (127.0.0.1:8443)
#   LXD_TRUST_PASSWORD  value for core.trust_password       (lxd-test-password)
#   LXD_SETUP_SMOKE=0   skip the launch/exec/delete smoke test
#   LXD_SETUP_DEBUG=1   start the daemon with --debug
#
# Network rules this script keeps: it never uses `lxd init --auto` or "auto"
# bridge addresses (LXD would probe random private subnets to pick one); the
# daemon runs with HTTP(S)_PROXY pointing at a closed loopback port, so its
# built-in downloads (the instance-type list) fail locally instead of leaving
# the machine; the HTTPS listener binds 127.0.0.1 only. The only internet
# access is apt-get talking to the configured Debian mirror.

# Everything both daemons need the same way (output helpers, REST client,
# daemon start/stop, reset steps, baseline, certificates, image, env file)
# is in scripts/lib/daemon-common.sh; this file holds the LXD settings and
# what only LXD does (packages, trust password).

set -Eeuo pipefail
shopt -s inherit_errexit

TAG=lxd-setup
SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib/daemon-common.sh
. "$SCRIPT_DIR/lib/daemon-common.sh"

export LXD_DIR=/var/lib/lxd
unset LXD_SOCKET LXD_PROJECT LXD_REMOTE || true

# ------------------------------------------------------------------ settings
PRODUCT=LXD
ENV_PREFIX=LXD
CLI=lxc
ADMIN=(lxd)
API_HOST=lxd
DAEMON_NAME=lxd
DAEMON_DIR=$LXD_DIR
SOCKET=$LXD_DIR/unix.socket
SERVER_CERT=$LXD_DIR/server.crt
LOG_DIR=/var/log/lxd
DAEMON_LOG=$LOG_DIR/lxd.log
DAEMON_STDOUT=$LOG_DIR/lxd.stdout
DAEMON_ENV=(PATH="$PATH" HOME=/root LANG=C.UTF-8 LXD_DIR="$LXD_DIR")
DAEMON_CMD=(/usr/bin/lxd --group lxd)
TEST_DIR=${LXD_TEST_DIR:-/var/lib/lxd-test}
IMAGE_DIR=$TEST_DIR/images
ENV_FILE=$TEST_DIR/lxd-test.env
PID_FILE=$TEST_DIR/lxd.pid
HTTPS_ADDRESS=${LXD_HTTPS_ADDRESS:-127.0.0.1:8443}
TRUST_PASSWORD=${LXD_TRUST_PASSWORD:-lxd-test-password}
# the env file also carries the password, after the certificate entries
ENV_EXTRA=(LXD_TRUST_PASSWORD="$TRUST_PASSWORD")
RUN_SMOKE=${LXD_SETUP_SMOKE:-1}
DAEMON_DEBUG=${LXD_SETUP_DEBUG:-0}
BRIDGE=lxdbr0
PROFILE_DESCRIPTION="Default LXD profile"
CLIENT_CN=lxd-test-client
UNTRUSTED_CN=lxd-test-untrusted
CLIENT_CERT=$TEST_DIR/client.crt
CLIENT_KEY=$TEST_DIR/client.key
UNTRUSTED_CERT=$TEST_DIR/untrusted.crt
UNTRUSTED_KEY=$TEST_DIR/untrusted.key
# Debian packages; nftables has to be there before the daemon first starts,
# or LXD falls back to iptables (absent) and cannot create any bridge.
PACKAGES=(lxd lxd-client nftables dnsmasq-base busybox-static squashfs-tools uidmap
  jq curl openssl ca-certificates)
# server config keys this script owns (--reset unsets every other key)
OWNED_SERVER_KEYS='["core.https_address","core.trust_password","images.auto_update_interval"]'

# ------------------------------------------------------------------ steps
preflight_extra() {
  [[ $TRUST_PASSWORD =~ ^[A-Za-z0-9._+:@-]+$ ]] \
    || die "LXD_TRUST_PASSWORD may only contain letters, digits and . _ + : @ - (it goes into a shell env file)"
}

install_packages() {
  local -a missing=()
  local p log=$TEST_DIR/apt.log
  for p in "${PACKAGES[@]}"; do pkg_installed "$p" || missing+=("$p"); done
  if [ ${#missing[@]} -eq 0 ]; then
    note "packages: all installed"
  else
    note "packages: installing ${missing[*]} (log: $log)"
    # the lxd preinst reads these two files line by line and aborts if they are missing
    touch /etc/subuid /etc/subgid
    : >"$log"
    apt_update "$log"
    apt_install "$log" "${missing[@]}"
    note "packages: installed after $(took)"
  fi
  require_tools lxd lxc nft dnsmasq mksquashfs jq curl openssl flock
  ensure_root_subids
}

reset_leftovers() {
  local base_fp=$1 client_fp=$2 p kind
  reset_scan
  reset_tokens '/1.0/operations?recursion=1'
  reset_instances
  reset_profiles
  reset_images "$base_fp"
  reset_volumes
  # networks: the bridge and its forwards, then every other managed network,
  # zone and ACL
  reset_bridge
  for p in "${RESET_PROJECTS[@]}"; do
    project_has networks "$p" || continue
    reset_networks_of "$p"
    for kind in network-zones network-acls; do
      reset_named_of "$kind" "$p" "$kind/"
    done
  done
  # projects, then pools
  for p in "${RESET_PROJECTS[@]}"; do
    [ "$p" = default ] && continue
    attempt "delete project $p" api DELETE "/1.0/projects/$(enc "$p")"
  done
  reset_pools
  reset_certificates "$client_fp"
  reset_config
}

configure_server() {
  local cfg patch
  cfg=$(api GET /1.0 | jq -c '.config')
  patch=$(jq -c --arg addr "$HTTPS_ADDRESS" --arg pw "$TRUST_PASSWORD" '
      (if .["core.https_address"] == $addr then {} else {"core.https_address": $addr} end)
    + (if .["images.auto_update_interval"] == "0" then {} else {"images.auto_update_interval": "0"} end)
    + {"core.trust_password": $pw}' <<<"$cfg")
  api PATCH /1.0 "$(jq -c '{config: .}' <<<"$patch")" >/dev/null \
    || die "could not configure the server (is $HTTPS_ADDRESS already used by another program?)"
}

# ------------------------------------------------------------------ main
main() {
  parse_args "$@"
  preflight
  if [ "$MODE" = stop ]; then
    stop_daemon
    return 0
  fi

  prepare_test_dir
  install_packages
  prepare_image
  prepare_certs

  start_daemon
  # the first lxc command on a machine prints a welcome text; get it out of the way
  quiet_welcome
  read_daemon_info

  converge
  write_test_env_file
  finish
}

main "$@"
