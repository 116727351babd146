#!/usr/bin/env python3
"""Issue 20's goals, each as a ratio from one run. See bench/README.md
(`bench/goals.sh`), which makes the bundle and the busybox tar.

Reuses bench/engine.py's setup (berthd with the berth and docker CLIs,
dockerd, podman, the same busybox imported into each) and
bench/runtime.py's runtime driver (crun and berth-runtime on one bundle).

Series, interleaved round-robin (each round runs every series once, in an
order rotated by one):
  run --rm: berth CLI → berthd, docker CLI → berthd, docker CLI → dockerd,
            podman; `crun run` and `berth-runtime run` of the bundle (no
            engine, no overlay, no network, no seccomp: runc's default spec)
  lifecycle: create + start + wait + delete, crun and berth-runtime
Then, one engine after the other: `--burst` and `--burst/4` `run -d` (5
clients), for linearity and against dockerd, and `--attach-mib` MiB of
random bytes through `run -i --rm busybox cat`.

Every CLI is timed from spawn to exit through a pidfd (subprocess's
timeouts poll with growing sleeps and round the times up).
"""

import argparse
import json
import os
import platform
import select
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import engine  # noqa: E402
import runtime  # noqa: E402
import plot  # noqa: E402


def clock(argv, env=None, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, timeout=120):
    """Wall ms of argv from spawn to exit; raises on failure."""
    t0 = time.perf_counter_ns()
    p = subprocess.Popen(argv, env=env, stdin=stdin, stdout=stdout, stderr=subprocess.PIPE)
    fd = os.pidfd_open(p.pid)
    try:
        po = select.poll()
        po.register(fd, select.POLLIN)
        if not po.poll(timeout * 1000):
            p.kill()
            raise RuntimeError(f"{' '.join(argv)}: no exit in {timeout} s")
    finally:
        os.close(fd)
    t1 = time.perf_counter_ns()
    err = p.stderr.read().decode(errors="replace")
    if p.wait() != 0:
        raise RuntimeError(f"{' '.join(argv)}: exit {p.returncode}: {err.strip()}")
    return (t1 - t0) / 1e6


def ratio(a, b):
    return a / b if b else float("nan")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=15, help="rounds of the interleaved series")
    ap.add_argument("--burst", type=int, default=200, help="containers in the big burst (0: skip)")
    ap.add_argument("--attach-mib", type=int, default=64, help="MiB through run -i cat (0: skip)")
    ap.add_argument("--work", default="/var/lib/berth-bench")
    ap.add_argument("--busybox", required=True)
    ap.add_argument("--bundle", required=True)
    ap.add_argument("--state", required=True, help="state root for the runtimes (under /run)")
    ap.add_argument("--crun", default="/usr/bin/crun")
    ap.add_argument("--bin", default=os.path.join(os.path.dirname(HERE), "target/release"))
    ap.add_argument("--out", required=True)
    a = ap.parse_args()

    engines, children = engine.setup(a.work, a.busybox, a.bin, True, False)
    by = {e.name: e for e in engines}
    rts = [runtime.Engine(n, p, os.path.join(a.state, n), a.bundle, a.work)
           for n, p in (("crun", a.crun), ("berth-runtime", os.path.join(a.bin, "berth-runtime")))]
    for r in rts:
        os.makedirs(r.root, exist_ok=True)
    cli_runs = {
        "berth CLI → berthd": by["berthd (berth CLI)"],
        "docker CLI → berthd": by["berthd (docker CLI)"],
        "docker CLI → dockerd": by["dockerd"],
        "podman": by["podman"],
    }
    series = {}
    for name, e in cli_runs.items():
        series[f"run --rm: {name}"] = lambda e=e: clock(e.cli + ["run", "--rm", "busybox", "true"], env=e.env)
    for r in rts:
        series[f"run --rm: bare {r.name} run"] = lambda r=r: r.run_op() / 1e6
        series[f"lifecycle: {r.name}"] = lambda r=r: r.lifecycle() / 1e6
    res = {"machine": {"kernel": platform.release(), "cpus": os.cpu_count(),
                       "loadavg_before": open("/proc/loadavg").read().split()[:3],
                       "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())},
           "series": {}, "ratios": {}}
    try:
        for f in series.values():  # warm-up
            f()
        samples = {k: [] for k in series}
        keys = list(series)
        for i in range(a.n):
            for k in keys[i % len(keys):] + keys[:i % len(keys)]:
                samples[k].append(series[k]())
        for k, s in samples.items():
            res["series"][k] = {"samples": s, **engine.stats(s)}
        med = {k: v["median"] for k, v in res["series"].items()}
        R = res["ratios"]
        R["berth run --rm / bare crun run (goal <= 1.0)"] = ratio(med["run --rm: berth CLI → berthd"], med["run --rm: bare crun run"])
        R["docker run --rm: berthd / dockerd (goal <= 0.15)"] = ratio(med["run --rm: docker CLI → berthd"], med["run --rm: docker CLI → dockerd"])
        R["berth-runtime run / crun run (goal <= 1.0)"] = ratio(med["run --rm: bare berth-runtime run"], med["run --rm: bare crun run"])
        R["berth-runtime lifecycle / crun lifecycle (goal <= 1.0)"] = ratio(med["lifecycle: berth-runtime"], med["lifecycle: crun"])
        R["podman run --rm / berth run --rm"] = ratio(med["run --rm: podman"], med["run --rm: berth CLI → berthd"])

        if a.burst:
            sizes = [a.burst // 4, a.burst]
            for e in (by["berthd (docker CLI)"], by["dockerd"]):
                for size in sizes:
                    ids = []

                    def one(_, e=e):
                        return engine.sh(e.cli + ["run", "-d", "busybox", "sleep", "1000"], env=e.env).stdout.strip()

                    t0 = time.perf_counter()
                    with ThreadPoolExecutor(5) as pool:
                        ids.extend(pool.map(one, range(size)))
                    up = (time.perf_counter() - t0) * 1000
                    res["series"][f"{size} x run -d: {e.name}"] = {"samples": [up], **engine.stats([up])}
                    e.run(["rm", "-f"] + ids, timeout=900)
            b = lambda s, n: res["series"][f"{s} x run -d: {n}"]["median"]
            small, big = sizes
            R[f"{big} x run -d: dockerd / berthd (goal >= 8)"] = ratio(b(big, "dockerd"), b(big, "berthd (docker CLI)"))
            R[f"berthd: per container at {big} / at {small} (linear: 1.0)"] = ratio(b(big, "berthd (docker CLI)") / big, b(small, "berthd (docker CLI)") / small)
            R[f"dockerd: per container at {big} / at {small} (linear: 1.0)"] = ratio(b(big, "dockerd") / big, b(small, "dockerd") / small)

        if a.attach_mib:
            blob = os.path.join(a.work, "attach.bin")
            with open(blob, "wb") as f:
                for _ in range(a.attach_mib):
                    f.write(os.urandom(1 << 20))
            size = a.attach_mib << 20
            mbs = {}
            for name in ("berthd (docker CLI)", "berthd (berth CLI)", "dockerd"):
                e = by[name]
                with open(blob, "rb") as src, open(os.devnull, "wb") as sink:
                    ms = clock(e.cli + ["run", "-i", "--rm", "busybox", "cat"], env=e.env, stdin=src, stdout=sink, timeout=600)
                mbs[name] = size / 1e6 / (ms / 1000)
            res["attach_mb_per_s"] = mbs
            R["run -i binary MB/s: berthd / dockerd (goal >= 2)"] = ratio(mbs["berthd (docker CLI)"], mbs["dockerd"])
            os.unlink(blob)
    finally:
        engine.teardown(engines, children)
    res["machine"]["loadavg_after"] = open("/proc/loadavg").read().split()[:3]
    with open(a.out, "w") as f:
        json.dump(res, f, indent=1)
    print(f"{a.n} interleaved rounds, {res['machine']['date']}, load {' '.join(res['machine']['loadavg_before'])}"
          f" → {' '.join(res['machine']['loadavg_after'])}")
    print(f"{'series':48} {'median':>8} {'p90':>8} {'min':>8}")
    for k, v in res["series"].items():
        print(f"{k:48} {v['median']:8.1f} {v['p90']:8.1f} {v['min']:8.1f}")
    if "attach_mb_per_s" in res:
        for k, v in res["attach_mb_per_s"].items():
            print(f"run -i cat, MB/s, {k:33} {v:8.1f}")
    print("\nratios:")
    for k, v in R.items():
        print(f"  {v:6.2f}  {k}")
    svg = os.path.splitext(a.out)[0] + "-run-rm.svg"
    with open(svg, "w") as f:
        f.write(plot.latency(res))
    print(f"JSON: {a.out}\nplot: {svg}")


if __name__ == "__main__":
    sys.exit(main())
