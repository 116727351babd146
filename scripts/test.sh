#!/bin/bash
# The project's test command (CI runs it through .ci/run). As root:
#   1. cargo build --release --workspace; cargo build --workspace (the debug
#      berthd, berth-shim and berth-runtime that the tests start: cargo only
#      builds a package's binaries for its own tests); cargo test --no-run
#   2. cargo test --workspace --no-fail-fast (the runtime's tests need root)
#   3. scripts/quickstart-check.sh: the README's first command, as written, on
#      private roots (BERTH_QUICKSTART_CHECK=0 skips it)
#   4. tests/podman/smoke.sh target/release/berth-runtime, if that binary exists
#      (a SKIP line otherwise; BERTH_PODMAN_SMOKE=0 skips it on purpose), then
#      tests/podman/smoke-rootless.sh with it: rootless podman as a user made
#      for it (BERTH_PODMAN_SMOKE_ROOTLESS=0 skips that one)
# Every step runs even if an earlier test step failed, so one run shows all
# failures; the exit code is non-zero if anything failed. The last line is a
# plain total, "total: N passed, N failed, N skipped", summed from cargo's
# "test result:" lines plus the smoke test's steps.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

[ "$(id -u)" = 0 ] || echo "test.sh: warning: not root; the runtime's tests need root" >&2
if ! command -v cargo >/dev/null && [ -x "$HOME/.cargo/bin/cargo" ]; then
	PATH=$HOME/.cargo/bin:$PATH
fi
export CARGO_TERM_COLOR=never
target=${CARGO_TARGET_DIR:-target}
log=$(mktemp)
trap 'rm -f "$log"' EXIT

section() { printf '\n==== %s ====\n' "$*"; }
start=$SECONDS

section "build"
cargo build --release --workspace
cargo build --workspace
cargo test --workspace --no-run

section "cargo test --workspace"
rc_cargo=0
# tee: cargo's own output stays on the terminal/CI log, whole; the copy is
# only read for the total below.
cargo test --workspace --no-fail-fast 2>&1 | tee "$log" || rc_cargo=$?

# Sum every "test result: ok. 3 passed; 0 failed; 1 ignored; ..." line.
read -r passed failed ignored < <(awk '
	/^test result:/ {
		for (i = 1; i <= NF; i++) {
			if ($(i) ~ /^passed;?$/) p += $(i - 1)
			if ($(i) ~ /^failed;?$/) f += $(i - 1)
			if ($(i) ~ /^ignored;?$/) s += $(i - 1)
		}
	}
	END { print p + 0, f + 0, s + 0 }' "$log")
if [ "$rc_cargo" != 0 ] && [ "$failed" = 0 ]; then
	# A crash or a build error fails without a "failed" count: count it.
	failed=1
fi

section "quickstart: the README's first command"
rc_quick=0
if [ "${BERTH_QUICKSTART_CHECK:-1}" = 0 ]; then
	echo "SKIP quickstart check: BERTH_QUICKSTART_CHECK=0"
	ignored=$((ignored + 1))
else
	# As the README says, on private roots, socket and bridge, removed after.
	scripts/quickstart-check.sh 2>&1 | tee "$log" || rc_quick=$?
	if [ "$rc_quick" = 0 ]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
fi

section "podman smoke test"
rc_smoke=0
bin=$target/release/berth-runtime
if [ "${BERTH_PODMAN_SMOKE:-1}" = 0 ]; then
	echo "SKIP podman smoke test: BERTH_PODMAN_SMOKE=0"
	ignored=$((ignored + 1))
elif [ ! -x "$bin" ]; then
	echo "SKIP podman smoke test: $bin does not exist"
	ignored=$((ignored + 1))
else
	tests/podman/smoke.sh "$bin" 2>&1 | tee "$log" || rc_smoke=$?
	passed=$((passed + $(grep -c ' ok$' "$log" || true)))
	if [ "$rc_smoke" != 0 ]; then failed=$((failed + 1)); fi
fi

section "podman smoke test, rootless"
if [ "${BERTH_PODMAN_SMOKE:-1}" = 0 ] || [ "${BERTH_PODMAN_SMOKE_ROOTLESS:-1}" = 0 ]; then
	echo "SKIP rootless podman smoke test: BERTH_PODMAN_SMOKE(_ROOTLESS)=0"
	ignored=$((ignored + 1))
elif [ ! -x "$bin" ]; then
	echo "SKIP rootless podman smoke test: $bin does not exist"
	ignored=$((ignored + 1))
else
	rc=0
	tests/podman/smoke-rootless.sh "$bin" 2>&1 | tee "$log" || rc=$?
	passed=$((passed + $(grep -c ' ok$' "$log" || true)))
	if [ "$rc" != 0 ]; then failed=$((failed + 1)); rc_smoke=$rc; fi
fi

section "done in $((SECONDS - start)) s"
echo "cargo test exit code: $rc_cargo; quickstart check exit code: $rc_quick; podman smoke exit code: $rc_smoke"
echo "total: $passed passed, $failed failed, $ignored skipped"
[ "$rc_cargo" = 0 ] && [ "$rc_quick" = 0 ] && [ "$rc_smoke" = 0 ]
