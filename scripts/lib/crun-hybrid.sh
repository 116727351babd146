# shellcheck shell=bash
# Sourced by bench and test scripts that run crun (never by bundle.sh).
#
# crun 1.8 refuses cgroup "hybrid" mode (v1 hierarchies plus a cgroup2 mount
# at /sys/fs/cgroup/unified) while that cgroup2 root still holds a controller:
#   "cgroups in hybrid mode not supported, drop all controllers from cgroupv2"
# On this kind of machine the one such controller is hugetlb. Binding it to a
# v1 hierarchy of its own moves it off the cgroup2 root.
#
# This is a machine-wide change and it is NOT undone: unmounting the v1
# hierarchy later does not give the controller back to cgroup2 (the
# hierarchy lives on, unmounted, until reboot), so it is left mounted where
# it can at least be seen. runc does not need it, and berth must not.
#
# crun_hybrid_fix: does nothing on a cgroup2-only host or when the cgroup2 root
# has no controllers; prints what it did on stderr. Needs root.
crun_hybrid_fix() {
	local unified=/sys/fs/cgroup/unified c ctrls
	[ -f "$unified/cgroup.controllers" ] || return 0
	read -ra ctrls < "$unified/cgroup.controllers" || true
	for c in "${ctrls[@]}"; do
		if mountpoint -q "/sys/fs/cgroup/$c"; then
			echo "crun-hybrid: /sys/fs/cgroup/$c is mounted but $c is still on cgroup2" >&2
			return 1
		fi
		mkdir -p "/sys/fs/cgroup/$c"
		mount -t cgroup -o "$c" cgroup "/sys/fs/cgroup/$c"
		echo "crun-hybrid: moved cgroup controller '$c' from cgroup2 to a v1 hierarchy at /sys/fs/cgroup/$c (for crun; lasts until reboot)" >&2
	done
}
