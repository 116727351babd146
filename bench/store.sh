#!/bin/bash
# Image store benchmarks (not a test): see bench/README.md.
#
#   bench/store.sh [-n ROUNDS]
#
# 1. Unpack of one large layer (a debootstrap'ed Debian bookworm minbase,
#    ~80 MB in ~3500 files), gzip and zstd: berth's unpacker against
#    `tar -xzf` and `zstd -dc | tar -x` on the same file, interleaved, page
#    cache dropped before every run (PEERS.md: otherwise ext4 drifts).
#    Prints MB/s of uncompressed data (median) and ratios to tar.
# 2. Two images sharing that base (the base, and a commit of a one-file
#    change on it): bytes on disk against the sum of the two images' sizes.
#
# Needs root, debootstrap, zstd (installs them if missing) and network to the
# Debian mirror in apt's sources for the first run (the rootfs is kept in
# /var/tmp/berth-bench).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
rounds=5
[ "${1:-}" = "-n" ] && rounds=$2

work=/var/tmp/berth-bench
mkdir -p "$work"
command -v debootstrap >/dev/null && command -v zstd >/dev/null \
	|| DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap zstd >/dev/null
if [ ! -x "$work/debian/bin/sh" ]; then
	echo "making a Debian rootfs with debootstrap (once)..."
	rm -rf "$work/debian"
	debootstrap --variant=minbase bookworm "$work/debian" >/dev/null
fi
if [ ! -f "$work/debian.tar" ]; then
	tar -C "$work/debian" --sort=name --mtime=@0 --numeric-owner -cf "$work/debian.tar" .
	gzip -6 -c "$work/debian.tar" >"$work/debian.tar.gz"
	zstd -q -3 -f "$work/debian.tar" -o "$work/debian.tar.zst"
fi
cargo build --release -q -p store --example store-bench
bench=target/release/examples/store-bench
size=$(stat -c %s "$work/debian.tar")

drop() { sync; echo 1 >/proc/sys/vm/drop_caches; }
out=$(mktemp -d "$work/run.XXXX")
trap 'rm -rf "$out"' EXIT
declare -A times
run() { # name command...
	local name=$1; shift
	rm -rf "$out/x"; mkdir -p "$out/x"; drop
	local t0 t1
	t0=$(date +%s%N); "$@" >/dev/null; t1=$(date +%s%N)
	times[$name]+="$(( (t1 - t0) / 1000 )) "
}
for ((i = 0; i < rounds; i++)); do
	run "berth gzip" "$bench" unpack "$work/debian.tar.gz" "$out/x"
	run "tar -xzf" tar -C "$out/x" -xzf "$work/debian.tar.gz"
	run "berth zstd" "$bench" unpack "$work/debian.tar.zst" "$out/x"
	run "zstd -dc | tar -x" sh -c "zstd -dc '$work/debian.tar.zst' | tar -C '$out/x' -x"
	run "berth plain" "$bench" unpack "$work/debian.tar" "$out/x"
	run "tar -xf" tar -C "$out/x" -xf "$work/debian.tar"
done
rm -rf "$out/x"

echo "unpack of a $((size / 1000000)) MB Debian layer, $rounds rounds, page cache dropped before each run"
printf '%-22s %10s %10s\n' series "median ms" "MB/s"
declare -A med
for name in "berth gzip" "tar -xzf" "berth zstd" "zstd -dc | tar -x" "berth plain" "tar -xf"; do
	m=$(printf '%s\n' ${times[$name]} | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
	med[$name]=$m
	printf '%-22s %10.1f %10.1f\n' "$name" "$(echo "$m / 1000" | bc -l)" "$(echo "$size / $m" | bc -l)"
done
printf 'ratio berth/tar (time): gzip %.2f, zstd %.2f, plain %.2f\n' \
	"$(echo "${med[berth gzip]} / ${med[tar -xzf]}" | bc -l)" \
	"$(echo "${med[berth zstd]} / ${med[zstd -dc | tar -x]}" | bc -l)" \
	"$(echo "${med[berth plain]} / ${med[tar -xf]}" | bc -l)"

rm -rf "$out/store"
read -r disk sum < <("$bench" shared "$work/debian.tar" "$out/store")
printf 'two images sharing a base: %d MB on disk for %d MB of images (%.2f)\n' \
	$((disk / 1000000)) $((sum / 1000000)) "$(echo "$disk / $sum" | bc -l)"
