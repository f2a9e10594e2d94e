#!/usr/bin/env bash
# scripts/pack-check.sh: use effect-lxd the way someone who installs it from npm does.
#
#   1. build and pack packages/lxd with pnpm (prepack builds), pack the same build with
#      npm too, and check both tarballs hold the same files and the same package.json;
#   2. check the tarball: README, LICENSE, CHANGELOG, the build, and public declarations
#      that import no package a consumer lacks the types of;
#   3. make a fresh project under /tmp (outside the workspace) and install the tarball
#      with plain npm, with the peers named exactly as the README's install line names
#      them; import it, require it (a clear error), read effect-lxd/package.json;
#   4. install it the same way with pnpm in another fresh project and import it;
#   5. extract every ```ts block of README.md and packages/lxd/README.md
#      (scripts/readme-snippets.mjs; the convention is in CONTRIBUTING.md) and copy
#      examples/*.ts, then type-check them all against the installed package with
#      strict, exactOptionalPropertyTypes and skipLibCheck: false;
#   6. run the compiled demo (examples/demo.ts) from that project against the real LXD.
#      When LXD_SOCKET is unset, /var/lib/lxd-test/lxd-test.env is loaded (as
#      scripts/demo.sh does). PACK_CHECK_SKIP_DEMO=1 stops after step 5.
#
# Nothing outside the temporary directories is changed (apart from packages/lxd/build).
# PACK_CHECK_KEEP=1 keeps them for a look afterwards. Needs node, npm, pnpm (see
# scripts/ensure-pnpm.sh) and the npm registry.

set -Eeuo pipefail
exec </dev/null

TAG=pack-check
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PKG="$ROOT/packages/lxd"
ENV_FILE=/var/lib/lxd-test/lxd-test.env
die() { printf '%s: ERROR: %s\n' "$TAG" "$*" >&2; exit 1; }
step() { printf '\n%s: ==> %s\n' "$TAG" "$*"; }
note() { printf '%s: %s\n' "$TAG" "$*"; }
trap 'printf "%s: ERROR: line %s: \`%s\` failed with status %s\n" "$TAG" "$LINENO" "$BASH_COMMAND" "$?" >&2' ERR

started=$(date +%s)
WORK=$(mktemp -d /tmp/effect-lxd-pack-check.XXXXXX)
cleanup() {
  if [ -n "${PACK_CHECK_KEEP:-}" ]; then note "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
# quiet npm: no funding notes, audit or update checks
export npm_config_fund=false npm_config_audit=false npm_config_update_notifier=false

# versions the consumer project uses: the workspace's own TypeScript and Node types
ts_version=$(node -p 'require(process.argv[1]).devDependencies.typescript' "$ROOT/package.json")
node_types=$(node -p 'require(process.argv[1]).devDependencies["@types/node"]' "$ROOT/package.json")
version=$(node -p 'require(process.argv[1]).version' "$PKG/package.json")

step "build and pack with pnpm (prepack runs the build)"
(cd "$PKG" && pnpm pack --pack-destination "$WORK/pnpm" >"$WORK/pnpm-pack.log" 2>&1) \
  || { cat "$WORK/pnpm-pack.log" >&2; die "pnpm pack failed"; }
TARBALL="$WORK/pnpm/effect-lxd-$version.tgz"
[ -f "$TARBALL" ] || die "pnpm pack made no $TARBALL"
note "$(basename "$TARBALL"): $(stat -c %s "$TARBALL") bytes, $(tar tzf "$TARBALL" | wc -l) files"

step "pack the same build with npm"
mkdir -p "$WORK/npm"
(cd "$PKG" && npm pack --ignore-scripts --pack-destination "$WORK/npm" >"$WORK/npm-pack.log" 2>&1) \
  || { cat "$WORK/npm-pack.log" >&2; die "npm pack failed"; }
NPM_TARBALL="$WORK/npm/effect-lxd-$version.tgz"
diff <(tar tzf "$TARBALL" | sort) <(tar tzf "$NPM_TARBALL" | sort) \
  || die "npm pack and pnpm pack put different files in the tarball (above)"
# the manifests, keys sorted and without "scripts" (pnpm drops the lifecycle scripts it ran)
manifest() {
  tar xzOf "$1" package/package.json | node -e '
    const sort = (v) => Array.isArray(v) ? v.map(sort) : v !== null && typeof v === "object"
      ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, sort(v[k])])) : v
    const pkg = JSON.parse(require("fs").readFileSync(0, "utf8"))
    delete pkg.scripts
    process.stdout.write(JSON.stringify(sort(pkg), null, 2) + "\n")'
}
diff <(manifest "$TARBALL") <(manifest "$NPM_TARBALL") \
  || die "npm pack and pnpm pack ship different package.json files (above)"
note "same files and package.json"

step "what the tarball holds"
listing=$(tar tzf "$TARBALL")
for f in package/package.json package/README.md package/LICENSE package/CHANGELOG.md \
  package/require.cjs package/build/esm/index.js package/build/dts/index.d.ts; do
  grep -qx "$f" <<<"$listing" || die "the tarball has no $f"
done
if grep -E '^package/(test|build/esm/internal/.*\.test)|\.test\.(ts|js)$|tsbuildinfo$' <<<"$listing"; then
  die "the tarball holds test or build-state files (above)"
fi
mkdir -p "$WORK/unpacked" && tar xzf "$TARBALL" -C "$WORK/unpacked"
# the public declarations may import only the peers, node's modules and themselves:
# any other package's types would have to be installed by every consumer
# (declarations only: not the examples in doc comments, where `backups.import("x")` is a call)
foreign=$(grep -rhE '(from|import\() ?"[^".][^"]*"' "$WORK/unpacked/package/build/dts" --include='*.d.ts' \
  | grep -vE '^[[:space:]]*(\*|/\*|//)' \
  | grep -oE '(^|[^.[:alnum:]_])(from|import\() ?"[^".][^"]*"' \
  | sed -E 's/^[^fi]*(from|import\() ?"//; s/"$//' \
  | grep -vE '^(effect|@effect/platform|@effect/platform-node|effect-lxd)(/|$)|^node:' | sort -u || true)
if [ -n "$foreign" ]; then
  grep -rnE "(from|import\() ?\"($(paste -sd'|' <<<"$foreign"))\"" "$WORK/unpacked/package/build/dts" --include='*.d.ts' >&2 || true
  die "the declarations import packages a consumer has no types for: $(paste -sd' ' <<<"$foreign")"
fi
note "declarations import only effect, @effect/platform, @effect/platform-node and node:*"

# the install line, as the README gives it: `npm i effect-lxd <peers>`
peers=$(sed -nE 's/^npm i effect-lxd (.+)$/\1/p' "$ROOT/README.md" | head -n 1)
[ -n "$peers" ] || die "README.md has no line 'npm i effect-lxd ...'"
grep -qxF "npm i effect-lxd $peers" "$PKG/README.md" || die "packages/lxd/README.md does not give the install line of README.md (npm i effect-lxd $peers)"
grep -qxF "pnpm add effect-lxd $peers" "$ROOT/README.md" || die "README.md has no 'pnpm add effect-lxd $peers'"

step "fresh npm project: npm i <tarball> $peers"
APP="$WORK/app"
mkdir -p "$APP" && cd "$APP"
npm init -y >/dev/null
npm pkg set type=module >/dev/null
npm pkg set private=true --json >/dev/null
# shellcheck disable=SC2086
npm i "$TARBALL" $peers >"$WORK/npm-install.log" 2>&1 || { cat "$WORK/npm-install.log" >&2; die "npm i failed"; }
npm i -D "typescript@$ts_version" "@types/node@$node_types" >>"$WORK/npm-install.log" 2>&1 \
  || { cat "$WORK/npm-install.log" >&2; die "npm i -D typescript failed"; }
effect_version=$(node -p 'require("effect/package.json").version')
case "$effect_version" in 3.*) ;; *) die "npm installed effect $effect_version, not Effect 3" ;; esac
note "installed: effect $effect_version, @effect/platform $(node -p 'require("@effect/platform/package.json").version'), @effect/platform-node $(node -p 'require("@effect/platform-node/package.json").version'), ws $(node -p 'require("ws/package.json").version') ($(find node_modules -name package.json -path '*/ws/package.json' | wc -l) copy)"

step "import, require and package.json"
node --input-type=module -e '
  const lxd = await import("effect-lxd")
  for (const m of ["Lxd", "Instances", "InstanceConsole", "Exec", "Images"]) if (!(m in lxd)) throw new Error(`effect-lxd has no ${m}`)
  const instances = await import("effect-lxd/Instances")
  if (instances.Instances !== lxd.Instances.Instances) throw new Error("effect-lxd/Instances is another copy")
  const pkg = await import("effect-lxd/package.json", { with: { type: "json" } })
  if (pkg.default.name !== "effect-lxd") throw new Error("effect-lxd/package.json is not the package.json")
  await import("effect-lxd/internal/path").then(() => { throw new Error("effect-lxd/internal/* is importable") }, (e) => {
    if (e.code !== "ERR_PACKAGE_PATH_NOT_EXPORTED") throw e
  })
  console.log(`import: ${Object.keys(lxd).length} modules`)
'
node -e '
  try { require("effect-lxd"); throw new Error("require(\"effect-lxd\") succeeded") }
  catch (e) { if (!/ES module only/.test(e.message)) throw e; console.log("require: " + e.message.split(". ")[0]) }
'

step "fresh pnpm project: pnpm add <tarball> $peers"
PAPP="$WORK/pnpm-app"
mkdir -p "$PAPP" && cd "$PAPP"
printf '{ "name": "pnpm-app", "private": true, "type": "module" }\n' >package.json
# shellcheck disable=SC2086
pnpm add "$TARBALL" $peers >"$WORK/pnpm-install.log" 2>&1 || { cat "$WORK/pnpm-install.log" >&2; die "pnpm add failed"; }
node --input-type=module -e '
  const { Lxd } = await import("effect-lxd")
  const { version } = (await import("effect/package.json", { with: { type: "json" } })).default
  if (!version.startsWith("3.")) throw new Error(`pnpm installed effect ${version}`)
  if (typeof Lxd.layerUnix !== "function") throw new Error("no Lxd.layerUnix")
  console.log(`pnpm: import works with effect ${version}`)
'

step "type-check the README blocks and the examples against the installed package"
cd "$APP"
node "$ROOT/scripts/readme-snippets.mjs" extract "$APP/readme" --root="$ROOT" "$ROOT/README.md" "$PKG/README.md"
mkdir -p examples && cp "$ROOT"/examples/*.ts examples/
# DOM: @effect/platform's own declarations (KeyValueStore, Transferable) name DOM types
cat >tsconfig.json <<'EOF'
{
  "compilerOptions": {
    "strict": true,
    "exactOptionalPropertyTypes": true,
    "skipLibCheck": false,
    "module": "NodeNext",
    "moduleResolution": "NodeNext",
    "target": "ES2022",
    "lib": ["ES2022", "DOM"],
    "types": ["node"],
    "outDir": "out",
    "rootDir": "."
  },
  "include": ["readme/*.ts", "examples/*.ts"]
}
EOF
if ! npx tsc -p tsconfig.json >"$WORK/tsc.log" 2>&1; then
  node "$ROOT/scripts/readme-snippets.mjs" map "$APP/readme" <"$WORK/tsc.log" >&2
  die "the README blocks or the examples do not compile against the installed package (above)"
fi
note "$(find readme -name '*.ts' | wc -l) README blocks and $(find examples -name '*.ts' | wc -l) examples compile"

if [ -n "${PACK_CHECK_SKIP_DEMO:-}" ]; then
  note "PACK_CHECK_SKIP_DEMO is set: not running the demo"
else
  step "run the demo from the installed package against LXD"
  if [ -z "${LXD_SOCKET:-}" ] && [ -z "${LXD_HTTPS_URL:-}" ]; then
    [ -r "$ENV_FILE" ] || die "LXD_SOCKET is unset and $ENV_FILE is missing (run scripts/lxd-setup.sh)"
    set -a
    # shellcheck disable=SC1090
    . "$ENV_FILE"
    set +a
  fi
  node out/examples/demo.js >"$WORK/demo.log" 2>&1 || { cat "$WORK/demo.log" >&2; die "the demo failed"; }
  tail -n 5 "$WORK/demo.log"
fi

note "done in $(( $(date +%s) - started )) s"
