#!/usr/bin/env python3
"""Published ports of berthd, dockerd and podman (netavark), side by side,
over IPv4 and IPv6: connections per second and throughput.

Why it matters: a published port is how a container serves anyone. berthd
forwards in the kernel (nftables DNAT) and relays in userland only what
DNAT cannot carry ([::1]); dockerd relays 127.0.0.1 and [::1] through its
docker-proxy (one process per port) and DNATs the rest; podman's netavark
DNATs. A relay in the path costs a copy of every byte and a second
connection per connection.

Everything runs in two network namespaces this script makes (and deletes):
`ENG` holds the three engines, their bridges and firewall rules; `CLI` is a
remote client, joined to `ENG` by a veth (198.18.0.1/24, fd00:18::1/64 on
the engines' side). Each engine serves, from a busybox container,
`httpd` on a published port (connections: connect, GET of 6 bytes, close)
and `nc -l` on another (throughput: MiB sent until the peer closes). The
rounds rotate the engines' order; the medians are reported.

Usage (root; see bench/net.sh, which prepares and cleans up):
    net.py WORK BUSYBOX_TAR BERTH_BIN [--rounds N] [--seconds S] [--mib M] [--out FILE]
"""

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time

ENG_V4, ENG_V6 = "198.18.0.1", "fd00:18::1"


def sh(argv, env=None, check=True, timeout=180):
    r = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=timeout)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: {r.stdout}{r.stderr}")
    return r


def netns_setup(eng, cli):
    tag = str(os.getpid())
    for cmd in [
        f"ip netns add {eng}", f"ip netns add {cli}",
        f"ip -n {eng} link set lo up", f"ip -n {cli} link set lo up",
        f"ip link add ve{tag} type veth peer name vc{tag}",
        f"ip link set ve{tag} netns {eng} name up0", f"ip link set vc{tag} netns {cli} name up0",
        f"ip -n {eng} addr add {ENG_V4}/24 dev up0", f"ip -n {eng} addr add {ENG_V6}/64 dev up0 nodad",
        f"ip -n {cli} addr add 198.18.0.2/24 dev up0", f"ip -n {cli} addr add fd00:18::2/64 dev up0 nodad",
        f"ip -n {eng} link set up0 up", f"ip -n {cli} link set up0 up",
        f"ip -n {cli} route add default via {ENG_V4}", f"ip -n {cli} -6 route add default via {ENG_V6}",
    ]:
        sh(["sh", "-c", cmd])


def in_ns(ns):
    """Runs the calling thread's later sockets in namespace `ns`."""
    fd = os.open(f"/run/netns/{ns}", os.O_RDONLY)
    os.setns(fd, os.CLONE_NEWNET)
    os.close(fd)


class Engine:
    def __init__(self, name, cli, env):
        self.name, self.cli, self.env = name, cli, env

    def run(self, args, check=True, timeout=180):
        return sh(self.cli + args, env=self.env, check=check, timeout=timeout)


def wait_socket(path, proc, what, timeout=60):
    t = time.time() + timeout
    while time.time() < t:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited ({proc.returncode})")
        if os.path.exists(path):
            try:
                s = socket.socket(socket.AF_UNIX)
                s.connect(path)
                s.close()
                return
            except OSError:
                pass
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not start")


def setup(work, eng, busybox_tar, berth_bin, repo):
    engines, children = [], []
    nsenter = ["nsenter", f"--net=/run/netns/{eng}"]
    # berthd, dual stack on its default bridge.
    bd = os.path.join(work, "berthd")
    os.makedirs(bd, exist_ok=True)
    sock = os.path.join(bd, "berthd.sock")
    log = open(os.path.join(bd, "log"), "w")
    p = subprocess.Popen(nsenter + [os.path.join(berth_bin, "berthd"), "-H", f"unix://{sock}",
                                    "--data-root", os.path.join(bd, "data"), "--exec-root", os.path.join(bd, "exec"),
                                    "--pidfile", os.path.join(bd, "pid"), "--bip", "10.61.0.1/24",
                                    "--ipv6", "--fixed-cidr-v6", "fd00:61::/64"],
                         stdout=log, stderr=log, start_new_session=True)
    children.append(p)
    wait_socket(sock, p, "berthd")
    engines.append(Engine("berthd", ["docker"], dict(os.environ, DOCKER_HOST=f"unix://{sock}",
                                                     DOCKER_CONFIG=os.path.join(work, "docker-config"))))
    # dockerd 20.10, dual stack, with its ip6tables rules (experimental in
    # 20.10, the default from 27) and its userland proxy (the default).
    dd = os.path.join(work, "dockerd")
    os.makedirs(dd, exist_ok=True)
    with open(os.path.join(dd, "daemon.json"), "w") as f:
        json.dump({"ipv6": True, "fixed-cidr-v6": "fd00:62::/64", "experimental": True, "ip6tables": True,
                   "bip": "10.62.0.1/24"}, f)
    dsock = os.path.join(dd, "docker.sock")
    dlog = open(os.path.join(dd, "log"), "w")
    q = subprocess.Popen(nsenter + ["/usr/sbin/dockerd", "-H", f"unix://{dsock}", "--data-root", os.path.join(dd, "data"),
                                    "--exec-root", os.path.join(dd, "exec"), "--pidfile", os.path.join(dd, "pid"),
                                    "--config-file", os.path.join(dd, "daemon.json"), "--storage-driver", "overlay2"],
                         stdout=dlog, stderr=dlog, start_new_session=True)
    children.append(q)
    wait_socket(dsock, q, "dockerd")
    engines.append(Engine("dockerd", ["docker"], dict(os.environ, DOCKER_HOST=f"unix://{dsock}",
                                                      DOCKER_CONFIG=os.path.join(work, "docker-config"))))
    # podman with netavark, a dual-stack network of its own.
    pd = os.path.join(work, "podman")
    r = sh(["bash", os.path.join(repo, "scripts/podman-setup.sh"), pd])
    penv = dict(os.environ)
    for line in r.stdout.splitlines():
        if line.startswith("export "):
            k, v = line[len("export "):].split("=", 1)
            penv[k] = v.strip("'\"")
    with open(penv["CONTAINERS_CONF"], "a") as f:
        f.write('network_backend = "netavark"\n')
    pod = Engine("podman (netavark)", nsenter + ["podman"], penv)
    pod.run(["network", "create", "--ipv6", "--subnet", "10.63.0.0/24", "--subnet", "fd00:63::/64", "dual"])
    engines.append(pod)
    for e in engines[:2]:
        e.run(["import", "-c", 'CMD ["sh"]', busybox_tar, "busybox:latest"])
    return engines, children


def teardown(engines, children):
    for e in engines:
        ids = e.run(["ps", "-aq"], check=False).stdout.split()
        if ids:
            e.run(["rm", "-f"] + (["-t", "0"] if e.name.startswith("podman") else []) + ids, check=False, timeout=300)
        if e.name.startswith("podman"):
            e.run(["network", "rm", "-f", "dual"], check=False)
    for c in children:
        c.terminate()
        try:
            c.wait(timeout=30)
        except subprocess.TimeoutExpired:
            c.kill()


def serve(e, web_port, nc_port):
    """The two servers; returns the host ports."""
    net = ["--network", "dual"] if e.name.startswith("podman") else []
    e.run(["run", "-d", "--name", "bench-web", "-p", f"{web_port}:80"] + net +
          ["busybox", "sh", "-c", "echo hello > /i && exec httpd -f -p 80 -h /"])
    e.run(["run", "-d", "--name", "bench-nc", "-p", f"{nc_port}:5001"] + net +
          ["busybox", "sh", "-c", "while true; do nc -l -p 5001 >/dev/null; done"])


def unserve(e):
    e.run(["rm", "-f"] + (["-t", "0"] if e.name.startswith("podman") else []) + ["bench-web", "bench-nc"], check=False)


def one_get(host, port):
    with socket.create_connection((host, port), timeout=5) as s:
        s.sendall(b"GET /i HTTP/1.0\r\n\r\n")
        got = b""
        while True:
            b = s.recv(4096)
            if not b:
                break
            got += b
    return b"hello" in got


def conn_rate(ns, host, port, seconds, threads=4):
    """Connections per second (connect, GET, read to close) from `threads`
    clients at once in namespace `ns`; None when none succeeds."""
    counts, errors = [0] * threads, [0] * threads
    stop = time.monotonic() + seconds

    def client(i):
        in_ns(ns)
        while time.monotonic() < stop:
            try:
                if one_get(host, port):
                    counts[i] += 1
                else:
                    errors[i] += 1
            except OSError:
                errors[i] += 1
                time.sleep(0.01)

    ts = [threading.Thread(target=client, args=(i,)) for i in range(threads)]
    t0 = time.monotonic()
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    n = sum(counts)
    return n / (time.monotonic() - t0) if n else None


def tput(ns, host, port, mib):
    """MB/s of `mib` MiB sent until the peer closes, from namespace `ns`."""
    out = {}

    def go():
        in_ns(ns)
        chunk = b"\0" * (1 << 20)
        for _ in range(50):
            try:
                t0 = time.monotonic()
                with socket.create_connection((host, port), timeout=30) as s:
                    for _ in range(mib):
                        s.sendall(chunk)
                    s.shutdown(socket.SHUT_WR)
                    while s.recv(65536):
                        pass
                out["v"] = mib * (1 << 20) / 1e6 / (time.monotonic() - t0)
                return
            except OSError:
                time.sleep(0.1)

    t = threading.Thread(target=go)
    t.start()
    t.join()
    return out.get("v")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("work")
    ap.add_argument("busybox_tar")
    ap.add_argument("berth_bin")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--mib", type=int, default=256)
    ap.add_argument("--out")
    a = ap.parse_args()
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    eng, cli = f"bbeng{os.getpid()}", f"bbcli{os.getpid()}"
    netns_setup(eng, cli)
    engines, children = [], []
    # Where each kind of client connects from, and to.
    paths = [
        ("v4, remote", cli, ENG_V4), ("v6, remote", cli, ENG_V6),
        ("v4, 127.0.0.1", eng, "127.0.0.1"), ("v6, [::1]", eng, "::1"),
    ]
    samples = {}
    try:
        engines, children = setup(a.work, eng, a.busybox_tar, a.berth_bin, repo)
        for i, e in enumerate(engines):
            serve(e, 18080 + 10 * i, 18081 + 10 * i)
        for e_i, e in enumerate(engines):
            # Up before anything is timed.
            for what, ns, host in paths:
                deadline = time.monotonic() + 15
                while time.monotonic() < deadline:
                    try:
                        r = {}
                        th = threading.Thread(target=lambda: (in_ns(ns), r.setdefault("ok", one_get(host, 18080 + 10 * e_i))))
                        th.start()
                        th.join()
                        if r.get("ok"):
                            break
                    except OSError:
                        pass
                    time.sleep(0.2)
        for rnd in range(a.rounds):
            order = engines[rnd % len(engines):] + engines[:rnd % len(engines)]
            for e in order:
                i = engines.index(e)
                for what, ns, host in paths:
                    c = conn_rate(ns, host, 18080 + 10 * i, a.seconds)
                    t = tput(ns, host, 18081 + 10 * i, a.mib)
                    samples.setdefault(f"conn/s {what}: {e.name}", []).append(c)
                    samples.setdefault(f"MB/s {what}: {e.name}", []).append(t)
                    print(f"round {rnd + 1} {e.name:18} {what:14} {c or 0:8.0f} conn/s {t or 0:8.0f} MB/s",
                          file=sys.stderr, flush=True)
        for e in engines:
            unserve(e)
    finally:
        teardown(engines, children)
        for ns in (eng, cli):
            sh(["ip", "netns", "del", ns], check=False)
    res = {}
    for k, vals in samples.items():
        ok = [v for v in vals if v is not None]
        res[k] = {"median": statistics.median(ok) if ok else None, "n": len(ok), "fail": len(vals) - len(ok),
                  "samples": vals}
    meta = {"kernel": os.uname().release, "load": os.getloadavg(), "rounds": a.rounds, "seconds": a.seconds,
            "mib": a.mib, "threads": 4}
    print("\nmedians (higher is better)")
    for e in engines:
        print(f"\n{e.name}")
        for what, _, _ in paths:
            c = res.get(f"conn/s {what}: {e.name}", {}).get("median")
            t = res.get(f"MB/s {what}: {e.name}", {}).get("median")
            print(f"  {what:14} {('%.0f' % c) if c else 'fails':>8} conn/s {('%.0f' % t) if t else 'fails':>8} MB/s")
    if a.out:
        os.makedirs(os.path.dirname(a.out), exist_ok=True)
        with open(a.out, "w") as f:
            json.dump({"meta": meta, "results": res}, f, indent=1)


if __name__ == "__main__":
    main()
