#!/bin/bash
# Starts berthd (if its socket does not answer), makes a busybox image from
# Debian's busybox-static (no network) and runs a container from it with the
# docker CLI. Root; run after `cargo build --release`.
# BERTH_SOCK (default /run/berth/berth.sock), BERTHD_LOG (default
# /var/log/berthd.log) and BERTHD_ARGS (more berthd flags, split on spaces)
# let scripts/quickstart-check.sh run it on private roots.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
sock=${BERTH_SOCK:-/run/berth/berth.sock}
log=${BERTHD_LOG:-/var/log/berthd.log}
export DOCKER_HOST=unix://$sock
command -v busybox >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -q busybox-static >&2
if ! docker version >/dev/null 2>&1; then
	# shellcheck disable=SC2086 # BERTHD_ARGS is a list of flags
	setsid "$repo/target/release/berthd" -H "unix://$sock" ${BERTHD_ARGS:-} >"$log" 2>&1 </dev/null &
	for _ in $(seq 100); do docker version >/dev/null 2>&1 && break; sleep 0.1; done
	if ! docker version >/dev/null 2>&1; then
		echo "quickstart: berthd did not start; its log ($log) says:" >&2
		tail -n 5 "$log" >&2
		exit 1
	fi
fi
if ! docker image inspect busybox >/dev/null 2>&1; then
	root=$(mktemp -d)
	bash "$repo/scripts/busybox-rootfs.sh" "$root/bb" >/dev/null
	tar -C "$root/bb" -c . | docker import -c 'CMD ["sh"]' - busybox >/dev/null
	rm -rf "$root"
fi
docker run --rm busybox echo hello from berth
echo "berthd runs on $sock; export DOCKER_HOST=unix://$sock to use it" >&2
