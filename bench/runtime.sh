#!/bin/bash
# Times a full OCI container lifecycle for berth-runtime, runc and crun, next
# to the kernel's floor. See bench/README.md for what is measured and why.
#
#   bench/runtime.sh [-n N] [-q] [--runtime PATH] [--warmup K]
#                    [--ops lifecycle,run] [--no-crun] [--out FILE]
#
#   -n N            timed rounds (default 50); -q: quick, 10 rounds
#   --runtime PATH  berth-runtime binary (default target/release/berth-runtime;
#                   skipped with a note if it does not exist)
#   --warmup K      untimed rounds first (default 1)
#   --ops LIST      lifecycle (create+start+wait+delete), run (foreground run),
#                   or both (default)
#   --no-crun       leave crun out (and so make no cgroup change for it)
#   --out FILE      JSON result (default bench/results/runtime-DATE.json)
# RUNC and CRUN in the environment override /usr/sbin/runc and /usr/bin/crun.
#
# Needs root. Every engine runs the same bundle (busybox `true`) with its own
# --root state dir; rounds are interleaved round-robin across the engines.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
n=50
warmup=1
ops=lifecycle,run
berth=$repo/target/release/berth-runtime
use_crun=1
out=
runc=${RUNC:-/usr/sbin/runc}
crun=${CRUN:-/usr/bin/crun}

usage() { sed -n '5,16p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
while [ $# -gt 0 ]; do
	case $1 in
	-n) n=${2:?}; shift 2 ;;
	-q) n=10; shift ;;
	--runtime) berth=${2:?}; shift 2 ;;
	--warmup) warmup=${2:?}; shift 2 ;;
	--ops) ops=${2:?}; shift 2 ;;
	--no-crun) use_crun=0; shift ;;
	--out) out=${2:?}; shift 2 ;;
	-h | --help) usage ;;
	*) echo "unknown argument: $1" >&2; usage ;;
	esac
done
[ "$(id -u)" = 0 ] || { echo "$0: needs root" >&2; exit 1; }
[ -n "$out" ] || out=$repo/bench/results/runtime-$(date +%Y%m%dT%H%M%S).json

engines=()
notes=()
if [ -x "$berth" ]; then
	engines+=(--engine "berth-runtime=$(readlink -f "$berth")")
else
	echo "SKIP berth-runtime: $berth does not exist (yet); build it with cargo build --release" >&2
	notes+=(--note "berth-runtime skipped: $berth not found")
fi
if [ -x "$runc" ]; then
	engines+=(--engine "runc=$runc")
else
	echo "SKIP runc: $runc not found" >&2
	notes+=(--note "runc skipped: $runc not found")
fi
if [ "$use_crun" = 1 ] && [ -x "$crun" ]; then
	# shellcheck source=scripts/lib/crun-hybrid.sh disable=SC1091
	. "$repo/scripts/lib/crun-hybrid.sh"
	if crun_hybrid_fix; then
		engines+=(--engine "crun=$crun")
	else
		echo "SKIP crun: cannot make cgroup layout acceptable to crun" >&2
		notes+=(--note "crun skipped: hybrid cgroup layout")
	fi
else
	echo "SKIP crun: disabled or $crun not found" >&2
	notes+=(--note "crun skipped")
fi
[ ${#engines[@]} -gt 0 ] || { echo "$0: no runtime to measure" >&2; exit 1; }

# The bundle lives on disk (its rootfs is read-only); the runtimes' state dirs
# live on tmpfs (/run), as runc's and crun's defaults do.
work=$(mktemp -d /tmp/berth-bench.XXXXXX)
state=$(mktemp -d /run/berth-bench.XXXXXX)
cleanup() { rm -rf "$work" "$state"; }
trap cleanup EXIT
"$repo/scripts/bundle.sh" "$work/bundle" true 2>/dev/null

python3 "$repo/bench/runtime.py" -n "$n" --warmup "$warmup" --ops "$ops" \
	--bundle "$work/bundle" --state "$state" --json "$out" \
	"${engines[@]}" "${notes[@]}"
