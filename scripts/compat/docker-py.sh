#!/bin/bash
# Runs docker-py's own integration suite against a berthd of its own.
#
#   scripts/compat/docker-py.sh DOCKER_PY_CHECKOUT [PYTEST ARGS…]
#
# DOCKER_PY_CHECKOUT is a clone of github.com/docker/docker-py (not part of
# this repository: fetch it yourself). The script makes a Python venv with
# the suite's test dependencies (PyPI), starts berthd (BERTHD, default
# target/debug/berthd) on a private socket, data root and bridge, imports
# the busybox image the suite expects under the names it uses
# (`alpine:3.10`, `alpine:latest`, `busybox:latest`) plus a scratch
# `hello-world` from a static binary, runs the suite's files that do not
# need a swarm (the 270 tests of api_*, models_*, client, context, errors
# and regression files without swarm, service, secret, config, plugin and
# node ones), prints pytest's summary and leaves nothing behind. The
# websocket attach test runs apart, through a loopback TCP relay (docker-py's
# websocket client speaks TCP only); its summary is the second one.
# Root. Environment: BERTHD, DPY_VENV (default /var/tmp/berth-docker-py-venv),
# DPY_TIMEOUT (per test, default 120 s), BERTHD_ARGS (more daemon flags),
# DPY_LOG (a file to keep berthd's log in). It runs in a mount namespace
# of its own with / shared (see below). The suite runs with a HOME of
# its own holding an empty ~/.docker/config.json: without one, docker-py's
# context tests write `contexts/` into the current directory (the checkout),
# and a run cut short there fails the next run's.
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: $0 DOCKER_PY_CHECKOUT [PYTEST ARGS…]" >&2; exit 2; }
# The run has a mount namespace of its own whose root is a shared mount, as
# systemd makes a host's: docker-py's rshared bind test needs the mount made
# in the container to reach the host path (on a private root, dockerd and
# berthd both refuse `rshared`). The host's own mounts stay as they are, and
# what the run mounts goes with it.
if [ -z "${BERTH_DPY_MOUNTNS:-}" ]; then
	BERTH_DPY_MOUNTNS=1 exec unshare -m --propagation unchanged "$0" "$@"
fi
mount --make-rshared /
dpy=$(cd "$1" && pwd)
shift
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
berthd=${BERTHD:-$repo/target/debug/berthd}
venv=${DPY_VENV:-/var/tmp/berth-docker-py-venv}
[ -x "$berthd" ] || { echo "no berthd at $berthd (cargo build first)" >&2; exit 2; }

if [ ! -x "$venv/bin/pytest" ]; then
	python3 -m venv "$venv"
	"$venv/bin/pip" install -q pytest pytest-timeout paramiko requests urllib3 websocket-client
fi

work=$(mktemp -d /var/tmp/berth-dpy.XXXXXX)
sock=$work/berth.sock
bridge=bdpy$$
daemon=
cleanup() {
	set +e
	[ -n "${relay_PID:-}" ] && kill "$relay_PID" 2>/dev/null
	if [ -n "$daemon" ]; then
		# Containers, networks and volumes the suite left, then the daemon.
		export DOCKER_HOST=unix://$sock
		ids=$(docker ps -aq)
		[ -n "$ids" ] && docker rm -f -v $ids >/dev/null 2>&1
		docker network prune -f >/dev/null 2>&1
		docker volume prune -af >/dev/null 2>&1
		kill "$daemon" 2>/dev/null
		wait "$daemon" 2>/dev/null
	fi
	ip link del "$bridge" 2>/dev/null
	nft delete table ip "berth_$bridge" 2>/dev/null
	nft delete table ip6 "berth_$bridge" 2>/dev/null || true
	umount -R "$work/root" 2>/dev/null
	[ -n "${DPY_LOG:-}" ] && cp "$work/berthd.log" "$DPY_LOG"
	rm -rf "$work"
}
trap cleanup EXIT

"$berthd" --bridge "$bridge" --bip 10.213.7.1/24 ${BERTHD_ARGS:-} \
	-H "unix://$sock" --data-root "$work/root" --exec-root "$work/exec" \
	>"$work/berthd.log" 2>&1 &
daemon=$!
export DOCKER_HOST=unix://$sock
for _ in $(seq 100); do docker version >/dev/null 2>&1 && break; sleep 0.1; done
docker version --format 'berthd {{.Server.Version}} (API {{.Server.APIVersion}})'

# busybox under the names the suite uses.
bash "$repo/scripts/busybox-rootfs.sh" "$work/bb" >/dev/null
tar -C "$work/bb" -c . | docker import -c 'CMD ["sh"]' - busybox:latest >/dev/null
for t in alpine:3.10 alpine:latest; do docker tag busybox:latest "$t"; done
# hello-world: a static binary that prints a greeting, FROM scratch.
cat >"$work/hello.c" <<'C'
#include <unistd.h>
int main(void) { static const char m[] = "\nHello from Docker!\n"; write(1, m, sizeof m - 1); return 0; }
C
mkdir -p "$work/hw"
gcc -static -Os -o "$work/hw/hello" "$work/hello.c"
tar -C "$work/hw" -c hello | docker import -c 'CMD ["/hello"]' - hello-world:latest >/dev/null

cd "$dpy"
files=()
for f in tests/integration/*_test.py; do
	case $(basename "$f") in
	api_config_test.py | api_plugin_test.py | api_secret_test.py | api_service_test.py | \
		api_swarm_test.py | models_nodes_test.py | models_services_test.py | models_swarm_test.py) ;;
	*) files+=("$f") ;;
	esac
done
rc=0
mkdir -p "$work/home/.docker"
echo '{}' >"$work/home/.docker/config.json"
# docker-py's websocket client speaks TCP only (over the unix socket it says
# "scheme http+docker is invalid"), and berthd listens on a unix socket:
# that test runs apart, through a loopback relay to the socket.
ws_test=tests/integration/api_container_test.py::AttachContainerTest::test_run_container_reading_socket_ws
HOME=$work/home PYTHONPATH=$dpy "$venv/bin/pytest" -p no:cacheprovider --timeout "${DPY_TIMEOUT:-120}" \
	-rfE -q --deselect "$ws_test" "${files[@]}" "$@" || rc=$?
if [ $# -eq 0 ]; then
	cat >"$work/relay.py" <<'PY'
import asyncio, sys
sock = sys.argv[1]
async def pipe(r, w):
    try:
        while data := await r.read(65536):
            w.write(data)
            await w.drain()
        w.write_eof()
    except (ConnectionError, OSError):
        w.close()
async def serve(cr, cw):
    ur, uw = await asyncio.open_unix_connection(sock)
    await asyncio.gather(pipe(cr, uw), pipe(ur, cw))
    cw.close(); uw.close()
async def main():
    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    await server.serve_forever()
asyncio.run(main())
PY
	coproc relay { exec "$venv/bin/python" "$work/relay.py" "$sock"; }
	read -r port <&"${relay[0]}"
	echo "websocket attach, through tcp://127.0.0.1:$port:"
	DOCKER_HOST=tcp://127.0.0.1:$port HOME=$work/home PYTHONPATH=$dpy "$venv/bin/pytest" -p no:cacheprovider \
		--timeout "${DPY_TIMEOUT:-120}" -rfE -q "$ws_test" || rc=$?
	kill "$relay_PID" 2>/dev/null
	wait "$relay_PID" 2>/dev/null || true
fi
echo "berthd log: $(wc -l <"$work/berthd.log") lines (kept only while this runs)"
exit $rc
