#!/usr/bin/env python3
"""Published ports of berthd, dockerd and podman (netavark), side by side,
over IPv4 and IPv6: connections per second and throughput.

Why it matters: a published port is how a container serves anyone. berthd
forwards in the kernel (nftables DNAT) and relays in userland only what
DNAT cannot carry ([::1]); dockerd relays 127.0.0.1 and [::1] through its
docker-proxy (one process per port) and DNATs the rest; podman's netavark
DNATs. A relay in the path costs a copy of every byte and a second
connection per connection.

Everything runs in network namespaces this script makes (and deletes): one
per engine (its bridges and firewall rules; dockerd's FORWARD policy DROP
would drop the others' traffic in a shared one) and `CLI`, a remote client
joined to engine N's namespace by a veth (198.18.N.1/24, fd00:18:N::1/64 on
the engine's side). Each engine serves, from a busybox container,
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

def eng_v4(n):
    return f"198.18.{n}.1"


def eng_v6(n):
    return f"fd00:18:{n}::1"


def sh(argv, env=None, check=True, timeout=180):
    r = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=timeout)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: {r.stdout}{r.stderr}")
    return r


def netns_setup(engs, cli):
    tag = str(os.getpid())
    sh(["ip", "netns", "add", cli])
    sh(["ip", "-n", cli, "link", "set", "lo", "up"])
    for n, eng in enumerate(engs, 1):
        for cmd in [
            f"ip netns add {eng}", f"ip -n {eng} link set lo up",
            f"ip link add ve{n}x{tag} type veth peer name vc{n}x{tag}",
            f"ip link set ve{n}x{tag} netns {eng} name up0", f"ip link set vc{n}x{tag} netns {cli} name up{n}",
            f"ip -n {eng} addr add {eng_v4(n)}/24 dev up0", f"ip -n {eng} addr add {eng_v6(n)}/64 dev up0 nodad",
            f"ip -n {cli} addr add 198.18.{n}.2/24 dev up{n}", f"ip -n {cli} addr add fd00:18:{n}::2/64 dev up{n} nodad",
            f"ip -n {eng} link set up0 up", f"ip -n {cli} link set up{n} up",
            f"ip -n {eng} route add default via 198.18.{n}.2", f"ip -n {eng} -6 route add default via fd00:18:{n}::2",
        ]:
            sh(["sh", "-c", cmd])


_libc = None


def in_ns(ns):
    """Runs the calling thread's later sockets in namespace `ns`
    (setns(2) through libc: os.setns is Python 3.12's)."""
    global _libc
    if _libc is None:
        import ctypes
        _libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(f"/run/netns/{ns}", os.O_RDONLY)
    try:
        if _libc.setns(fd, 0x40000000) != 0:  # CLONE_NEWNET
            raise OSError("setns failed")
    finally:
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


def setup(work, engs, busybox_tar, berth_bin, repo):
    engines, children = [], []
    nsenter = ["nsenter", f"--net=/run/netns/{engs[0]}"]
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
    nsenter = ["nsenter", f"--net=/run/netns/{engs[1]}"]
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
    nsenter = ["nsenter", f"--net=/run/netns/{engs[2]}"]
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
    # No DNS (aardvark-dns would outlive the namespace): not measured here.
    pod.run(["network", "create", "--disable-dns", "--ipv6", "--subnet", "10.63.0.0/24", "--subnet", "fd00:63::/64",
             "dual"])
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
        for _ in range(5):
            try:
                t0 = time.monotonic()
                with socket.create_connection((host, port), timeout=10) as s:
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
    # A TERM (bench/net.sh's trap, a timeout) unwinds through the cleanup.
    import signal
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
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
    engs = [f"bbe{n}x{os.getpid()}" for n in (1, 2, 3)]
    cli = f"bbcli{os.getpid()}"
    netns_setup(engs, cli)
    engines, children = [], []
    # Where each kind of client connects from, and to.
    def paths_of(i):
        n = i + 1
        return [
            ("v4, remote", cli, eng_v4(n)), ("v6, remote", cli, eng_v6(n)),
            ("v4, 127.0.0.1", engs[i], "127.0.0.1"), ("v6, [::1]", engs[i], "::1"),
        ]

    paths = paths_of(0)
    samples = {}
    try:
        engines, children = setup(a.work, engs, a.busybox_tar, a.berth_bin, repo)
        for i, e in enumerate(engines):
            serve(e, 18080 + 10 * i, 18081 + 10 * i)
        # Up before anything is timed; a path that never answers (podman
        # has no relay for [::1]) is reported as failing, not timed.
        dead = set()
        for e_i, e in enumerate(engines):
            for what, ns, host in paths_of(e_i):
                up = {}

                def probe(ns=ns, host=host, port=18080 + 10 * e_i):
                    in_ns(ns)
                    deadline = time.monotonic() + 10
                    while time.monotonic() < deadline and not up:
                        try:
                            if one_get(host, port):
                                up["ok"] = True
                        except OSError:
                            time.sleep(0.2)

                th = threading.Thread(target=probe)
                th.start()
                th.join()
                if not up:
                    dead.add((e.name, what))
                    print(f"{e.name}: {what} does not answer", file=sys.stderr, flush=True)
        for rnd in range(a.rounds):
            order = engines[rnd % len(engines):] + engines[:rnd % len(engines)]
            for e in order:
                i = engines.index(e)
                for what, ns, host in paths_of(i):
                    if (e.name, what) in dead:
                        c = t = None
                    else:
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
        for ns in engs + [cli]:
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
