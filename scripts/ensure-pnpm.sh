#!/usr/bin/env bash
# scripts/ensure-pnpm.sh: make the pinned pnpm available and install the
# workspace's dependencies exactly as locked.
#
# The version comes from the root package.json ("packageManager": "pnpm@X").
# corepack cannot be used on this machine (its signature check fails), so a
# different or missing pnpm is replaced with `npm install -g pnpm@X`, which
# only talks to the npm registry. Then `pnpm install --frozen-lockfile` runs
# in the repository root, found from this script's own location.

set -Eeuo pipefail
exec </dev/null

TAG=ensure-pnpm
die() { printf '%s: ERROR: %s\n' "$TAG" "$*" >&2; exit 1; }
note() { printf '%s: %s\n' "$TAG" "$*"; }
trap 'printf "%s: ERROR: line %s: \`%s\` failed with status %s\n" "$TAG" "$LINENO" "$BASH_COMMAND" "$?" >&2' ERR

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
[ -f "$ROOT/package.json" ] || die "no package.json in $ROOT"
command -v node >/dev/null 2>&1 || die "node is not installed (Node 20 or newer is required)"
command -v npm >/dev/null 2>&1 || die "npm is not installed"

# read the pinned version from package.json; fall back to the known pin
WANT=$(node -e 'const m = /^pnpm@([0-9][^+]*)/.exec(require(process.argv[1]).packageManager || ""); process.stdout.write(m ? m[1] : "")' \
  "$ROOT/package.json")
WANT=${WANT:-10.34.9}

# never let a corepack shim prompt for (or fetch) another pnpm
export COREPACK_ENABLE_DOWNLOAD_PROMPT=0 COREPACK_ENABLE_STRICT=0
have=$(pnpm --version 2>/dev/null || true)
if [ "$have" != "$WANT" ]; then
  note "pnpm ${have:-(none)} found, installing pnpm@$WANT with npm"
  if ! npm install -g --no-fund --no-audit "pnpm@$WANT" >/dev/null 2>"${TMPDIR:-/tmp}/ensure-pnpm.$$.log"; then
    # a leftover pnpm shim (for example from corepack) blocks npm's link step
    npm install -g --no-fund --no-audit --force "pnpm@$WANT" >/dev/null 2>>"${TMPDIR:-/tmp}/ensure-pnpm.$$.log" \
      || { tail -n 20 "${TMPDIR:-/tmp}/ensure-pnpm.$$.log" >&2; die "npm install -g pnpm@$WANT failed"; }
  fi
  rm -f "${TMPDIR:-/tmp}/ensure-pnpm.$$.log"
  hash -r
  have=$(pnpm --version 2>/dev/null || true)
  [ "$have" = "$WANT" ] || die "pnpm --version says '${have:-nothing}' after installing pnpm@$WANT (check PATH: $(command -v pnpm || echo 'no pnpm'))"
fi
note "pnpm $have"

cd "$ROOT"
CI=${CI:-true} pnpm install --frozen-lockfile --reporter=append-only \
  || die "pnpm install --frozen-lockfile failed in $ROOT (is pnpm-lock.yaml up to date with package.json?)"
