#!/usr/bin/env python3
"""berth's torture harness: kill -9 at random moments of a random workload.

    tests/torture/torture.py [--berthd PATH] [--iterations N] [--seed S]
                             [--workers W] [--work DIR] [--keep]
                             [--duration SECONDS]

As root. Starts a berthd of its own (private socket, data and exec roots,
bridge `bx<pid>`) and Debian's docker-registry on a free loopback port, then
for each iteration: W client threads run a random mix of real operations
through the docker CLI (pull and push with the registry, load, import,
commit, build with its cache, run -d / run --rm / rm -f, exec, cp in and
out, volume create and write and rm, network create / connect / rm, tag,
rmi, image prune); after a random moment (several operations in flight)
berthd is killed with SIGKILL and started again, and the harness checks:

  - `berth system check` (POST /berth/system/check) reports no problem
    (blobs re-hashed, every layer against its fingerprint);
  - every operation the client saw succeed is there and intact: tags name
    the image ids recorded, pushed manifests have their digests, volumes
    hold the data written, files copied in read back, networks exist with
    the containers connected to them;
  - containers started with -d are still running and their logs continue;
  - an operation cut by the kill left its object whole or absent: anything
    that exists inspects, and nothing in the data root is half-made
    (temp trees, ingest files, container directories without records).

At the end everything is removed and berthd stopped, and nothing may be
left: mounts under the work directory, network namespaces, veths on its
bridges, rules in its nftables table, cgroups of its containers, shims,
files in the data root beyond its empty skeleton.

Prints one line per iteration and a summary (iterations, operations,
kills, objects checked, problems); exits 1 if a problem was found. Every
operation and its outcome is logged to WORK/ops.jsonl. The seed fixes the
choice of operations and kill delays; their interleaving is the kernel's.
"""

import argparse
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import urllib.request

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# Caps on what the workload keeps alive, so checks stay quick.
MAX_RUNNING = 6
MAX_IMAGES = 14
MAX_VOLUMES = 6
MAX_NETWORKS = 3
CMD_TIMEOUT = 120
TICKER = "i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.2; done"


def log(*a):
    print(*a, flush=True)


class Berthd:
    """berthd on private roots; kill -9 and start again."""

    def __init__(self, binary, work, bridge):
        self.binary = binary
        self.work = work
        self.bridge = bridge
        self.sock = os.path.join(work, "berth.sock")
        self.data = os.path.join(work, "data")
        self.exec_root = os.path.join(work, "exec")
        self.proc = None
        self.starts = 0

    def start(self):
        self.starts += 1
        logf = open(os.path.join(self.work, "berthd.log"), "ab")
        self.proc = subprocess.Popen(
            [self.binary, "-H", "unix://" + self.sock, "--data-root", self.data,
             "--exec-root", self.exec_root, "--pidfile", os.path.join(self.work, "berthd.pid"),
             "--bridge", self.bridge],
            stdout=logf, stderr=logf, stdin=subprocess.DEVNULL, start_new_session=True)
        logf.close()
        deadline = time.time() + 60
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("berthd exited with %s; see %s/berthd.log" % (self.proc.returncode, self.work))
            try:
                s = socket.socket(socket.AF_UNIX)
                s.connect(self.sock)
                s.close()
                return
            except OSError:
                time.sleep(0.02)
        raise RuntimeError("berthd did not start")

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.kill9()


class Registry:
    """Debian's docker-registry on a free loopback port."""

    def __init__(self, work):
        self.dir = os.path.join(work, "registry")
        os.makedirs(self.dir, exist_ok=True)
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        self.host = "127.0.0.1:%d" % s.getsockname()[1]
        s.close()
        cfg = os.path.join(self.dir, "config.yml")
        with open(cfg, "w") as f:
            f.write("version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n"
                    "    rootdirectory: %s/data\n  delete:\n    enabled: true\nhttp:\n  addr: %s\n"
                    % (self.dir, self.host))
        self.proc = subprocess.Popen(["docker-registry", "serve", cfg], stdout=subprocess.DEVNULL,
                                     stderr=open(os.path.join(self.dir, "log"), "wb"))
        deadline = time.time() + 15
        while True:
            try:
                socket.create_connection(self.host.split(":"), timeout=1).close()
                break
            except OSError:
                if time.time() > deadline:
                    raise RuntimeError("docker-registry did not start")
                time.sleep(0.05)

    def digest(self, repo, tag):
        req = urllib.request.Request(
            "http://%s/v2/%s/manifests/%s" % (self.host, repo, tag), method="HEAD",
            headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json, "
                               "application/vnd.oci.image.manifest.v1+json"})
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.headers.get("Docker-Content-Digest")
        except Exception:
            return None

    def stop(self):
        self.proc.terminate()
        self.proc.wait()


class Model:
    """What the client saw succeed (and what a kill left unknown)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.tags = {}        # reference -> image id
        self.containers = {}  # name -> {"id", "running", "files": {path: token}, "image"}
        self.volumes = {}     # name -> token written (None: none yet)
        self.networks = {}    # name -> set of container names connected
        self.pushed = {}      # "repo:tag" -> digest
        self.busy = set()     # names an operation in flight holds
        self.unknown = []     # (kind, name, detail) cut by a kill
        self.seq = 0

    def fresh(self, prefix):
        with self.lock:
            self.seq += 1
            return "%s%d" % (prefix, self.seq)

    def take(self, rng, table, pred=lambda k, v: True):
        """Reserves a random existing name of `table` not in use."""
        with self.lock:
            names = sorted(k for k, v in table.items() if k not in self.busy and pred(k, v))
            if not names:
                return None
            n = rng.choice(names)
            self.busy.add(n)
            return n

    def hold(self, name):
        with self.lock:
            self.busy.add(name)

    def release(self, *names):
        with self.lock:
            for n in names:
                self.busy.discard(n)


class Harness:
    def __init__(self, args):
        self.args = args
        self.work = args.work
        self.bridge = "bx%d" % (os.getpid() % 100000)
        self.berthd = Berthd(args.berthd, self.work, self.bridge)
        self.env = dict(os.environ, DOCKER_HOST="unix://" + self.berthd.sock,
                        DOCKER_CONFIG=os.path.join(self.work, "docker-config"))
        self.model = Model()
        self.problems = []
        self.ops = 0
        self.acked = 0
        self.by_kind = {}
        self.kills = 0
        self.checked = 0
        self.inflight_at_kill = []
        self.killed_at = None
        self.stop = threading.Event()
        self.counter_lock = threading.Lock()
        self.inflight = 0
        self.oplog = open(os.path.join(self.work, "ops.jsonl"), "a")
        self.iteration = 0
        self.registry = None
        # Every container and network id this daemon made, from its event
        # stream (restarted with each daemon): what the leak check looks for.
        self.all_ids = set()
        self.net_ids = set()
        self.events = None

    # -- running the client -------------------------------------------------

    def docker(self, *args, stdin=None, timeout=CMD_TIMEOUT):
        try:
            p = subprocess.run(["docker"] + list(args), env=self.env, input=stdin,
                               capture_output=True, timeout=timeout)
            return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")
        except subprocess.TimeoutExpired:
            return 124, "", "timed out after %ds" % timeout

    def problem(self, what):
        msg = "iteration %d: %s" % (self.iteration, what)
        self.problems.append(msg)
        log("  PROBLEM " + msg)

    def record(self, op, ok, detail):
        self.oplog.write(json.dumps({"i": self.iteration, "op": op, "ok": ok, "t": time.time(),
                                     "detail": message(detail)}) + "\n")

    def run_op(self, name, fn, rng):
        with self.counter_lock:
            self.inflight += 1
            self.ops += 1
        start = time.time()
        try:
            fn(rng, start)
        except Exception as e:  # a bug of the harness is a problem too
            self.problem("op %s raised %r" % (name, e))
        finally:
            with self.counter_lock:
                self.inflight -= 1

    def cut_by_kill(self, start):
        """Whether a failure may be the kill's doing (it ended after it)."""
        return self.killed_at is not None

    def outcome(self, op, start, code, out, err, names, expected=()):
        """True if acknowledged. A failure before the kill is a problem unless
        its text is expected; after it, the names become unknown."""
        ok = code == 0
        self.record(op, ok, (out + err).strip())
        if ok:
            with self.counter_lock:
                self.acked += 1
                self.by_kind[op] = self.by_kind.get(op, 0) + 1
            return True
        if self.cut_by_kill(start):
            with self.model.lock:
                for n in names:
                    self.model.unknown.append((op, n))
            return False
        if not any(e in err for e in expected):
            self.problem("%s %s failed with the daemon up: %s" % (op, " ".join(names), message(out + err)))
        return False

    # -- the operations ------------------------------------------------------

    def images(self):
        with self.model.lock:
            return sorted(self.model.tags)

    def op_run_d(self, rng, start):
        m = self.model
        with m.lock:
            if sum(1 for c in m.containers.values() if c["running"]) >= MAX_RUNNING:
                return
        name = m.fresh("c")
        m.hold(name)
        code, out, err = self.docker("run", "-d", "--name", name, "bb", "sh", "-c", TICKER)
        if self.outcome("run -d", start, code, out, err, [name]):
            with m.lock:
                m.containers[name] = {"id": out.strip(), "running": True, "files": {}}
        m.release(name)

    def op_run_rm(self, rng, start):
        code, out, err = self.docker("run", "--rm", "bb", "echo", "rm-ok")
        if self.outcome("run --rm", start, code, out, err, []) and out != "rm-ok\n":
            self.problem("run --rm printed %r" % out)

    def op_rm_f(self, rng, start):
        m = self.model
        name = m.take(rng, m.containers)
        if not name:
            return
        with m.lock:
            nets = [n for n, members in m.networks.items() if name in members]
            for n in nets:
                m.busy.add(n)
        code, out, err = self.docker("rm", "-f", name)
        if self.outcome("rm -f", start, code, out, err, [name]):
            with m.lock:
                del m.containers[name]
                for n in nets:
                    m.networks[n].discard(name)
        m.release(name, *nets)

    def op_exec(self, rng, start):
        m = self.model
        name = m.take(rng, m.containers, lambda k, v: v["running"])
        if not name:
            return
        code, out, err = self.docker("exec", name, "sh", "-c", "echo exec-ok")
        if self.outcome("exec", start, code, out, err, []) and out != "exec-ok\n":
            self.problem("exec printed %r" % out)
        m.release(name)

    def op_cp_in(self, rng, start):
        m = self.model
        name = m.take(rng, m.containers, lambda k, v: v["running"])
        if not name:
            return
        token = "%016x" % rng.getrandbits(64)
        path = "/tmp/cp-" + token[:6]
        local = os.path.join(self.work, "cp-" + token)
        with open(local, "w") as f:
            f.write(token)
        code, out, err = self.docker("cp", local, "%s:%s" % (name, path))
        os.unlink(local)
        if self.outcome("cp in", start, code, out, err, []):
            with m.lock:
                m.containers[name]["files"][path] = token
        m.release(name)

    def op_cp_out(self, rng, start):
        m = self.model
        name = m.take(rng, m.containers, lambda k, v: v["running"] and v["files"])
        if not name:
            return
        with m.lock:
            path, token = rng.choice(sorted(m.containers[name]["files"].items()))
        p = subprocess.run(["docker", "cp", "%s:%s" % (name, path), "-"], env=self.env,
                           capture_output=True, timeout=CMD_TIMEOUT)
        if self.outcome("cp out", start, p.returncode, "", p.stderr.decode(errors="replace"), []):
            got = read_tar_file(p.stdout)
            if got != token:
                self.problem("cp out of %s:%s gave %r, wrote %r" % (name, path, got, token))
        m.release(name)

    def op_volume(self, rng, start):
        m = self.model
        with m.lock:
            full = len(m.volumes) >= MAX_VOLUMES
        if full:
            return self.op_volume_rm(rng, start)
        name = m.fresh("v")
        m.hold(name)
        code, out, err = self.docker("volume", "create", name)
        if self.outcome("volume create", start, code, out, err, [name]):
            with m.lock:
                m.volumes[name] = None
            token = "%016x" % rng.getrandbits(64)
            code, out, err = self.docker("run", "--rm", "-v", name + ":/data", "bb", "sh", "-c",
                                         "echo %s > /data/f" % token)
            if self.outcome("volume write", start, code, out, err, []):
                with m.lock:
                    m.volumes[name] = token
        m.release(name)

    def op_volume_rm(self, rng, start):
        m = self.model
        name = m.take(rng, m.volumes)
        if not name:
            return
        code, out, err = self.docker("volume", "rm", name)
        # A `run --rm` cut by a kill may still hold it.
        if self.outcome("volume rm", start, code, out, err, [name], expected=("volume is in use",)):
            with m.lock:
                del m.volumes[name]
        m.release(name)

    def op_network(self, rng, start):
        m = self.model
        with m.lock:
            full = len(m.networks) >= MAX_NETWORKS
        if full:
            return self.op_network_rm(rng, start)
        name = m.fresh("n")
        m.hold(name)
        code, out, err = self.docker("network", "create", name)
        if self.outcome("network create", start, code, out, err, [name]):
            with m.lock:
                m.networks[name] = set()
        m.release(name)

    def op_connect(self, rng, start):
        m = self.model
        net = m.take(rng, m.networks)
        if not net:
            return
        with m.lock:
            members = set(m.networks[net])
        ctr = m.take(rng, m.containers, lambda k, v: v["running"] and k not in members)
        if not ctr:
            m.release(net)
            return
        code, out, err = self.docker("network", "connect", net, ctr)
        if self.outcome("network connect", start, code, out, err, [net + "/" + ctr]):
            with m.lock:
                m.networks[net].add(ctr)
        m.release(net, ctr)

    def op_network_rm(self, rng, start):
        m = self.model
        name = m.take(rng, m.networks, lambda k, v: not v)
        if not name:
            return
        code, out, err = self.docker("network", "rm", name)
        if self.outcome("network rm", start, code, out, err, [name], expected=("has active endpoints",)):
            with m.lock:
                del m.networks[name]
        m.release(name)

    def new_tag(self, prefix):
        return "%s%d:t" % (prefix, int(self.model.fresh("")))

    def image_room(self):
        with self.model.lock:
            return len(self.model.tags) < MAX_IMAGES

    def tagged(self, op, start, code, out, err, ref):
        """After an op that makes `ref`: record its id as the daemon says."""
        if not self.outcome(op, start, code, out, err, [ref]):
            return
        c2, id_, e2 = self.docker("image", "inspect", "-f", "{{.Id}}", ref)
        if c2 != 0:
            if not self.cut_by_kill(start):
                self.problem("%s acknowledged %s, inspect fails: %s" % (op, ref, e2.strip()))
            with self.model.lock:
                self.model.unknown.append((op, ref))
            return
        with self.model.lock:
            self.model.tags[ref] = id_.strip()

    def op_import(self, rng, start):
        if not self.image_room():
            return self.op_rmi(rng, start)
        ref = self.new_tag("imp")
        self.model.hold(ref)
        code, out, err = self.docker("import", "-c", 'CMD ["sh"]', self.bb_tar, ref)
        self.tagged("import", start, code, out, err, ref)
        self.model.release(ref)

    def op_load(self, rng, start):
        ref = "saved:latest"
        m = self.model
        with m.lock:
            if ref in m.busy:
                return
            m.busy.add(ref)
        code, out, err = self.docker("load", "-i", self.saved_tar)
        self.tagged("load", start, code, out, err, ref)
        m.release(ref)

    def op_commit(self, rng, start):
        if not self.image_room():
            return self.op_rmi(rng, start)
        m = self.model
        name = m.take(rng, m.containers, lambda k, v: v["running"])
        if not name:
            return
        ref = self.new_tag("com")
        m.hold(ref)
        code, out, err = self.docker("commit", name, ref)
        self.tagged("commit", start, code, out, err, ref)
        m.release(name, ref)

    def op_build(self, rng, start):
        if not self.image_room():
            return self.op_rmi(rng, start)
        ref = self.new_tag("bld")
        self.model.hold(ref)
        # Few distinct args: most builds hit the cache of an earlier one.
        n = rng.randrange(3)
        code, out, err = self.docker("build", "-q", "-t", ref, "--build-arg", "N=%d" % n, self.context)
        self.tagged("build", start, code, out, err, ref)
        self.model.release(ref)

    def op_tag(self, rng, start):
        if not self.image_room():
            return self.op_rmi(rng, start)
        m = self.model
        src = m.take(rng, m.tags)
        if not src:
            return
        ref = self.new_tag("tag")
        m.hold(ref)
        code, out, err = self.docker("tag", src, ref)
        if self.outcome("tag", start, code, out, err, [ref]):
            with m.lock:
                m.tags[ref] = m.tags[src]
        m.release(src, ref)

    def op_rmi(self, rng, start):
        m = self.model
        ref = m.take(rng, m.tags, lambda k, v: k != "bb:latest")
        if not ref:
            return
        code, out, err = self.docker("rmi", ref)
        # An image a container runs from keeps its last tag (Docker's 409).
        if self.outcome("rmi", start, code, out, err, [ref],
                        expected=("is using its referenced image", "image is being used")):
            with m.lock:
                del m.tags[ref]
        m.release(ref)

    def op_prune(self, rng, start):
        code, out, err = self.docker("image", "prune", "-f")
        self.outcome("image prune", start, code, out, err, [])

    def op_push(self, rng, start):
        if not self.registry:
            return
        m = self.model
        src = m.take(rng, m.tags)
        if not src:
            return
        # One repository per source image's last name component (a pulled
        # `HOST/torture/x:p` pushes to itself); one push to it at a time.
        repo = "torture/" + src.rsplit(":", 1)[0].rsplit("/", 1)[-1]
        remote = "%s/%s:p" % (self.registry.host, repo)
        with m.lock:
            if remote in m.busy:
                m.busy.discard(src)
                return
            m.busy.add(remote)
        code, out, err = self.docker("tag", src, remote)
        if self.outcome("tag for push", start, code, out, err, [remote]):
            with m.lock:
                m.tags[remote] = m.tags[src]
            code, out, err = self.docker("push", remote)
            if self.outcome("push", start, code, out, err, []):
                digest = None
                for line in out.splitlines():
                    if "digest: " in line:
                        digest = line.split("digest: ")[1].split()[0]
                if not digest:
                    self.problem("push of %s printed no digest: %s" % (remote, out[-200:]))
                with m.lock:
                    m.pushed[repo + ":p"] = digest
        m.release(src, remote)

    def op_pull(self, rng, start):
        if not self.registry:
            return
        m = self.model
        with m.lock:
            pushed = sorted(m.pushed)
        if not pushed or not self.image_room():
            return
        repo_tag = rng.choice(pushed)
        remote = "%s/%s" % (self.registry.host, repo_tag)
        with m.lock:
            if remote in m.busy:
                return
            m.busy.add(remote)
        code, out, err = self.docker("pull", remote)
        self.tagged("pull", start, code, out, err, remote)
        m.release(remote)

    OPS = [
        ("run -d", "op_run_d", 4), ("run --rm", "op_run_rm", 2), ("rm -f", "op_rm_f", 2),
        ("exec", "op_exec", 3), ("cp in", "op_cp_in", 2), ("cp out", "op_cp_out", 2),
        ("volume", "op_volume", 2), ("volume rm", "op_volume_rm", 1),
        ("network", "op_network", 1), ("connect", "op_connect", 2), ("network rm", "op_network_rm", 1),
        ("import", "op_import", 2), ("load", "op_load", 1), ("commit", "op_commit", 2),
        ("build", "op_build", 2), ("tag", "op_tag", 2), ("rmi", "op_rmi", 2), ("prune", "op_prune", 1),
        ("push", "op_push", 1), ("pull", "op_pull", 1),
    ]

    def worker(self, seed):
        rng = random.Random(seed)
        names = [o for o in self.OPS]
        weights = [o[2] for o in self.OPS]
        while not self.stop.is_set():
            name, method, _ = rng.choices(names, weights)[0]
            self.run_op(name, getattr(self, method), rng)

    def watch_events(self):
        """Collects container and network ids from `docker events` until the
        daemon goes (the stream ends with it)."""
        p = subprocess.Popen(["docker", "events", "--format", "{{.Type}} {{.Actor.ID}}"], env=self.env,
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)

        def read():
            for line in p.stdout:
                kind, _, id_ = line.strip().partition(" ")
                if kind == "container":
                    self.all_ids.add(id_)
                elif kind == "network":
                    self.net_ids.add(id_)
        t = threading.Thread(target=read, daemon=True)
        t.start()
        self.events = (p, t)

    def start_daemon(self):
        self.berthd.start()
        self.watch_events()

    def kill_daemon(self):
        self.berthd.kill9()
        p, t = self.events
        t.join(10)
        p.kill()
        p.wait()

    # -- setup ---------------------------------------------------------------

    def setup(self):
        os.makedirs(self.work, exist_ok=True)
        self.start_daemon()
        root = os.path.join(self.work, "bbroot")
        subprocess.run(["bash", os.path.join(REPO, "scripts/busybox-rootfs.sh"), root], check=True,
                       stdout=subprocess.DEVNULL)
        self.bb_tar = os.path.join(self.work, "bb.tar")
        subprocess.run(["tar", "-C", root, "-cf", self.bb_tar, "."], check=True)
        shutil.rmtree(root)
        code, out, err = self.docker("import", "-c", 'CMD ["sh"]', self.bb_tar, "bb")
        if code != 0:
            raise RuntimeError("import: " + err)
        self.docker("tag", "bb", "saved")
        self.saved_tar = os.path.join(self.work, "saved.tar")
        code, out, err = self.docker("save", "-o", self.saved_tar, "saved")
        if code != 0:
            raise RuntimeError("save: " + err)
        self.docker("rmi", "saved")
        _, id_, _ = self.docker("image", "inspect", "-f", "{{.Id}}", "bb")
        self.model.tags["bb:latest"] = id_.strip()
        self.context = os.path.join(self.work, "context")
        os.makedirs(self.context, exist_ok=True)
        with open(os.path.join(self.context, "Dockerfile"), "w") as f:
            f.write("FROM bb\nARG N\nRUN echo built $N > /built\nCOPY Dockerfile /\n")
        if shutil.which("docker-registry") and not self.args.no_registry:
            self.registry = Registry(self.work)
        else:
            log("no docker-registry: push and pull are left out")

    # -- one iteration -------------------------------------------------------

    def iterate(self, i, rng):
        self.iteration = i
        self.killed_at = None
        self.stop.clear()
        workers = [threading.Thread(target=self.worker, args=(rng.getrandbits(32),))
                   for _ in range(self.args.workers)]
        for w in workers:
            w.start()
        time.sleep(rng.uniform(0.3, self.args.max_delay))
        with self.counter_lock:
            inflight = self.inflight
        self.killed_at = time.time()
        self.kill_daemon()
        self.kills += 1
        self.inflight_at_kill.append(inflight)
        self.stop.set()
        for w in workers:
            w.join()
        self.start_daemon()
        self.check()
        log("iteration %d: %d ops, %d acknowledged, %d in flight at the kill, %d objects checked, %d problems"
            % (i, self.ops, self.acked, inflight, self.checked, len(self.problems)))

    # -- checks --------------------------------------------------------------

    def inspect(self, *args):
        code, out, err = self.docker("inspect", *args)
        if code != 0:
            return None
        return json.loads(out)

    def api_check(self):
        s = socket.socket(socket.AF_UNIX)
        s.connect(self.berthd.sock)
        s.sendall(b"POST /berth/system/check HTTP/1.1\r\nHost: berth\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        data = b""
        while True:
            b = s.recv(65536)
            if not b:
                break
            data += b
        s.close()
        body = data.split(b"\r\n\r\n", 1)[1].decode()
        return json.loads(body[body.index("{"):body.rindex("}") + 1])["Problems"]

    def check(self):
        m = self.model
        for p in self.api_check():
            self.problem("system check: " + p)
        self.checked += 1
        self.resolve_unknown()
        # Images and tags.
        for ref, id_ in sorted(m.tags.items()):
            self.checked += 1
            c, got, err = self.docker("image", "inspect", "-f", "{{.Id}}", ref)
            if c != 0 or got.strip() != id_:
                self.problem("tag %s: want %s, daemon says %s" % (ref, id_, (got + err).strip()))
        # Every listed image inspects (nothing half-made).
        _, ids, _ = self.docker("images", "-aq", "--no-trunc")
        for id_ in ids.split():
            self.checked += 1
            if self.inspect("--type", "image", id_) is None:
                self.problem("listed image %s does not inspect" % id_)
        for repo_tag, digest in sorted(m.pushed.items()):
            self.checked += 1
            repo, tag = repo_tag.rsplit(":", 1)
            got = self.registry.digest(repo, tag)
            if got != digest:
                self.problem("pushed %s: registry has %s, push said %s" % (repo_tag, got, digest))
        # Containers: listed ones inspect; ours are there and running.
        _, all_ids, _ = self.docker("ps", "-aq", "--no-trunc")
        self.all_ids.update(all_ids.split())
        for id_ in all_ids.split():
            self.checked += 1
            if self.inspect("--type", "container", id_) is None:
                self.problem("listed container %s does not inspect" % id_)
        before = {}
        for name, c in sorted(m.containers.items()):
            self.checked += 1
            info = self.inspect("--type", "container", name)
            if info is None:
                self.problem("container %s is gone" % name)
                continue
            st = info[0]["State"]
            if c["running"] and not st["Running"]:
                self.problem("container %s is not running: %s" % (name, st["Status"]))
                continue
            before[name] = self.last_tick(name)
            for path, token in sorted(c["files"].items()):
                self.checked += 1
                code, out, err = self.docker("exec", name, "cat", path)
                if out != token:
                    self.problem("file %s:%s reads %r, copied in %r" % (name, path, (out + err)[:80], token))
        if before:
            time.sleep(1.0)
            for name, t in before.items():
                now = self.last_tick(name)
                if t is None or now is None or now <= t:
                    self.problem("container %s's log does not continue: %s then %s" % (name, t, now))
        # Volumes and their data.
        for name, token in sorted(m.volumes.items()):
            self.checked += 1
            if self.inspect("--type", "volume", name) is None:
                self.problem("volume %s is gone" % name)
                continue
            if token is not None:
                c, out, err = self.docker("run", "--rm", "-v", name + ":/data", "bb", "cat", "/data/f")
                if out.strip() != token:
                    self.problem("volume %s reads %r, wrote %r" % (name, (out + err)[:80], token))
        # Networks and who is connected.
        for name, members in sorted(m.networks.items()):
            self.checked += 1
            info = self.inspect("--type", "network", name)
            if info is None:
                self.problem("network %s is gone" % name)
                continue
            names = {c["Name"] for c in (info[0].get("Containers") or {}).values()}
            for ctr in members:
                if ctr not in names:
                    self.problem("network %s lost container %s (has %s)" % (name, ctr, sorted(names)))
        self.half_made()

    def last_tick(self, name):
        c, out, _ = self.docker("logs", "--tail", "1", name)
        try:
            return int(out.split()[-1])
        except (ValueError, IndexError):
            return None

    def resolve_unknown(self):
        """Objects an operation cut by the kill may have made or removed:
        whole if there, and the model follows what is there."""
        m = self.model
        with m.lock:
            unknown, m.unknown = m.unknown, []
        for op, name in unknown:
            self.checked += 1
            if op in ("run -d", "rm -f"):
                info = self.inspect("--type", "container", name)
                if info is None:
                    m.containers.pop(name, None)
                    for members in m.networks.values():
                        members.discard(name)
                else:
                    # A run -d cut by the kill made it (running or not), an
                    # rm -f cut by it may have killed it: either way it is
                    # not what was acknowledged; the rm -f is done again.
                    c, _, err = self.docker("rm", "-f", name)
                    if c != 0:
                        self.problem("rm -f of %s (cut by the kill): %s" % (name, err.strip()))
                    m.containers.pop(name, None)
                    for members in m.networks.values():
                        members.discard(name)
            elif op in ("volume create", "volume rm"):
                if self.inspect("--type", "volume", name) is None:
                    m.volumes.pop(name, None)
                elif name not in m.volumes:
                    m.volumes[name] = None
            elif op in ("network create", "network rm"):
                if self.inspect("--type", "network", name) is None:
                    m.networks.pop(name, None)
                elif name not in m.networks:
                    m.networks[name] = set()
            elif op == "network connect":
                net, ctr = name.split("/")
                info = self.inspect("--type", "network", net)
                names = {c["Name"] for c in ((info or [{}])[0].get("Containers") or {}).values()}
                if ctr in names and net in m.networks:
                    m.networks[net].add(ctr)
            else:
                # A tag: there (pointing at an image that inspects) or not.
                c, id_, _ = self.docker("image", "inspect", "-f", "{{.Id}}", name)
                if c == 0:
                    m.tags[name] = id_.strip()
                else:
                    m.tags.pop(name, None)

    def half_made(self):
        """Nothing half-written in the data root after a restart."""
        data = self.berthd.data
        layers = os.path.join(data, "image/layers")
        for n in os.listdir(layers):
            if n.startswith("."):
                self.problem("temp tree in the store after a restart: " + n)
        ingest = os.path.join(data, "image/ingest")
        for n in os.listdir(ingest) if os.path.isdir(ingest) else []:
            self.problem("ingest file after a restart: " + n)
        build = os.path.join(data, "build")
        for n in os.listdir(build) if os.path.isdir(build) else []:
            self.problem("build temp directory after a restart: " + n)
        cdir = os.path.join(data, "containers")
        _, ids, _ = self.docker("ps", "-aq", "--no-trunc")
        known = set(ids.split())
        for n in os.listdir(cdir) if os.path.isdir(cdir) else []:
            if n not in known:
                self.problem("container directory without a record: " + n)

    # -- the end -------------------------------------------------------------

    def teardown_and_check_leaks(self):
        _, ids, _ = self.docker("ps", "-aq", "--no-trunc")
        self.all_ids.update(ids.split())
        for id_ in ids.split():
            self.docker("rm", "-f", "-v", id_)
        _, vols, _ = self.docker("volume", "ls", "-q")
        for v in vols.split():
            c, _, err = self.docker("volume", "rm", v)
            if c != 0:
                self.problem("volume rm %s at the end: %s" % (v, err.strip()))
        self.docker("network", "prune", "-f")
        _, imgs, _ = self.docker("images", "-aq")
        for i in set(imgs.split()):
            self.docker("rmi", "-f", i)
        self.docker("image", "prune", "-af")
        for p in self.api_check():
            self.problem("system check at the end: " + p)
        _, left, _ = self.docker("images", "-aq")
        if left.strip():
            self.problem("images left after removing all: " + left.strip())
        self.berthd.stop()
        p, t = self.events
        t.join(10)
        p.kill()
        p.wait()
        self.leaks()

    def nft_table(self):
        return subprocess.run(["nft", "list", "table", "ip", "berth_" + self.bridge],
                              capture_output=True, text=True).stdout

    @staticmethod
    def shims(work):
        """The berth-shim processes whose arguments name the work directory."""
        found = []
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                with open("/proc/%s/cmdline" % pid, "rb") as f:
                    cmd = f.read().split(b"\0")
            except OSError:
                continue
            if cmd and cmd[0] == b"berth-shim" and any(work.encode() in a for a in cmd):
                found.append(pid)
        return found

    def leaks(self):
        work = os.path.realpath(self.work)
        with open("/proc/self/mountinfo") as f:
            for line in f:
                if work in line.split()[4]:
                    self.problem("mount left: " + line.split()[4])
        netns = os.path.join(self.berthd.exec_root, "netns")
        if os.path.isdir(netns) and os.listdir(netns):
            self.problem("network namespaces left: %s" % os.listdir(netns))
        links = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True).stdout
        ours = {"veth" + i[:11] for i in self.all_ids} | {"br-" + i[:12] for i in self.net_ids}
        for line in links.splitlines():
            name = line.split(":")[1].strip().split("@")[0]
            master = line.split(" master ")[1].split()[0] if " master " in line else ""
            if name in ours or master == self.bridge:
                self.problem("link left: %s (master %s)" % (name, master or "none"))
        # With every container and network gone: no port forwarded, no
        # isolation rule, no masquerade but the default bridge's own.
        chain = None
        for line in self.nft_table().splitlines():
            s = line.strip()
            if s.startswith("chain "):
                chain = s.split()[1]
            elif not s or s.startswith(("type ", "}", "fib daddr type local jump ports")):
                continue
            elif chain in ("ports", "forward") or "br-" in s:
                self.problem("nftables rule left in chain %s of berth_%s: %s" % (chain, self.bridge, s))
        for root, dirs, _ in os.walk("/sys/fs/cgroup"):
            for d in dirs:
                if d in self.all_ids:
                    self.problem("cgroup left: " + os.path.join(root, d))
            if root.count("/") > 5:
                dirs[:] = []
        # A shim finishes its own cleanup (the runtime's state, its files)
        # after the container's removal was answered: give it a moment
        # before calling it left.
        deadline = time.monotonic() + 5
        while True:
            shims = self.shims(work)
            if not shims or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        for pid in shims:
            self.problem("shim left: pid %s" % pid)
        data = self.berthd.data
        for root, dirs, files in os.walk(data):
            rel = os.path.relpath(root, data)
            for f in files:
                p = os.path.normpath(os.path.join(rel, f))
                if p not in ("engine-id", "image/meta.redb"):
                    self.problem("file left in the data root: " + p)
            for d in dirs:
                p = os.path.normpath(os.path.join(rel, d))
                if p.startswith("containers/") or p.startswith("volumes/") or p.startswith("image/layers/") \
                        or p.startswith("image/blobs/sha256/"):
                    if p != "image/layers/empty":
                        self.problem("directory left in the data root: " + p)


def message(text):
    """A client's output without the classic builder's banner, bounded."""
    noise = ("DEPRECATED:", "Install the buildx", "https://docs.docker.com/go/buildx", "Sending build context")
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith(noise)]
    return " / ".join(lines)[:600]


def read_tar_file(data):
    import io
    try:
        with tarfile.open(fileobj=io.BytesIO(data)) as t:
            for member in t:
                if member.isfile():
                    return t.extractfile(member).read().decode()
    except tarfile.TarError as e:
        return "<bad tar: %s>" % e
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--berthd", default=os.path.join(REPO, "target/release/berthd"))
    ap.add_argument("--iterations", type=int, default=10)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--duration", type=float, default=None,
                    help="start no iteration after this many seconds (a bounded run)")
    ap.add_argument("--workers", type=int, default=3)
    ap.add_argument("--max-delay", type=float, default=3.0, help="longest run before a kill (s)")
    ap.add_argument("--work", default=None, help="work directory (default: a new one in /var/tmp)")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    ap.add_argument("--no-registry", action="store_true")
    args = ap.parse_args()
    if args.seed is None:
        args.seed = random.randrange(1 << 31)
    if args.work is None:
        args.work = tempfile.mkdtemp(prefix="berth-torture-", dir="/var/tmp")
    h = Harness(args)
    log("torture: seed %d, %d iterations, %d workers, work %s" % (args.seed, args.iterations, args.workers, args.work))
    rng = random.Random(args.seed)
    t0 = time.time()
    try:
        h.setup()
        for i in range(1, args.iterations + 1):
            if args.duration is not None and time.time() - t0 > args.duration:
                log("torture: %.0f s are up after %d iterations" % (args.duration, i - 1))
                break
            h.iterate(i, rng)
        h.teardown_and_check_leaks()
    except BaseException:
        # Interrupted or broken: containers outlive the daemon, remove them.
        if h.berthd.proc and h.berthd.proc.poll() is None:
            _, ids, _ = h.docker("ps", "-aq")
            for id_ in ids.split():
                h.docker("rm", "-f", id_)
            h.docker("network", "prune", "-f")
        raise
    finally:
        h.berthd.stop()
        if h.registry:
            h.registry.stop()
        subprocess.run(["ip", "link", "del", h.bridge], stderr=subprocess.DEVNULL)
        subprocess.run(["nft", "delete", "table", "ip", "berth_" + h.bridge], stderr=subprocess.DEVNULL)
        if not args.keep and not h.problems:
            subprocess.run(["umount", "-R", h.berthd.data], stderr=subprocess.DEVNULL)
            shutil.rmtree(args.work, ignore_errors=True)
    mean = sum(h.inflight_at_kill) / max(1, len(h.inflight_at_kill))
    log("torture: %d iterations, %d operations (%d acknowledged), %d kills (%.1f operations in flight on average, "
        "at most %d), %d objects checked, %d problems, %.0f s, seed %d"
        % (h.iteration, h.ops, h.acked, h.kills, mean, max(h.inflight_at_kill or [0]), h.checked,
           len(h.problems), time.time() - t0, args.seed))
    log("torture: acknowledged by kind: " + ", ".join("%s %d" % kv for kv in sorted(h.by_kind.items())))
    for p in h.problems:
        log("  " + p)
    if h.problems:
        log("torture: work directory kept: %s" % args.work)
    sys.exit(1 if h.problems else 0)


if __name__ == "__main__":
    main()
