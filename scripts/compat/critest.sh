#!/bin/bash
# critest (kubernetes-sigs/cri-tools, tag v1.26.1) against berthd's CRI
# server, offline.
#
#   scripts/compat/critest.sh CRI_TOOLS_BIN_DIR [critest flags...]
#
# CRI_TOOLS_BIN_DIR holds `critest` and `crictl` built from cri-tools at
# v1.26.1 (neither its code nor a recipe that builds it is part of this
# repository; the steering's PEERS.md says how they build offline here).
# The script builds berth, starts Debian's docker-registry on a free loopback port, makes the
# suite's test images locally (busybox-static based stand-ins, pushed under
# the paths the suite names), starts a berthd with its own roots, CRI
# socket, CNI config (a bridge of its own on a free /24) and registry
# mirrors for registry.k8s.io and gcr.io pointing at that registry, then
# runs critest. Everything it starts is stopped, and everything it made on
# the host removed, when it ends.
#
# Environment: BERTH_PROFILE=release (default debug) picks the build;
# CRITEST_FOCUS / CRITEST_SKIP are passed as -ginkgo.focus / -ginkgo.skip;
# CRITEST_REPORT=DIR keeps the JUnit report; KEEP=1 keeps the work
# directory.
set -euo pipefail

tools=${1:?usage: critest.sh CRI_TOOLS_BIN_DIR [critest flags...]}
shift
tools=$(cd "$tools" && pwd)
for t in critest crictl; do
	[ -x "$tools/$t" ] || { echo "critest.sh: no $t in $tools" >&2; exit 2; }
done
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
profile=${BERTH_PROFILE:-debug}
work=$(mktemp -d /tmp/berth-critest.XXXXXX)
bin=$work/bin
mkdir -p "$bin"

pids=()
bridge=
had_hostport=0
iptables -t nat -S CNI-HOSTPORT-DNAT >/dev/null 2>&1 && had_hostport=1
cleanup() {
	set +e
	if [ -S "$work/cri.sock" ] && [ -x "$bin/crictl" ]; then
		# Pods outlive the daemon: they go first.
		for p in $("$bin/crictl" --runtime-endpoint "unix://$work/cri.sock" pods -q 2>/dev/null); do
			"$bin/crictl" --runtime-endpoint "unix://$work/cri.sock" rmp -f "$p" >/dev/null 2>&1
		done
	fi
	for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
		kill "${pids[$i]}" 2>/dev/null
		wait "${pids[$i]}" 2>/dev/null
	done
	[ -n "$bridge" ] && ip link del "$bridge" 2>/dev/null
	# Each pod's CNI DEL removed its iptables rules; portmap's own chains
	# go if this run made them.
	if [ "$had_hostport" = 0 ]; then
		for c in CNI-HOSTPORT-DNAT CNI-HOSTPORT-SETMARK CNI-HOSTPORT-MASQ; do
			iptables -t nat -F "$c" 2>/dev/null
		done
		iptables -t nat -D PREROUTING -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT 2>/dev/null
		iptables -t nat -D OUTPUT -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT 2>/dev/null
		iptables -t nat -D POSTROUTING -m comment --comment "CNI portfwd requiring masquerade" -j CNI-HOSTPORT-MASQ 2>/dev/null
		for c in CNI-HOSTPORT-DNAT CNI-HOSTPORT-SETMARK CNI-HOSTPORT-MASQ; do
			iptables -t nat -X "$c" 2>/dev/null
		done
	fi
	for d in /sys/fs/cgroup/*/berth-critest-$$ /sys/fs/cgroup/berth-critest-$$; do
		[ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null
	done
	umount -R "$work/data" 2>/dev/null
	if [ "${KEEP:-0}" = 1 ]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

cp "$tools/critest" "$tools/crictl" "$bin/"

echo "== building berth ($profile)"
flag=; [ "$profile" = release ] && flag=--release
(cd "$repo" && cargo build $flag -p berthd -p shim -p berth-runtime -p berth)
tb=$repo/target/$profile

echo "== registry"
regport=$(free_port)
mkdir -p "$work/registry"
cat >"$work/registry.yml" <<EOF
version: 0.1
storage:
  filesystem:
    rootdirectory: $work/registry
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$regport
EOF
docker-registry serve "$work/registry.yml" >"$work/registry.log" 2>&1 &
pids+=($!)
reg=127.0.0.1:$regport

echo "== berthd"
# A /24 for the pods that no route uses.
subnet=
for i in $(seq 200 250); do
	if ! ip route | grep -q "^10\.$i\.77\."; then subnet=10.$i.77.0/24; break; fi
done
bridge=cni-bc$(( $$ % 100000 ))
mkdir -p "$work/net.d" "$work/cni"
cat >"$work/net.d/10-berth-critest.conflist" <<EOF
{
  "cniVersion": "0.4.0",
  "name": "berth-critest",
  "plugins": [
    {"type": "bridge", "bridge": "$bridge", "isGateway": true, "ipMasq": true, "hairpinMode": true,
     "ipam": {"type": "host-local", "ranges": [[{"subnet": "$subnet"}]], "routes": [{"dst": "0.0.0.0/0"}],
              "dataDir": "$work/cni/networks"}},
    {"type": "portmap", "capabilities": {"portMappings": true}},
    {"type": "loopback"}
  ]
}
EOF
"$tb/berthd" -H "unix://$work/berth.sock" --data-root "$work/data" --exec-root "$work/exec" \
	--bridge none --cri-socket "$work/cri.sock" --cni-conf-dir "$work/net.d" \
	--cri-cgroup-parent "/berth-critest-$$" \
	--registry-mirror "registry.k8s.io=$reg" --registry-mirror "gcr.io=$reg" \
	>"$work/berthd.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do [ -S "$work/cri.sock" ] && break; sleep 0.1; done
[ -S "$work/cri.sock" ] || { cat "$work/berthd.log"; exit 1; }
export DOCKER_HOST=unix://$work/berth.sock DOCKER_CONFIG=$work/docker-config

echo "== test images (stand-ins, pushed to $reg)"
bash "$repo/scripts/busybox-rootfs.sh" "$work/bbroot" >/dev/null
# Hard links, as the upstream busybox image has (masking /bin/ls must not
# mask the shell through a symlink).
for f in "$work"/bbroot/bin/*; do
	if [ -L "$f" ]; then ln -f "$work/bbroot/bin/busybox" "$f"; fi
done
tar -C "$work/bbroot" -cf "$work/busybox.tar" .
docker import -c 'CMD ["sh"]' "$work/busybox.tar" critest/busybox-raw >/dev/null
# Debian's busybox-static has no pgrep (the suite's checks use it): a small
# one over /proc.
mkdir -p "$work/ctx/base"
cat >"$work/ctx/base/pgrep" <<'EOF'
#!/bin/sh
# pgrep [-f] PATTERN: the pids whose name (or command line) contains PATTERN.
full=0
[ "$1" = "-f" ] && { full=1; shift; }
status=1
for d in /proc/[0-9]*; do
	pid=${d#/proc/}
	[ "$pid" = "$$" ] && continue
	if [ $full = 1 ]; then s=$(tr '\0' ' ' <"$d/cmdline" 2>/dev/null); else s=$(cat "$d/comm" 2>/dev/null); fi
	case "$s" in *"$1"*) echo "$pid"; status=0 ;; esac
done
exit $status
EOF
# ipcs -m: the segments of the IPC namespace (their ids), from /proc.
printf '#!/bin/sh\ncat /proc/sysvipc/shm\n' >"$work/ctx/base/ipcs"
printf 'FROM critest/busybox-raw\nCOPY --chmod=755 pgrep ipcs /bin/\n' >"$work/ctx/base/Dockerfile"
docker build -q -t critest/busybox "$work/ctx/base" >/dev/null
build() { # NAME (the path in the registry), then a Dockerfile on stdin
	local ctx=$work/ctx/$1
	mkdir -p "$ctx"
	cat >"$ctx/Dockerfile"
	[ -n "${2:-}" ] && printf '%s\n' "$2" >"$ctx/file"
	docker build -q -t "$reg/$1" "$ctx" >/dev/null
	docker push -q "$reg/$1" >/dev/null
	docker rmi "$reg/$1" >/dev/null
}
build e2e-test-images/busybox:1.29-2 <<<'FROM critest/busybox'
# Web servers: busybox httpd behind small start scripts that do what the
# suite looks for (nginx writes /var/run/nginx.pid and its pid 1 is the
# "master process"; httpd logs its command line).
# The "master" is a static program named nginx (what `pidof nginx` finds)
# whose command line says "master process"; it runs httpd as its child.
cat >"$work/nginx.c" <<'EOF'
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>
static pid_t child;
static void forward(int sig) { if (child > 0) kill(child, sig); }
int main(void) {
	const char *port = getenv("PORT");
	child = fork();
	if (child == 0) {
		execl("/bin/httpd", "httpd", "-f", "-p", port ? port : "80", "-h", "/www", (char *)0);
		_exit(127);
	}
	signal(SIGTERM, forward);
	signal(SIGINT, forward);
	for (;;) {
		int st;
		pid_t p = wait(&st);
		if (p == child) return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		if (p < 0) return 1;
	}
}
EOF
gcc -static -O2 -o "$work/nginx" "$work/nginx.c"
cat >"$work/ctx/base/start-nginx" <<'EOF'
#!/bin/sh
mkdir -p /var/run /www
echo '<h1>Welcome to nginx!</h1>' >/www/index.html
echo $$ >/var/run/nginx.pid
exec /usr/local/bin/nginx "master process nginx"
EOF
cat >"$work/ctx/base/start-httpd" <<'EOF'
#!/bin/sh
mkdir -p /www
echo 'It works!' >/www/index.html
echo "AH00094: Command line: 'httpd -D FOREGROUND'"
exec httpd -f -p 80 -h /www
EOF
web() { # NAME SCRIPT [ENV]
	local ctx=$work/ctx/$1
	mkdir -p "$ctx"
	cp "$work/ctx/base/$2" "$ctx/start"
	cp "$work/nginx" "$ctx/nginx"
	printf 'FROM critest/busybox\nCOPY --chmod=755 start nginx /usr/local/bin/\n%bCMD ["/usr/local/bin/start"]\n' "${3:+ENV $3\n}" >"$ctx/Dockerfile"
	docker build -q -t "$reg/$1" "$ctx" >/dev/null
	docker push -q "$reg/$1" >/dev/null
	docker rmi "$reg/$1" >/dev/null
}
web e2e-test-images/nginx:1.14-2 start-nginx
web e2e-test-images/httpd:2.4.39-4 start-httpd
web "k8s-staging-cri-tools/hostnet-nginx-$(go env GOARCH):latest" start-nginx PORT=12003
# nonewprivs: a setuid-root static program that prints its effective uid,
# as the upstream image's does.
mkdir -p "$work/ctx/nnp"
cat >"$work/nnp.c" <<'EOF'
#include <stdio.h>
#include <unistd.h>
int main(void) { printf("Effective uid: %d\n", (int)geteuid()); return 0; }
EOF
gcc -static -O2 -o "$work/ctx/nnp/nnp" "$work/nnp.c"
cat >"$work/ctx/nnp/Dockerfile" <<'EOF'
FROM critest/busybox
COPY --chmod=4755 nnp /usr/local/bin/nnp
CMD ["/usr/local/bin/nnp"]
EOF
docker build -q -t "$reg/e2e-test-images/nonewprivs:1.3" "$work/ctx/nnp" >/dev/null
docker push -q "$reg/e2e-test-images/nonewprivs:1.3" >/dev/null
docker rmi "$reg/e2e-test-images/nonewprivs:1.3" >/dev/null
for img in test-image-latest:latest test-image-tag:test test-image-tag:all \
	test-image-1:latest test-image-2:latest test-image-3:latest; do
	build "k8s-staging-cri-tools/$img" "${img%%:*}" <<<$'FROM critest/busybox\nADD file /'"${img%%:*}"
done
build k8s-staging-cri-tools/test-image-tags:1 same-image <<<$'FROM critest/busybox\nADD file /same-image'
for t in 2 3; do
	docker pull -q "$reg/k8s-staging-cri-tools/test-image-tags:1" >/dev/null
	docker tag "$reg/k8s-staging-cri-tools/test-image-tags:1" "$reg/k8s-staging-cri-tools/test-image-tags:$t"
	docker push -q "$reg/k8s-staging-cri-tools/test-image-tags:$t" >/dev/null
	docker rmi "$reg/k8s-staging-cri-tools/test-image-tags:$t" "$reg/k8s-staging-cri-tools/test-image-tags:1" >/dev/null
done
for u in test-image-user-uid=1002 test-image-user-username=www-data \
	test-image-user-uid-group=1003:1004 test-image-user-username-group=www-data:1004; do
	build "k8s-staging-cri-tools/${u%%=*}:latest" <<<$'FROM critest/busybox\nUSER '"${u#*=}"
done
build k8s-staging-cri-tools/test-image-predefined-group:latest <<'EOF'
FROM critest/busybox
RUN echo 'default-user:x:1000:1000::/home/default-user:/bin/sh' >>/etc/passwd && echo 'default-user:x:1000:' >>/etc/group && echo 'group-defined-in-image:x:50000:default-user' >>/etc/group
USER 1000
EOF
docker rmi critest/busybox critest/busybox-raw >/dev/null

echo "== critest"
args=(-runtime-endpoint "unix://$work/cri.sock" -image-endpoint "unix://$work/cri.sock"
	-ginkgo.no-color -ginkgo.v=false)
[ -n "${CRITEST_FOCUS:-}" ] && args+=(-ginkgo.focus "$CRITEST_FOCUS")
[ -n "${CRITEST_SKIP:-}" ] && args+=(-ginkgo.skip "$CRITEST_SKIP")
if [ -n "${CRITEST_REPORT:-}" ]; then mkdir -p "$CRITEST_REPORT"; args+=(-report-dir "$CRITEST_REPORT"); fi
set +e
"$bin/critest" "${args[@]}" "$@" 2>&1 | tee "$work/critest.log"
rc=${PIPESTATUS[0]}
set -e
grep -E '^(Ran|FAIL!|SUCCESS!|PASS|FAIL)' "$work/critest.log" | tail -5 || true
exit "$rc"
