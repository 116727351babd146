#!/bin/bash
# Rootless berth measured (issue 21), side by side in one run:
#   1. `run --rm busybox true`: rootless berthd, berthd as root, rootless
#      podman 4.3 (its defaults: slirp4netns, runc as podman-setup.sh sets)
#   2. throughput of a published port, container -> host: curl downloads
#      MIB MiB from busybox httpd behind `-p`, rootless berthd (builtin port
#      driver) vs berthd as root (nftables DNAT) vs rootless podman
#      (rootlessport, its default port handler)
#
#   bench/rootless.sh [-n ROUNDS] [--mib MIB] [--bin DIR]
#                     defaults: 20 rounds, 300 MiB, DIR=target/release
#
# As root: makes a user of its own (useradd, subordinate ranges, a private
# XDG_RUNTIME_DIR), runs the rootless engines as it, berthd as root on
# private roots and a bridge of its own; removes all of it at the end, also
# on failure. The `run` rows are interleaved round by round; each is the
# docker/podman CLI's wall time (through setpriv for all three, so the
# wrapper's cost is the same). Prints medians and writes the raw samples to
# bench/results/rootless-DATE.txt.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
rounds=20 mib=300 bin=$repo/target/release
while [ $# -gt 0 ]; do
	case $1 in
	-n) rounds=$2; shift ;;
	--mib) mib=$2; shift ;;
	--bin) bin=$(cd "$2" && pwd); shift ;;
	*) echo "usage: $0 [-n ROUNDS] [--mib MIB] [--bin DIR]" >&2; exit 2 ;;
	esac
	shift
done
[ "$(id -u)" = 0 ] || { echo "$0: needs root (it makes a user)" >&2; exit 1; }
for b in berthd berth-shim berth-runtime; do
	[ -x "$bin/$b" ] || { echo "$0: no $bin/$b (cargo build --release -p berthd -p shim -p berth-runtime)" >&2; exit 1; }
done
mkdir -p "$repo/bench/results"
out=$repo/bench/results/rootless-$(date -u +%Y%m%dT%H%M%S).txt

user=brb$$
run=/tmp/$user-run
root=/tmp/$user-root
bridge=brb$$
bip=10.$((200 + $$ % 50)).$((1 + $$ % 250)).1/24
rootpid=
cleanup() {
	[ -n "$rootpid" ] && { kill -9 "$rootpid" 2>/dev/null || true; }
	# The root daemon's containers (their shims outlive it), by its pidfile's
	# tree: every process whose cgroup or cwd is under $root.
	for p in $(grep -l "$root" /proc/[0-9]*/cmdline 2>/dev/null | cut -d/ -f3); do
		kill -9 "$p" 2>/dev/null || true
	done
	for _ in 1 2 3 4 5; do
		pids=$(ps -u "$user" -o pid= 2>/dev/null || true)
		[ -z "$pids" ] && break
		# shellcheck disable=SC2086
		kill -9 $pids 2>/dev/null || true
		sleep 0.2
	done
	for m in $(awk -v w="$root" 'index($2, w) == 1 {print $2}' /proc/mounts | sort -r); do umount -l "$m" 2>/dev/null || true; done
	rm -rf "$root" "$run"
	ip link del "$bridge" 2>/dev/null || true
	nft delete table ip "berth_$bridge" 2>/dev/null || true
	nft delete table ip6 "berth_$bridge" 2>/dev/null || true
	userdel -r "$user" >/dev/null 2>&1 || true
	sed -i "/^$user:/d" /etc/subuid /etc/subgid
}
trap cleanup EXIT

useradd -m -s /bin/bash "$user"
home=$(getent passwd "$user" | cut -d: -f6)
install -d -o "$user" -g "$user" -m 0700 "$run"
mkdir -p "$root"
uid=$(id -u "$user") gid=$(id -g "$user")
userenv=(env -i HOME="$home" USER="$user" LOGNAME="$user" PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin
	XDG_RUNTIME_DIR="$run" DOCKER_HOST="unix://$run/berth.sock")
asu() { setpriv --reuid "$uid" --regid "$gid" --init-groups -- "${userenv[@]}" "$@"; }
# Root's client through setpriv too (as root to root): the same wrapper cost.
asroot() { setpriv --reuid 0 --regid 0 --keep-groups -- env -i HOME=/root PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin \
	DOCKER_HOST="unix://$root/berth.sock" DOCKER_CONFIG="$root/docker-config" "$@"; }

# busybox, from the project's script, readable by the user.
"$repo/scripts/busybox-rootfs.sh" "$root/bb" >/dev/null 2>&1
tar -C "$root/bb" -cf "$root/busybox.tar" .
chmod 0755 "$root"
chmod 0644 "$root/busybox.tar"

# berthd as root, private roots and bridge.
"$bin/berthd" -H "unix://$root/berth.sock" --data-root "$root/data" --exec-root "$root/exec" \
	--pidfile "$root/berthd.pid" --bridge "$bridge" --bip "$bip" 2>"$root/berthd.log" &
rootpid=$!
# Rootless berthd, Docker rootless's placement.
asu "$bin/berthd" 2>"$run/berthd.log" &
for _ in $(seq 100); do
	[ -S "$root/berth.sock" ] && [ -S "$run/berth.sock" ] && break
	sleep 0.1
done
asroot docker import -c 'CMD ["sh"]' "$root/busybox.tar" busybox >/dev/null
asu docker import -c 'CMD ["sh"]' "$root/busybox.tar" busybox >/dev/null
# Rootless podman, its own store in the user's home.
penv=$(asu bash "$repo/scripts/podman-setup.sh" "$home/podman" 2>/dev/null)
eval "$penv"
userenv+=(CONTAINERS_CONF="$CONTAINERS_CONF" CONTAINERS_STORAGE_CONF="$CONTAINERS_STORAGE_CONF"
	CONTAINERS_REGISTRIES_CONF="$CONTAINERS_REGISTRIES_CONF")

ms() { echo $(( ($2 - $1) / 1000000 )); }
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }

{
	echo "# bench/rootless.sh $(date -u +%FT%TZ), kernel $(uname -r), $(nproc) cpus, load $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "# berth $("$bin/berthd" --version 2>/dev/null | head -1), $(podman --version)"
} | tee "$out"

# 1. run --rm busybox true (one warm-up each, then interleaved rounds).
asroot docker run --rm busybox true
asu docker run --rm busybox true
asu podman run --rm busybox true
declare -a t_root t_rl t_pm
for i in $(seq "$rounds"); do
	a=$(date +%s%N); asroot docker run --rm busybox true; b=$(date +%s%N)
	t_root+=("$(ms "$a" "$b")")
	a=$(date +%s%N); asu docker run --rm busybox true; b=$(date +%s%N)
	t_rl+=("$(ms "$a" "$b")")
	a=$(date +%s%N); asu podman run --rm busybox true; b=$(date +%s%N)
	t_pm+=("$(ms "$a" "$b")")
	echo "round $i: root ${t_root[-1]} ms, rootless ${t_rl[-1]} ms, podman-rootless ${t_pm[-1]} ms" >>"$out"
done
printf '%-44s %8s\n' "run --rm busybox true (median of $rounds)" "ms" | tee -a "$out"
printf '%-44s %8s\n' "berth as root" "$(printf '%s\n' "${t_root[@]}" | median)" | tee -a "$out"
printf '%-44s %8s\n' "berth rootless (slirp4netns)" "$(printf '%s\n' "${t_rl[@]}" | median)" | tee -a "$out"
printf '%-44s %8s\n' "podman 4.3 rootless (runc, slirp4netns)" "$(printf '%s\n' "${t_pm[@]}" | median)" | tee -a "$out"

# 2. A published port: MIB MiB from httpd in the container to curl on the host.
web="dd if=/dev/zero of=/big bs=1M count=$mib 2>/dev/null && mkdir -p /w && mv /big /w/ && exec httpd -f -p 80 -h /w"
asroot docker run -d --name web -p 127.0.0.1::80 busybox sh -c "$web" >/dev/null
asu docker run -d --name web -p 127.0.0.1::80 busybox sh -c "$web" >/dev/null
pport=$(( 20000 + $$ % 20000 ))
asu podman run -d --name web -p "127.0.0.1:$pport:80" busybox sh -c "$web" >/dev/null
port_of() { "$@" port web 80/tcp | head -1 | sed 's/.*://'; }
p_root=$(port_of asroot docker) p_rl=$(port_of asu docker)
speed() {
	# MiB/s of the download, once the file is there (httpd starts after dd).
	for _ in $(seq 300); do
		rc=0; curl -sf -o /dev/null "http://127.0.0.1:$1/w-missing" 2>/dev/null || rc=$?
		[ "$rc" = 22 ] && break
		sleep 0.2
	done
	curl -sf -o /dev/null -w '%{speed_download}' "http://127.0.0.1:$1/big" | awk '{printf "%.0f", $1 / 1048576}'
}
printf '%-44s %8s\n' "published port, $mib MiB container -> host" "MiB/s" | tee -a "$out"
declare -a s_root s_rl s_pm
for r in 1 2 3; do
	s_root+=("$(speed "$p_root")") s_rl+=("$(speed "$p_rl")") s_pm+=("$(speed "$pport")")
	echo "pass $r: root ${s_root[-1]}, rootless ${s_rl[-1]}, podman-rootless ${s_pm[-1]} MiB/s" >>"$out"
done
printf '%-44s %8s\n' "berth as root (nftables DNAT)" "$(printf '%s\n' "${s_root[@]}" | median)" | tee -a "$out"
printf '%-44s %8s\n' "berth rootless (builtin port driver)" "$(printf '%s\n' "${s_rl[@]}" | median)" | tee -a "$out"
printf '%-44s %8s\n' "podman 4.3 rootless (rootlessport)" "$(printf '%s\n' "${s_pm[@]}" | median)" | tee -a "$out"
asroot docker rm -f web >/dev/null
asu docker rm -f web >/dev/null
asu podman rm -f web >/dev/null 2>&1 || true
echo "raw samples: $out"
