#!/bin/bash
# The podman smoke test (smoke.sh) rootless: podman 4.3 as an ordinary user,
# its own storage, driving the runtime given.
#
#   tests/podman/smoke-rootless.sh RUNTIME_PATH    e.g. target/debug/berth-runtime,
#                                                  /usr/bin/crun
#
# As root: makes a user of its own (useradd, a unique name, subordinate uid
# and gid ranges: Debian's useradd allocates them), runs smoke.sh as that
# user with a private XDG_RUNTIME_DIR and podman store in its home, then
# kills whatever that user still runs (by pid), removes the user, its home
# and its ranges, also on failure. Needs podman, uidmap, slirp4netns and
# /dev/net/tun open to users (mode 0666, as udev sets it).
set -euo pipefail

[ $# -eq 1 ] || { echo "usage: $0 RUNTIME_PATH" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "$0: needs root (it makes a user)" >&2; exit 1; }
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
rt=$(readlink -f "$1")
[ -x "$rt" ] || { echo "FAIL: runtime $rt is not executable" >&2; exit 1; }

user="brpm$$"
cleanup() {
	local pids
	for _ in 1 2 3; do
		pids=$(ps -u "$user" -o pid= 2>/dev/null || true)
		[ -z "$pids" ] && break
		# shellcheck disable=SC2086
		kill -KILL $pids 2>/dev/null || true
		sleep 0.2
	done
	userdel -r "$user" >/dev/null 2>&1 || true
	sed -i "/^$user:/d" /etc/subuid /etc/subgid
}
trap cleanup EXIT
useradd -m -s /bin/bash "$user"
for f in /etc/subuid /etc/subgid; do
	grep -q "^$user:" "$f" || { echo "FAIL: useradd gave $user no range in $f" >&2; exit 1; }
done
home=$(getent passwd "$user" | cut -d: -f6)
run=$home/run
install -d -o "$user" -m 0700 "$run"

runuser -u "$user" -- env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME="$home" USER="$user" \
	XDG_RUNTIME_DIR="$run" PODMAN_SMOKE_DIR="$home/podman" \
	bash "$here/smoke.sh" "$rt"
