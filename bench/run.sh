#!/usr/bin/env bash
# bench/run.sh: the benchmark, in one command (run as root, from anywhere):
#
#   bash bench/run.sh                  full size; writes bench/RESULTS.md
#   BENCH_QUICK=1 bash bench/run.sh    tiny sizes, to check that everything works;
#                                      writes bench/.work/<run>/RESULTS.md instead
#
# It installs what is missing (python3-pylxd, GNU time, the workspace's node modules),
# makes sure the LXD daemon runs (scripts/lxd-setup.sh, never --reset), creates its
# containers under a unique prefix (bench-<id>-...) and a project bench-<id>, runs every
# scenario for every tool against the same daemon, writes the results, and removes all
# it created, whatever happens (trap). See bench/README.md.
#
# Knobs (environment): BENCH_OUT (where RESULTS.md goes), BENCH_HTTPS=0 (skip the
# effect-lxd-over-HTTPS rows), and the sizes below (BENCH_GETS, BENCH_LIST, ...).

set -Eeuo pipefail
exec </dev/null

TAG=bench
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
note() { printf '%s: %s\n' "$TAG" "$*" >&2; }
die() { printf '%s: ERROR: %s\n' "$TAG" "$*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run as root (it may install packages and start the LXD daemon)"

QUICK=${BENCH_QUICK:-0}
if [ "$QUICK" = 1 ]; then
  GETS=${BENCH_GETS:-20}; GET_ROUNDS=${BENCH_GET_ROUNDS:-2}; GET_WARMUP=${BENCH_GET_WARMUP:-1}; LXC_GET_ROUNDS=${BENCH_LXC_GET_ROUNDS:-1}
  LIST=${BENCH_LIST:-5}; LIST_REPS=${BENCH_LIST_REPS:-3}
  FAN=${BENCH_FAN:-4}; FAN_REPS=${BENCH_FAN_REPS:-1}; CONC=${BENCH_CONCURRENCY:-2}
  EXEC_SIZE=${BENCH_EXEC_SIZE:-10m}; EXEC_REPS=${BENCH_EXEC_REPS:-2}
  GETCONC=${BENCH_GETCONC:-100}; GETCONC_C=${BENCH_GETCONC_CONCURRENCY:-10}; GETCONC_REPS=${BENCH_GETCONC_REPS:-2}
  RTT=${BENCH_EXEC_RTT:-5}; RTT_REPS=${BENCH_EXEC_RTT_REPS:-2}
  EXECCONC=${BENCH_EXECCONC:-10}; EXECCONC_C=${BENCH_EXECCONC_CONCURRENCY:-5}; EXECCONC_REPS=${BENCH_EXECCONC_REPS:-1}
  STARTUP_REPS=${BENCH_STARTUP_REPS:-2}
  SMALL=${BENCH_SMALL:-10m}; SMALL_REPS=${BENCH_SMALL_REPS:-2}
  BIG=${BENCH_BIG:-20m}; BIG_REPS=${BENCH_BIG_REPS:-1}
  IMAGE_SIZE=${BENCH_IMAGE:-5m}; IMAGE_REPS=${BENCH_IMAGE_REPS:-2}
  BACKUP_SIZE=${BENCH_BACKUP:-5m}; BACKUP_REPS=${BENCH_BACKUP_REPS:-2}
else
  GETS=${BENCH_GETS:-500}; GET_ROUNDS=${BENCH_GET_ROUNDS:-7}; GET_WARMUP=${BENCH_GET_WARMUP:-2}; LXC_GET_ROUNDS=${BENCH_LXC_GET_ROUNDS:-3}
  LIST=${BENCH_LIST:-100}; LIST_REPS=${BENCH_LIST_REPS:-10}
  FAN=${BENCH_FAN:-20}; FAN_REPS=${BENCH_FAN_REPS:-2}; CONC=${BENCH_CONCURRENCY:-5}
  EXEC_SIZE=${BENCH_EXEC_SIZE:-200m}; EXEC_REPS=${BENCH_EXEC_REPS:-3}
  GETCONC=${BENCH_GETCONC:-1000}; GETCONC_C=${BENCH_GETCONC_CONCURRENCY:-50}; GETCONC_REPS=${BENCH_GETCONC_REPS:-3}
  RTT=${BENCH_EXEC_RTT:-20}; RTT_REPS=${BENCH_EXEC_RTT_REPS:-3}
  EXECCONC=${BENCH_EXECCONC:-50}; EXECCONC_C=${BENCH_EXECCONC_CONCURRENCY:-10}; EXECCONC_REPS=${BENCH_EXECCONC_REPS:-3}
  STARTUP_REPS=${BENCH_STARTUP_REPS:-10}
  SMALL=${BENCH_SMALL:-200m}; SMALL_REPS=${BENCH_SMALL_REPS:-3}
  BIG=${BENCH_BIG:-1g}; BIG_REPS=${BENCH_BIG_REPS:-1}
  IMAGE_SIZE=${BENCH_IMAGE:-100m}; IMAGE_REPS=${BENCH_IMAGE_REPS:-5}
  BACKUP_SIZE=${BENCH_BACKUP:-100m}; BACKUP_REPS=${BENCH_BACKUP_REPS:-5}
fi
HTTPS=${BENCH_HTTPS:-1}
PY=/usr/bin/python3 # Debian's python3-pylxd lives in the system Python

# ------------------------------------------------------------ prerequisites
pkgs=()
dpkg-query -W -f='${Status}' python3-pylxd 2>/dev/null | grep -q 'install ok installed' || pkgs+=(python3-pylxd)
[ -x /usr/bin/time ] || pkgs+=(time)
if [ ${#pkgs[@]} -gt 0 ]; then
  note "installing ${pkgs[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y "${pkgs[@]}" >/dev/null || {
    DEBIAN_FRONTEND=noninteractive apt-get update >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y "${pkgs[@]}" >/dev/null
  }
fi
if ! command -v pnpm >/dev/null 2>&1 || [ ! -d "$ROOT/node_modules/effect" ] || [ ! -e "$ROOT/bench/node_modules/effect-lxd" ]; then
  bash "$ROOT/scripts/ensure-pnpm.sh"
fi

# what users run: the built package (packages/lxd/build/esm), and the drivers compiled to
# plain JavaScript, run by node (no tsx, no TypeScript loader in the measured processes)
note "building effect-lxd and compiling the drivers"
pnpm --filter effect-lxd run build >/dev/null || die "the build of effect-lxd failed"
rm -rf "$ROOT/bench/.work/dist"
pnpm exec tsc -p "$ROOT/bench/tsconfig.build.json" || die "the drivers do not compile"

ENV_FILE=${LXD_TEST_ENV:-/var/lib/lxd-test/lxd-test.env}
# a daemon that answers and its env file are left as they are (the daemon may be shared
# with other work); only when one is missing is scripts/lxd-setup.sh run (never --reset)
if [ -r "$ENV_FILE" ] && timeout 20 lxc query /1.0 >/dev/null 2>&1; then
  note "the LXD daemon answers; using it as it is"
else
  note "making sure the LXD daemon runs (scripts/lxd-setup.sh, no reset)"
  LXD_SETUP_SMOKE=0 bash "$ROOT/scripts/lxd-setup.sh" >/dev/null || die "scripts/lxd-setup.sh failed"
fi
[ -r "$ENV_FILE" ] || die "$ENV_FILE is missing"
IMAGE=$(sed -n 's/^LXD_TEST_IMAGE_ALIAS=//p' "$ENV_FILE")
IMAGE=${IMAGE:-busybox}

# ------------------------------------------------------------ this run
RUN="bench-$(head -c 4 /dev/urandom | od -An -tx1 | tr -d ' \n')"
WORK="$ROOT/bench/.work/$RUN"
mkdir -p "$WORK"
RESULTS="$WORK/results.jsonl"
LOG="$WORK/log.txt"
META="$WORK/meta.env"
: >"$RESULTS"
if [ "$QUICK" = 1 ]; then OUT=${BENCH_OUT:-$WORK/RESULTS.md}; else OUT=${BENCH_OUT:-$ROOT/bench/RESULTS.md}; fi
export LXD_TEST_ENV="$ENV_FILE" PYTHONWARNINGS=ignore
note "run $RUN (work files and log in ${WORK#"$ROOT"/})"

DIST="$ROOT/bench/.work/dist"
drv() { node "$DIST/$1" "${@:2}"; }

PROXIES=()
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  # the timing proxies of by_call, if the run stopped while they ran
  [ ${#PROXIES[@]} -gt 0 ] && kill "${PROXIES[@]}" 2>/dev/null
  note "cleaning up $RUN"
  drv fixtures.js teardown --run "$RUN" >>"$LOG" 2>&1 || note "effect-lxd teardown failed; falling back to lxc"
  # whatever the teardown missed (it may itself have failed): lxc, by prefix
  local p n
  for p in default "$RUN"; do
    lxc project show "$p" >/dev/null 2>&1 || continue
    for n in $(lxc list --project "$p" --format csv -c n 2>/dev/null | grep "^$RUN-" || true); do
      lxc delete --force --project "$p" "$n" >>"$LOG" 2>&1 || note "could not delete $n"
    done
  done
  if lxc project show "$RUN" >/dev/null 2>&1; then
    lxc project delete "$RUN" >>"$LOG" 2>&1 || note "could not delete project $RUN"
  fi
  # the benchmark's image (its fingerprint is the tarball's SHA-256), if the teardown missed it
  if [ -n "${IMAGE_FP:-}" ] && lxc image info "$IMAGE_FP" >/dev/null 2>&1; then
    lxc image delete "$IMAGE_FP" >>"$LOG" 2>&1 || note "could not delete image $IMAGE_FP"
  fi
  rm -rf "$WORK"/*.bin "$WORK"/*.out "$WORK"/*.tar "$WORK/image" "$WORK"/calls-*/*.sock
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

FAILED=()
# measure LABEL COMMAND...: run one driver, its sample line into results.jsonl
measure() {
  local label=$1
  shift
  note "  $label"
  printf '\n== %s: %s\n' "$label" "$*" >>"$LOG"
  if ! "$@" >>"$RESULTS" 2>>"$LOG"; then
    note "  $label FAILED (see ${LOG#"$ROOT"/})"
    FAILED+=("$label")
  fi
}

# ------------------------------------------------------------ versions
{
  echo "RUN=$RUN"
  echo "DATE=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)"
  echo "OS=$(. /etc/os-release && echo "$PRETTY_NAME")"
  echo "LXD_SERVER=$(lxc query /1.0 | node -e 'const i = JSON.parse(require("fs").readFileSync(0, "utf8")); console.log(i.environment.server_version)')"
  echo "LXD_STORAGE=$(lxc query /1.0 | node -e 'const i = JSON.parse(require("fs").readFileSync(0, "utf8")); console.log(i.environment.storage)')"
  echo "LXC=$(lxc version | sed -n 's/^Client version: //p')"
  echo "NODE=$(node --version)"
  echo "EFFECT=$(node -p 'require("./node_modules/effect/package.json").version')"
  PN=$(readlink -f node_modules/@effect/platform-node)
  echo "PLATFORM_NODE=$(node -p "require('$PN/package.json').version")"
  echo "UNDICI=$(node -p "require('$PN/../../undici/package.json').version")"
  echo "EFFECT_LXD_RUN=built package (packages/lxd/build/esm), drivers compiled by tsc and run by node"
  echo "EFFECT_LXD=$(node -p 'require("./packages/lxd/package.json").version') @ $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet HEAD -- packages/lxd/src 2>/dev/null || echo ' + uncommitted changes')"
  echo "PYTHON=$($PY --version 2>&1 | sed 's/^Python //')"
  echo "PYLXD=$($PY -c 'import pylxd; print(pylxd.__version__)')"
} >"$META"

# ------------------------------------------------------------ fixtures
note "creating $RUN-get, $RUN-io and $LIST containers in project $RUN"
drv fixtures.js setup --run "$RUN" --list "$LIST" --concurrency 5 --image "$IMAGE" 2>>"$LOG" ||
  die "fixture setup failed (see ${LOG#"$ROOT"/})"

EFF=(node "$DIST/effect-lxd.js")
UND=(node "$DIST/undici-loop.js")
LXC=(node "$DIST/lxc-cli.js")
PYL=("$PY" bench/pylxd_driver.py)

# A row's tools are measured in turns (bench/turns.ts): repetition 1 of each, then
# repetition 2 of each, the order rotated every round, so that the daemon's drift over
# minutes falls on every tool alike. `turn CMD...` queues a driver; `in_turns LABEL` runs
# the queued ones.
TURN=()
turn() { TURN+=("::" "$@"); }
in_turns() {
  measure "$1" node "$DIST/turns.js" "${TURN[@]}"
  TURN=()
}

# `by_call OF ARGS...`: row OF's effect-lxd (unix) and lxc drivers run again in turns, each
# through a proxy of its own that notes the time of every call (bench/calltimes.ts); then a
# `phases` sample per tool: the daemon's side of each step, and the client's own time
SOCKET=$(sed -n 's/^LXD_SOCKET=//p' "$ENV_FILE")
SOCKET=${SOCKET:-/var/lib/lxd/unix.socket}
by_call() {
  local of=$1 d="$WORK/calls-$1" rc=0
  shift
  mkdir -p "$d"
  note "  $of, call by call through a timing proxy"
  node "$DIST/calltimes.js" proxy --listen "$d/eff.sock" --upstream "$SOCKET" --log "$d/eff.calls" 2>>"$LOG" &
  PROXIES+=($!)
  node "$DIST/calltimes.js" proxy --listen "$d/lxc.sock" --upstream "$SOCKET" --log "$d/lxc.calls" 2>>"$LOG" &
  PROXIES+=($!)
  local i
  for i in $(seq 50); do [ -S "$d/eff.sock" ] && [ -S "$d/lxc.sock" ] && break; sleep 0.1; done
  { grep -v '^LXD_SOCKET=' "$ENV_FILE"; echo "LXD_SOCKET=$d/eff.sock"; } >"$d/eff.env"
  printf '\n== %s by call\n' "$of" >>"$LOG"
  node "$DIST/turns.js" :: env LXD_TEST_ENV="$d/eff.env" "${EFF[@]}" "$@" \
    :: env LXD_SOCKET="$d/lxc.sock" "${LXC[@]}" "$@" --tmp "$WORK" >"$d/drivers.jsonl" 2>>"$LOG" || rc=1
  # the proxies write their logs when told to stop
  kill "${PROXIES[@]}" 2>/dev/null || true
  wait "${PROXIES[@]}" 2>/dev/null || true
  PROXIES=()
  if [ "$rc" = 0 ]; then
    measure "$of by call (effect-lxd)" drv calltimes.js phases --log "$d/eff.calls" --samples "$d/drivers.jsonl" --of "$of" --tool effect-lxd
    measure "$of by call (lxc)" drv calltimes.js phases --log "$d/lxc.calls" --samples "$d/drivers.jsonl" --of "$of" --tool lxc
  else
    note "  $of by call FAILED (see ${LOG#"$ROOT"/})"
    FAILED+=("$of by call")
  fi
}

note "(a) get one instance, $GETS calls"
get=(get --name "$RUN-get" --count "$GETS")
# the first GET_WARMUP rounds of each tool are taken in turn but kept out of the medians:
# a process's first thousand or so calls cost it two to three times the CPU of the later
# ones, and a long-running program pays the later cost (see bench/README.md, Calls: warm-up)
warm=(--rounds "$GET_ROUNDS" --warmup "$GET_WARMUP")
turn "${EFF[@]}" "${get[@]}" "${warm[@]}"
[ "$HTTPS" = 1 ] && turn "${EFF[@]}" "${get[@]}" "${warm[@]}" --transport https
turn "${UND[@]}" "${get[@]}" "${warm[@]}"
turn "${UND[@]}" geteffect "${get[@]:1}" "${warm[@]}"
turn "${UND[@]}" geteffect "${get[@]:1}" "${warm[@]}" --span none
turn "${PYL[@]}" "${get[@]}" "${warm[@]}"
in_turns "get"
# a tool whose repetition is many times the others' (here a new lxc process per call)
# runs after the turns: waiting through its turn, the others would start each repetition
# cold (measured: an exec round trip then costs effect-lxd 20-50 % more CPU)
measure "lxc get" "${LXC[@]}" "${get[@]}" --rounds "$LXC_GET_ROUNDS"

note "(a2) $GETCONC gets, concurrency $GETCONC_C"
gc=(getconc --name "$RUN-get" --count "$GETCONC" --concurrency "$GETCONC_C" --reps "$GETCONC_REPS")
turn "${EFF[@]}" "${gc[@]}"
[ "$HTTPS" = 1 ] && turn "${EFF[@]}" "${gc[@]}" --transport https
turn "${UND[@]}" "${gc[@]}"
in_turns "getconc"

note "(b) list $LIST instances, recursion 1"
list=(list --project "$RUN" --expect "$LIST" --reps "$LIST_REPS")
turn "${EFF[@]}" "${list[@]}"
[ "$HTTPS" = 1 ] && turn "${EFF[@]}" "${list[@]}" --transport https
turn "${UND[@]}" "${list[@]}"
turn "${PYL[@]}" "${list[@]}"
turn "${LXC[@]}" "${list[@]}"
in_turns "list"

note "(c) create, start, delete $FAN containers, concurrency $CONC"
fan=(fanout --count "$FAN" --concurrency "$CONC" --reps "$FAN_REPS" --image "$IMAGE")
turn "${EFF[@]}" "${fan[@]}" --prefix "$RUN-fe"
turn "${UND[@]}" "${fan[@]}" --prefix "$RUN-fu"
turn "${PYL[@]}" "${fan[@]}" --prefix "$RUN-fp"
turn "${LXC[@]}" "${fan[@]}" --prefix "$RUN-fl"
in_turns "fanout"

note "(d) exec output throughput, head -c $EXEC_SIZE /dev/zero"
ex=(exec --name "$RUN-io" --size "$EXEC_SIZE" --reps "$EXEC_REPS")
turn "${EFF[@]}" "${ex[@]}"
[ "$HTTPS" = 1 ] && turn "${EFF[@]}" "${ex[@]}" --transport https
turn "${PYL[@]}" "${ex[@]}"
turn "${LXC[@]}" "${ex[@]}" --tmp "$WORK"
[ "$HTTPS" = 1 ] && turn "${LXC[@]}" "${ex[@]}" --tmp "$WORK" --transport https
in_turns "exec"

note "(d2) exec of true, $RTT one after another"
rtt=(execrtt --name "$RUN-io" --count "$RTT" --reps "$RTT_REPS")
turn "${EFF[@]}" "${rtt[@]}"
[ "$HTTPS" = 1 ] && turn "${EFF[@]}" "${rtt[@]}" --transport https
turn "${LXC[@]}" "${rtt[@]}"
[ "$HTTPS" = 1 ] && turn "${LXC[@]}" "${rtt[@]}" --tmp "$WORK" --transport https
in_turns "execrtt"
measure "pylxd execrtt" "${PYL[@]}" "${rtt[@]}" # it polls every 0.5 s: ten times the others' repetition

note "(d3) $EXECCONC execs of true, concurrency $EXECCONC_C"
ec=(execconc --name "$RUN-io" --count "$EXECCONC" --concurrency "$EXECCONC_C" --reps "$EXECCONC_REPS")
turn "${EFF[@]}" "${ec[@]}"
[ "$HTTPS" = 1 ] && turn "${EFF[@]}" "${ec[@]}" --transport https
turn "${LXC[@]}" "${ec[@]}"
in_turns "execconc"
measure "pylxd execconc" "${PYL[@]}" "${ec[@]}"

note "(f) start-up: import to a connected client, $STARTUP_REPS fresh processes per tool"
measure "startup" drv startup.js run --reps "$STARTUP_REPS" --tmp "$WORK" --https "$HTTPS"

bytes_of() { # 100m -> bytes
  local n=${1%[kmg]} u=${1##*[0-9]}
  case $u in k) echo $((n * 1024)) ;; m) echo $((n * 1024 * 1024)) ;; g) echo $((n * 1024 * 1024 * 1024)) ;; *) echo "$n" ;; esac
}
for spec in "$SMALL:$SMALL_REPS" "$BIG:$BIG_REPS"; do
  size=${spec%%:*}
  reps=${spec##*:}
  bytes=$(bytes_of "$size")
  src="$WORK/src-$size.bin"
  note "(e) file push and pull, $size"
  head -c "$bytes" /dev/urandom >"$src"
  push=(push --name "$RUN-io" --file "$src" --dest "/root/bench-$size.bin" --reps "$reps")
  pull=(pull --name "$RUN-io" --src "/root/bench-$size.bin" --out "$WORK/pulled.out" --bytes "$bytes" --reps "$reps")
  turn "${EFF[@]}" "${push[@]}"
  [ "$HTTPS" = 1 ] && turn "${EFF[@]}" "${push[@]}" --transport https
  turn "${PYL[@]}" "${push[@]}"
  turn "${LXC[@]}" "${push[@]}" --tmp "$WORK"
  [ "$HTTPS" = 1 ] && turn "${LXC[@]}" "${push[@]}" --tmp "$WORK" --transport https
  in_turns "push $size"
  turn "${EFF[@]}" "${pull[@]}"
  [ "$HTTPS" = 1 ] && turn "${EFF[@]}" "${pull[@]}" --transport https
  turn "${PYL[@]}" "${pull[@]}"
  turn "${LXC[@]}" "${pull[@]}" --tmp "$WORK"
  [ "$HTTPS" = 1 ] && turn "${LXC[@]}" "${pull[@]}" --tmp "$WORK" --transport https
  in_turns "pull $size"
  lxc exec "$RUN-io" -- rm -f "/root/bench-$size.bin"
  rm -f "$src"
done

# ------------------------------------------------------------ (g) images
# a unified image tarball (uncompressed): metadata.yaml and a rootfs holding IMAGE_SIZE
# random bytes; its metadata carries bench.run=<run>, by which the teardown finds it
note "(g) image upload and export, a unified tarball with $IMAGE_SIZE of random bytes"
img="$WORK/image"
mkdir -p "$img/rootfs/root"
head -c "$(bytes_of "$IMAGE_SIZE")" /dev/urandom >"$img/rootfs/root/data.bin"
printf 'architecture: %s\ncreation_date: %s\nproperties:\n  description: effect-lxd benchmark image (temporary)\n  bench.run: %s\n' \
  "$(uname -m)" "$(date +%s)" "$RUN" >"$img/metadata.yaml"
tar -C "$img" -cf "$WORK/image.tar" metadata.yaml rootfs
rm -rf "$img"
IMAGE_FP=$(sha256sum "$WORK/image.tar" | cut -d' ' -f1)
IMAGE_BYTES=$(stat -c %s "$WORK/image.tar")
iup=(imageup --file "$WORK/image.tar" --fingerprint "$IMAGE_FP" --reps "$IMAGE_REPS")
turn "${EFF[@]}" "${iup[@]}"
[ "$HTTPS" = 1 ] && turn "${EFF[@]}" "${iup[@]}" --transport https
turn "${PYL[@]}" "${iup[@]}"
turn "${LXC[@]}" "${iup[@]}" --tmp "$WORK"
in_turns "imageup"
by_call imageup "${iup[@]}"
if drv fixtures.js image --run "$RUN" --file "$WORK/image.tar" 2>>"$LOG"; then
  iex=(imageexport --fingerprint "$IMAGE_FP" --out "$WORK/exported.out" --bytes "$IMAGE_BYTES" --reps "$IMAGE_REPS")
  turn "${EFF[@]}" "${iex[@]}"
  [ "$HTTPS" = 1 ] && turn "${EFF[@]}" "${iex[@]}" --transport https
  turn "${PYL[@]}" "${iex[@]}"
  turn "${LXC[@]}" "${iex[@]}" --tmp "$WORK"
  in_turns "imageexport"
  lxc image delete "$IMAGE_FP" >>"$LOG" 2>&1 || note "could not delete image $IMAGE_FP"
else
  note "  uploading the image for the export rows FAILED (see ${LOG#"$ROOT"/})"
  FAILED+=("image export (fixture)")
fi
rm -f "$WORK/image.tar"

# ------------------------------------------------------------ (h) backups
note "(h) backup export and import, a container with $BACKUP_SIZE of random bytes"
if drv fixtures.js backup --run "$RUN" --size "$BACKUP_SIZE" --image "$IMAGE" 2>>"$LOG"; then
  bex=(backupexport --name "$RUN-bk" --out "$WORK/backup.out" --reps "$BACKUP_REPS")
  turn "${EFF[@]}" "${bex[@]}"
  [ "$HTTPS" = 1 ] && turn "${EFF[@]}" "${bex[@]}" --transport https
  turn "${PYL[@]}" "${bex[@]}"
  turn "${LXC[@]}" "${bex[@]}" --tmp "$WORK"
  in_turns "backupexport"
  by_call backupexport "${bex[@]}"
  # the tarball every import row reads (made once, not timed)
  lxc export --quiet --instance-only --compression none "$RUN-bk" "$WORK/backup.tar" >>"$LOG" 2>&1 || note "lxc export of $RUN-bk failed"
  bim=(backupimport --file "$WORK/backup.tar" --reps "$BACKUP_REPS")
  turn "${EFF[@]}" "${bim[@]}" --prefix "$RUN-bie"
  [ "$HTTPS" = 1 ] && turn "${EFF[@]}" "${bim[@]}" --prefix "$RUN-bie" --transport https
  turn "${PYL[@]}" "${bim[@]}" --prefix "$RUN-bip"
  turn "${LXC[@]}" "${bim[@]}" --prefix "$RUN-bil" --tmp "$WORK"
  in_turns "backupimport"
  rm -f "$WORK/backup.tar"
else
  note "  creating $RUN-bk FAILED (see ${LOG#"$ROOT"/})"
  FAILED+=("backups (fixture)")
fi

# ------------------------------------------------------------ report
echo "LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)" >>"$META"
[ ${#FAILED[@]} -eq 0 ] || echo "FAILED=$(IFS=,; echo "${FAILED[*]}")" >>"$META"
drv report.js --results "$RESULTS" --meta "$META" --out "$OUT" 2>>"$LOG"
note "wrote ${OUT#"$ROOT"/}"
[ ${#FAILED[@]} -eq 0 ] || die "failed: ${FAILED[*]}"
