#!/bin/bash
# CI's check of the README's first command: extracts it from README.md (the
# first line of the sh block under "## The two commands") and runs it as
# written, with scripts/quickstart.sh pointed at a berthd on private roots,
# socket and bridge; then stops that berthd and removes what it made (its
# containers, bridge, nftables table, data). Prints "quickstart: ok" last.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
cmd=$(awk '/^## The two commands/ { on = 1 } on && /^```sh/ { getline; print; exit }' README.md)
case $cmd in
*scripts/quickstart.sh*) ;;
*) echo "quickstart-check: no first command found in README.md" >&2; exit 1 ;;
esac
tmp=$(mktemp -d /tmp/berth-quickstart.XXXXXX)
bridge=bq$(( $$ % 100000 ))
export BERTH_SOCK=$tmp/berth.sock BERTHD_LOG=$tmp/berthd.log
export BERTHD_ARGS="--data-root $tmp/data --exec-root $tmp/exec --pidfile $tmp/berthd.pid --bridge $bridge"
cleanup() {
	export DOCKER_HOST=unix://$BERTH_SOCK
	for c in $(docker ps -aq 2>/dev/null); do docker rm -f "$c" >/dev/null 2>&1 || true; done
	if [ -s "$tmp/berthd.pid" ]; then
		pid=$(cat "$tmp/berthd.pid")
		kill "$pid" 2>/dev/null || true
		for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	fi
	ip link del "$bridge" 2>/dev/null || true
	nft delete table ip "berth_$bridge" 2>/dev/null || true
	umount -R "$tmp/data" 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT
echo "quickstart-check: $cmd"
out=$(bash -c "$cmd" 2>&1) || { echo "$out" >&2; echo "quickstart: FAILED" >&2; exit 1; }
echo "$out"
grep -qx 'hello from berth' <<<"$out" || { echo "quickstart: FAILED (no greeting)" >&2; exit 1; }
echo "quickstart: ok"
