#!/usr/bin/env bash
# scripts/demo.sh: run the demo program (README: `bash scripts/demo.sh`).
#
# Makes sure pnpm and the dependencies are there, starts and configures LXD
# with scripts/lxd-setup.sh when no daemon answers on its unix socket (it
# never resets anything), loads /var/lib/lxd-test/lxd-test.env and runs
# examples/demo.ts. Arguments are passed on to the demo.

set -Eeuo pipefail
exec </dev/null

TAG=demo
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ENV_FILE=/var/lib/lxd-test/lxd-test.env
die() { printf '%s: ERROR: %s\n' "$TAG" "$*" >&2; exit 1; }

bash "$ROOT/scripts/ensure-pnpm.sh" >/dev/null || die "scripts/ensure-pnpm.sh failed"

socket=${LXD_SOCKET:-/var/lib/lxd/unix.socket}
if ! curl -sf --max-time 5 --unix-socket "$socket" http://lxd/1.0 >/dev/null 2>&1 || [ ! -r "$ENV_FILE" ]; then
  [ "$(id -u)" -eq 0 ] || die "no LXD daemon answers on $socket (or $ENV_FILE is missing), and only root can set one up"
  echo "$TAG: preparing LXD with scripts/lxd-setup.sh"
  bash "$ROOT/scripts/lxd-setup.sh" || die "scripts/lxd-setup.sh failed"
fi

user_socket=${LXD_SOCKET-}
set -a
# shellcheck disable=SC1090
. "$ENV_FILE"
set +a
# a socket the caller chose explicitly (and that answered) wins over the env file
[ -z "$user_socket" ] || export LXD_SOCKET="$user_socket"

cd "$ROOT"
[ -f examples/demo.ts ] || die "examples/demo.ts does not exist (yet)"
exec pnpm exec tsx --conditions=effect-lxd-source examples/demo.ts "$@"
