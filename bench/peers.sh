#!/bin/bash
# The peers, up and down, each on a socket and data root of its own under
# /var/lib/berth-peers, for side-by-side work by hand (bench/engine.sh and
# bench/runtime.sh set up their own and need none of this):
#
#   bench/peers.sh up     install what is missing (docker.io with its
#                         containerd and runc, podman, crun, docker-registry,
#                         skopeo, debootstrap), start berthd (release build),
#                         dockerd and a registry on 127.0.0.1:5555, make the
#                         busybox image and the 4-layer Debian image, load
#                         both into berthd, dockerd and podman, push both to
#                         the registry; print the environment for each
#   bench/peers.sh env    print that environment again
#   bench/peers.sh down   stop them all and remove their roots
#
# podman needs no daemon: its private store and config come from
# scripts/podman-setup.sh (`eval "$(bench/peers.sh env)"` sets its
# CONTAINERS_* variables; `podman --runtime crun` or `--runtime runc`).
# crun refuses a hybrid cgroup layout while the cgroup2 root holds a
# controller: `bench/peers.sh up --crun` moves hugetlb off it
# (scripts/lib/crun-hybrid.sh; lasts until reboot, machine-wide).
# `down` leaves the bridges berth0 and docker0 and berth's nft table, as the
# daemons themselves do.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
root=/var/lib/berth-peers
port=5555
[ "$(id -u)" = 0 ] || { echo "$0: needs root" >&2; exit 1; }

env_lines() {
	echo "export BERTHD_HOST=unix://$root/berthd/berth.sock  # DOCKER_HOST=\$BERTHD_HOST docker …, or berth -H"
	echo "export DOCKERD_HOST=unix://$root/dockerd/docker.sock  # DOCKER_HOST=\$DOCKERD_HOST docker …"
	echo "export PEERS_REGISTRY=127.0.0.1:$port  # busybox:latest, debian:ml"
	[ -f "$root/podman.env" ] && cat "$root/podman.env"
	return 0
}

down() {
	for p in "$root"/*/pid; do
		[ -f "$p" ] && kill "$(cat "$p")" 2>/dev/null || true
	done
	sleep 1
	for p in "$root"/*/pid; do
		[ -f "$p" ] && kill -9 "$(cat "$p")" 2>/dev/null || true
	done
	for m in $(awk -v r="$root" 'index($2, r) == 1 {print $2}' /proc/mounts | sort -r); do
		umount -l "$m" 2>/dev/null || true
	done
	rm -rf "$root"
}

wait_for() { # socket-or-host:port, what
	for _ in $(seq 200); do
		case $1 in
		/*) [ -S "$1" ] && curl -s --unix-socket "$1" http://x/_ping >/dev/null && return 0 ;;
		*) curl -s "http://$1/v2/" >/dev/null && return 0 ;;
		esac
		sleep 0.1
	done
	echo "$2 did not come up" >&2
	return 1
}

up() {
	local pkgs=(docker.io podman crun runc docker-registry skopeo debootstrap curl)
	local missing=()
	for p in "${pkgs[@]}"; do
		dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' || missing+=("$p")
	done
	if [ ${#missing[@]} -gt 0 ]; then
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
	fi
	[ -x "$repo/target/release/berthd" ] || (cd "$repo" && cargo build --release -p berthd -p shim -p berth >&2)
	mkdir -p "$root"/{berthd,dockerd,registry}
	# berthd
	setsid "$repo/target/release/berthd" -H "unix://$root/berthd/berth.sock" --data-root "$root/berthd/data" \
		--exec-root "$root/berthd/exec" --pidfile "$root/berthd/berthd.pid" >"$root/berthd/log" 2>&1 </dev/null &
	echo $! >"$root/berthd/pid"
	# dockerd, with its own containerd (started by it) and runc
	echo '{}' >"$root/dockerd/daemon.json"
	setsid /usr/sbin/dockerd -H "unix://$root/dockerd/docker.sock" --data-root "$root/dockerd/data" \
		--exec-root "$root/dockerd/exec" --pidfile "$root/dockerd/dockerd.pid" \
		--config-file "$root/dockerd/daemon.json" >"$root/dockerd/log" 2>&1 </dev/null &
	echo $! >"$root/dockerd/pid"
	# a registry
	cat >"$root/registry/config.yml" <<-EOF
		version: 0.1
		storage:
		  filesystem:
		    rootdirectory: $root/registry/data
		http:
		  addr: 127.0.0.1:$port
		log:
		  level: error
	EOF
	setsid docker-registry serve "$root/registry/config.yml" >"$root/registry/log" 2>&1 </dev/null &
	echo $! >"$root/registry/pid"
	# podman's private store and config
	bash "$repo/scripts/podman-setup.sh" "$root/podman" | grep '^export ' >"$root/podman.env"
	wait_for "$root/berthd/berth.sock" berthd
	wait_for "$root/dockerd/docker.sock" dockerd
	wait_for "127.0.0.1:$port" docker-registry
	# the images
	bash "$repo/scripts/busybox-rootfs.sh" "$root/bbroot" >/dev/null
	tar -C "$root/bbroot" -cf "$root/busybox.tar" .
	local deb=/var/tmp/berth-bench/debian-ml.tar
	if [ ! -f "$deb" ]; then
		[ -x /var/tmp/berth-bench/debian/bin/sh ] || debootstrap --variant=minbase bookworm /var/tmp/berth-bench/debian >/dev/null
		python3 "$repo/bench/debian-image.py" /var/tmp/berth-bench/debian "$deb"
	fi
	for host in "unix://$root/berthd/berth.sock" "unix://$root/dockerd/docker.sock"; do
		DOCKER_HOST=$host docker import -c 'CMD ["sh"]' "$root/busybox.tar" busybox:latest >/dev/null
		DOCKER_HOST=$host docker load -q -i "$deb" >/dev/null
	done
	(
		# shellcheck disable=SC1091
		. "$root/podman.env"
		podman import -q -c 'CMD ["sh"]' "$root/busybox.tar" busybox:latest >/dev/null
		podman load -q -i "$deb" >/dev/null
	)
	DOCKER_HOST="unix://$root/berthd/berth.sock" docker save busybox:latest -o "$root/busybox-image.tar"
	skopeo copy -q --dest-tls-verify=false "docker-archive:$root/busybox-image.tar" "docker://127.0.0.1:$port/busybox:latest"
	skopeo copy -q --dest-tls-verify=false "docker-archive:$deb" "docker://127.0.0.1:$port/debian:ml"
	echo "peers are up; runc $(runc --version | head -1 | cut -d' ' -f3), crun $(crun --version | head -1 | cut -d' ' -f3)" >&2
	env_lines
}

case ${1:-} in
up)
	if [ "${2:-}" = --crun ]; then
		# shellcheck source=scripts/lib/crun-hybrid.sh disable=SC1091
		. "$repo/scripts/lib/crun-hybrid.sh"
		crun_hybrid_fix
	fi
	down
	up
	;;
down) down ;;
env) env_lines ;;
*) echo "usage: $0 up [--crun]|env|down" >&2; exit 2 ;;
esac
