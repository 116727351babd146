#!/bin/bash
# Make a minimal busybox root filesystem in DIR, from Debian's busybox-static.
#
#   scripts/busybox-rootfs.sh DIR
#
# DIR must not exist or be empty. The result is deterministic: same files,
# modes, owners (0:0) and mtimes (the epoch) on every run with the same
# busybox binary, so a tar of it made with
#   tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner --format=gnu
# has the same digest every time (scripts/podman-setup.sh relies on that).
#
# Layout: /bin/busybox plus one relative symlink per applet of
# `busybox --list` in /bin (as Docker's busybox image), /etc/passwd and
# /etc/group with root and nobody, /tmp mode 1777, empty /proc /sys /dev.
set -euo pipefail

usage() { echo "usage: $0 DIR" >&2; exit 2; }
[ $# -eq 1 ] || usage
dir=$1

# busybox-static installs /bin/busybox (on a merged-/usr system /bin is a
# link to /usr/bin). The dynamic `busybox` package would also put one there:
# refuse it, as it would not run inside a rootfs without libc.
src=${BUSYBOX:-/bin/busybox}
if [ ! -x "$src" ]; then
	echo "$0: $src not found: apt-get install busybox-static" >&2
	exit 1
fi
src=$(readlink -f "$src")
# ldd fails on a static binary ("not a dynamic executable").
if command -v ldd >/dev/null && ldd "$src" >/dev/null 2>&1; then
	echo "$0: $src is dynamically linked: install busybox-static" >&2
	exit 1
fi

if [ -e "$dir" ] && [ -n "$(ls -A "$dir")" ]; then
	echo "$0: $dir exists and is not empty" >&2
	exit 1
fi

# The umask must not leak into the modes.
umask 022
mkdir -p "$dir"
cd "$dir"

mkdir -p bin dev etc home proc root sys tmp usr/bin var
install -m 0755 "$src" bin/busybox

n=0
while read -r applet; do
	case $applet in
	busybox | '') continue ;;
	*/*) echo "$0: unexpected applet name: $applet" >&2; exit 1 ;;
	esac
	ln -s busybox "bin/$applet"
	n=$((n + 1))
done < <("$src" --list | LC_ALL=C sort -u)
# `#!/usr/bin/env sh` scripts are common enough to deserve the one link.
ln -s ../../bin/env usr/bin/env

cat > etc/passwd <<'PASSWD'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/home:/bin/false
PASSWD
cat > etc/group <<'GROUP'
root:x:0:
nobody:x:65534:
GROUP
chmod 0644 etc/passwd etc/group

chmod 0755 bin dev etc home proc sys usr usr/bin var
chmod 0700 root
chmod 1777 tmp
# Owned by root; an ordinary user (rootless podman's setup) cannot, and tars
# the tree with --owner=0 --group=0 instead.
if [ "$(id -u)" = 0 ]; then
	chown -R -h 0:0 .
fi
# Fixed mtimes, on links too (-h), deepest first so that touching entries
# does not bump their parent directory again afterwards.
find . -depth -exec touch -h -d @0 {} +

echo "$0: $dir: busybox $("$src" | head -n1 | awk '{print $2}'), $n applets" >&2
