#!/usr/bin/env python3
"""Python benchmarks of eve (issue 12): eve against what a Python user would
use instead, all measured in one run on the same machine with the same keys:

  * multiprocessing.Manager().dict()
  * py-lmdb (``import lmdb``): one write txn per put, one read txn per get
  * redis-py against a redis-server started here (unix socket, temp dir)

Scenarios: (1) one-key update of a 10^5-key mapping, one process; (2) the same
with 4 processes at once; (3) point read of a random key, one process; (4) a
counter incremented by 4 processes, the final count checked.

  python bench.py [--quick] [--out FILE] [--command TEXT] [--keys N]

Writes a Markdown report to stdout and to --out.  ``make bench-python`` runs
it with the package built into build-python/venv and writes
docs/BENCHMARKS-python.md.  --quick: every scenario tiny (a few seconds), for
a smoke run; its figures mean nothing.
"""
import argparse
import datetime
import multiprocessing as mp
import os
import platform
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import eve

try:
    import lmdb
except ImportError:  # reported as skipped
    lmdb = None
try:
    import redis
except ImportError:
    redis = None

pc = time.perf_counter_ns
NPROC = 4


# --------------------------------------------------------------------------
# The systems.  Each has update(k, v), read(k), incr(), count(); keys and
# values are given in the system's own type (str for eve and Manager and
# redis-py, bytes for py-lmdb, which takes nothing else).

def _assoc(m, k, v):
    return m.assoc(k, v)


def _inc(n):
    return n + 1


class Eve:
    name = "eve"

    def __init__(self, path):
        self.d = eve.open(path)
        self.m = self.d.atom("m")
        self.c = self.d.atom("c")

    def load(self, data):
        self.m.reset(data)
        self.c.reset(0)

    def update(self, k, v):
        self.m.swap(_assoc, k, v)

    def read(self, k):
        return self.m.deref()[k]

    def incr(self):
        self.c.swap(_inc)

    def count(self):
        return self.c.deref()

    def close(self):
        self.d.close()


class EveHeld(Eve):
    """Reads through one view taken once (a snapshot: it does not see later
    updates)."""
    name = "eve, one held view"

    def __init__(self, path):
        Eve.__init__(self, path)
        self.view = self.m.deref()

    def read(self, k):
        return self.view[k]

    def close(self):
        self.view = None
        Eve.close(self)


class Lmdb:
    name = "py-lmdb"

    def __init__(self, path):
        # No fsync (eve does not sync either), writable map: the fastest
        # settings LMDB offers, as in the C benchmarks.
        self.env = lmdb.open(path, map_size=4 << 30, sync=False, metasync=False,
                             writemap=True, max_dbs=0, lock=True)

    def load(self, data):
        with self.env.begin(write=True) as t:
            for k, v in data.items():
                t.put(k, v)
            t.put(b"c", b"0")

    def update(self, k, v):
        with self.env.begin(write=True) as t:
            t.put(k, v)

    def read(self, k):
        with self.env.begin() as t:
            return t.get(k)

    def incr(self):
        with self.env.begin(write=True) as t:
            t.put(b"c", b"%d" % (int(t.get(b"c")) + 1))

    def count(self):
        with self.env.begin() as t:
            return int(t.get(b"c"))

    def close(self):
        self.env.close()


class Redis:
    name = "redis-py"

    def __init__(self, sock):
        self.r = redis.Redis(unix_socket_path=sock)

    def load(self, data):
        items = list(data.items())
        p = self.r.pipeline(transaction=False)
        for i in range(0, len(items), 5000):
            p.hset("m", mapping=dict(items[i:i + 5000]))
        p.set("c", 0)
        p.execute()

    def update(self, k, v):
        self.r.hset("m", k, v)

    def read(self, k):
        return self.r.hget("m", k)

    def incr(self):
        self.r.incr("c")

    def count(self):
        return int(self.r.get("c"))

    def close(self):
        self.r.close()


class Manager:
    name = "Manager().dict()"

    def __init__(self, proxy, lock=None):
        self.p = proxy
        self.lock = lock

    def load(self, data):
        self.p.update(data)
        self.p["c"] = 0

    def update(self, k, v):
        self.p[k] = v

    def read(self, k):
        return self.p[k]

    def incr(self):  # the obvious code: a read, then a write (a race)
        self.p["c"] = self.p["c"] + 1

    def count(self):
        return self.p["c"]

    def close(self):
        pass


class ManagerLocked(Manager):
    name = "Manager().dict() + Manager().Lock()"

    def incr(self):
        with self.lock:
            self.p["c"] = self.p["c"] + 1


NAMES = {"eve": Eve.name, "eve-held": EveHeld.name, "lmdb": Lmdb.name, "redis": Redis.name,
         "manager": Manager.name, "manager-locked": ManagerLocked.name}


def make(spec):
    kind = spec[0]
    if kind == "eve":
        return Eve(spec[1])
    if kind == "eve-held":
        return EveHeld(spec[1])
    if kind == "lmdb":
        return Lmdb(spec[1])
    if kind == "redis":
        return Redis(spec[1])
    if kind == "manager":
        return Manager(spec[1])
    if kind == "manager-locked":
        return ManagerLocked(spec[1], spec[2])
    raise ValueError(kind)


# --------------------------------------------------------------------------
# Workloads

def key(i):
    return "k%06d" % i


def val(i, j):
    return "v%07d-%07d" % (i % 10**7, j % 10**7)  # 16 bytes


def ops_for(spec, seed, n, nkeys):
    """The same keys for every system with the same seed."""
    rng = random.Random(seed)
    idx = [rng.randrange(nkeys) for _ in range(n)]
    b = spec[0] == "lmdb"
    ks = [key(i).encode() if b else key(i) for i in idx]
    vs = [val(seed, j).encode() if b else val(seed, j) for j in range(n)]
    return ks, vs


def timed_updates(sysobj, ks, vs):
    lat = []
    upd = sysobj.update
    app = lat.append
    for k, v in zip(ks, vs):
        t0 = pc()
        upd(k, v)
        app(pc() - t0)
    return lat


def untimed_updates(sysobj, ks, vs):
    upd = sysobj.update
    t0 = pc()
    for k, v in zip(ks, vs):
        upd(k, v)
    return pc() - t0


def timed_reads(sysobj, ks):
    lat = []
    rd = sysobj.read
    app = lat.append
    for k in ks:
        t0 = pc()
        rd(k)
        app(pc() - t0)
    return lat


def untimed_reads(sysobj, ks):
    rd = sysobj.read
    t0 = pc()
    for k in ks:
        rd(k)
    return pc() - t0


def worker(spec, what, seed, n, nkeys, barrier, out):
    """One of the NPROC processes of scenarios 2 and 4."""
    try:
        s = make(spec)
        if what == "update":
            ks, vs = ops_for(spec, seed, n, nkeys)
            wk, wv = ops_for(spec, seed + 500, n, nkeys)
            for k, v in zip(wk, wv):  # warm-up, untimed, before the barrier
                s.update(k, v)
        barrier.wait()
        start = pc()
        lat = []
        app = lat.append
        if what == "update":
            upd = s.update
            for k, v in zip(ks, vs):
                t0 = pc()
                upd(k, v)
                app(pc() - t0)
        else:
            inc = s.incr
            for _ in range(n):
                t0 = pc()
                inc()
                app(pc() - t0)
        end = pc()
        s.close()
        out.put((start, end, lat, None))
    except BaseException as e:  # noqa: BLE001 - reported in the table
        out.put((0, 0, [], "%s: %s" % (type(e).__name__, e)))


def run_procs(ctx, spec, what, n, nkeys):
    barrier = ctx.Barrier(NPROC)
    out = ctx.Queue()
    ps = [ctx.Process(target=worker, args=(spec, what, 1000 + w, n, nkeys, barrier, out))
          for w in range(NPROC)]
    for p in ps:
        p.start()
    res = [out.get(timeout=600) for _ in ps]
    for p in ps:
        p.join()
    errs = [r[3] for r in res if r[3]]
    if errs:
        return None, errs[0]
    start = min(r[0] for r in res)
    end = max(r[1] for r in res)
    lat = [x for r in res for x in r[2]]
    return (lat, end - start, NPROC * n), None


# --------------------------------------------------------------------------
# Statistics and formatting

def pct(sorted_lat, p):
    if not sorted_lat:
        return float("nan")
    i = min(len(sorted_lat) - 1, max(0, int(round(p / 100.0 * len(sorted_lat) + 0.5)) - 1))
    return sorted_lat[i]


def fmt_ns(ns):
    if ns != ns:
        return "—"
    if ns < 1e3:
        return "%.0f ns" % ns
    if ns < 1e6:
        return "%.2f µs" % (ns / 1e3) if ns < 1e4 else "%.1f µs" % (ns / 1e3)
    return "%.2f ms" % (ns / 1e6)


def fmt_rate(r):
    if r >= 1e6:
        return "%.2f M/s" % (r / 1e6)
    if r >= 1e3:
        return "%.1f k/s" % (r / 1e3)
    return "%.0f /s" % r


def fmt_ratio(x):
    if x != x:
        return "—"
    if x >= 100:
        return "%.0f×" % x
    if x >= 10:
        return "%.1f×" % x
    return "%.2f×" % x


class Row:
    def __init__(self, name, n, lat=None, ns_total=None, note="", error=None, count=None,
                 expected=None):
        self.name = name
        self.n = n
        self.error = error
        self.note = note
        self.count = count
        self.expected = expected
        if lat:
            s = sorted(lat)
            self.p50, self.p99 = pct(s, 50), pct(s, 99)
        else:
            self.p50 = self.p99 = float("nan")
        self.rate = n / (ns_total / 1e9) if ns_total else float("nan")

    @property
    def ok(self):
        return self.error is None and (self.expected is None or self.count == self.expected)


def table(rows, eve_row, counts=False):
    head = "| system | ops | p50 | p99 | throughput |"
    sep = "|---|---|---|---|---|"
    if counts:
        head += " final count |"
        sep += "---|"
    head += " eve throughput / this | this p50 / eve p50 |"
    sep += "---|---|"
    lines = [head, sep]
    for r in rows:
        name = "**%s**" % r.name if r is eve_row else r.name
        if r.error is not None:
            cells = [name, str(r.n), "—", "—", "—"]
            if counts:
                cells.append("—")
            cells += ["failed: %s" % r.error, ""]
        elif counts and not r.ok:
            cells = [name, str(r.n), fmt_ns(r.p50), fmt_ns(r.p99), "—",
                     "**%d of %d: WRONG (lost updates), a failure**" % (r.count, r.expected),
                     "—", "—"]
        else:
            cells = [name, str(r.n), fmt_ns(r.p50), fmt_ns(r.p99), fmt_rate(r.rate)]
            if counts:
                cells.append("%d (exact)" % r.count if r.expected is not None else "")
            if r is eve_row or eve_row is None or not eve_row.ok:
                cells += ["", ""]
            else:
                cells += [fmt_ratio(eve_row.rate / r.rate), fmt_ratio(r.p50 / eve_row.p50)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


# --------------------------------------------------------------------------
# Redis: a server of our own on a unix socket in the temp dir

def start_redis(tmp):
    exe = shutil.which("redis-server")
    if exe is None:
        return None, None, "redis-server not found (Debian: apt-get install redis-server)"
    if redis is None:
        return None, None, "redis-py not importable (Debian: apt-get install python3-redis)"
    sock = os.path.join(tmp, "redis.sock")
    proc = subprocess.Popen([exe, "--port", "0", "--unixsocket", sock, "--save", "",
                             "--appendonly", "no", "--dir", tmp, "--daemonize", "no",
                             "--loglevel", "warning"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            redis.Redis(unix_socket_path=sock).ping()
            ver = subprocess.run([exe, "--version"], capture_output=True, text=True).stdout.split()
            ver = next((w[2:] for w in ver if w.startswith("v=")), "?")
            return proc, sock, ver
        except (redis.exceptions.ConnectionError, FileNotFoundError):
            time.sleep(0.05)
    proc.kill()
    proc.wait()
    return None, None, "redis-server did not answer within 10 s"


# --------------------------------------------------------------------------

def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def timer_cost():
    s = []
    for _ in range(20000):
        t0 = pc()
        s.append(pc() - t0)
    s.sort()
    return pct(s, 50)


def revision():
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    try:
        rev = subprocess.run(["git", "-C", root, "describe", "--always"], capture_output=True,
                             text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", root, "diff", "--quiet", "HEAD", "--", "src",
                                "include", "python/eve", "python/_eve.c"]).returncode
        return rev + (" + uncommitted changes in the library or the binding" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="tiny run (smoke test)")
    ap.add_argument("--out", help="also write the report here")
    ap.add_argument("--command", default=None, help="the command shown as 'reproduce'")
    ap.add_argument("--keys", type=int, default=None, help="keys in the mapping (10^5)")
    a = ap.parse_args()

    q = a.quick
    nkeys = a.keys or (10**4 if q else 10**5)
    # operations per system: (fast systems, Manager)
    N_UPD = (300, 100) if q else (20000, 3000)
    N_RD = (300, 100) if q else (50000, 5000)
    N_UPD4 = (100, 50) if q else (5000, 1000)      # per process
    N_CNT4 = (100, 50) if q else (5000, 1000)      # per process

    t_start = time.time()
    load0 = os.getloadavg()
    tmp = tempfile.mkdtemp(prefix="eve-pybench-")
    # workers are forked (fast to start); the parent holds no eve, LMDB or
    # Redis handle open at the time (each scenario opens and closes its own)
    ctx = mp.get_context("fork")
    manager = mp.get_context("spawn").Manager()
    rproc, rsock, rinfo = start_redis(tmp)
    redis_note = None if rproc else rinfo
    lmdb_note = None if lmdb else "py-lmdb not importable (Debian: apt-get install python3-lmdb)"
    log = lambda *x: print(*x, file=sys.stderr, flush=True)  # noqa: E731

    try:
        mdict = manager.dict()
        mlock = manager.Lock()
        specs = [("eve", ("eve", os.path.join(tmp, "bench.eve")))]
        if lmdb:
            specs.append(("lmdb", ("lmdb", os.path.join(tmp, "lmdb"))))
        if rproc:
            specs.append(("redis", ("redis", rsock)))
        specs.append(("manager", ("manager", mdict)))

        def nfor(spec, pair):
            return pair[1] if spec[0].startswith("manager") else pair[0]

        # load the same 10^5 keys into each
        for _, spec in specs:
            s = make(spec)
            b = spec[0] == "lmdb"
            data = {(key(i).encode() if b else key(i)): (val(0, i).encode() if b else val(0, i))
                    for i in range(nkeys)}
            t0 = time.time()
            s.load(data)
            log("loaded %d keys into %s in %.1f s" % (nkeys, s.name, time.time() - t0))
            s.close()

        tcost = timer_cost()
        results = {}

        # (1) updates, one process
        rows = []
        for tag, spec in specs:
            s = make(spec)
            n = nfor(spec, N_UPD)
            wk, wv = ops_for(spec, 5, max(1, n // 2), nkeys)
            untimed_updates(s, wk, wv)  # warm-up (a freshly opened mapping faults pages in)
            ks, vs = ops_for(spec, 1, n, nkeys)
            lat = timed_updates(s, ks, vs)
            ks2, vs2 = ops_for(spec, 2, n, nkeys)
            ns = untimed_updates(s, ks2, vs2)
            got = s.read(ks2[-1])
            want = vs2[-1]  # ks2[-1] was written last
            err = None if (got == want or (isinstance(got, bytes) and got.decode() == want)) \
                else "read back %r after the updates, wanted %r" % (got, want)
            rows.append(Row(s.name, n, lat, ns, error=err))
            s.close()
            log("1: %s done" % s.name)
        results[1] = rows

        # (3) reads, one process (before (2) so every system reads the
        # mapping as scenario 1 left it)
        rows = []
        for tag, spec in specs + [("eve-held", ("eve-held", specs[0][1][1]))]:
            s = make(spec)
            n = nfor(spec, N_RD)
            wk, _ = ops_for(spec, 6, max(1, n // 2), nkeys)
            untimed_reads(s, wk)  # warm-up
            ks, _ = ops_for(spec, 3, n, nkeys)
            lat = timed_reads(s, ks)
            ks2, _ = ops_for(spec, 4, n, nkeys)
            ns = untimed_reads(s, ks2)
            rows.append(Row(s.name, n, lat, ns))
            s.close()
            log("3: %s done" % s.name)
        results[3] = rows

        # (2) updates, NPROC processes at once
        rows = []
        for tag, spec in specs:
            n = nfor(spec, N_UPD4)
            r, err = run_procs(ctx, spec, "update", n, nkeys)
            name = NAMES[spec[0]]
            if err:
                rows.append(Row(name, NPROC * n, error=err))
            else:
                rows.append(Row(name, r[2], r[0], r[1]))
            log("2: %s done" % name)
        results[2] = rows

        # (4) counter, NPROC processes
        rows = []
        cspecs = list(specs)
        cspecs.append(("manager-locked", ("manager-locked", mdict, mlock)))
        for tag, spec in cspecs:
            s = make(spec)
            if tag.startswith("manager"):
                s.p["c"] = 0
            elif tag == "eve":
                s.c.reset(0)
            elif tag == "lmdb":
                with s.env.begin(write=True) as t:
                    t.put(b"c", b"0")
            elif tag == "redis":
                s.r.set("c", 0)
            s.close()
            n = nfor(spec, N_CNT4)
            r, err = run_procs(ctx, spec, "incr", n, nkeys)
            s = make(spec)
            if err:
                rows.append(Row(s.name, NPROC * n, error=err))
            else:
                rows.append(Row(s.name, r[2], r[0], r[1], count=s.count(), expected=NPROC * n))
            s.close()
            log("4: %s done" % s.name)
        results[4] = rows
    finally:
        if rproc:
            rproc.terminate()
            try:
                rproc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                rproc.kill()
                rproc.wait()
        manager.shutdown()
        shutil.rmtree(tmp, ignore_errors=True)

    elapsed = time.time() - t_start
    load1 = os.getloadavg()
    md = report(a, q, nkeys, results, tcost, elapsed, load0, load1, rinfo if rproc else None,
                redis_note, lmdb_note, (N_UPD, N_RD, N_UPD4, N_CNT4))
    print(md)
    if a.out:
        os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
        with open(a.out, "w") as f:
            f.write(md)
        print("report: %s" % a.out, file=sys.stderr)
    # exit status 1 if any row failed, except the unlocked Manager counter,
    # which is there to show lost updates
    failures = [r for sc, rows in results.items() for r in rows
                if not r.ok and not (sc == 4 and r.name == Manager.name)]
    for r in failures:
        print("FAILED: %s: %s" % (r.name, r.error or "count %s, expected %s"
                                  % (r.count, r.expected)), file=sys.stderr)
    return 1 if failures else 0


def find(rows, name):
    return next((r for r in rows if r.name == name), None)


def report(a, q, nkeys, res, tcost, elapsed, load0, load1, redis_ver, redis_note, lmdb_note, ns):
    N_UPD, N_RD, N_UPD4, N_CNT4 = ns
    out = []
    w = out.append
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    w("# eve from Python: benchmarks against Manager, py-lmdb and redis-py")
    w("")
    if q:
        w("**Quick run (`--quick`): every scenario tiny, a smoke test. These figures "
          "mean nothing; the targets below are not judged by them.**")
        w("")
    w("Generated by `python/bench/bench.py`%s on %s. Every number below was measured in "
      "this one run, eve and its peers back to back on the same machine with the same keys; "
      "compare the **ratios**, not the absolute times, across machines."
      % (" (quick run)" if q else "", now))
    w("")
    w("| | |")
    w("|---|---|")
    w("| reproduce | `%s` |" % (a.command or "python3 python/bench/bench.py" + (" --quick" if q else "")))
    w("| CPU | %s |" % cpu_name())
    w("| nproc | %d |" % os.cpu_count())
    w("| kernel | %s %s %s |" % (platform.system(), platform.release(), platform.machine()))
    w("| Python | %s %s |" % (platform.python_implementation(), platform.python_version()))
    w("| eve | %s (the CPython extension, built by pip as `make test-python` does), source "
      "revision %s |" % (eve.__version__, revision()))
    w("| py-lmdb | %s |" % ("%s, LMDB %s" % (lmdb.__version__, ".".join(map(str, lmdb.version())))
                           if lmdb else "— (%s)" % lmdb_note))
    w("| redis-py / Redis | %s |" % ("%s / redis-server %s" % (redis.__version__, redis_ver)
                                    if redis_ver else "— (%s)" % redis_note))
    w("| load average (1/5/15 min) | %s at the start, %s at the end (other work on the machine "
      "shows here) |" % (" ".join("%.2f" % x for x in load0), " ".join("%.2f" % x for x in load1)))
    w("| run time | %.0f s |" % elapsed)
    w("| perf_counter_ns pair | %s (median; included in every per-op sample) |" % fmt_ns(tcost))
    w("| mapping | %d keys `k000000`… → 16-character string values, loaded before the first "
      "scenario |" % nkeys)
    w("")

    # targets
    r1, r2, r3 = res[1], res[2], res[3]
    e1, e2, e3 = find(r1, "eve"), find(r2, "eve"), find(r3, "eve")
    w("## Targets (issue 12)")
    w("")
    w("Ratios are eve throughput / peer throughput from this run (single-process scenarios: "
      "from the untimed loop; the p50 ratio is beside it). ✅ met, ❌ missed, — not measured.")
    w("")
    w("| target | scenario | eve / peer (throughput) | peer p50 / eve p50 | |")
    w("|---|---|---|---|---|")
    targets = [("reads ≥ 50× Manager", 3, "Manager().dict()", 50),
               ("updates ≥ 20× Manager", 1, "Manager().dict()", 20),
               ("updates ≥ 20× Manager, 4 processes", 2, "Manager().dict()", 20),
               ("reads ≥ 1× py-lmdb", 3, "py-lmdb", 1),
               ("updates ≥ 1× py-lmdb", 1, "py-lmdb", 1),
               ("updates ≥ 1× py-lmdb, 4 processes", 2, "py-lmdb", 1)]
    met = missed = 0
    for label, sc, peer, goal in targets:
        e, p = find(res[sc], "eve"), find(res[sc], peer)
        if e is None or p is None or not e.ok or not p.ok:
            w("| %s | %d | — | — | — |" % (label, sc))
            continue
        ratio = e.rate / p.rate
        good = ratio >= goal
        met += good
        missed += not good
        w("| %s | %d | %s (eve %s, peer %s) | %s (eve %s, peer %s) | %s |" % (
            label, sc, fmt_ratio(ratio), fmt_rate(e.rate), fmt_rate(p.rate),
            fmt_ratio(p.p50 / e.p50), fmt_ns(e.p50), fmt_ns(p.p50), "✅" if good else "❌"))
    c4 = res[4]
    exact = [r for r in c4 if r.ok]
    wrong = [r for r in c4 if not r.ok]
    w("| final counts exact (scenario 4) | 4 | %s | | %s |" % (
        "exact: " + ", ".join(r.name for r in exact) +
        ("; **wrong: " + ", ".join(r.name for r in wrong) + "**" if wrong else ""),
        "✅" if find(c4, "eve") and find(c4, "eve").ok else "❌"))
    w("")
    w("%d met, %d missed%s." % (met, missed, " (quick run: not meaningful)" if q else ""))
    w("")
    w("Against redis-py (no target in the issue): updates %s, reads %s, 4-process updates %s, "
      "4-process counter %s (eve throughput / Redis throughput)." % tuple(
          (lambda e, p: fmt_ratio(e.rate / p.rate) if e and p and e.ok and p.ok else "—")(
              find(res[s], "eve"), find(res[s], "redis-py")) for s in (1, 3, 2, 4)))
    w("")

    w("## How it is measured")
    w("")
    w("- **eve**: one domain file in a temporary directory; the mapping is one atom holding an "
      "eve map. An update is `atom.swap(lambda m, k, v: m.assoc(k, v), k, v)` (the idiomatic "
      "update, python/README.md: the swap function builds the new map in the swap's "
      "transaction, sharing structure; one write transaction per update). A read is "
      "`atom.deref()[k]`: a fresh snapshot view per read, as code that wants the current value "
      "does; *eve, one held view* reads `view[k]` from one view taken before the loop (it "
      "keeps reading that version). The counter is `atom.swap(lambda n: n + 1)`.")
    w("- **py-lmdb**: `lmdb.open(path, sync=False, metasync=False, writemap=True)` (no fsync, "
      "as eve does none: the fastest LMDB settings, as in the C benchmarks); an update is "
      "`with env.begin(write=True) as t: t.put(k, v)`, a read `with env.begin() as t: "
      "t.get(k)`, the counter a get and a put in one write transaction. Keys and values are "
      "bytes, encoded before the loop (py-lmdb takes nothing else; the other systems get `str`).")
    w("- **redis-py**: a redis-server started for this run on a unix socket in the temporary "
      "directory (no persistence: `--save \"\" --appendonly no`), stopped at the end; the "
      "mapping is one hash: `HSET`/`HGET`, the counter `INCR`; one round trip per operation, "
      "no pipelining.")
    w("- **Manager().dict()**: a `multiprocessing.Manager()` dict proxy: "
      "`d[k] = v`, `d[k]`. Its counter, written the obvious way (`d['c'] = d['c'] + 1`), "
      "is a read and a write, so concurrent increments are lost; it is also run the correct "
      "way, under a `Manager().Lock()`.")
    w("- Keys are drawn uniformly at random from the %d, the same sequence for every system "
      "(per-process sequences in scenario 2 likewise). Latency: every operation timed on its "
      "own with `time.perf_counter_ns()` (the timer pair, %s, is in every sample; no "
      "batching). Throughput, single process: a second, untimed loop of as many operations "
      "(other keys), operations / its wall time. Each single-process loop is preceded by an untimed "
      "warm-up of half as many operations (a freshly opened eve domain or LMDB environment "
      "faults its pages in on first use). Throughput, %d processes (forked, each opening its "
      "own connection/domain/environment and warming up with as many untimed operations, "
      "then started together at a barrier): all operations / (last process's end − first process's start); p50/p99 over every "
      "process's samples." % (nkeys, fmt_ns(tcost), NPROC))
    w("- Operations per system: scenario 1: %d updates timed + %d untimed (Manager: %d + %d); "
      "scenario 3: %d reads timed + %d untimed (Manager: %d + %d); scenario 2: %d updates "
      "per process (Manager: %d); scenario 4: %d increments per process (Manager: %d). "
      "Manager gets fewer: it is slow." % (
          N_UPD[0], N_UPD[0], N_UPD[1], N_UPD[1], N_RD[0], N_RD[0], N_RD[1], N_RD[1],
          N_UPD4[0], N_UPD4[1], N_CNT4[0], N_CNT4[1]))
    w("- After scenario 1 each system's last written key is read back and compared.")
    w("- Order: 1, 3, 2, 4 (reads see the mapping as scenario 1 left it). eve's first updates "
      "after the load are several times slower than later ones (the domain's fresh free space "
      "is touched for the first time); the warm-ups above cover that for scenario 1.")
    w("- The machine has %d cores: %d processes share them, and the Manager's server and "
      "redis-server are processes of their own competing for the same cores." % (
          os.cpu_count(), NPROC))
    if redis_note:
        w("- **Redis rows skipped: %s.**" % redis_note)
    if lmdb_note:
        w("- **py-lmdb rows skipped: %s.**" % lmdb_note)
    w("")

    w("## 1. One-key update of a %d-key mapping, one process" % nkeys)
    w("")
    w(table(r1, e1))
    w("")
    w("## 2. The same, %d processes at once (total throughput)" % NPROC)
    w("")
    w(table(r2, e2))
    w("")
    w("## 3. Point read of a random key, one process")
    w("")
    w(table(r3, e3))
    w("")
    held = find(r3, "eve, one held view")
    if held and e3 and held.ok and e3.ok:
        w("The ratios are against eve's fresh `deref()` per read (the headline). Reading "
          "through one held view instead: %s p50, %s (%s the fresh-deref throughput); it "
          "reads one fixed version." % (fmt_ns(held.p50), fmt_rate(held.rate),
                                         fmt_ratio(held.rate / e3.rate)))
        w("")
    w("## 4. A counter incremented by %d processes" % NPROC)
    w("")
    w(table(c4, find(c4, "eve"), counts=True))
    w("")
    w("A count other than processes × increments is a failure and gets no throughput.")
    w("")
    return "\n".join(out)


if __name__ == "__main__":
    sys.exit(main())
