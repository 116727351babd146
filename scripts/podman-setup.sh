#!/bin/bash
# Installs podman and its helpers (apt, only what is missing; as root), writes a private
# podman configuration under DIR, and imports a local busybox image into that
# private store as docker.io/library/busybox:latest.
#
#   eval "$(scripts/podman-setup.sh DIR)"     # exports the CONTAINERS_* vars
#   podman run --rm busybox echo hi
#
# stdout carries only the `export` lines; progress goes to stderr.
# Idempotent: a second run rewrites the config and keeps the image.
# Run by an ordinary user it installs nothing and sets up rootless podman's
# store under DIR the same way (tests/podman/smoke-rootless.sh).
# Set BUSYBOX_REIMPORT=1 to import the image again.
#
# Nothing is written outside DIR except by apt. In particular no cgroup
# change for crun happens here (tests/podman/smoke.sh does it when asked to run
# crun). The default runtime in the config is runc, which runs on this
# machine's hybrid cgroup layout as it is; pass --runtime for another.
set -euo pipefail

[ $# -eq 1 ] || { echo "usage: $0 DIR" >&2; exit 2; }
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
mkdir -p "$1"
dir=$(cd "$1" && pwd)

log() { echo "podman-setup: $*" >&2; }

# containernetworking-plugins: podman 4.3 falls back to CNI when netavark is
# not installed; Debian pulls it in through golang-github-containers-common,
# named here so that the bridge network is there for sure.
pkgs=(podman conmon crun runc uidmap catatonit golang-github-containers-common
	containernetworking-plugins busybox-static iptables)
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' \
		|| missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ] && [ "$(id -u)" != 0 ]; then
	# Rootless (tests/podman/smoke-rootless.sh runs this as its user):
	# root installed what is needed, or nothing can be.
	log "missing packages ${missing[*]}: install them as root"
	exit 1
fi
if [ ${#missing[@]} -gt 0 ]; then
	log "installing ${missing[*]}"
	# --no-install-recommends: podman recommends buildah, fuse-overlayfs,
	# dbus-user-session and more, none needed as root.
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
		"${missing[@]}" >&2
fi

mkdir -p "$dir/storage" "$dir/run" "$dir/tmp" "$dir/net" "$dir/volumes"

# No CAP_SYS_RESOURCE here: podman's default nofile=1048576 fails with
# "setrlimit ... Operation not permitted". Ask for exactly the caller's hard
# limits instead (a process may always raise its soft limit up to its hard).
# Except nproc: podman lowers its own RLIMIT_NPROC to 32768 before it starts
# conmon and the runtime, so the container cannot get more than that (asking
# for the caller's 96365 fails: "error setting rlimit type 6").
ulimits=()
hn=$(ulimit -Hn)
hu=$(ulimit -Hu)
if [ "$hu" = unlimited ] || [ "$hu" -gt 32768 ]; then hu=32768; fi
[ "$hn" = unlimited ] || ulimits+=("\"nofile=$hn:$hn\"")
[ "$hu" = unlimited ] || ulimits+=("\"nproc=$hu:$hu\"")
ulimits_toml=$(IFS=,; echo "${ulimits[*]}")

cat > "$dir/containers.conf" <<CONF
# Private podman configuration written by scripts/podman-setup.sh.
[containers]
default_ulimits = [$ulimits_toml]

[engine]
# No systemd on this machine.
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$dir/events.log"
# runc works with the hybrid cgroup layout as it is; crun needs
# scripts/lib/crun-hybrid.sh first. Tests pass --runtime anyway.
runtime = "runc"
# Keep podman's state out of /run/libpod and /var/lib/containers.
tmp_dir = "$dir/tmp"
static_dir = "$dir/storage/libpod"
volume_path = "$dir/volumes"

[network]
network_config_dir = "$dir/net"
CONF

cat > "$dir/storage.conf" <<CONF
[storage]
driver = "overlay"
graphroot = "$dir/storage"
runroot = "$dir/run"
CONF

cat > "$dir/registries.conf" <<'CONF'
# Short names resolve to docker.io/library/NAME, which is found in the local
# store (images are made locally: Docker Hub is not reachable from here).
unqualified-search-registries = ["docker.io"]
short-name-mode = "permissive"

# A registry run by the tests on loopback speaks plain HTTP.
[[registry]]
location = "localhost:5000"
insecure = true

[[registry]]
location = "127.0.0.1:5000"
insecure = true
CONF

export CONTAINERS_CONF=$dir/containers.conf
export CONTAINERS_STORAGE_CONF=$dir/storage.conf
export CONTAINERS_REGISTRIES_CONF=$dir/registries.conf

image=docker.io/library/busybox:latest
if [ "${BUSYBOX_REIMPORT:-0}" != 1 ] && podman image exists "$image"; then
	log "$image already in $dir/storage"
else
	rootfs=$(mktemp -d)
	trap 'rm -rf "$rootfs"' EXIT
	rmdir "$rootfs"
	"$here/busybox-rootfs.sh" "$rootfs"
	# Sorted names, fixed mtimes and owners, GNU format, no xattrs: the same
	# layer digest on every machine with the same busybox.
	tar -C "$rootfs" --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner \
		--format=gnu --no-xattrs --no-acls --no-selinux -cf "$dir/busybox.tar" .
	podman import --quiet --change 'CMD ["sh"]' \
		--message "busybox rootfs from scripts/busybox-rootfs.sh" \
		"$dir/busybox.tar" "$image" >&2
	rm -f "$dir/busybox.tar"
	log "imported $image (layer sha256:$(podman image inspect --format '{{index .RootFS.Layers 0}}' "$image" | sed 's/^sha256://'))"
fi

cat <<ENV
export CONTAINERS_CONF=$dir/containers.conf
export CONTAINERS_STORAGE_CONF=$dir/storage.conf
export CONTAINERS_REGISTRIES_CONF=$dir/registries.conf
ENV
