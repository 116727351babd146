#!/usr/bin/env bash
# Runs one fuzz target with AFL++ (cargo-afl) for a bounded time, then
# prints what it did. Not part of CI: see docs/FUZZING.md.
#
#   fuzz/run.sh TARGET SECONDS      fuzz TARGET (fuzz/out/TARGET keeps state)
#   fuzz/run.sh --list              the targets
#
# Needs `cargo install cargo-afl` (it builds AFL++ on first use). Runs at
# nice 19: the machine is shared. Findings land in fuzz/out/TARGET/default/
# {crashes,hangs}; copy each into fuzz/findings/TARGET/ with its fix, and
# `cargo test --manifest-path fuzz/Cargo.toml` replays it from then on.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
targets=$(sed -n 's/^name = "\(.*\)"$/\1/p' "$here/Cargo.toml" | grep -v '^berth-fuzz$')
if [ "${1:-}" = "--list" ]; then
    echo "$targets"
    exit 0
fi
target="${1:?usage: fuzz/run.sh TARGET SECONDS (fuzz/run.sh --list)}"
seconds="${2:?usage: fuzz/run.sh TARGET SECONDS}"
echo "$targets" | grep -qx "$target" || { echo "no target $target (fuzz/run.sh --list)" >&2; exit 2; }
command -v cargo-afl >/dev/null || { echo "cargo-afl is missing: cargo install cargo-afl" >&2; exit 2; }
export CARGO_TARGET_DIR="$here/target"
cd "$here"
nice -n 19 cargo afl build --release --features afl --bin "$target" >&2
out="$here/out/$target"
mkdir -p "$out"
# AFL++ would stop on a core_pattern that pipes to a program, and on the
# CPU governor; neither matters for these runs.
export AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_SKIP_CPUFREQ=1 AFL_NO_UI=1
export AFL_AUTORESUME=1 AFL_NO_AFFINITY=1
# 4 GiB of address space: a parser that tries to hold more is a finding.
nice -n 19 cargo afl fuzz -i "corpus/$target" -o "$out" -V "$seconds" -m 4096 -t 2000 \
    -- "target/release/$target" >"$out/afl.log" 2>&1 || true
stats="$out/default/fuzzer_stats"
[ -f "$stats" ] || { tail -20 "$out/afl.log" >&2; exit 1; }
get() { sed -n "s/^$1 *: //p" "$stats"; }
echo "$target: $(get run_time) s, $(get execs_done) execs ($(get execs_per_sec)/s), corpus $(get corpus_count), crashes $(get saved_crashes), hangs $(get saved_hangs), edges $(get edges_found)/$(get total_edges)"
