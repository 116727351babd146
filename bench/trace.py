#!/usr/bin/env python3
"""Where the time of `run --rm busybox true` goes, step by step, and an A/B
of two builds in the same run. See bench/README.md (`bench/trace.sh`).

Starts one berthd per build (its own roots, bridge and socket under WORK)
with BERTH_TRACE pointing at a file of its own: berthd, its shims and the
runtime inside them append `<CLOCK_MONOTONIC ns> <pid> <what>` lines there
(crates/runtime/src/trace.rs). The harness adds `run >` before it spawns
the CLI and `run <` when the CLI has exited, on the same clock. Rounds are
interleaved: each round runs every build once, the order rotated by one.

For each build it prints every mark's median offset from `run >` and the
median time since the mark before it (marks sorted by median offset), and
the median total; with two builds, the ratio of the totals.
"""

import argparse
import json
import os
import re
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "bench"))


def mark(path, what):
    with open(path, "a") as f:
        f.write(f"{time.monotonic_ns()} {os.getpid()} {what}\n")


def free_subnet(seed):
    routes = open("/proc/net/route").read()
    for n in range(250):
        b, c = 100 + (seed + n) % 100, 1 + (seed // 100 + n) % 250
        dst = f"{0:02X}{c:02X}{b:02X}{10:02X}"
        if dst not in routes:
            return f"10.{b}.{c}.1/24"
    raise RuntimeError("no free /24 under 10.0.0.0/8")


class Daemon:
    def __init__(self, name, bindir, work, k, cli, trace_env):
        self.name, self.bin = name, bindir
        self.dir = os.path.join(work, name)
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(self.dir)
        self.trace = os.path.join(self.dir, "trace")
        self.sock = os.path.join(self.dir, "berthd.sock")
        self.bridge = f"btr{os.getpid() % 10000}x{k}"
        env = dict(os.environ)
        if trace_env:
            env["BERTH_TRACE"] = self.trace
        self.log = open(os.path.join(self.dir, "log"), "w")
        self.proc = subprocess.Popen(
            [os.path.join(bindir, "berthd"), "-H", f"unix://{self.sock}",
             "--data-root", os.path.join(self.dir, "data"), "--exec-root", os.path.join(self.dir, "exec"),
             "--pidfile", os.path.join(self.dir, "pid"), "--bridge", self.bridge,
             "--bip", free_subnet(os.getpid() + 7 * k)],
            env=env, stdout=self.log, stderr=self.log, start_new_session=True)
        deadline = time.time() + 60
        while not os.path.exists(self.sock):
            if self.proc.poll() is not None or time.time() > deadline:
                raise RuntimeError(f"berthd {name} did not start; see {self.dir}/log")
            time.sleep(0.05)
        if cli == "berth":
            self.cli = [os.path.join(bindir, "berth"), "-H", f"unix://{self.sock}"]
            self.env = dict(os.environ)
        else:
            self.cli = ["docker"]
            self.env = dict(os.environ, DOCKER_HOST=f"unix://{self.sock}",
                            DOCKER_CONFIG=os.path.join(self.dir, "docker-config"))

    def run(self, args, check=True):
        r = subprocess.run(self.cli + args, env=self.env, capture_output=True, text=True, timeout=120)
        if check and r.returncode != 0:
            raise RuntimeError(f"{self.name}: {' '.join(args)}: {r.stderr.strip()}")
        return r

    def timed_run(self, args):
        mark(self.trace, "run >")
        t0 = time.monotonic_ns()
        p = subprocess.Popen(self.cli + args, env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        _, err = p.communicate()
        t1 = time.monotonic_ns()
        mark(self.trace, "run <")
        if p.returncode != 0:
            raise RuntimeError(f"{self.name}: {' '.join(args)}: exit {p.returncode}: {err.decode().strip()}")
        return (t1 - t0) / 1e6

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        subprocess.run(["ip", "link", "del", self.bridge], capture_output=True)
        subprocess.run(["nft", "delete", "table", "ip", f"berth_{self.bridge}"], capture_output=True)
        mounts = [l.split()[1] for l in open("/proc/mounts") if l.split()[1].startswith(self.dir)]
        for m in sorted(mounts, reverse=True):
            subprocess.run(["umount", "-l", m], capture_output=True)


def runs(trace):
    """The marks of each timed run: [(offset ms, what)], from `run >`."""
    out, cur, t0 = [], None, 0
    for line in open(trace):
        parts = line.rstrip("\n").split(" ", 2)
        if len(parts) < 3:
            continue
        # Container ids differ run by run: one name for each kind of request.
        t, what = int(parts[0]), re.sub(r"[0-9a-f]{64}", "{id}", parts[2])
        if what == "run >":
            cur, t0 = [], t
        elif cur is not None:
            cur.append(((t - t0) / 1e6, what))
            if what == "run <":
                out.append(cur)
                cur = None
    return out


def breakdown(all_runs):
    """Median offset of each mark, in order, and the median step to it."""
    offsets = {}
    for r in all_runs:
        seen = {}
        for off, what in sorted(r):
            # A mark that comes several times in a run (a second request of
            # the same kind) is numbered.
            k = seen.get(what, 0)
            seen[what] = k + 1
            key = what if k == 0 else f"{what} #{k + 1}"
            offsets.setdefault(key, []).append(off)
    rows = sorted(((statistics.median(v), k, len(v)) for k, v in offsets.items()))
    steps = []
    for r in all_runs:
        s = sorted(r)
        for i, (off, what) in enumerate(s):
            prev = s[i - 1][0] if i else 0.0
            steps.append((what, off - prev))
    step_med = {}
    for what, d in steps:
        step_med.setdefault(what, []).append(d)
    return [{"mark": k, "n": n, "median_ms": m,
             "step_ms": statistics.median(step_med.get(k.split(" #")[0], [0]))} for m, k, n in rows]


def waterfall(res, path):
    """An SVG of each build's marks: one row per mark, a bar from the mark
    before it to it (median offsets), so the long steps stand out."""
    import plot
    W, LEFT, ROW = 900, 330, 16
    builds = [(n, b) for n, b in res["builds"].items() if b["breakdown"]]
    rows = sum(len(b["breakdown"]) + 2 for _, b in builds)
    vmax = max(b["breakdown"][-1]["median_ms"] for _, b in builds) * 1.05
    x0, x1 = LEFT, W - 60
    body = [f'<text x="{W / 2}" y="20" text-anchor="middle" font-size="14">'
            f'{plot.esc(res["command"])}: median offset of each mark from the CLI\'s spawn (ms)</text>']
    y = 36
    for k, (name, b) in enumerate(builds):
        c = plot.COLORS[k % len(plot.COLORS)]
        body.append(f'<text x="10" y="{y + 12}" font-weight="bold">{plot.esc(name)}: median {b["median_ms"]:.1f} ms</text>')
        y += ROW
        prev = 0.0
        for r in b["breakdown"]:
            a, z = x0 + (x1 - x0) * prev / vmax, x0 + (x1 - x0) * r["median_ms"] / vmax
            body.append(f'<text x="{LEFT - 8}" y="{y + 11}" text-anchor="end" font-size="11">{plot.esc(r["mark"])}</text>')
            body.append(f'<rect x="{min(a, z):.1f}" y="{y + 2}" width="{max(abs(z - a), 1):.1f}" height="{ROW - 4}" fill="{c}"/>')
            body.append(f'<text x="{max(a, z) + 4:.1f}" y="{y + 11}" font-size="10" fill="#444">{r["median_ms"] - prev:.1f}</text>')
            prev = r["median_ms"]
            y += ROW
        y += ROW
    plot.axis(body, x0, x1, y, vmax, "")
    with open(path, "w") as f:
        f.write(plot.svg(W, y + 30, body))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=20)
    ap.add_argument("--bin", default=os.path.join(REPO, "target/release"), help="the build to trace")
    ap.add_argument("--ab", default="", help="a second build's directory, run interleaved (A/B)")
    ap.add_argument("--cli", default="berth", choices=["berth", "docker"])
    ap.add_argument("--network", default="", help="e.g. none (default: the daemon's bridge)")
    ap.add_argument("--no-trace", action="store_true", help="time only: no BERTH_TRACE")
    ap.add_argument("--work", default="/var/lib/berth-trace")
    ap.add_argument("--busybox", required=True, help="busybox rootfs tar")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()

    builds = [("new", a.bin)] + ([("old", a.ab)] if a.ab else [])
    daemons = []
    os.makedirs(a.work, exist_ok=True)
    try:
        for k, (name, d) in enumerate(builds):
            daemons.append(Daemon(name, d, a.work, k, a.cli, not a.no_trace))
        for d in daemons:
            d.run(["import", "-c", 'CMD ["sh"]', a.busybox, "busybox:latest"])
        args = ["run", "--rm"] + (["--network", a.network] if a.network else []) + ["busybox", "true"]
        for d in daemons:
            for _ in range(2):
                d.timed_run(args)
            open(d.trace, "w").close()
        walls = {d.name: [] for d in daemons}
        for i in range(a.n):
            for d in daemons[i % len(daemons):] + daemons[:i % len(daemons)]:
                walls[d.name].append(d.timed_run(args))
    finally:
        for d in daemons:
            d.stop()
    load = open("/proc/loadavg").read().split()[:3]
    res = {"machine": {"kernel": platform.release(), "cpus": os.cpu_count(), "loadavg": load,
                       "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())},
           "command": " ".join(args), "cli": a.cli, "builds": {}}
    for d in daemons:
        rs = runs(d.trace) if not a.no_trace else []
        res["builds"][d.name] = {"bin": d.bin, "wall_ms": walls[d.name],
                                 "median_ms": statistics.median(walls[d.name]),
                                 "breakdown": breakdown(rs) if rs else []}
    with open(a.out, "w") as f:
        json.dump(res, f, indent=1)
    print(f"{a.cli} {' '.join(args)}: {a.n} interleaved rounds, load average {' '.join(load)}")
    for name, b in res["builds"].items():
        print(f"\n{name} ({b['bin']}): median {b['median_ms']:.1f} ms")
        if b["breakdown"]:
            print(f"  {'at ms':>8} {'step ms':>8}  mark")
            for r in b["breakdown"]:
                print(f"  {r['median_ms']:8.2f} {r['step_ms']:8.2f}  {r['mark']}")
    if len(res["builds"]) == 2:
        new, old = res["builds"]["new"]["median_ms"], res["builds"]["old"]["median_ms"]
        print(f"\nnew / old: {new / old:.3f}")
    print(f"JSON: {a.out}")
    if any(b["breakdown"] for b in res["builds"].values()):
        svg = os.path.splitext(a.out)[0] + ".svg"
        waterfall(res, svg)
        print(f"plot: {svg}")


if __name__ == "__main__":
    sys.exit(main())
