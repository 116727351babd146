#!/bin/bash
# Starts berthd (if its socket does not answer), makes a busybox image from
# Debian's busybox-static (no network) and runs a container from it with the
# docker CLI. Root; run after `cargo build --release`.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
sock=/run/berth/berth.sock
export DOCKER_HOST=unix://$sock
command -v busybox >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -q busybox-static >&2
if ! docker version >/dev/null 2>&1; then
	setsid "$repo/target/release/berthd" >/var/log/berthd.log 2>&1 < /dev/null &
	for _ in $(seq 100); do docker version >/dev/null 2>&1 && break; sleep 0.1; done
fi
if ! docker image inspect busybox >/dev/null 2>&1; then
	root=$(mktemp -d)
	bash "$repo/scripts/busybox-rootfs.sh" "$root/bb" >/dev/null
	tar -C "$root/bb" -c . | docker import -c 'CMD ["sh"]' - busybox >/dev/null
	rm -rf "$root"
fi
docker run --rm busybox echo hello from berth
echo "berthd runs on $sock; export DOCKER_HOST=unix://$sock to use it" >&2
