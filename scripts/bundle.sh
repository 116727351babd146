#!/bin/bash
# Make an OCI runtime bundle: DIR/rootfs (busybox, see busybox-rootfs.sh) and
# DIR/config.json (runc's default spec, adapted).
#
#   scripts/bundle.sh DIR [ARG...]
#
# ARGs become process.args (default: `true`, which exits 0 at once). The
# spec is the one `runc spec` writes (or `crun spec` if runc is missing),
# with these changes:
#   - process.terminal = false: runc's default (true) needs --console-socket
#     for create and a tty for run, neither of which scripts have;
#   - process.args from the arguments.
# Everything else stays as runc wrote it: read-only rootfs, namespaces pid,
# net, ipc, uts, mount (+cgroup with newer runc), masked paths, the default
# capability set, RLIMIT_NOFILE 1024 (below this machine's hard limit, so no
# CAP_SYS_RESOURCE is needed), cgroupsPath unset (the runtime uses /<id>).
# Set BUNDLE_WRITABLE=1 for a writable rootfs.
#
# This script changes nothing outside DIR (in particular, no cgroup
# workaround for crun: that belongs to the bench/test scripts that need it).
set -euo pipefail

usage() { echo "usage: $0 DIR [ARG...]" >&2; exit 2; }
[ $# -ge 1 ] || usage
dir=$1
shift
[ $# -gt 0 ] || set -- true

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

if [ -e "$dir/config.json" ] || [ -e "$dir/rootfs" ]; then
	echo "$0: $dir already holds a bundle" >&2
	exit 1
fi
mkdir -p "$dir"

"$here/busybox-rootfs.sh" "$dir/rootfs"

spec=${SPEC_RUNTIME:-}
if [ -z "$spec" ]; then
	for c in runc /usr/sbin/runc crun /usr/bin/crun; do
		if command -v "$c" >/dev/null; then spec=$c; break; fi
	done
fi
[ -n "$spec" ] || { echo "$0: neither runc nor crun found (for \`spec\`)" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# `runc spec` refuses to overwrite and writes into the bundle dir given.
(cd "$tmp" && "$spec" spec)

readonly_root=true
[ "${BUNDLE_WRITABLE:-0}" = 1 ] && readonly_root=false

# Edit the JSON with python3 (jq 1.6 would take an argument like `-c` after
# --args as its own option).
python3 - "$tmp/config.json" "$dir/config.json" "$readonly_root" "$@" <<'PY'
import json, sys
src, dst, ro, args = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
with open(src) as f:
    spec = json.load(f)
spec["process"]["terminal"] = False
spec["process"]["args"] = args
spec["root"] = {"path": "rootfs", "readonly": ro == "true"}
with open(dst, "w") as f:
    json.dump(spec, f, indent="\t")
    f.write("\n")
PY
