#!/usr/bin/env python3
"""Engines side by side: berthd (driven by the docker CLI, and by berth's own
CLI when it has `run`), dockerd (Debian's docker.io, with its containerd and
runc) and podman (Debian's, runc). See bench/README.md.

Every engine gets its own socket and roots under WORK, the same busybox image
(imported from the same tar), and `--network none` (berth has no networking
yet, so the others are asked for none too). Rounds are interleaved: each
round runs every engine once, in an order rotated by one per round.

Workloads:
  run      `run --rm busybox true`, wall time of the CLI process.
  burst    50 `run -d busybox sleep 1000` (5 at a time) then one `rm -f` of
           all 50; wall time of each phase.
  memory   the engine's idle processes (RSS and PSS), then with 10 running
           containers: what each container adds (shims, conmon included).
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tarfile
import shutil
import time
from concurrent.futures import ThreadPoolExecutor

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def sh(argv, env=None, check=True, timeout=120):
    r = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=timeout)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: exit {r.returncode}: {r.stderr.strip()}")
    return r


def wait_socket(path, proc, what, timeout=60):
    deadline = time.time() + timeout
    while not os.path.exists(path):
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}; see its log")
        if time.time() > deadline:
            raise RuntimeError(f"{what} did not open {path}")
        time.sleep(0.05)


class Engine:
    """One engine: how to call its CLI and which processes are its own."""

    def __init__(self, name, cli, env, procs_match):
        self.name, self.cli, self.env, self.procs_match = name, cli, env, procs_match

    def run(self, args, check=True, timeout=120):
        return sh(self.cli + args, env=self.env, check=check, timeout=timeout)


def proc_mem(pid):
    """(RSS, PSS) in KiB of one process, from smaps_rollup."""
    rss = pss = 0
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Rss:"):
                    rss = int(line.split()[1])
                elif line.startswith("Pss:"):
                    pss = int(line.split()[1])
    except OSError:
        pass
    return rss, pss


def processes():
    out = []
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open(f"/proc/{p}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
            with open(f"/proc/{p}/comm") as f:
                comm = f.read().strip()
        except OSError:
            continue
        out.append((int(p), comm, cmd))
    return out


def engine_mem(e, names=None):
    rss = pss = n = 0
    for pid, comm, cmd in processes():
        if e.procs_match(pid, comm, cmd):
            r, p = proc_mem(pid)
            rss, pss, n = rss + r, pss + p, n + 1
            if names is not None:
                names.append(f"{comm} {r}")
    return rss, pss, n


def timed(f):
    t = time.perf_counter_ns()
    f()
    return (time.perf_counter_ns() - t) / 1e6


def stats(vals):
    if not vals:
        return {}
    s = sorted(vals)
    p90 = s[min(len(s) - 1, int(round(0.9 * (len(s) - 1))))]
    return {"n": len(s), "median": statistics.median(s), "p90": p90, "min": s[0], "max": s[-1]}


# The benchmark berthd's bridge (not the default `berth0` a real daemon on
# this machine may use), removed by teardown.
BRIDGE = f"bb{os.getpid() % 100000}"


def setup(work, busybox_tar, berth_bin, with_berth_cli, podman_crun):
    os.makedirs(work, exist_ok=True)
    engines, children = [], []
    # berthd
    bd = os.path.join(work, "berthd")
    os.makedirs(bd, exist_ok=True)
    sock = os.path.join(bd, "berthd.sock")
    log = open(os.path.join(bd, "log"), "w")
    p = subprocess.Popen([os.path.join(berth_bin, "berthd"), "-H", f"unix://{sock}",
                          "--data-root", os.path.join(bd, "data"), "--exec-root", os.path.join(bd, "exec"),
                          "--pidfile", os.path.join(bd, "pid"), "--bridge", BRIDGE],
                         stdout=log, stderr=log, start_new_session=True)
    children.append(p)
    wait_socket(sock, p, "berthd")
    env = dict(os.environ, DOCKER_HOST=f"unix://{sock}", DOCKER_CONFIG=os.path.join(work, "docker-config"))
    data = os.path.join(bd, "data")
    # This berthd by its pid (other daemons of the same binary may run on
    # the machine), and the shims of its data root.
    berth_match = lambda pid, comm, cmd, p=p, data=data: pid == p.pid or (data in cmd and "shim" in cmd)
    engines.append(Engine("berthd (docker CLI)", ["docker"], env, berth_match))
    if with_berth_cli:
        benv = dict(os.environ, BERTH_HOST=f"unix://{sock}")
        engines.append(Engine("berthd (berth CLI)", [os.path.join(berth_bin, "berth")], benv, berth_match))
    # dockerd
    dd = os.path.join(work, "dockerd")
    os.makedirs(dd, exist_ok=True)
    with open(os.path.join(dd, "daemon.json"), "w") as f:
        f.write("{}")
    dsock = os.path.join(dd, "docker.sock")
    dlog = open(os.path.join(dd, "log"), "w")
    q = subprocess.Popen(["/usr/sbin/dockerd", "-H", f"unix://{dsock}", "--data-root", os.path.join(dd, "data"),
                          "--exec-root", os.path.join(dd, "exec"), "--pidfile", os.path.join(dd, "pid"),
                          "--config-file", os.path.join(dd, "daemon.json"), "--storage-driver", "overlay2"],
                         stdout=dlog, stderr=dlog, start_new_session=True)
    children.append(q)
    wait_socket(dsock, q, "dockerd")
    denv = dict(os.environ, DOCKER_HOST=f"unix://{dsock}", DOCKER_CONFIG=os.path.join(work, "docker-config"))
    droot = os.path.join(dd, "exec")
    docker_match = lambda pid, comm, cmd, droot=droot: cmd.startswith("/usr/sbin/dockerd") and dd in cmd or (comm.startswith("containerd") and ("moby" in cmd or droot in cmd))
    engines.append(Engine("dockerd", ["docker"], denv, docker_match))
    # podman
    pd = os.path.join(work, "podman")
    r = sh(["bash", os.path.join(REPO, "scripts/podman-setup.sh"), pd])
    penv = dict(os.environ)
    for line in r.stdout.splitlines():
        if line.startswith("export "):
            k, v = line[len("export "):].split("=", 1)
            penv[k] = v.strip("'\"")
    podman_match = lambda pid, comm, cmd, pd=pd: comm == "conmon" and pd in cmd
    engines.append(Engine("podman", ["podman"], penv, podman_match))
    if podman_crun:
        engines.append(Engine("podman (crun)", ["podman", "--runtime", "crun"], penv, podman_match))
    # The same image everywhere.
    for e in engines:
        if e.name.startswith("podman"):
            continue
        if e.name.startswith("berthd (berth"):
            continue
        e.run(["import", "-c", 'CMD ["sh"]', busybox_tar, "busybox:latest"])
    return engines, children


def teardown(engines, children):
    for e in engines:
        if e.name.startswith("berthd (berth"):
            continue
        ids = e.run(["ps", "-aq"], check=False).stdout.split()
        if ids:
            e.run(["rm", "-f"] + (["-t", "0"] if e.name.startswith("podman") else []) + ids, check=False, timeout=300)
    for c in children:
        c.terminate()
        try:
            c.wait(timeout=30)
        except subprocess.TimeoutExpired:
            c.kill()
    # berthd leaves its bridge and nftables table for its next start: this
    # one is the benchmark's own, removed as the benchmark found the machine.
    sh(["ip", "link", "del", BRIDGE], check=False)
    sh(["nft", "delete", "table", "ip", f"berth_{BRIDGE}"], check=False)


def net_args(e):
    """Every engine on its own default network (a bridge with NAT)."""
    return []


def host_ipv4():
    out = sh(["ip", "-4", "-o", "addr", "show", "scope", "global"], check=False).stdout.split()
    for i, w in enumerate(out):
        if w == "inet":
            return out[i + 1].split("/")[0]
    return None


def send_mib(host, port, mib):
    """Sends `mib` MiB over TCP and waits for the peer to close; ms."""
    import socket
    chunk = b"\0" * (1 << 20)
    t0 = time.monotonic()
    with socket.create_connection((host, port), timeout=30) as sk:
        for _ in range(mib):
            sk.sendall(chunk)
        sk.shutdown(socket.SHUT_WR)
        while sk.recv(65536):
            pass
    return (time.monotonic() - t0) * 1000


def throughput(e, mib, rounds):
    """MB/s into `nc -l` in a container: through a published port on
    127.0.0.1 (dockerd's userland proxy), on the host's own address (DNAT),
    and straight to the container's address over the bridge."""
    name = "bench-tput"
    e.run(["run", "-d", "--name", name, "-p", "5001", "busybox", "sh", "-c",
           "while true; do nc -l -p 5001 >/dev/null; done"])
    try:
        hp = int(e.run(["port", name, "5001/tcp"]).stdout.split()[0].rsplit(":", 1)[1])
        cip = e.run(["inspect", "-f", "{{.NetworkSettings.IPAddress}}", name]).stdout.strip()
        hip = host_ipv4()
        targets = [("published, 127.0.0.1", "127.0.0.1", hp), ("published, host address", hip, hp),
                   ("container address", cip, 5001)]
        out = {}
        for what, h, port in targets:
            if not h:
                continue
            best = []
            for _ in range(rounds):
                for _ in range(50):
                    try:
                        best.append(send_mib(h, port, mib))
                        break
                    except OSError:
                        time.sleep(0.1)
            if best:
                out[what] = mib * (1 << 20) / 1e6 / (statistics.median(best) / 1000)
        return out
    finally:
        e.run(["rm", "-f"] + (["-t", "0"] if e.name.startswith("podman") else []) + [name], check=False)


def start_registry(work, name):
    """Debian's docker-registry on a free loopback port; (process, host:port)."""
    import socket
    with socket.socket() as sk:
        sk.bind(("127.0.0.1", 0))
        port = sk.getsockname()[1]
    d = os.path.join(work, "registry", name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    cfg = os.path.join(d, "config.yml")
    with open(cfg, "w") as f:
        f.write(f"version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: {d}/data\n"
                f"http:\n  addr: 127.0.0.1:{port}\nlog:\n  level: error\n")
    p = subprocess.Popen(["docker-registry", "serve", cfg], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         start_new_session=True)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    return p, f"127.0.0.1:{port}"


def pull_push(a, engines, res):
    """Cold pulls of a multi-layer image from a local registry, then pushes of
    it to an empty registry, every engine, round-robin; MB/s of the image's
    uncompressed size."""
    size = 0
    with tarfile.open(a.pull_image) as t:
        for m in t.getmembers():
            if m.name.endswith("/layer.tar"):
                size += m.size
    src, host = start_registry(a.work, "source")
    try:
        sh(["skopeo", "copy", "--quiet", "--dest-tls-verify=false", f"docker-archive:{a.pull_image}",
            f"docker://{host}/debian:ml"], timeout=600)
        ref = f"{host}/debian:ml"
        pulls = {e.name: [] for e in engines}
        pushes = {e.name: [] for e in engines}
        tls = lambda e: ["--tls-verify=false"] if e.name.startswith("podman") else []
        for i in range(a.pulls):
            for e in engines[i % len(engines):] + engines[:i % len(engines)]:
                e.run(["rmi", "-f", ref], check=False, timeout=300)
                e.run(["image", "prune", "-f"], check=False, timeout=300)
                sh(["sync"])
                with open("/proc/sys/vm/drop_caches", "w") as f:
                    f.write("1")
                pulls[e.name].append(timed(lambda e=e: e.run(["pull", "-q"] + tls(e) + [ref], timeout=900)))
                dst, dhost = start_registry(a.work, "push")
                try:
                    target = f"{dhost}/pushed:1"
                    e.run(["tag", ref, target])
                    pushes[e.name].append(timed(lambda e=e: e.run(["push"] + tls(e) + [target], timeout=900)))
                    e.run(["rmi", target], check=False)
                finally:
                    dst.terminate()
                    dst.wait()
        out = {"image_mib": size / (1 << 20), "mb_per_s": {}}
        for e in engines:
            for what, d in (("pull, cold", pulls), ("push, empty registry", pushes)):
                s = d[e.name]
                res["series"][f"{what}: {e.name}"] = {"samples": s, **stats(s)}
                out["mb_per_s"][f"{what}: {e.name}"] = size / 1e6 / (stats(s)["median"] / 1000)
        return out
    finally:
        src.terminate()
        src.wait()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=20, help="rounds of run --rm")
    ap.add_argument("--bursts", type=int, default=2, help="rounds of each burst")
    ap.add_argument("--burst-sizes", default="50,200", help="containers per burst, comma-separated")
    ap.add_argument("--commit-mib", type=int, default=100, help="MiB written then committed (0: skip)")
    ap.add_argument("--podman-crun", action="store_true", help="podman with crun as another engine")
    ap.add_argument("--work", default="/var/lib/berth-bench")
    ap.add_argument("--busybox", required=True, help="busybox rootfs tar")
    ap.add_argument("--bin", default=os.path.join(REPO, "target/release"))
    ap.add_argument("--out", required=True)
    ap.add_argument("--berth-cli", action="store_true", help="also time berth's own CLI")
    ap.add_argument("--exec", type=int, default=20, dest="execs", help="rounds of exec into a running container")
    ap.add_argument("--attach-mib", type=int, default=1024, help="MiB piped through run -i cat (0: skip)")
    ap.add_argument("--builds", type=int, default=3, help="rounds of a cold and a warm build (0: skip)")
    ap.add_argument("--pull-image", default="", help="a docker-save archive (bench/debian-image.py) pulled and pushed through a local registry")
    ap.add_argument("--pulls", type=int, default=3, help="rounds of pull and push (with --pull-image)")
    ap.add_argument("--tcp-mib", type=int, default=256, help="MiB sent through a published port and a veth (0: skip)")
    a = ap.parse_args()

    engines, children = setup(a.work, a.busybox, a.bin, a.berth_cli, a.podman_crun)
    def first_line(cmd):
        r = sh(cmd, check=False)
        return (r.stdout.strip().splitlines() or ["?"])[0]
    cgroup = "v2" if os.path.exists("/sys/fs/cgroup/cgroup.controllers") else (
        "v1 + cgroup2 (hybrid)" if os.path.isdir("/sys/fs/cgroup/unified") else "v1")
    res = {"machine": {"kernel": platform.release(), "cpus": os.cpu_count(), "cgroup": cgroup,
                       "runc": first_line(["runc", "--version"]), "crun": first_line(["crun", "--version"]),
                       "containerd": first_line(["containerd", "--version"]),
                       "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())},
           "versions": {}, "series": {}}
    try:
        for e in engines:
            v = e.run(["version", "--format", "{{.Server.Version}}"], check=False)
            res["versions"][e.name] = (v.stdout.strip().splitlines() or ["?"])[0]
        # idle memory, before any container
        idle_names = {e.name: [] for e in engines}
        idle = {e.name: engine_mem(e, idle_names[e.name]) for e in engines}
        res["idle_processes"] = idle_names
        # warm-up
        for e in engines:
            e.run(["run", "--rm"] + net_args(e) + ["busybox", "true"])
        samples = {e.name: [] for e in engines}
        for i in range(a.n):
            order = engines[i % len(engines):] + engines[:i % len(engines)]
            for e in order:
                samples[e.name].append(timed(lambda e=e: e.run(["run", "--rm"] + net_args(e) + ["busybox", "true"])))
        for name, s in samples.items():
            res["series"][f"run --rm: {name}"] = {"samples": s, **stats(s)}
        # the cost of the network: the same without one
        none = {e.name: [] for e in engines}
        for i in range(a.n):
            for e in engines[i % len(engines):] + engines[:i % len(engines)]:
                none[e.name].append(timed(lambda e=e: e.run(["run", "--rm", "--network", "none", "busybox", "true"])))
        for name, s in none.items():
            res["series"][f"run --rm --network none: {name}"] = {"samples": s, **stats(s)}
        # the lifecycle step by step: create, start, stop, rm; and run -d
        steps = {k: {e.name: [] for e in engines} for k in ("create", "start", "stop", "rm", "run -d")}
        for i in range(a.n):
            for k, e in enumerate(engines[i % len(engines):] + engines[:i % len(engines)]):
                name = f"bench-life-{k}"
                stop_t = ["-t", "0"]
                steps["create"][e.name].append(timed(lambda e=e, name=name: e.run(["create", "--name", name, "busybox", "sleep", "1000"])))
                steps["start"][e.name].append(timed(lambda e=e, name=name: e.run(["start", name])))
                steps["stop"][e.name].append(timed(lambda e=e, name=name: e.run(["stop"] + stop_t + [name])))
                steps["rm"][e.name].append(timed(lambda e=e, name=name: e.run(["rm", name])))
                box = {}
                steps["run -d"][e.name].append(timed(lambda e=e, box=box: box.setdefault("id", e.run(["run", "-d", "busybox", "sleep", "1000"]).stdout.strip())))
                e.run(["rm", "-f"] + (["-t", "0"] if e.name.startswith("podman") else []) + [box["id"]], check=False)
        for k, per in steps.items():
            for name, s in per.items():
                res["series"][f"{k}: {name}"] = {"samples": s, **stats(s)}
        # exec into a running container, round-robin
        # (two clients may share one daemon: a name each)
        box = {e.name: f"bench-exec-{k}" for k, e in enumerate(engines)}
        for e in engines:
            e.run(["run", "-d", "--name", box[e.name]] + net_args(e) + ["busybox", "sleep", "1000"])
            e.run(["exec", box[e.name], "true"])
        ex = {e.name: [] for e in engines}
        for i in range(a.execs):
            for e in engines[i % len(engines):] + engines[:i % len(engines)]:
                ex[e.name].append(timed(lambda e=e: e.run(["exec", box[e.name], "true"])))
        for e in engines:
            e.run(["rm", "-f"] + (["-t", "0"] if e.name.startswith("podman") else []) + [box[e.name]])
            res["series"][f"exec true: {e.name}"] = {"samples": ex[e.name], **stats(ex[e.name])}
        # bytes through attach: our stdin into `cat`, its stdout back out
        if a.attach_mib:
            blob = os.path.join(a.work, "attach.bin")
            with open(blob, "wb") as f:
                chunk = os.urandom(1 << 20)
                for _ in range(a.attach_mib):
                    f.write(chunk)
            size = a.attach_mib << 20
            thr = {}

            def through(cmd, env=None):
                with open(blob, "rb") as src:
                    t = time.perf_counter()
                    p = subprocess.run(cmd, stdin=src, stdout=subprocess.PIPE, env=env, check=True)
                    dt = time.perf_counter() - t
                assert len(p.stdout) == size, f"{cmd}: {len(p.stdout)} of {size} bytes"
                return dt

            thr["a bare pipe (cat)"] = through(["cat"])
            for e in engines:
                thr[e.name] = through(e.cli + ["run", "-i", "--rm"] + net_args(e) + ["busybox", "cat"], env=e.env)
            res["attach"] = {"mib": a.attach_mib,
                             "mb_per_s": {k: size / 1e6 / v for k, v in thr.items()}}
            os.unlink(blob)
        # bursts of detached containers, started 5 at a time, then removed
        burst_engines = [e for e in engines if not e.name.startswith("berthd (berth")]
        rm_cmd = lambda e: ["rm", "-f"] + (["-t", "0"] if e.name.startswith("podman") else [])
        for size in [int(x) for x in a.burst_sizes.split(",") if x]:
            up = {e.name: [] for e in burst_engines}
            down = {e.name: [] for e in burst_engines}
            for i in range(a.bursts):
                for e in burst_engines[i % len(burst_engines):] + burst_engines[:i % len(burst_engines)]:
                    ids = []

                    def one(_, e=e):
                        return e.run(["run", "-d"] + net_args(e) + ["busybox", "sleep", "1000"]).stdout.strip()

                    def start_all(e=e, ids=ids):
                        with ThreadPoolExecutor(5) as pool:
                            ids.extend(pool.map(one, range(size)))

                    up[e.name].append(timed(start_all))
                    down[e.name].append(timed(lambda e=e, ids=ids: e.run(rm_cmd(e) + ids, timeout=900)))
            for e in burst_engines:
                res["series"][f"{size} x run -d: {e.name}"] = {"samples": up[e.name], **stats(up[e.name])}
                res["series"][f"{size} x rm -f: {e.name}"] = {"samples": down[e.name], **stats(down[e.name])}
        # commit of a container that wrote N MiB
        if a.commit_mib:
            for e in burst_engines:
                name = "bench-commit"
                e.run(["run", "--name", name] + net_args(e) +
                      ["busybox", "dd", "if=/dev/urandom", "of=/big", "bs=1M", f"count={a.commit_mib}"], timeout=300)
                t = timed(lambda e=e: e.run(["commit", name, "bench-committed:1"], timeout=600))
                res["series"][f"commit {a.commit_mib} MiB: {e.name}"] = {"samples": [t], **stats([t])}
                e.run(rm_cmd(e) + [name])
                e.run(["rmi", "bench-committed:1"], check=False)
        # build: cold (no cache) and warm (all cached) of the same Dockerfile:
        # COPY of a 16 MiB context, three RUN steps, metadata steps
        if a.builds:
            ctx = os.path.join(a.work, "build-ctx")
            os.makedirs(os.path.join(ctx, "data"), exist_ok=True)
            for k in range(16):
                with open(os.path.join(ctx, "data", f"f{k}"), "wb") as f:
                    f.write(os.urandom(1 << 20))
            with open(os.path.join(ctx, "Dockerfile"), "w") as f:
                f.write("FROM busybox\nENV APP=/app\nWORKDIR /app\nCOPY data/ ./data/\nEXPOSE 8080\n"
                        "RUN cat data/* | md5sum > sum\nRUN mkdir -p out && cp sum out/\nRUN ls -l out > listing\n"
                        "LABEL bench=yes\nCMD [\"cat\", \"sum\"]\n")
            for e in burst_engines:
                benv = dict(e.env, DOCKER_BUILDKIT="0")
                extra = ["--network", "none"] if e.name.startswith("podman") else []
                build = lambda flags, e=e, benv=benv, extra=extra: sh(
                    e.cli + ["build"] + extra + flags + ["-t", "bench-built:1", ctx], env=benv, timeout=600)
                cold = [timed(lambda: build(["--no-cache"])) for _ in range(a.builds)]
                warm = [timed(lambda: build([])) for _ in range(a.builds)]
                res["series"][f"build, cold: {e.name}"] = {"samples": cold, **stats(cold)}
                res["series"][f"build, warm: {e.name}"] = {"samples": warm, **stats(warm)}
                e.run(["rmi", "bench-built:1"], check=False)
        # TCP through a published port and over the bridge
        if a.tcp_mib:
            res["tcp"] = {"mib": a.tcp_mib, "mb_per_s": {}}
            for e in [x for x in engines if not x.name.startswith("berthd (berth")]:
                for what, v in throughput(e, a.tcp_mib, 3).items():
                    res["tcp"]["mb_per_s"][f"{what}: {e.name}"] = v
        # pull (cold: the image and its layers removed first) and push, each
        # through a registry of its own on loopback (Debian's docker-registry)
        if a.pull_image:
            res["pull"] = pull_push(a, burst_engines, res)
        # memory: idle, and what each of 10 running containers adds
        mem = {}
        for e in burst_engines:
            # The baseline is the engine as the workloads left it (a daemon's
            # heap after bursts is not a container's cost); idle is at start.
            time.sleep(3)
            base = engine_mem(e)
            ids = [e.run(["run", "-d"] + net_args(e) + ["busybox", "sleep", "1000"]).stdout.strip() for _ in range(10)]
            time.sleep(1)
            busy = engine_mem(e)
            i_rss, i_pss, i_n = idle[e.name]
            mem[e.name] = {"idle_rss_kib": i_rss, "idle_pss_kib": i_pss, "idle_procs": i_n,
                           "after_work_rss_kib": base[0], "after_work_pss_kib": base[1],
                           "per_container_rss_kib": (busy[0] - base[0]) / 10, "per_container_pss_kib": (busy[1] - base[1]) / 10,
                           "procs_with_10": busy[2]}
            e.run(rm_cmd(e) + ids, timeout=300)
        res["memory"] = mem
    finally:
        teardown(engines, children)

    with open(a.out, "w") as f:
        json.dump(res, f, indent=1)
    base = "berthd (docker CLI)"
    print(f"\nengines side by side: {res['machine']}")
    for k, v in res["versions"].items():
        print(f"  {k}: {v}")
    print(f"\n{'series':48} {'median ms':>10} {'p90 ms':>10} {'x berthd':>9}")
    for k, v in res["series"].items():
        what, eng = k.split(": ", 1)
        ref = res["series"].get(f"{what}: {base}", {}).get("median")
        ratio = f"{v['median'] / ref:.2f}" if ref else ""
        print(f"{k:48} {v['median']:10.1f} {v['p90']:10.1f} {ratio:>9}")
    print(f"\n{'memory (KiB)':24} {'idle RSS':>9} {'idle PSS':>9} {'busy PSS':>9} {'+RSS/ctr':>9} {'+PSS/ctr':>9}")
    for k, m in res["memory"].items():
        print(f"{k:24} {m['idle_rss_kib']:9} {m['idle_pss_kib']:9} {m['after_work_pss_kib']:9} {m['per_container_rss_kib']:9.0f} {m['per_container_pss_kib']:9.0f}")
    if "tcp" in res:
        print(f"\n{res['tcp']['mib']} MiB over TCP into nc in a container (MB/s; higher is better)")
        for k, v in res["tcp"]["mb_per_s"].items():
            print(f"  {k:48} {v:8.0f}")
    if "pull" in res:
        print(f"\npull and push of a {res['pull']['image_mib']:.0f} MiB image (MB/s of its layers; higher is better)")
        for k, v in res["pull"]["mb_per_s"].items():
            print(f"  {k:44} {v:8.0f}")
    if "attach" in res:
        print(f"\n{res['attach']['mib']} MiB through run -i cat (MB/s; higher is better)")
        for k, v in res["attach"]["mb_per_s"].items():
            print(f"  {k:28} {v:8.0f}")
    print(f"\nJSON: {a.out}")


if __name__ == "__main__":
    sys.exit(main())
