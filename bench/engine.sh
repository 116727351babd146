#!/bin/bash
# berthd beside dockerd and podman: `run --rm` (with the default network and
# with none) and `exec` latency, bytes through attach, bursts of detached
# containers, commit, builds, TCP through published ports, pulls and pushes,
# idle and per-container memory. See bench/README.md.
#
#   bench/engine.sh [-n N] [-q] [--bursts K] [--berth-cli] [--out FILE]
#
#   -n N        rounds of `run --rm busybox true` (default 20); -q: quick,
#               under 3 minutes here (3 rounds, 1 burst of 20, 3 execs,
#               32 MiB through attach and over TCP, a 20 MiB commit, one
#               build of each kind, one pull and push)
#   --exec N    rounds of `exec NAME true` (default 20)
#   --attach-mib M  MiB through `run -i --rm busybox cat` (default 1024; 0 skips)
#   --bursts K  rounds of each burst (default 2) of 50 and 200 containers
#               (--burst-sizes 50,200)
#   --commit-mib M  commit of a container that wrote M MiB (default 100)
#   --builds N      rounds of a cold and a warm build (default 3)
#   --pulls N       rounds of a cold pull and a push of a 4-layer Debian
#               image through local registries (default 3; 0 skips; the
#               image is made once: debootstrap as bench/store.sh does, then
#               bench/debian-image.py, in /var/tmp/berth-bench)
#   --tcp-mib M     MiB sent over TCP into a container through a published
#               port (127.0.0.1 and the host's address) and straight over
#               the bridge (default 256; 0 skips)
#   --podman-crun   podman with crun as one more engine (moves the hugetlb
#               controller off cgroup2 for crun, until reboot; see
#               scripts/lib/crun-hybrid.sh)
#   --berth-cli also time berth's own CLI (`berth run --rm`)
#
# Needs root, Debian's docker.io and podman (installed when missing), and a
# release build of berth (made when missing). Every engine runs on private
# roots under /var/lib/berth-bench, removed at the end.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
args=()
crun=0
pulls=3
out=$repo/bench/results/engine-$(date -u +%Y%m%dT%H%M%S).json
while [ $# -gt 0 ]; do
	case $1 in
	-q) args+=(-n 3 --bursts 1 --burst-sizes 20 --exec 3 --attach-mib 32 --commit-mib 20 --builds 1 --tcp-mib 32); pulls=1 ;;
	--pulls) pulls=$2; shift ;;
	--podman-crun) args+=(--podman-crun); crun=1 ;;
	--out) out=$2; shift ;;
	*) args+=("$1") ;;
	esac
	shift
done
[ "$(id -u)" = 0 ] || { echo "$0: needs root" >&2; exit 1; }
if ! [ -x /usr/sbin/dockerd ]; then
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends docker.io >&2
fi
if ! [ -x "$repo/target/release/berthd" ] || ! [ -x "$repo/target/release/berth-shim" ]; then
	(cd "$repo" && cargo build --release -p berthd -p shim -p berth >&2)
fi
work=/var/lib/berth-bench
cleanup() {
	for m in $(awk -v w="$work" 'index($2, w) == 1 {print $2}' /proc/mounts | sort -r); do umount -l "$m" 2>/dev/null || true; done
	rm -rf "$work"
}
trap cleanup EXIT
cleanup
mkdir -p "$work" "$repo/bench/results"
if [ "$crun" = 1 ]; then
	# shellcheck source=scripts/lib/crun-hybrid.sh disable=SC1091
	. "$repo/scripts/lib/crun-hybrid.sh"
	crun_hybrid_fix
fi
bash "$repo/scripts/busybox-rootfs.sh" "$work/bbroot" >/dev/null
tar -C "$work/bbroot" -cf "$work/busybox.tar" .
if [ "$pulls" != 0 ]; then
	img=/var/tmp/berth-bench/debian-ml.tar
	if [ ! -f "$img" ]; then
		command -v debootstrap >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap >&2
		[ -x /var/tmp/berth-bench/debian/bin/sh ] || debootstrap --variant=minbase bookworm /var/tmp/berth-bench/debian >/dev/null
		python3 "$repo/bench/debian-image.py" /var/tmp/berth-bench/debian "$img"
	fi
	args+=(--pull-image "$img" --pulls "$pulls")
fi
[ -n "${BENCH_KEEP:-}" ] && trap - EXIT
python3 "$repo/bench/engine.py" --work "$work" --busybox "$work/busybox.tar" --out "$out" "${args[@]}"
python3 "$repo/bench/plot.py" "$out" "${out%.json}-plots"
