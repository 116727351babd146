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


# The steps: (name, from mark, to mark), each the median over the
# runs of that run's interval (not a difference of medians).
STEPS = [
("CLI start → create request arrives","run >","api POST /containers/create >"),
("create: checks, dirs, record (1 commit)","api POST /containers/create >","api POST /containers/create <"),
("  of which the record's commit + fsync","meta commit >","meta commit <"),
("CLI: attach and wait requests, then start","api POST /containers/create <","api POST /containers/{id}/start >"),
("start: user-start mark (1 commit)","api POST /containers/{id}/start >","engine start >"),
("overlay mount","overlay mount >","overlay mount <"),
("address (1 commit)","mounts prepared","address allocated"),
("netns + veth (netlink)","address allocated","netns and veth made"),
("spec + bundle files","network attached","bundle written"),
("shim spawn (exec, sealed memfd copy, fork)","bundle written","runtime create >"),
("runtime: load bundle, make cgroup, limits","runtime create >","cgroup limits applied"),
("runtime: plan (seccomp compile or cache)","cgroup limits applied","plan made"),
("runtime: fork stage1","plan made","stage1 forked"),
("runtime: pid into cgroup v1 (RCU grace period)","stage1 forked","stage1 in cgroup"),
("runtime: namespaces, init fork","stage1 in cgroup","init mounting"),
("runtime: rootfs (mounts, pivot_root)","init mounting","init rootfs done"),
("runtime: init ready → create returns","init rootfs done","runtime create <"),
("shim: control socket, attached readers join","runtime create <","attached readers joined"),
("runtime start (barrier released, execve)","runtime start >","runtime start <"),
("shim report → API start answered","runtime start <","api POST /containers/{id}/start <"),
("container runs `true`, exits, reaped","api POST /containers/{id}/start <","init reaped"),
("shim: exit.json, runtime delete (cgroup rmdir)","init reaped","shim done"),
("monitor sees the shim's exit, publishes","shim done","exit published"),
("release: unmount rootfs","engine release >","rootfs unmounted"),
("release: network detach (1 commit)","rootfs unmounted","engine release <"),
("remove: runtime state","engine remove >","runtime state deleted"),
("remove: container directory","runtime state deleted","container dir removed"),
("remove: record deleted (1 commit)","container dir removed","record deleted"),
("wait answered → CLI exits","wait answered","run <"),
("total","run >","run <")]


def per_run(trace):
    """Each timed run's marks as {what: offset ms}; a repeated mark is numbered."""
    out = []
    for r in runs(trace):
        cur = {"run >": 0.0}
        for off, what in r:
            k, n = what, 2
            while k in cur:
                k, n = f"{what} #{n}", n + 1
            cur[k] = off
        out.append(cur)
    return out


def step_table(trace):
    rs = per_run(trace)
    rows = []
    for name, a, z in STEPS:
        v = [r[z] - r[a] for r in rs if a in r and z in r]
        rows.append({"step": name, "from": a, "to": z,
                     "median_ms": statistics.median(v) if v else None})
    return rows


def steps_svg(res, path):
    """One row per step, a bar per build (median ms)."""
    import plot
    names = [n for n, b in res["builds"].items() if b.get("steps")]
    W, LEFT, BAR = 900, 370, 11
    rows = res["builds"][names[0]]["steps"]
    vmax = max(r["median_ms"] or 0 for n in names for r in res["builds"][n]["steps"]
               if r["step"] != "total") * 1.1
    x0, x1 = LEFT, W - 60
    body = [f'<text x="{W / 2}" y="20" text-anchor="middle" font-size="14">'
            f'{plot.esc(res["command"])}: median ms of each step (bench/trace.py)</text>']
    y = 34
    for k, n in enumerate(names):
        body.append(f'<rect x="{LEFT + 160 * k}" y="{y}" width="10" height="10" fill="{plot.COLORS[k % 5]}"/>')
        b = res["builds"][n]
        body.append(f'<text x="{LEFT + 160 * k + 14}" y="{y + 9}" font-size="11">{plot.esc(n)}: {b["median_ms"]:.0f} ms</text>')
    y += 20
    for i, r in enumerate(rows):
        if r["step"] == "total":
            continue
        body.append(f'<text x="{LEFT - 8}" y="{y + BAR * len(names) / 2 + 4}" text-anchor="end" font-size="11">{plot.esc(r["step"].strip())}</text>')
        for k, n in enumerate(names):
            v = res["builds"][n]["steps"][i]["median_ms"] or 0
            w = max((x1 - x0) * v / vmax, 1)
            body.append(f'<rect x="{x0}" y="{y}" width="{w:.1f}" height="{BAR - 1}" fill="{plot.COLORS[k % 5]}"/>')
            body.append(f'<text x="{x0 + w + 4:.1f}" y="{y + BAR - 2}" font-size="9" fill="#444">{v:.1f}</text>')
            y += BAR
        y += 5
    plot.axis(body, x0, x1, y + 4, vmax, "")
    with open(path, "w") as f:
        f.write(plot.svg(W, y + 34, body))


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
                                 "breakdown": breakdown(rs) if rs else [],
                                 "steps": step_table(d.trace) if rs else []}
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
    if any(b["steps"] for b in res["builds"].values()):
        names = [n for n, b in res["builds"].items() if b["steps"]]
        print("\n| step | " + " | ".join(f"{n} (ms)" for n in names) + " |")
        print("| --- |" + " --- |" * len(names))
        for i, r in enumerate(res["builds"][names[0]]["steps"]):
            cells = [res["builds"][n]["steps"][i]["median_ms"] for n in names]
            print(f"| {r['step']} | " + " | ".join("–" if c is None else f"{c:.1f}" for c in cells) + " |")
        svg = os.path.splitext(a.out)[0] + ".svg"
        steps_svg(res, svg)
        print(f"plot: {svg}")


if __name__ == "__main__":
    sys.exit(main())
