#!/bin/bash
# docker-compose 1.29 (Debian's) against berthd and dockerd, same machine,
# same run: `up -d` and `down` of a five-service project (two networks, a
# published port, a named volume), rounds alternating between the engines.
#
#   bench/compose.sh [-n ROUNDS]   (default 5)
#
# Each daemon runs in a network namespace of its own (nsenter --net, the
# host's mounts and cgroups kept), so dockerd's iptables rules and berthd's
# nftables table touch nothing else on the machine. Needs root, docker.io,
# docker-compose and busybox-static (installed when missing) and a release
# build of berth (made when missing). Prints the medians and the ratio.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
rounds=5
while [ $# -gt 0 ]; do
	case $1 in
	-n) rounds=$2; shift ;;
	*) echo "usage: $0 [-n ROUNDS]" >&2; exit 2 ;;
	esac
	shift
done
[ "$(id -u)" = 0 ] || { echo "$0: needs root" >&2; exit 1; }
missing=()
for p in docker.io docker-compose busybox-static; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
fi
if ! [ -x "$repo/target/release/berthd" ] || ! [ -x "$repo/target/release/berth-shim" ]; then
	(cd "$repo" && cargo build --release -p berthd -p shim -p berth-runtime -p berth >&2)
fi

work=/var/lib/berth-bench-compose.$$
ns=bcmp$$
pids=()
cleanup() {
	set +e
	for e in berthd dockerd; do
		[ -S "$work/$e/sock" ] && (cd "$work/project" && DOCKER_HOST=unix://$work/$e/sock \
			docker-compose -p bench down -v -t 0 >/dev/null 2>&1)
	done
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${pids[@]}"; do
		for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$p" 2>/dev/null
	done
	for m in $(awk -v w="$work" 'index($2, w) == 1 {print $2}' /proc/mounts | sort -r); do
		umount -l "$m" 2>/dev/null
	done
	for e in berthd dockerd; do ip netns del "$ns$e" 2>/dev/null; done
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
mkdir -p "$work"/{berthd,dockerd,project}

wait_socket() { # path, what
	for _ in $(seq 300); do
		curl -s --unix-socket "$1" http://x/_ping >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	echo "$2 did not come up (log: $(tail -3 "$(dirname "$1")/log"))" >&2
	exit 1
}

for e in berthd dockerd; do
	ip netns add "$ns$e"
	ip -n "$ns$e" link set lo up
done
nsenter --net="/run/netns/${ns}berthd" "$repo/target/release/berthd" -H "unix://$work/berthd/sock" \
	--data-root "$work/berthd/data" --exec-root "$work/berthd/exec" \
	--pidfile "$work/berthd/pid" >"$work/berthd/log" 2>&1 </dev/null &
pids+=($!)
echo '{}' >"$work/dockerd/daemon.json"
nsenter --net="/run/netns/${ns}dockerd" /usr/sbin/dockerd -H "unix://$work/dockerd/sock" \
	--data-root "$work/dockerd/data" --exec-root "$work/dockerd/exec" \
	--pidfile "$work/dockerd/pid" --config-file "$work/dockerd/daemon.json" \
	--storage-driver overlay2 >"$work/dockerd/log" 2>&1 </dev/null &
pids+=($!)
wait_socket "$work/berthd/sock" berthd
wait_socket "$work/dockerd/sock" dockerd

bash "$repo/scripts/busybox-rootfs.sh" "$work/bbroot" >/dev/null
tar -C "$work/bbroot" -cf "$work/busybox.tar" .
for e in berthd dockerd; do
	DOCKER_HOST=unix://$work/$e/sock docker import -c 'CMD ["sh"]' "$work/busybox.tar" busybox:latest >/dev/null
done

# Five services, two networks, a published port, a named volume; each
# process ends at TERM at once, so `down` measures the engine, not a grace
# period.
cmd='["sh", "-c", "trap \"exit 0\" TERM; sleep 1000 & wait"]'
cat >"$work/project/docker-compose.yml" <<-EOF
	services:
	  web:
	    image: busybox
	    command: $cmd
	    ports: ["127.0.0.1:18080:80"]
	    networks: [front]
	  api:
	    image: busybox
	    command: $cmd
	    networks: [front, back]
	    depends_on: [db, cache]
	  worker:
	    image: busybox
	    command: $cmd
	    networks: [back]
	    depends_on: [db]
	  db:
	    image: busybox
	    command: $cmd
	    volumes: ["data:/data"]
	    networks:
	      back:
	        aliases: [database]
	  cache:
	    image: busybox
	    command: $cmd
	    networks: [back]
	networks:
	  front: {}
	  back: {}
	volumes:
	  data: {}
EOF

now() { date +%s%N; }
declare -A up down
for r in $(seq "$rounds"); do
	for e in berthd dockerd; do
		export DOCKER_HOST=unix://$work/$e/sock
		cd "$work/project"
		t0=$(now)
		docker-compose -p bench up -d >/dev/null 2>&1 || { echo "$e: up failed" >&2; docker-compose -p bench up -d; exit 1; }
		t1=$(now)
		n=$(docker ps -q --filter label=com.docker.compose.project=bench | wc -l)
		[ "$n" = 5 ] || { echo "$e: $n containers running, not 5" >&2; exit 1; }
		docker-compose -p bench down >/dev/null 2>&1 || { echo "$e: down failed" >&2; exit 1; }
		t2=$(now)
		up[$e]+="$(((t1 - t0) / 1000000)) "
		down[$e]+="$(((t2 - t1) / 1000000)) "
		echo "round $r $e: up -d $(((t1 - t0) / 1000000)) ms, down $(((t2 - t1) / 1000000)) ms" >&2
	done
done
median() { tr ' ' '\n' | grep . | sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
echo "docker-compose $(docker-compose version --short), $rounds rounds, medians (ms):"
for e in berthd dockerd; do
	echo "$e up -d $(echo "${up[$e]}" | median) down $(echo "${down[$e]}" | median)"
done
bu=$(echo "${up[berthd]}" | median); du=$(echo "${up[dockerd]}" | median)
bd=$(echo "${down[berthd]}" | median); dd=$(echo "${down[dockerd]}" | median)
awk -v bu="$bu" -v du="$du" -v bd="$bd" -v dd="$dd" \
	'BEGIN {printf "berthd/dockerd: up -d %.2f, down %.2f\n", bu / du, bd / dd}'
