#!/usr/bin/env python3
"""A multi-layer Debian image without network access to a registry: a
debootstrap'ed rootfs (made by bench/store.sh, or any directory) split into
layers by top-level paths, written as a `docker save` archive that every
engine loads (`docker load`, `podman load`) and skopeo pushes to a registry.

usage: bench/debian-image.py ROOTFS OUT.tar [NAME:TAG]
"""

import hashlib
import io
import json
import os
import sys
import tarfile
import time

# Layers, bottom first: the big libraries, then programs, then data, then
# the rest (configuration, state). Each is a path prefix set.
SPLIT = [
    ("usr/lib", ["usr/lib"]),
    ("usr/bin+sbin", ["usr/bin", "usr/sbin", "usr/libexec"]),
    ("usr/share", ["usr/share"]),
    ("rest", None),  # everything not above
]


def owner(rel):
    for name, prefixes in SPLIT:
        if prefixes is None:
            return name
        for p in prefixes:
            if rel == p or rel.startswith(p + "/"):
                return name
    return SPLIT[-1][0]


def main():
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    root, out = sys.argv[1], sys.argv[2]
    tag = sys.argv[3] if len(sys.argv) > 3 else "debian-ml:latest"
    entries = {name: [] for name, _ in SPLIT}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        rel_dir = os.path.relpath(dirpath, root)
        for n in sorted(dirnames + filenames):
            rel = os.path.normpath(os.path.join(rel_dir, n))
            entries[owner(rel)].append(rel)
    layers = []
    with tarfile.open(out, "w", format=tarfile.PAX_FORMAT) as archive:
        diff_ids = []
        for name, _ in SPLIT:
            buf = io.BytesIO()
            with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as layer:
                for rel in entries[name]:
                    # Parents of a path in a later layer come along as dirs.
                    layer.add(os.path.join(root, rel), arcname=rel, recursive=False)
            data = buf.getvalue()
            digest = hashlib.sha256(data).hexdigest()
            diff_ids.append("sha256:" + digest)
            member = f"{digest}/layer.tar"
            info = tarfile.TarInfo(member)
            info.size = len(data)
            info.mtime = 0
            archive.addfile(info, io.BytesIO(data))
            layers.append(member)
            print(f"layer {name}: {len(data) >> 20} MiB, {len(entries[name])} entries", file=sys.stderr)
        created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        config = {
            "architecture": "amd64",
            "os": "linux",
            "created": created,
            "config": {"Cmd": ["bash"], "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]},
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
            "history": [{"created": created, "created_by": f"bench/debian-image.py: {n}"} for n, _ in SPLIT],
        }
        cbytes = json.dumps(config, separators=(",", ":")).encode()
        cname = hashlib.sha256(cbytes).hexdigest() + ".json"
        for name, data in [(cname, cbytes),
                           ("manifest.json", json.dumps([{"Config": cname, "RepoTags": [tag], "Layers": layers}]).encode())]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return 0


if __name__ == "__main__":
    sys.exit(main())
