#!/usr/bin/env bash
# scripts/test.sh: the project's full test run (README: `bash scripts/test.sh`).
#
# Run as root. On a fresh Debian 12 machine it does all the set-up itself:
#   1. pnpm (pinned) and the workspace dependencies      scripts/ensure-pnpm.sh
#   2. LXD 5.0, reset to a clean baseline                 scripts/lxd-setup.sh --reset
#   3. Incus 6.0 next to it, reset the same way           scripts/incus-setup.sh --reset
#   4. both env files exported, LXD_INTEGRATION=required  (integration tests must not skip)
#   5. pnpm run check (type-check), then pnpm exec vitest run [extra args]
#   5b. the contract suite (test/integration: instances, snapshots, operations, exec,
#      files, events, profiles, projects, trust, errors) once more, against the
#      in-process fakes of effect-lxd/testing (EFFECT_LXD_SERVERS=fake: lxd-5.0, lxd-6,
#      incus-6.0); step 5 ran the same files against the real servers
#   6. pnpm docgen: the API reference in packages/lxd/docs, every @example compiled
#   7. scripts/pack-check.sh: build, pack, install the tarball with npm in a fresh
#      project, type-check the README blocks and examples against it, run the demo
#
# Extra arguments go to vitest, e.g. `bash scripts/test.sh --project unit`.
# Exits non-zero as soon as a step fails.

set -Eeuo pipefail
exec </dev/null

TAG="test"
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
die() { printf '%s: ERROR: %s\n' "$TAG" "$*" >&2; exit 1; }
step() { printf '\n%s: ==> %s\n' "$TAG" "$*"; }

[ "$(id -u)" -eq 0 ] || die "run as root: the set-up installs packages and starts the LXD and Incus daemons"

step "pnpm and dependencies"
bash "$ROOT/scripts/ensure-pnpm.sh" || die "scripts/ensure-pnpm.sh failed"

step "LXD daemon (reset)"
bash "$ROOT/scripts/lxd-setup.sh" --reset || die "scripts/lxd-setup.sh --reset failed"

step "Incus daemon (reset)"
bash "$ROOT/scripts/incus-setup.sh" --reset || die "scripts/incus-setup.sh --reset failed"

for env_file in /var/lib/lxd-test/lxd-test.env /var/lib/incus-test/incus-test.env; do
  [ -r "$env_file" ] || die "$env_file is missing after the set-up"
  set -a
  # shellcheck disable=SC1090
  . "$env_file"
  set +a
done
export LXD_INTEGRATION=required INCUS_INTEGRATION=required

cd "$ROOT"
step "type-check (pnpm run check)"
pnpm run check || die "type-check failed"

step "tests (pnpm exec vitest run $*)"
pnpm exec vitest run "$@" || die "vitest reported failures"

CONTRACT=(instances snapshots operations exec files events profiles projects trust errors)
CONTRACT_FILES=()
for f in "${CONTRACT[@]}"; do CONTRACT_FILES+=("test/integration/$f.test.ts"); done
step "contract suite against the in-process fakes (EFFECT_LXD_SERVERS=fake: ${CONTRACT[*]})"
EFFECT_LXD_SERVERS=fake pnpm exec vitest run --project integration "${CONTRACT_FILES[@]}" \
  || die "the contract suite failed against the fake (effect-lxd/testing)"

step "API reference from the JSDoc, every @example type-checked (pnpm docgen)"
pnpm docgen || die "docgen failed (an @example that does not compile, or a missing @since)"

step "the packed package, as a user installs it (scripts/pack-check.sh)"
bash "$ROOT/scripts/pack-check.sh" || die "scripts/pack-check.sh failed"
