#!/bin/bash
# Published ports of berthd, dockerd (docker-proxy) and podman (netavark),
# side by side, over IPv4 and IPv6: connections per second and throughput,
# from a remote namespace and from the engines' host (127.0.0.1, [::1]).
# See bench/README.md and bench/net.py.
#
#   bench/net.sh [--rounds N] [--seconds S] [--mib M] [--out FILE]
#   bench/net.sh -q         one round, 2 s of connections, 64 MiB
#
# Needs root, Debian's docker.io, podman and netavark (installed when
# missing), and a release build of berth (made when missing). The engines
# run in a network namespace of their own, on private roots under
# /var/lib/berth-bench-net, all removed at the end.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
args=()
out=$repo/bench/results/net-$(date -u +%Y%m%dT%H%M%S).json
while [ $# -gt 0 ]; do
	case $1 in
	-q) args+=(--rounds 1 --seconds 2 --mib 64) ;;
	--out) out=$2; shift ;;
	*) args+=("$1") ;;
	esac
	shift
done
[ "$(id -u)" = 0 ] || { echo "$0: needs root" >&2; exit 1; }
missing=()
for p in docker.io podman netavark aardvark-dns curl; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
fi
if ! [ -x "$repo/target/release/berthd" ] || ! [ -x "$repo/target/release/berth-shim" ]; then
	(cd "$repo" && cargo build --release -p berthd -p shim -p berth-runtime >&2)
fi
work=/var/lib/berth-bench-net
cleanup() {
	for m in $(awk -v w="$work" 'index($2, w) == 1 {print $2}' /proc/mounts | sort -r); do umount -l "$m" 2>/dev/null || true; done
	rm -rf "$work"
}
cleanup
mkdir -p "$work"
bash "$repo/scripts/busybox-rootfs.sh" "$work/bbroot" >/dev/null
tar -C "$work/bbroot" -cf "$work/busybox.tar" .
# The harness stops its engines itself (also on TERM); the roots go after.
python3 "$repo/bench/net.py" "$work" "$work/busybox.tar" "$repo/target/release" --out "$out" "${args[@]}" &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid; cleanup' EXIT INT TERM
wait $pid
echo "results: $out" >&2
