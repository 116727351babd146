#!/bin/bash
# Podman smoke test of an OCI runtime binary: proves that podman can drive it.
#
#   tests/podman/smoke.sh RUNTIME_PATH        e.g. /usr/sbin/runc,
#                                             target/release/berth-runtime
#
# Uses a private podman store (scripts/podman-setup.sh, in $PODMAN_SMOKE_DIR,
# default /var/tmp/berth-podman-smoke: kept between runs so the image is
# imported once). Stops at the first failure with a message saying which step
# failed and what podman printed, and exits 1. As root, or as an ordinary
# user with subordinate ids (rootless podman; tests/podman/smoke-rootless.sh
# makes such a user and runs this as it).
#
# Steps:
#   1. run --rm busybox echo hi                  -> output "hi"
#   2. run --rm -i, stdin piped to cat           -> output echoed back
#   3. run --rm, exit code 3 is passed through   -> podman exits 3
#   4. run -d sleep; exec echo; exec sees its network (podman's netns joined);
#      kill; wait; rm
#   5. run -d with a SIGTERM trap; stop -t 10    -> stops well within 10 s
#      (SIGTERM reached the process), exit code 0; rm
#   6. run --rm -t under `script` (a real terminal): tty is a pty, echo hi
set -euo pipefail

[ $# -eq 1 ] || { echo "usage: $0 RUNTIME_PATH" >&2; exit 2; }
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
rt=$1
if [ ! -x "$rt" ]; then
	echo "FAIL: runtime $rt does not exist or is not executable" >&2
	exit 1
fi
rt=$(readlink -f "$rt")

# crun 1.8 refuses this machine's hybrid cgroups unless hugetlb leaves the
# cgroup2 root: do that for crun only (berth-runtime and runc do not need it).
case $(id -u):$(basename "$rt") in
0:*crun*)
	# shellcheck source=scripts/lib/crun-hybrid.sh disable=SC1091
	. "$repo/scripts/lib/crun-hybrid.sh"
	crun_hybrid_fix
	;;
esac

setup_dir=${PODMAN_SMOKE_DIR:-/var/tmp/berth-podman-smoke}
eval "$("$repo/scripts/podman-setup.sh" "$setup_dir")"

tag="berth-smoke-$$"
out=$(mktemp)
cleanup() {
	podman ps -aq --filter "label=$tag" | xargs -r podman rm -f -t 0 >/dev/null 2>&1 || true
	rm -f "$out"
}
trap cleanup EXIT

pm() { podman --runtime "$rt" "$@"; }
step=
begin() { step=$1; printf '%-60s ' "$step" >&2; }
pass() { echo ok >&2; }
fail() {
	echo FAIL >&2
	echo "FAIL: podman smoke test, runtime $rt, step: $step" >&2
	echo "  $*" >&2
	if [ -s "$out" ]; then
		echo "  output:" >&2
		sed 's/^/    /' "$out" >&2
	fi
	exit 1
}
# run_to_out CMD...: run with stdout+stderr to $out, fail if it exits non-zero
run_to_out() {
	"$@" >"$out" 2>&1 || fail "exited $?: $*"
}

echo "podman $(podman version --format '{{.Client.Version}}') with runtime $rt" >&2

begin "1. run --rm busybox echo hi"
run_to_out pm run --rm --label "$tag" busybox echo hi
[ "$(cat "$out")" = hi ] || fail "expected exactly 'hi'"
pass

begin "2. run --rm -i: stdin reaches the container"
printf 'line one\nline two\n' | pm run --rm -i --label "$tag" busybox cat >"$out" 2>&1 \
	|| fail "exited $?"
[ "$(cat "$out")" = "$(printf 'line one\nline two')" ] || fail "stdin was not echoed back"
pass

begin "3. run --rm: the exit code is passed through"
rc=0
pm run --rm --label "$tag" busybox sh -c 'exit 3' >"$out" 2>&1 || rc=$?
[ "$rc" = 3 ] || fail "expected exit code 3, got $rc"
pass

begin "4. run -d sleep; exec echo; kill; rm"
run_to_out pm run -d --label "$tag" busybox sleep 300
id=$(tail -n1 "$out")
[ "$(pm inspect --format '{{.State.Running}}' "$id")" = true ] || fail "container $id not running"
run_to_out pm exec "$id" echo from-exec
[ "$(cat "$out")" = from-exec ] || fail "exec output was not 'from-exec'"
# podman made the network namespace and the runtime had to join it: the
# container must see the interface podman set up (eth0 from the CNI bridge
# plugin as root, tap0 from slirp4netns rootless).
run_to_out pm exec "$id" ip -4 -o addr show
grep -v ' lo ' "$out" | grep -q 'inet ' || fail "no IPv4 address beside lo in the container (netns not joined?)"
run_to_out pm kill "$id"
run_to_out pm wait "$id"
[ "$(pm inspect --format '{{.State.Running}}' "$id")" = false ] || fail "still running after kill"
run_to_out pm rm "$id"
pm container exists "$id" && fail "container $id still exists after rm"
pass

begin "5. run -d with a TERM trap; stop delivers SIGTERM; rm"
# busybox sleep as pid 1 ignores SIGTERM (no handler, and pid 1 gets no
# default action); a shell trap makes SIGTERM end it with exit code 0.
run_to_out pm run -d --label "$tag" busybox sh -c 'trap "exit 0" TERM; while :; do sleep 0.1; done'
id=$(tail -n1 "$out")
t0=$(date +%s%N)
run_to_out pm stop -t 10 "$id"
ms=$((($(date +%s%N) - t0) / 1000000))
[ "$ms" -lt 8000 ] || fail "stop took ${ms} ms: SIGTERM did not reach the container"
code=$(pm inspect --format '{{.State.ExitCode}}' "$id")
[ "$code" = 0 ] || fail "exit code after SIGTERM was $code, expected 0"
run_to_out pm rm "$id"
pass

begin "6. run --rm -t (pty, under script): echo hi"
# `script` gives podman a terminal on stdin/stdout; -e returns the child's code.
command -v script >/dev/null || fail "script(1) not found (util-linux)"
script -qec "podman --runtime '$rt' run --rm -t --label '$tag' busybox sh -c 'tty; echo hi'" /dev/null \
	</dev/null >"$out" 2>&1 || fail "exited $?"
tr -d '\r' <"$out" | grep -qx 'hi' || fail "no 'hi' line in the terminal output"
tr -d '\r' <"$out" | grep -qx '/dev/pts/[0-9]*' || fail "the container's stdin is not a pty"
pass

echo "PASS: podman smoke test with runtime $rt" >&2
