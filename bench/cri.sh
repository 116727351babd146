#!/bin/bash
# The CRI side by side: berthd's CRI server and containerd's CRI plugin
# (Debian's containerd 1.6), each on its own socket and roots, in the same
# run, interleaved.
#
#   bench/cri.sh [-n N] [-p PODS]
#
# Measured, with crictl (built from a cri-tools checkout: CRICTL=PATH):
# - pod start latency: `crictl run` (RunPodSandbox + CreateContainer +
#   StartContainer of a busybox pod running `sleep`), then the pod removed
#   (`rmp -f`), N times per engine (default 20), medians and spread;
# - memory per pod: PODS pods (default 10) started, the PSS of the daemon,
#   its shims and their processes (pause, sleep) before and after, divided
#   by PODS.
#
# Why: the kubelet starts pods through this path; containerd is what most
# clusters run. Both get the same CNI config (`ptp` with host-local
# addresses on a free /24, no masquerade: a veth per pod and no bridge or
# iptables rule left on the host; containerd needs an eth0) and the same busybox
# image; containerd's sandbox image is a stand-in pause (a static program
# that waits for a signal), imported with ctr, since nothing is pulled.
# Needs root, containerd, busybox-static, gcc (static libc), crictl.
set -euo pipefail

n=20
pods=10
while [ $# -gt 0 ]; do
	case $1 in
	-n) n=$2; shift 2 ;;
	-p) pods=$2; shift 2 ;;
	*) echo "usage: $0 [-n N] [-p PODS]" >&2; exit 2 ;;
	esac
done
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
crictl=${CRICTL:?set CRICTL to a crictl binary of cri-tools v1.26.1}
profile=${BERTH_PROFILE:-release}
tb=$repo/target/$profile
work=$(mktemp -d /tmp/berth-cribench.XXXXXX)
pids=()
cleanup() {
	set +e
	for e in berth containerd; do
		for p in $(cc "$e" pods -q 2>/dev/null); do cc "$e" rmp -f "$p" >/dev/null 2>&1; done
	done
	for ((i = ${#pids[@]} - 1; i >= 0; i--)); do kill "${pids[$i]}" 2>/dev/null; wait "${pids[$i]}" 2>/dev/null; done
	for d in /sys/fs/cgroup/*/berth-cribench-$$ /sys/fs/cgroup/berth-cribench-$$; do
		[ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null
	done
	grep " $work/" /proc/mounts | awk '{print $2}' | sort -r | xargs -r -n1 umount -l 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT
cc() { # ENGINE crictl-args...
	local e=$1; shift
	"$crictl" --runtime-endpoint "unix://$work/$e.sock" --image-endpoint "unix://$work/$e.sock" --timeout 60s "$@"
}

mkdir -p "$work/net.d"
subnet=
for i in $(seq 200 250); do
	if ! ip route | grep -q "^10\.$i\.78\."; then subnet=10.$i.78.0/24; break; fi
done
cat >"$work/net.d/10-bench.conflist" <<EOF
{"cniVersion": "0.4.0", "name": "berth-cribench", "plugins": [
  {"type": "ptp", "ipMasq": false,
   "ipam": {"type": "host-local", "ranges": [[{"subnet": "$subnet"}]], "dataDir": "$work/leases"}},
  {"type": "loopback"}]}
EOF

echo "== images"
bash "$repo/scripts/busybox-rootfs.sh" "$work/bb" >/dev/null
tar -C "$work/bb" -cf "$work/busybox.tar" .
cat >"$work/pause.c" <<'EOF'
#include <signal.h>
#include <unistd.h>
static void done(int s) { (void)s; _exit(0); }
int main(void) { signal(SIGTERM, done); signal(SIGINT, done); for (;;) pause(); }
EOF
gcc -static -O2 -o "$work/pause" "$work/pause.c"

echo "== berthd ($profile)"
"$tb/berthd" -H "unix://$work/berth-docker.sock" --data-root "$work/berth-data" --exec-root "$work/berth-exec" \
	--bridge none --cri-socket "$work/berth.sock" --cni-conf-dir "$work/net.d" \
	--cri-cgroup-parent "/berth-cribench-$$" >"$work/berthd.log" 2>&1 &
pids+=($!)
berthd_pid=$!
for _ in $(seq 100); do [ -S "$work/berth.sock" ] && break; sleep 0.1; done
DOCKER_HOST=unix://$work/berth-docker.sock docker import -c 'CMD ["sh"]' "$work/busybox.tar" busybox >/dev/null

echo "== containerd"
cat >"$work/containerd.toml" <<EOF
version = 2
root = "$work/containerd-root"
state = "$work/containerd-state"
[grpc]
  address = "$work/containerd.sock"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "registry.k8s.io/pause:3.6"
  # Lowering an OOM score needs CAP_SYS_RESOURCE, which this kind of
  # machine withholds: clamp as berth does.
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$work/net.d"
EOF
containerd --config "$work/containerd.toml" >"$work/containerd.log" 2>&1 &
pids+=($!)
containerd_pid=$!
for _ in $(seq 100); do [ -S "$work/containerd.sock" ] && break; sleep 0.1; done
# Images: busybox and the pause stand-in, as OCI archives made by berthd.
mkdir -p "$work/ctx"
cp "$work/pause" "$work/ctx/pause"
printf 'FROM scratch\nCOPY pause /pause\nENTRYPOINT ["/pause"]\n' >"$work/ctx/Dockerfile"
export DOCKER_HOST=unix://$work/berth-docker.sock
docker build -q -t registry.k8s.io/pause:3.6 "$work/ctx" >/dev/null
docker save -o "$work/images.tar" busybox registry.k8s.io/pause:3.6
ctr --address "$work/containerd.sock" -n k8s.io images import "$work/images.tar" >/dev/null
docker rmi registry.k8s.io/pause:3.6 >/dev/null

cat >"$work/ctr.json" <<'EOF'
{"metadata": {"name": "sleeper"}, "image": {"image": "docker.io/library/busybox:latest"},
 "command": ["sleep", "3600"], "linux": {}}
EOF
pod_json() { # NAME
	printf '{"metadata": {"name": "%s", "namespace": "bench", "uid": "%s", "attempt": 0}, "linux": {"cgroup_parent": "/berth-cribench-%s"}}\n' "$1" "$1" "$$" >"$work/pod-$1.json"
	echo "$work/pod-$1.json"
}

echo "== pod start latency (crictl run), n=$n each, interleaved"
: >"$work/times"
for i in $(seq "$n"); do
	for e in berth containerd; do
		f=$(pod_json "lat-$e-$i")
		t0=$(date +%s%N)
		cc "$e" run --no-pull "$work/ctr.json" "$f" >/dev/null
		t1=$(date +%s%N)
		echo "$e $(( (t1 - t0) / 1000 ))" >>"$work/times"
		cc "$e" rmp -f "$(cc "$e" pods -q --name "lat-$e-$i")" >/dev/null
	done
done

# PSS of a daemon, every shim of this run and their descendants.
pss() { # DAEMON_PID SHIM_PATTERN
	local all=("$1") p
	for p in $(pgrep -f "$2"); do
		all+=("$p")
		all+=($(pgrep -P "$p" 2>/dev/null) )
		for c in $(pgrep -P "$p" 2>/dev/null); do all+=($(pgrep -P "$c" 2>/dev/null)); done
	done
	for p in "${all[@]}"; do
		awk '/^Pss:/ {s += $2} END {print s + 0}' "/proc/$p/smaps_rollup" 2>/dev/null
	done | awk '{s += $1} END {print s + 0}'
}
echo "== memory, $pods pods each"
declare -A before after
before[berth]=$(pss "$berthd_pid" "berth-shim $work/")
before[containerd]=$(pss "$containerd_pid" "containerd-shim.*$work/containerd.sock")
for e in berth containerd; do
	for i in $(seq "$pods"); do cc "$e" run --no-pull "$work/ctr.json" "$(pod_json "mem-$e-$i")" >/dev/null; done
done
sleep 2
after[berth]=$(pss "$berthd_pid" "berth-shim $work/")
after[containerd]=$(pss "$containerd_pid" "containerd-shim.*$work/containerd.sock")

python3 - "$work/times" "$pods" "${before[berth]}" "${after[berth]}" "${before[containerd]}" "${after[containerd]}" <<'EOF'
import statistics, sys
times, pods = sys.argv[1], int(sys.argv[2])
bb, ba, cb, ca = map(int, sys.argv[3:7])
t = {}
for line in open(times):
    e, us = line.split()
    t.setdefault(e, []).append(int(us) / 1000)
print("| engine | pod start, median ms (min-max) | PSS per pod, MiB |")
print("| --- | --- | --- |")
for e, (b, a) in (("berth", (bb, ba)), ("containerd", (cb, ca))):
    v = sorted(t[e])
    print(f"| {e} | {statistics.median(v):.0f} ({v[0]:.0f}-{v[-1]:.0f}) | {(a - b) / pods / 1024:.2f} |")
print(f"ratio (containerd / berth, start): {statistics.median(t['containerd']) / statistics.median(t['berth']):.1f}x")
EOF
