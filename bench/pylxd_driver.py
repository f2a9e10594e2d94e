"""The pylxd side of the benchmark (Debian's python3-pylxd), written the way its
documentation shows. Run with the system Python, which has the Debian package:

    /usr/bin/python3 bench/pylxd_driver.py get    --name N --count 500 --rounds 5 [--warmup 2]
    /usr/bin/python3 bench/pylxd_driver.py list   --project P --expect 100 --reps 10
    /usr/bin/python3 bench/pylxd_driver.py fanout --prefix bench-x-p --count 20 --concurrency 5 --image busybox
    /usr/bin/python3 bench/pylxd_driver.py exec   --name N --size 200m --reps 3
    /usr/bin/python3 bench/pylxd_driver.py execrtt  --name N --count 20 --reps 3
    /usr/bin/python3 bench/pylxd_driver.py execconc --name N --count 50 --concurrency 10 --reps 3
    /usr/bin/python3 bench/pylxd_driver.py push   --name N --file F --dest /root/f --reps 3
    /usr/bin/python3 bench/pylxd_driver.py pull   --name N --src /root/f --out F2 --bytes B --reps 3
    /usr/bin/python3 bench/pylxd_driver.py imageup      --file image.tar --fingerprint FP --reps 3
    /usr/bin/python3 bench/pylxd_driver.py imageexport  --fingerprint FP --out F --bytes B --reps 3
    /usr/bin/python3 bench/pylxd_driver.py backupexport ...   (pylxd 2.2 has no backups: says so)
    /usr/bin/python3 bench/pylxd_driver.py backupimport ...   (likewise)

Each prints one JSON sample line (the same shape as bench/common.ts `Sample`).

The client connects with `pylxd.Client()`, which picks /var/lib/lxd/unix.socket (or
$LXD_DIR/unix.socket). pylxd 2.2.10 rejects `Client(endpoint="/var/lib/lxd/unix.socket")`:
it tests the path with `os.path.isfile`, which is false for a socket, and then treats
the path as an HTTPS URL.
"""
import json
import os
import resource
import shutil
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import warnings

import pylxd

TOOL = "pylxd"
TRANSPORT = "unix"


def parse(argv):
    command, rest = argv[0], argv[1:]
    flags = {}
    for i in range(0, len(rest), 2):
        if not rest[i].startswith("--") or i + 1 >= len(rest):
            raise SystemExit("bad argument near %r" % rest[i])
        flags[rest[i][2:]] = rest[i + 1]
    return command, flags


def load1():
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


LOAD_AT_START = load1()


def cpu_now():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


TURNS = os.environ.get("BENCH_TURNS") == "1"


def wait_for_turn():
    """Taking turns with the other tools of a row (bench/turns.ts, as in common.ts):
    say `ready` on fd 3, then block until the coordinator writes a line on stdin."""
    if not TURNS:
        return
    os.write(3, b"ready\n")
    while True:
        byte = os.read(0, 1)
        if byte == b"":
            raise SystemExit("the turn coordinator went away")
        if byte == b"\n":
            return


class Reps:
    """Wall-clock and CPU seconds of each repetition (each taken in turn)."""

    def __init__(self, warmup=0):
        # the first `warmup` repetitions are kept apart (reported, not in the medians)
        self.warmup = warmup
        self.seconds, self.cpu = [], []
        self.warmup_seconds, self.warmup_cpu = [], []

    def start(self):
        wait_for_turn()
        self.t0, self.c0 = time.perf_counter(), cpu_now()

    def stop(self):
        s, c = time.perf_counter() - self.t0, cpu_now() - self.c0
        warming = len(self.warmup_seconds) < self.warmup
        (self.warmup_seconds if warming else self.seconds).append(s)
        (self.warmup_cpu if warming else self.cpu).append(c)
        return s

    def fields(self):
        fields = {"seconds": self.seconds, "cpuSeconds": self.cpu}
        if self.warmup > 0:
            fields.update(warmupSeconds=self.warmup_seconds, warmupCpuSeconds=self.warmup_cpu)
        return fields


def emit(**sample):
    sample = {"load": [LOAD_AT_START, load1()], **sample}
    sys.stdout.write(json.dumps(sample) + "\n")
    sys.stdout.flush()


def progress(message):
    sys.stderr.write("  %s\n" % message)


def peak_rss_kib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def rss_kib():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024


def size_bytes(size):
    units = {"": 1, "k": 1024, "m": 1024 ** 2, "g": 1024 ** 3}
    number = size.rstrip("kmg")
    return int(number) * units[size[len(number):]]


def get(client, flags):
    name, count, rounds = flags["name"], int(flags.get("count", 500)), int(flags.get("rounds", 5))
    warmup = int(flags.get("warmup", 0))
    client.containers.get(name)
    reps = Reps(warmup)
    for _ in range(warmup + rounds):
        reps.start()
        for _ in range(count):
            client.containers.get(name)
        reps.stop()
    emit(scenario="get", tool=TOOL, transport=TRANSPORT, count=count, **reps.fields())


def list_(client, flags):
    # pylxd 2.2 has no projects and `containers.all()` lists names only (recursion 0);
    # the nearest equivalent is its raw API node with recursion=1, each entry turned
    # into a Container model as `containers.get` would.
    project, expect, reps = flags["project"], int(flags["expect"]), int(flags.get("reps", 10))

    def once():
        response = client.api.containers.get(params={"recursion": 1, "project": project})
        return [pylxd.models.Container(client, **meta) for meta in response.json()["metadata"]]

    once()
    times = Reps()
    for _ in range(reps):
        times.start()
        found = once()
        times.stop()
        if len(found) != expect:
            raise SystemExit("listed %d instances, expected %d" % (len(found), expect))
    emit(scenario="list", tool=TOOL, transport=TRANSPORT, count=expect, **times.fields(),
         note="client.api.containers.get(recursion=1) + Container models (no project support in pylxd 2.2)")


def fanout(client, flags):
    prefix, count = flags["prefix"], int(flags.get("count", 20))
    concurrency, alias = int(flags.get("concurrency", 5)), flags.get("image", "busybox")
    reps = int(flags.get("reps", 1))

    def one(name):
        config = {"name": name, "source": {"type": "image", "alias": alias}, "profiles": ["default"]}
        try:
            container = client.containers.create(config, wait=True)
            container.start(wait=True)
            container.stop(force=True, wait=True)
            container.delete(wait=True)
        except Exception:
            try:
                c = client.containers.get(name)
                if c.status != "Stopped":
                    c.stop(force=True, wait=True)
                c.delete(wait=True)
            except Exception:
                pass
            raise

    seconds = []
    for r in range(reps):
        names = ["%s-%d-%d" % (prefix, r, i) for i in range(count)]
        t0 = time.perf_counter()
        with ThreadPoolExecutor(max_workers=concurrency) as pool:
            for future in [pool.submit(one, n) for n in names]:
                future.result()
        seconds.append(time.perf_counter() - t0)
    emit(scenario="fanout", tool=TOOL, transport=TRANSPORT, seconds=seconds, count=count,
         note="concurrency %d (threads)" % concurrency)


def exec_(client, flags):
    name, size, reps = flags["name"], flags.get("size", "200m"), int(flags.get("reps", 3))
    expected = size_bytes(size)
    container = client.containers.get(name)
    base = rss_kib()
    times = Reps()
    for _ in range(reps):
        received = [0]

        def on_stdout(chunk):
            received[0] += len(chunk)

        times.start()
        result = container.execute(["head", "-c", size, "/dev/zero"], decode=False, stdout_handler=on_stdout)
        times.stop()
        if result.exit_code != 0 or received[0] != expected:
            raise SystemExit("exec gave exit %s and %d bytes, expected %d" % (result.exit_code, received[0], expected))
        del result
        progress("pylxd exec %s: %.2f s" % (size, times.seconds[-1]))
    emit(scenario="exec", tool=TOOL, transport=TRANSPORT, **times.fields(), bytes=expected,
         baseRssKiB=base, peakRssKiB=peak_rss_kib(),
         note="execute(decode=False, stdout_handler=...): the handler sees each chunk, yet pylxd keeps them all too")


def exec_true(container):
    result = container.execute(["true"])
    if result.exit_code != 0:
        raise SystemExit("true exited with %s" % result.exit_code)


def execrtt(client, flags):
    name, count, rounds = flags["name"], int(flags.get("count", 20)), int(flags.get("reps", 3))
    container = client.containers.get(name)
    exec_true(container)
    reps = Reps()
    for _ in range(rounds):
        reps.start()
        for _ in range(count):
            exec_true(container)
        reps.stop()
    emit(scenario="execrtt", tool=TOOL, transport=TRANSPORT, count=count, **reps.fields(),
         note="execute() waits for the end by polling the operation every 0.5 s")


def execconc(client, flags):
    """`count` execs of `true` from `concurrency` threads. pylxd 2.2.10's execute() fails
    now and then when execs overlap (ws4py's close_all writes a close frame on a socket
    the daemon has already closed: BrokenPipeError; seen in worker processes too, so it
    is not the threads). A failed exec is counted, not retried: a run with failures gives
    no time (a row that says how many failed and how), since its time is not that of
    `count` execs."""
    name, count = flags["name"], int(flags.get("count", 50))
    concurrency, rounds = int(flags.get("concurrency", 10)), int(flags.get("reps", 3))
    container = client.containers.get(name)
    exec_true(container)
    reps = Reps()
    failures = {}
    for _ in range(rounds):
        reps.start()
        with ThreadPoolExecutor(max_workers=concurrency) as pool:
            for future in [pool.submit(exec_true, container) for _ in range(count)]:
                error = future.exception()
                if error is not None:
                    kind = type(error).__name__
                    failures[kind] = failures.get(kind, 0) + 1
        reps.stop()
    if failures:
        said = ", ".join("%d %s" % (n, kind) for kind, n in sorted(failures.items()))
        emit(scenario="execconc", tool=TOOL, transport=TRANSPORT, count=count, concurrency=concurrency,
             unsupported="pylxd 2.2.10: %s of %d execs failed at %d at a time (%s, in ws4py's close_all)"
             % (sum(failures.values()), count * rounds, concurrency, said))
        return
    emit(scenario="execconc", tool=TOOL, transport=TRANSPORT, count=count, concurrency=concurrency,
         **reps.fields())


def push(client, flags):
    name, path, dest, reps = flags["name"], flags["file"], flags["dest"], int(flags.get("reps", 3))
    container = client.containers.get(name)
    size = os.path.getsize(path)
    base = rss_kib()
    times = Reps()
    for _ in range(reps):
        times.start()
        # files.put takes the contents (bytes or str), as pylxd documents it
        with open(path, "rb") as f:
            container.files.put(dest, f.read())
        progress("pylxd push %d B: %.2f s" % (size, times.stop()))
    emit(scenario="push", tool=TOOL, transport=TRANSPORT, **times.fields(), bytes=size,
         baseRssKiB=base, peakRssKiB=peak_rss_kib(), note="files.put(dest, open(f).read())")


def pull(client, flags):
    name, src, out = flags["name"], flags["src"], flags["out"]
    expected, reps = int(flags["bytes"]), int(flags.get("reps", 3))
    container = client.containers.get(name)
    base = rss_kib()
    times = Reps()
    for _ in range(reps):
        if os.path.exists(out):
            os.remove(out)
        times.start()
        # files.get returns the whole contents as bytes
        with open(out, "wb") as f:
            f.write(container.files.get(src))
        times.stop()
        got = os.path.getsize(out)
        os.remove(out)
        if got != expected:
            raise SystemExit("pulled %d bytes, expected %d" % (got, expected))
        progress("pylxd pull %d B: %.2f s" % (got, times.seconds[-1]))
    emit(scenario="pull", tool=TOOL, transport=TRANSPORT, **times.fields(), bytes=expected,
         baseRssKiB=base, peakRssKiB=peak_rss_kib(), note="open(out).write(files.get(src))")


def image_up(client, flags):
    path, fingerprint, reps = flags["file"], flags["fingerprint"], int(flags.get("reps", 3))
    size = os.path.getsize(path)
    if client.images.exists(fingerprint):
        client.images.get(fingerprint).delete(wait=True)
    base = rss_kib()
    times = Reps()
    for _ in range(reps):
        times.start()
        # images.create takes the tarball's contents, as pylxd documents it
        with open(path, "rb") as f:
            image = client.images.create(f.read(), wait=True)
        times.stop()
        image.delete(wait=True)
        if image.fingerprint != fingerprint:
            raise SystemExit("uploaded %s, expected %s" % (image.fingerprint, fingerprint))
        progress("pylxd image upload %d B: %.2f s" % (size, times.seconds[-1]))
    emit(scenario="imageup", tool=TOOL, transport=TRANSPORT, **times.fields(), bytes=size,
         baseRssKiB=base, peakRssKiB=peak_rss_kib(), note="images.create(open(f).read())")


def image_export(client, flags):
    fingerprint, out = flags["fingerprint"], flags["out"]
    expected, reps = int(flags["bytes"]), int(flags.get("reps", 3))
    image = client.images.get(fingerprint)
    base = rss_kib()
    times = Reps()
    for _ in range(reps):
        times.start()
        # export() streams the image into a temporary file (1 KiB reads) and returns it;
        # copying it to the destination is part of getting the image onto the disk
        with image.export() as exported, open(out, "wb") as f:
            shutil.copyfileobj(exported, f, 1024 * 1024)
        times.stop()
        got = os.path.getsize(out)
        os.remove(out)
        if got != expected:
            raise SystemExit("exported %d bytes, expected %d" % (got, expected))
        progress("pylxd image export %d B: %.2f s" % (got, times.seconds[-1]))
    emit(scenario="imageexport", tool=TOOL, transport=TRANSPORT, **times.fields(), bytes=expected,
         baseRssKiB=base, peakRssKiB=peak_rss_kib(),
         note="image.export() (a temporary file written in 1 KiB chunks), copied to the destination")


def no_backups(scenario):
    def run(client, flags):
        # pylxd 2.2.10 has no backup model or manager (no `backups` on Container, no
        # import from a tarball); a row through its raw API would not be pylxd's API
        emit(scenario=scenario, tool=TOOL, transport=TRANSPORT, seconds=[],
             unsupported="pylxd 2.2.10 has no backups (no Container.backups, no import from a tarball)")
    return run


COMMANDS = {"get": get, "list": list_, "fanout": fanout, "exec": exec_, "execrtt": execrtt, "execconc": execconc,
            "push": push, "pull": pull, "imageup": image_up, "imageexport": image_export,
            "backupexport": no_backups("backupexport"), "backupimport": no_backups("backupimport")}

if __name__ == "__main__":
    warnings.simplefilter("ignore")
    command, flags = parse(sys.argv[1:])
    if command not in COMMANDS:
        raise SystemExit("unknown command %r; one of %s" % (command, ", ".join(COMMANDS)))
    COMMANDS[command](pylxd.Client(), flags)
