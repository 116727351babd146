#!/bin/bash
# Issue 20's goals as ratios from one run (see bench/README.md):
#
#   bench/goals.sh [-n N] [--burst K] [--attach-mib M] [--unpack] [--out FILE]
#
#   -n N           rounds of the interleaved run --rm / runtime series (15)
#   --burst K      K and K/4 `run -d` on berthd and dockerd (200; 0 skips)
#   --attach-mib M MiB of random bytes through `run -i --rm busybox cat` (64)
#   --unpack       also bench/store.sh -n 3 (layer unpack vs GNU tar)
#   --bin DIR      the build to measure (target/release)
#
# Root. Starts berthd (release build of this checkout), dockerd and podman
# on private roots under /var/lib/berth-bench (removed at the end), makes a
# busybox bundle for crun and berth-runtime (moves the hugetlb controller
# off cgroup2 for crun, as bench/runtime.sh does).
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
args=()
unpack=0
out=$repo/bench/results/goals-$(date -u +%Y%m%dT%H%M%S).json
bin=$repo/target/release
while [ $# -gt 0 ]; do
	case $1 in
	--unpack) unpack=1 ;;
	--out) out=$2; shift ;;
	--bin) bin=$2; shift ;;
	*) args+=("$1") ;;
	esac
	shift
done
[ "$(id -u)" = 0 ] || { echo "$0: needs root" >&2; exit 1; }
for b in berthd berth berth-shim berth-runtime; do
	[ -x "$bin/$b" ] || { echo "$0: build first: cargo build --release -p berthd -p shim -p berth-runtime -p berth" >&2; exit 1; }
done
work=/var/lib/berth-bench
state=$(mktemp -d /run/berth-goals.XXXXXX)
cleanup() {
	for m in $(awk -v w="$work" 'index($2, w) == 1 {print $2}' /proc/mounts | sort -r); do umount -l "$m" 2>/dev/null || true; done
	rm -rf "$work" "$state"
}
trap cleanup EXIT
cleanup
mkdir -p "$work" "$state" "$repo/bench/results"
# shellcheck source=scripts/lib/crun-hybrid.sh disable=SC1091
. "$repo/scripts/lib/crun-hybrid.sh"
crun_hybrid_fix
bash "$repo/scripts/busybox-rootfs.sh" "$work/bbroot" >/dev/null
tar -C "$work/bbroot" -cf "$work/busybox.tar" .
"$repo/scripts/bundle.sh" "$work/bundle" true 2>/dev/null
python3 "$repo/bench/goals.py" --work "$work" --busybox "$work/busybox.tar" --bundle "$work/bundle" \
	--state "$state" --bin "$bin" --out "$out" "${args[@]}"
if [ "$unpack" = 1 ]; then
	"$repo/bench/store.sh" -n 3
fi
