#!/usr/bin/env python3
"""Writes the seed corpus of every fuzz target into fuzz/corpus/<target>/.

The seeds are committed; this script says where they came from and makes
them again (`python3 fuzz/make-seeds.py`). Dockerfile seeds are the build
crate's own corpus.
"""
import base64, gzip, hashlib, io, json, os, shutil, struct, tarfile

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus")


def put(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def tar(entries, fmt=tarfile.GNU_FORMAT):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as t:
        for e in entries:
            info = tarfile.TarInfo(e["name"])
            info.mtime = 1_700_000_000
            info.mode = e.get("mode", 0o644)
            info.type = e.get("type", tarfile.REGTYPE)
            info.linkname = e.get("link", "")
            info.uid, info.gid = e.get("uid", 0), e.get("gid", 0)
            info.devmajor, info.devminor = e.get("dev", (0, 0))
            if "pax" in e:
                info.pax_headers = e["pax"]
            data = e.get("data", b"")
            info.size = len(data)
            t.addfile(info, io.BytesIO(data) if data else None)
    # tarfile pads to 10 KiB records: keep the two end blocks only.
    raw = buf.getvalue().rstrip(b"\0")
    return raw + b"\0" * (-len(raw) % 512 + 1024)


D, L, S, C, F = tarfile.DIRTYPE, tarfile.LNKTYPE, tarfile.SYMTYPE, tarfile.CHRTYPE, tarfile.FIFOTYPE
tars = {
    "plain": tar([{"name": "etc", "type": D, "mode": 0o755}, {"name": "etc/hostname", "data": b"box\n"}]),
    "gnu-long": tar([{"name": "d/" * 70 + "file", "data": b"long"}, {"name": "ln", "type": S, "link": "t/" * 60}]),
    "pax": tar([{"name": "x", "data": b"x", "pax": {"SCHILY.xattr.user.k": "v", "mtime": "1.5", "path": "p/" * 60 + "y"}}], tarfile.PAX_FORMAT),
    "links": tar([{"name": "a", "data": b"a"}, {"name": "b", "type": L, "link": "a"}, {"name": "c", "type": S, "link": "/etc/passwd"}]),
    "whiteouts": tar([{"name": "dir", "type": D}, {"name": "dir/.wh..wh..opq"}, {"name": ".wh.gone"}, {"name": "dir/new", "data": b"n"}]),
    "devices": tar([{"name": "dev", "type": D}, {"name": "dev/null", "type": C, "dev": (1, 3)}, {"name": "fifo", "type": F}]),
    "setuid": tar([{"name": "bin", "type": D}, {"name": "bin/su", "data": b"\x7fELF", "mode": 0o4755, "uid": 0}], tarfile.USTAR_FORMAT),
    "escape": tar([{"name": "../../escape", "data": b"x"}]),
}
for name, data in tars.items():
    put("untar", name, data)
    put("layer", name, data)
put("layer", "gzip", gzip.compress(tars["plain"], 9))

# Image configs (first line: a commit/import change).
cfg = {
    "architecture": "amd64", "os": "linux", "created": "2024-01-01T00:00:00.123456789Z",
    "config": {"Env": ["PATH=/bin"], "Cmd": ["sh"], "Entrypoint": None, "Labels": {"a": "b"},
               "ExposedPorts": {"80/tcp": {}}, "Volumes": {"/data": {}}, "WorkingDir": "/w", "User": "1:2"},
    "rootfs": {"type": "layers", "diff_ids": ["sha256:" + "a" * 64, "sha256:" + "b" * 64]},
    "history": [{"created": "2024-01-01T00:00:00Z", "created_by": "x", "empty_layer": True}],
}
put("config", "full", "ENV A=b\n" + json.dumps(cfg))
put("config", "nulls", 'CMD ["sh"]\n' + json.dumps({"config": {"Env": None, "Labels": None}, "rootfs": {"type": "layers", "diff_ids": []}}))
put("config", "created-odd", "EXPOSE 80/udp\n" + json.dumps({"created": "2024-01-01T00:00:0\u00e9Z", "rootfs": {"type": "layers", "diff_ids": []}}))

# Manifests and indexes (first line: the content type).
desc = lambda mt, h, size: {"mediaType": mt, "digest": "sha256:" + h * 64, "size": size}
oci = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
       "config": desc("application/vnd.oci.image.config.v1+json", "c", 100),
       "layers": [desc("application/vnd.oci.image.layer.v1.tar+gzip", "d", 1000)]}
put("manifest", "oci", "application/vnd.oci.image.manifest.v1+json\n" + json.dumps(oci))
docker = dict(oci, mediaType="application/vnd.docker.distribution.manifest.v2+json")
docker["config"] = desc("application/vnd.docker.container.image.v1+json", "c", 100)
put("manifest", "docker", "application/vnd.docker.distribution.manifest.v2+json\n" + json.dumps(docker))
index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [
    dict(desc("application/vnd.oci.image.manifest.v1+json", "e", 500), platform={"architecture": "amd64", "os": "linux"}),
    dict(desc("application/vnd.oci.image.manifest.v1+json", "f", 500), platform={"architecture": "arm", "os": "linux", "variant": "v7"})]}
put("manifest", "index", "application/vnd.oci.image.index.v1+json\n" + json.dumps(index))
put("manifest", "platform", "linux/arm64/v8\n{}")

# docker load archives: Docker's manifest.json, and an OCI layout.
layer = tars["plain"]
diff = "sha256:" + hashlib.sha256(layer).hexdigest()
lcfg = json.dumps({"architecture": "amd64", "os": "linux", "config": {}, "rootfs": {"type": "layers", "diff_ids": [diff]}}).encode()
chex = hashlib.sha256(lcfg).hexdigest()
put("load", "docker-archive", tar([
    {"name": "manifest.json", "data": json.dumps([{"Config": chex + ".json", "RepoTags": ["seed:1"], "Layers": ["l/layer.tar"]}]).encode()},
    {"name": chex + ".json", "data": lcfg}, {"name": "l", "type": D}, {"name": "l/layer.tar", "data": layer}]))
mdoc = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                   "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": "sha256:" + chex, "size": len(lcfg)},
                   "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": diff, "size": len(layer)}]}).encode()
mhex = hashlib.sha256(mdoc).hexdigest()
idx = json.dumps({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "sha256:" + mhex,
                  "size": len(mdoc), "annotations": {"io.containerd.image.name": "docker.io/library/seed:oci"}}]}).encode()
put("load", "oci-layout", tar([
    {"name": "oci-layout", "data": b'{"imageLayoutVersion":"1.0.0"}'}, {"name": "index.json", "data": idx},
    {"name": "blobs/sha256/" + mhex, "data": mdoc}, {"name": "blobs/sha256/" + chex, "data": lcfg},
    {"name": "blobs/sha256/" + diff[7:], "data": layer}]))
put("load", "link-escape", tar([{"name": "lnk", "type": S, "link": "/etc"},
    {"name": "manifest.json", "data": b'[{"Config":"lnk/passwd","Layers":[]}]'}]))

# Dockerfiles: the build crate's corpus.
src = os.path.join(HERE, "..", "crates", "build", "tests", "corpus")
for n in sorted(os.listdir(src)):
    if n.endswith(".Dockerfile"):
        shutil.copy(os.path.join(src, n), os.path.join(CORPUS, "dockerfile", n)) if os.path.isdir(os.path.join(CORPUS, "dockerfile")) else put("dockerfile", n, open(os.path.join(src, n), "rb").read())

put("expand", "defaults", "${A:-x} $B ${C:+y} '$D' \"${E}\" \\$F ${G:?err}\nA=1\nB=two words\nC=\nE=e")
put("expand", "nested", "${A:-${B:-${C:-deep}}}$$ $\n")
put("expand", "backtick", "`$A` ${A/x/y} ${A#p} ${A%s}\nA=pxs")
put("dockerignore", "patterns", "src/a/b.go\n# comment\n*.go\n!src/**/*.go\n**/tmp\n/abs\n../up\n[a-c]?x\n\\!lit\n")
put("dockerignore", "exceptions", "a/b\n*\n!a\n!a/b\na/**/c\n")


def dns_query(name, qtype=1, edns=False):
    q = struct.pack(">HHHHHH", 0x1234, 0x0100, 1, 0, 0, 1 if edns else 0)
    for part in name.split("."):
        q += bytes([len(part)]) + part.encode()
    q += b"\0" + struct.pack(">HH", qtype, 1)
    if edns:
        q += b"\0" + struct.pack(">HHIH", 41, 4096, 0, 0)
    return q


put("dns", "a", dns_query("web"))
put("dns", "aaaa-edns", dns_query("web.example.com", 28, True))
put("dns", "ptr", dns_query("1.0.0.127.in-addr.arpa", 12))
put("dns", "compressed", dns_query("a")[:-4] + b"\xc0\x0c" + struct.pack(">HH", 1, 1))

create = {"Image": "busybox", "Cmd": ["sh", "-c", "echo"], "Env": ["A=b"], "Tty": True,
          "HostConfig": {"Binds": ["/h:/c:ro,z", "vol:/d"], "Mounts": [{"Type": "tmpfs", "Target": "/t", "TmpfsOptions": {"SizeBytes": 1024}},
                                                                     {"Type": "volume", "Source": "v", "Target": "/v", "VolumeOptions": {"NoCopy": True}}],
                         "VolumesFrom": ["other:ro"], "PortBindings": {"80/tcp": [{"HostIp": "", "HostPort": "8080"}]}},
          "Volumes": {"/anon": {}}}
put("api", "create", "name=c&filters=%7B%22label%22%3A%5B%22a%3Db%22%5D%2C%22status%22%3A%5B%22running%22%5D%7D&all=1&force=true\n" + json.dumps(create))
put("api", "bind", "t=a&t=b&%zz=%\n\"/src:/dst:rw\"")
put("api", "mount", "filters=%7B%7D\n" + json.dumps({"Type": "bind", "Source": "/s", "Target": "/t", "BindOptions": {"Propagation": "rshared"}}))

auth = base64.urlsafe_b64encode(json.dumps({"username": "u", "password": "p", "serveraddress": "r"}).encode()).decode()
put("registry_auth", "bearer", auth + "\nBearer realm=\"https://auth.example/token\",service=\"registry\",scope=\"repository:a/b:pull,push\"")
put("registry_auth", "basic", auth.rstrip("=") + "\nBasic realm=\"Registry Realm\"")
put("registry_auth", "token", base64.b64encode(b'{"identitytoken":"tok"}').decode() + "\nBearer realm=\"x\", error=\"invalid_token\", scope=\"a b\"")
