#!/usr/bin/env python3
"""Harness for bench/runtime.sh: times OCI runtime lifecycles, interleaved.

Run it through bench/runtime.sh, which makes the bundle and the state dirs.
Timing: time.perf_counter_ns (CLOCK_MONOTONIC) around each whole operation,
which includes this harness's own cost of spawning each runtime command
(fork/exec from Python, about 1 ms each: see the `harness` row, which times
spawning /bin/true the same way). Nothing is subtracted.
"""
import argparse
import ctypes
import json
import os
import platform
import select
import signal
import statistics
import subprocess
import sys
import time

PR_SET_CHILD_SUBREAPER = 36


def reap_all():
    """Reap every exited child (orphans reparented to us as subreaper)."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


class Failure(Exception):
    pass


def run(argv, errf, timeout=30):
    """Run argv to completion; raise Failure on a non-zero exit or a hang.

    Not subprocess.run(timeout=...): with a timeout, Popen.wait polls with
    sleeps that double from 0.5 ms to 50 ms, which rounds every measured time
    up to the next step (crun's 12 ms `run` then reads 16 or 32 ms). A pidfd
    wakes us when the child exits, and still lets us give up after timeout.
    """
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=errf)
    pidfd = os.pidfd_open(p.pid)
    try:
        po = select.poll()
        po.register(pidfd, select.POLLIN)
        if not po.poll(timeout * 1000):
            p.kill()
            p.wait()
            raise Failure(f"{' '.join(argv)} did not finish within {timeout} s (killed)")
    finally:
        os.close(pidfd)
    rc = p.wait()
    if rc != 0:
        raise Failure(f"{' '.join(argv)} exited {rc}")


def wait_pidfd(pidfd, timeout_s=30):
    p = select.poll()
    p.register(pidfd, select.POLLIN)
    if not p.poll(timeout_s * 1000):
        raise Failure("container process did not exit in time")


class Engine:
    def __init__(self, name, path, state_root, bundle, errdir):
        self.name, self.path, self.root, self.bundle = name, path, state_root, bundle
        self.errpath = os.path.join(errdir, f"{name}.stderr")
        self.errf = open(self.errpath, "w+b")
        self.seq = 0

    def cmd(self, *args):
        return [self.path, "--root", self.root, *args]

    def next_id(self):
        self.seq += 1
        return f"bench-{self.name}-{os.getpid()}-{self.seq}"

    def lifecycle(self):
        """create + start + wait for the container process to exit + delete."""
        cid = self.next_id()
        pidfile = os.path.join(self.root, cid + ".pid")
        t0 = time.perf_counter_ns()
        try:
            run(self.cmd("create", "--bundle", self.bundle, "--pid-file", pidfile, cid), self.errf)
            with open(pidfile) as f:
                pid = int(f.read().strip())
            # pidfd works whether or not the init is our child (it is: we are
            # a subreaper, the runtime's create process has exited).
            pidfd = os.pidfd_open(pid)
            try:
                run(self.cmd("start", cid), self.errf)
                wait_pidfd(pidfd)
            finally:
                os.close(pidfd)
            reap_all()
            run(self.cmd("delete", cid), self.errf)
            t1 = time.perf_counter_ns()
        except BaseException:
            self.cleanup(cid)
            raise
        finally:
            reap_all()
            try:
                os.unlink(pidfile)
            except FileNotFoundError:
                pass
        return t1 - t0

    def run_op(self):
        """`run` in the foreground: returns when the container has exited; an
        OCI runtime's foreground run deletes the container itself (runc and
        crun do). Checked, untimed, afterwards."""
        cid = self.next_id()
        t0 = time.perf_counter_ns()
        try:
            run(self.cmd("run", "--bundle", self.bundle, cid), self.errf)
            t1 = time.perf_counter_ns()
        except BaseException:
            self.cleanup(cid)
            raise
        finally:
            reap_all()
        left = subprocess.run(self.cmd("state", cid), stdin=subprocess.DEVNULL,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=30)
        if left.returncode == 0:
            self.cleanup(cid)
            raise Failure(f"`run` left container {cid} behind (state succeeds after exit)")
        return t1 - t0

    def cleanup(self, cid):
        try:
            subprocess.run(self.cmd("delete", "--force", cid), stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=30)
        except subprocess.TimeoutExpired:
            print(f"warning: {self.name} delete --force {cid} hung (killed)", file=sys.stderr)
        reap_all()

    def last_error(self):
        self.errf.flush()
        self.errf.seek(0)
        data = self.errf.read()[-2000:].decode(errors="replace")
        self.errf.seek(0)
        self.errf.truncate()
        return data.strip()


def floor_op(argv, errf):
    t0 = time.perf_counter_ns()
    run(argv, errf)
    t1 = time.perf_counter_ns()
    return t1 - t0


def pct(sorted_vals, p):
    """Percentile by linear interpolation between closest ranks (numpy's default)."""
    if len(sorted_vals) == 1:
        return sorted_vals[0]
    k = (len(sorted_vals) - 1) * p / 100
    lo = int(k)
    hi = min(lo + 1, len(sorted_vals) - 1)
    return sorted_vals[lo] + (sorted_vals[hi] - sorted_vals[lo]) * (k - lo)


def version_of(path):
    try:
        out = subprocess.run([path, "--version"], capture_output=True, timeout=10).stdout
        return out.decode(errors="replace").splitlines()[0].strip() if out else ""
    except Exception as e:  # noqa: BLE001 - informative only
        return f"? ({e})"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, required=True)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--bundle", required=True)
    ap.add_argument("--state", required=True, help="dir for per-engine --root dirs")
    ap.add_argument("--engine", action="append", default=[], metavar="NAME=PATH")
    ap.add_argument("--ops", default="lifecycle,run")
    ap.add_argument("--floor", default="unshare --mount --uts --ipc --pid --net --fork /bin/true")
    ap.add_argument("--json", required=True)
    ap.add_argument("--note", action="append", default=[])
    a = ap.parse_args()

    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        sys.exit("prctl(PR_SET_CHILD_SUBREAPER) failed")
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)

    engines = []
    for spec in a.engine:
        name, path = spec.split("=", 1)
        root = os.path.join(a.state, name)
        os.makedirs(root, exist_ok=True)
        engines.append(Engine(name, path, root, a.bundle, a.state))
    ops = [o for o in a.ops.split(",") if o]
    errf = open(os.path.join(a.state, "floor.stderr"), "w+b")

    # Every series is one (label, callable). Order rotates each round so that
    # no series always runs right after the same other one.
    series = []
    for op in ops:
        for e in engines:
            fn = e.lifecycle if op == "lifecycle" else e.run_op
            series.append((f"{e.name} {op}", fn, e))
    floor_argv = a.floor.split()
    series.append(("floor", lambda: floor_op(floor_argv, errf), None))
    series.append(("harness", lambda: floor_op(["/bin/true"], errf), None))

    samples = {label: [] for label, _, _ in series}
    failures = {label: [] for label, _, _ in series}

    def one(label, fn, eng, keep):
        try:
            ns = fn()
        except (Failure, OSError, ValueError, subprocess.SubprocessError) as ex:
            err = eng.last_error() if eng else ""
            msg = f"{ex}" + (f": {err}" if err else "")
            failures[label].append(msg)
            print(f"FAIL {label}: {msg}", file=sys.stderr)
            return
        if keep:
            samples[label].append(ns)

    total = a.warmup + a.n
    for r in range(total):
        keep = r >= a.warmup
        k = r % len(series)
        for label, fn, eng in series[k:] + series[:k]:
            one(label, fn, eng, keep)
        if sys.stderr.isatty():
            print(f"\rround {r + 1}/{total}", end="", file=sys.stderr, flush=True)
    if sys.stderr.isatty():
        print(file=sys.stderr)

    stats = {}
    for label, _, _ in series:
        v = sorted(samples[label])
        if not v:
            stats[label] = None
            continue
        stats[label] = {
            "n": len(v), "failures": len(failures[label]),
            "median_ms": statistics.median(v) / 1e6, "p90_ms": pct(v, 90) / 1e6,
            "min_ms": v[0] / 1e6, "max_ms": v[-1] / 1e6,
        }

    floor = stats.get("floor")
    floor_med = floor["median_ms"] if floor else None
    # Fastest engine per operation (floor and harness are not engines).
    fastest = {}
    for op in ops:
        meds = [(stats[f"{e.name} {op}"]["median_ms"], e.name) for e in engines
                if stats.get(f"{e.name} {op}")]
        if meds:
            fastest[op] = min(meds)

    print()
    print(f"OCI runtime lifecycle, {a.n} rounds (+{a.warmup} warm-up round(s) untimed), "
          f"engines interleaved round-robin; times in ms, harness spawn cost included")
    hdr = f"{'series':<22} {'n':>4} {'fail':>4} {'median':>8} {'p90':>8} {'min':>8} {'max':>8} {'x fastest':>9} {'x floor':>8}"
    print(hdr)
    print("-" * len(hdr))
    for label, _, _ in series:
        s = stats[label]
        if s is None:
            print(f"{label:<22} {0:>4} {len(failures[label]):>4}   (no successful sample)")
            continue
        op = label.split(" ", 1)[1] if " " in label else None
        xf = ""
        if op in fastest:
            xf = f"{s['median_ms'] / fastest[op][0]:.2f}"
            s["x_fastest"] = s["median_ms"] / fastest[op][0]
        xfl = ""
        if floor_med:
            xfl = f"{s['median_ms'] / floor_med:.2f}"
            s["x_floor"] = s["median_ms"] / floor_med
        print(f"{label:<22} {s['n']:>4} {s['failures']:>4} {s['median_ms']:>8.2f} {s['p90_ms']:>8.2f} "
              f"{s['min_ms']:>8.2f} {s['max_ms']:>8.2f} {xf:>9} {xfl:>8}")
    print()
    print("lifecycle = create --pid-file + start + wait for the container process to exit (pidfd) + delete")
    print("run       = foreground `run` (the runtime deletes the container when it exits; checked untimed)")
    print(f"floor     = {a.floor}")
    print("harness   = spawning /bin/true from this harness (its per-command cost; included in every row)")
    for op, (_, name) in fastest.items():
        print(f"fastest {op}: {name}")
    for n in a.note:
        print(f"note: {n}")
    nfail = sum(len(f) for f in failures.values())
    if nfail:
        print(f"{nfail} failed iteration(s) are excluded from the stats and listed in the JSON", file=sys.stderr)

    result = {
        "benchmark": "runtime",
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": {"kernel": platform.release(), "cpus": os.cpu_count(),
                    "python": platform.python_version()},
        "config": {"rounds": a.n, "warmup_rounds": a.warmup, "ops": ops, "floor": a.floor,
                   "bundle": a.bundle, "order": "round-robin, rotated each round"},
        "engines": {e.name: {"path": e.path, "version": version_of(e.path)} for e in engines},
        "stats": stats,
        "samples_ns": samples,
        "failures": failures,
        "notes": a.note,
    }
    os.makedirs(os.path.dirname(os.path.abspath(a.json)), exist_ok=True)
    with open(a.json, "w") as f:
        json.dump(result, f, indent=1)
        f.write("\n")
    print(f"results: {a.json}")
    # Non-zero when any engine failed anything, so CI notices.
    sys.exit(1 if nfail else 0)


if __name__ == "__main__":
    main()
