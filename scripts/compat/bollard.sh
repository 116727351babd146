#!/bin/bash
# Runs bollard's own integration suite against berthd, each test alone.
#
#   scripts/compat/bollard.sh BOLLARD_SRC [TEST_NAME...]
#
# BOLLARD_SRC is an unpacked bollard crate (0.21.1 as published: e.g.
# `cargo fetch` of a scratch project depending on `bollard = "=0.21.1"`,
# then `cp -a ~/.cargo/registry/src/*/bollard-0.21.1 DIR`); its code is
# never copied into this repository. The script
#   - builds its test binaries (default features; CARGO_TARGET_DIR defaults
#     to BOLLARD_SRC/target),
#   - starts Debian's docker-registry on a free loopback port
#     (REGISTRY_HTTP_ADDR=localhost:PORT for bollard's tests) and a berthd of
#     its own (socket, roots, bridge `bbl<pid>`, 10.231.N.0/24) from this
#     checkout's target/debug (BERTH_BIN overrides the directory),
#   - makes the images the tests pull as stand-ins built from busybox
#     (`alpine`, `hello-world:linux`, `fussybeaver/uhttpd`) and pushes them
#     to that registry through berthd,
#   - runs every test of the files below alone (`--exact NAME`, 120 s
#     limit), or only the TEST_NAMEs given, and prints one line per test and
#     the totals; logs go to $OUT (default /var/tmp/berth-bollard).
# Swarm, service, node, secret, config, plugin and task files are out of
# scope (berthd has no swarm). Root. Cleans up after itself.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
[ $# -ge 1 ] || { echo "usage: $0 BOLLARD_SRC [TEST_NAME...]" >&2; exit 2; }
src=$(cd "$1" && pwd)
shift
only=("$@")
files=(container_test distribution exec_test image_test network_test podman_test
	race_test system_test version_test volume_test)
out=${OUT:-/var/tmp/berth-bollard}
bin=${BERTH_BIN:-$repo/target/debug}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$src/target}

for b in berthd berth-shim berth-runtime; do
	[ -x "$bin/$b" ] || { echo "$0: $bin/$b missing (cargo build -p berthd -p shim -p berth-runtime)" >&2; exit 1; }
done

echo "== building bollard's tests" >&2
args=()
for f in "${files[@]}"; do args+=(--test "$f"); done
(cd "$src" && cargo test --no-run "${args[@]}" 2>&1 | tail -n 3 >&2)

rm -rf "$out"
mkdir -p "$out"/{registry,berthd,images,logs}
pids=()
bridge=bbl$(( $$ % 100000 ))
cleanup() {
	set +e
	if [ -S "$out/berthd/berth.sock" ]; then
		export DOCKER_HOST=unix://$out/berthd/berth.sock
		for c in $(docker ps -aq 2>/dev/null); do docker rm -f "$c" >/dev/null 2>&1; done
		docker network prune -f >/dev/null 2>&1
	fi
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
	ip link del "$bridge" 2>/dev/null
	nft delete table ip "berth_$bridge" 2>/dev/null
	nft delete table ip6 "berth_$bridge" 2>/dev/null || true
}
trap cleanup EXIT

wait_for() { # wait_for WHAT CMD...
	local what=$1; shift
	for _ in $(seq 200); do "$@" >/dev/null 2>&1 && return 0; sleep 0.05; done
	echo "$0: $what did not start" >&2
	exit 1
}

# The registry, on a free port.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$out/registry/config.yml" <<EOF
version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: $out/registry/data
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$port
EOF
docker-registry serve "$out/registry/config.yml" >"$out/registry/log" 2>&1 </dev/null &
pids+=($!)
wait_for docker-registry curl -sf "http://127.0.0.1:$port/v2/"
export REGISTRY_HTTP_ADDR=localhost:$port

# berthd, on a bridge and subnet of its own (the third octet from the pid,
# clear of the host's routes).
n=$(( $$ % 200 + 20 ))
while ip route | grep -q "^10\.231\.$n\."; do n=$(( (n + 1) % 250 )); done
"$bin/berthd" --bridge "$bridge" --bip "10.231.$n.1/24" \
	-H "unix://$out/berthd/berth.sock" --data-root "$out/berthd/root" \
	--exec-root "$out/berthd/exec" >"$out/berthd/log" 2>&1 </dev/null &
pids+=($!)
export DOCKER_HOST=unix://$out/berthd/berth.sock
export DOCKER_CONFIG=$out/docker-config
wait_for berthd docker version

# The stand-ins, built from busybox and pushed to the registry.
echo "== images" >&2
bash "$repo/scripts/busybox-rootfs.sh" "$out/images/rootfs" >/dev/null
tar -C "$out/images/rootfs" -c . | docker import -c 'CMD ["/bin/sh"]' - bollard-base >/dev/null
mk() { # mk NAME DOCKERFILE_BODY [FILE CONTENT]...
	local name=$1 body=$2 dir; shift 2
	dir=$(mktemp -d "$out/images/ctx.XXXX")
	printf 'FROM bollard-base\n%s\n' "$body" >"$dir/Dockerfile"
	while [ $# -ge 2 ]; do printf '%s' "$2" >"$dir/$1"; shift 2; done
	docker build -q -t "$REGISTRY_HTTP_ADDR/$name" "$dir" >/dev/null
	docker push -q "$REGISTRY_HTTP_ADDR/$name" >/dev/null
	docker rmi "$REGISTRY_HTTP_ADDR/$name" >/dev/null
}
hello=$'\nHello from Docker!\nThis message shows that your installation appears to be working correctly.\n\nTo generate this message, Docker took the following steps:\n 1. The Docker client contacted the Docker daemon.\n 2. The Docker daemon pulled the "hello-world" image from the Docker Hub.\n    (amd64)\n 3. The Docker daemon created a new container from that image which runs the\n    executable that produces the output you are currently reading.\n 4. The Docker daemon streamed that output to the Docker client, which sent it\n    to your terminal.\n\nTo try something more ambitious, you can run an Ubuntu container with:\n $ docker run -it ubuntu bash\n\nShare images, automate workflows, and more with a free Docker ID:\n https://hub.docker.com/\n\nFor more examples and ideas, visit:\n https://docs.docker.com/get-started/\n\n'
mk alpine:latest 'CMD ["/bin/sh"]'
mk hello-world:linux $'COPY hello.txt /hello.txt\nRUN printf \'#!/bin/sh\\ncat /hello.txt\\n\' > /hello && chmod 755 /hello\nCMD ["/hello"]' \
	hello.txt "$hello"
mk fussybeaver/uhttpd:latest $'COPY uhttpd /etc/config/uhttpd\nCOPY index.html /www/index.html\nRUN mkdir -p /usr/sbin && printf \'#!/bin/sh\\nexec httpd "$@"\\n\' > /usr/sbin/run_uhttpd && chmod 755 /usr/sbin/run_uhttpd\nEXPOSE 80\nCMD ["/usr/sbin/run_uhttpd", "-f", "-p", "80", "-h", "/www"]' \
	uhttpd $'\nconfig uhttpd main\n\toption listen_http 0.0.0.0:80\n\toption home /www\n' \
	index.html $'<html><body>uhttpd stand-in</body></html>\n'
docker rmi bollard-base >/dev/null

# Each test alone.
echo "== tests" >&2
pass=0 fail=0 ignored=0
for f in "${files[@]}"; do
	exe=$(ls -t "$CARGO_TARGET_DIR"/debug/deps/"$f"-* 2>/dev/null | grep -v '\.d$' | head -n 1)
	[ -n "$exe" ] || { echo "$0: no test binary for $f" >&2; exit 1; }
	while read -r t; do
		[ -n "$t" ] || continue
		if [ ${#only[@]} -gt 0 ] && ! printf '%s\n' "${only[@]}" | grep -qx "$t"; then
			continue
		fi
		log="$out/logs/$f.$t.log"
		if "$exe" --list --ignored 2>/dev/null | grep -qx "$t: test"; then
			echo "ignored  $f $t"
			ignored=$((ignored + 1))
			continue
		fi
		if timeout 120 "$exe" --exact "$t" --test-threads=1 >"$log" 2>&1; then
			echo "pass     $f $t"
			pass=$((pass + 1))
		else
			echo "FAIL     $f $t  ($log)"
			fail=$((fail + 1))
		fi
	done < <("$exe" --list 2>/dev/null | sed -n 's/: test$//p')
done
echo "$pass passed, $fail failed, $ignored skipped"
