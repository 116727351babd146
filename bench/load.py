#!/usr/bin/env python3
"""berthd under load (issue 16): many containers at once, many clients at once.

    bench/load.py [--berthd PATH] [--many 500] [--burst 200] [--clients 20]

As root, with a berthd of its own (private roots, a bridge `bl<pid>` on a
/21 so that every container gets an address):

1. `--many` busybox `sleep` containers started (`docker run -d`, 8 clients),
   then, idle: berthd's RSS and CPU over 20 s, the shims' summed PSS,
   `docker ps` / `docker inspect` latency (and the API's own, by a raw
   request), and the time a berthd killed with -9 takes to answer again and
   to list all of them as running; then all removed.
2. `--burst` `docker run -d` from `--clients` parallel clients at once, then
   as many `docker rm -f` at once: every call succeeds or fails with a clear
   message, no IP address is given twice, and afterwards nothing is left
   (containers, their directories, mounts, veths, network namespaces).

Prints one line per figure, and "load: N problems" last (exit 1 if any).
Why it matters: a daemon that serves hundreds of containers must stay small
and quick, and come back after a crash without losing them.
"""

import argparse
import concurrent.futures as cf
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def ms(t):
    return "%.1f ms" % (t * 1000)


class Load:
    def __init__(self, args):
        self.args = args
        self.work = tempfile.mkdtemp(prefix="berth-load-", dir="/var/tmp")
        self.sock = os.path.join(self.work, "berth.sock")
        self.bridge = "bl%d" % (os.getpid() % 100000)
        self.env = dict(os.environ, DOCKER_HOST="unix://" + self.sock,
                        DOCKER_CONFIG=os.path.join(self.work, "docker-config"))
        self.problems = []
        self.proc = None

    def docker(self, *a, timeout=300):
        p = subprocess.run(["docker"] + list(a), env=self.env, capture_output=True, text=True, timeout=timeout)
        return p.returncode, p.stdout, p.stderr

    def problem(self, what):
        self.problems.append(what)
        print("PROBLEM " + what, flush=True)

    def start(self):
        log = open(os.path.join(self.work, "berthd.log"), "ab")
        self.proc = subprocess.Popen(
            [self.args.berthd, "-H", "unix://" + self.sock, "--data-root", os.path.join(self.work, "data"),
             "--exec-root", os.path.join(self.work, "exec"), "--pidfile", os.path.join(self.work, "pid"),
             "--bridge", self.bridge, "--bip", self.args.bip],
            stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True)
        t0 = time.time()
        while True:
            try:
                s = socket.socket(socket.AF_UNIX)
                s.connect(self.sock)
                s.close()
                return time.time() - t0
            except OSError:
                if self.proc.poll() is not None or time.time() - t0 > 120:
                    raise RuntimeError("berthd did not start")
                time.sleep(0.005)

    def api(self, path):
        """One raw GET; its duration."""
        t0 = time.time()
        s = socket.socket(socket.AF_UNIX)
        s.connect(self.sock)
        s.sendall(("GET %s HTTP/1.1\r\nHost: b\r\nConnection: close\r\n\r\n" % path).encode())
        while s.recv(1 << 20):
            pass
        s.close()
        return time.time() - t0

    def timed(self, n, *a):
        ts = []
        for _ in range(n):
            t0 = time.time()
            code, out, err = self.docker(*a)
            ts.append(time.time() - t0)
            if code != 0:
                self.problem("%s: %s" % (" ".join(a), err.strip()))
        return statistics.median(ts)

    def rss_kib(self, pid):
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def cpu_ticks(self, pid):
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])

    def shims_pss_kib(self):
        total = n = 0
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                with open("/proc/%s/cmdline" % pid, "rb") as f:
                    cmd = f.read().split(b"\0")
                if cmd[0] != b"berth-shim" or not any(self.work.encode() in a for a in cmd):
                    continue
                with open("/proc/%s/smaps_rollup" % pid) as f:
                    for line in f:
                        if line.startswith("Pss:"):
                            total += int(line.split()[1])
                            n += 1
            except (OSError, IndexError):
                continue
        return n, total

    def many(self):
        n = self.args.many
        t0 = time.time()
        with cf.ThreadPoolExecutor(8) as ex:
            res = list(ex.map(lambda i: self.docker("run", "-d", "--name", "m%d" % i, "bb", "sleep", "100000"),
                              range(n)))
        for code, out, err in res:
            if code != 0:
                self.problem("run -d: " + err.strip())
        print("many: %d containers started in %.1f s (8 clients)" % (n, time.time() - t0), flush=True)
        time.sleep(5)
        pid = self.proc.pid
        c0, t0 = self.cpu_ticks(pid), time.time()
        time.sleep(20)
        cpu = (self.cpu_ticks(pid) - c0) / os.sysconf("SC_CLK_TCK") / (time.time() - t0)
        shims, pss = self.shims_pss_kib()
        print("many: idle berthd RSS %.1f MiB, CPU %.2f%% of a core; %d shims, %.0f KiB PSS each (%.0f MiB in all)"
              % (self.rss_kib(pid) / 1024, cpu * 100, shims, pss / max(shims, 1), pss / 1024), flush=True)
        print("many: docker ps %s, ps -a %s, inspect %s (median of 5; the CLI's own start included)"
              % (ms(self.timed(5, "ps", "-q")), ms(self.timed(5, "ps", "-aq")),
                 ms(self.timed(5, "inspect", "m%d" % (n // 2)))), flush=True)
        api_ps = statistics.median(self.api("/containers/json") for _ in range(5))
        api_inspect = statistics.median(self.api("/containers/m%d/json" % (n // 2)) for _ in range(5))
        print("many: API GET /containers/json %s, /containers/{id}/json %s" % (ms(api_ps), ms(api_inspect)),
              flush=True)
        # kill -9 and back: until it answers, and until it lists them all.
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        t0 = time.time()
        answered = self.start()
        while True:
            code, out, _ = self.docker("ps", "-q")
            if code == 0 and len(out.split()) == n:
                break
            if time.time() - t0 > 120:
                self.problem("after the restart, %d of %d running" % (len(out.split()), n))
                break
        print("many: restarted berthd answered after %s, listed all %d running after %s"
              % (ms(answered), n, ms(time.time() - t0)), flush=True)
        t0 = time.time()
        with cf.ThreadPoolExecutor(8) as ex:
            res = list(ex.map(lambda i: self.docker("rm", "-f", "m%d" % i), range(n)))
        for code, out, err in res:
            if code != 0:
                self.problem("rm -f: " + err.strip())
        print("many: removed in %.1f s" % (time.time() - t0), flush=True)

    def burst(self):
        n, clients = self.args.burst, self.args.clients
        t0 = time.time()
        with cf.ThreadPoolExecutor(clients) as ex:
            res = list(ex.map(lambda i: self.docker("run", "-d", "--name", "b%d" % i, "bb", "sleep", "100000"),
                              range(n)))
        made = [i for i, (c, _, _) in enumerate(res) if c == 0]
        failed = [(i, e.strip()) for i, (c, _, e) in enumerate(res) if c != 0]
        for i, e in failed:
            if not e:
                self.problem("run -d b%d failed without a message" % i)
        print("burst: %d run -d from %d clients at once: %d made, %d failed, %.1f s%s"
              % (n, clients, len(made), len(failed), time.time() - t0,
                 "" if not failed else " (first error: %s)" % failed[0][1]), flush=True)
        code, out, err = self.docker("inspect", "-f", "{{.Name}} {{.NetworkSettings.IPAddress}}",
                                     *["b%d" % i for i in made])
        ips = [line.split()[1] for line in out.splitlines() if len(line.split()) == 2]
        if len(ips) != len(made):
            self.problem("%d addresses for %d containers" % (len(ips), len(made)))
        if len(set(ips)) != len(ips):
            dup = sorted({ip for ip in ips if ips.count(ip) > 1})
            self.problem("addresses given twice: %s" % dup)
        print("burst: %d addresses, %d distinct" % (len(ips), len(set(ips))), flush=True)
        t0 = time.time()
        with cf.ThreadPoolExecutor(clients) as ex:
            res = list(ex.map(lambda i: self.docker("rm", "-f", "b%d" % i), range(n)))
        ok = sum(1 for c, _, _ in res if c == 0)
        for i, (c, _, e) in enumerate(res):
            if c != 0 and i in made:
                self.problem("rm -f b%d: %s" % (i, e.strip() or "(no message)"))
        print("burst: %d rm -f at once: %d succeeded, %.1f s" % (n, ok, time.time() - t0), flush=True)
        self.leaks()

    def leaks(self):
        _, out, _ = self.docker("ps", "-aq")
        if out.strip():
            self.problem("containers left: %s" % out.split())
        cdir = os.path.join(self.work, "data/containers")
        if os.path.isdir(cdir) and os.listdir(cdir):
            self.problem("container directories left: %d" % len(os.listdir(cdir)))
        netns = os.path.join(self.work, "exec/netns")
        if os.path.isdir(netns) and os.listdir(netns):
            self.problem("network namespaces left: %d" % len(os.listdir(netns)))
        with open("/proc/self/mountinfo") as f:
            mounts = [line.split()[4] for line in f if self.work in line.split()[4]]
        if mounts:
            self.problem("mounts left: %d (%s)" % (len(mounts), mounts[0]))
        links = subprocess.run(["ip", "-o", "link", "show", "master", self.bridge], capture_output=True,
                               text=True).stdout
        if links.strip():
            self.problem("veths left on %s: %d" % (self.bridge, len(links.splitlines())))
        print("leaks: checked containers, directories, namespaces, mounts, veths", flush=True)

    def run(self):
        self.start()
        root = os.path.join(self.work, "bb")
        subprocess.run(["bash", os.path.join(REPO, "scripts/busybox-rootfs.sh"), root], check=True,
                       stdout=subprocess.DEVNULL)
        tar = subprocess.Popen(["tar", "-C", root, "-c", "."], stdout=subprocess.PIPE)
        subprocess.run(["docker", "import", "-", "bb"], env=self.env, stdin=tar.stdout, check=True,
                       stdout=subprocess.DEVNULL)
        tar.wait()
        print("idle: fresh berthd RSS %.1f MiB" % (self.rss_kib(self.proc.pid) / 1024), flush=True)
        if self.args.many:
            self.many()
        if self.args.burst:
            self.burst()

    def close(self):
        for c in self.docker("ps", "-aq")[1].split():
            self.docker("rm", "-f", c)
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait()
        subprocess.run(["ip", "link", "del", self.bridge], stderr=subprocess.DEVNULL)
        subprocess.run(["nft", "delete", "table", "ip", "berth_" + self.bridge], stderr=subprocess.DEVNULL)
        subprocess.run(["umount", "-R", os.path.join(self.work, "data")], stderr=subprocess.DEVNULL)
        shutil.rmtree(self.work, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--berthd", default=os.path.join(REPO, "target/release/berthd"))
    ap.add_argument("--many", type=int, default=500)
    ap.add_argument("--burst", type=int, default=200)
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--bip", default="10.60.%d.1/21" % (8 * (os.getpid() % 30)))
    args = ap.parse_args()
    load = Load(args)
    try:
        load.run()
    finally:
        load.close()
    print("load: %d problems" % len(load.problems))
    sys.exit(1 if load.problems else 0)


if __name__ == "__main__":
    main()
