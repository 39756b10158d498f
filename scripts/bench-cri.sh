#!/usr/bin/env bash
# Benchmark (not a test) of the CRI: ../shared/cri/crictl-session.sh (pull, runp, create,
# start, exec, logs, stop, rm; then `crictl runp` + `create` + `start` of one busybox
# container, N rounds) against a release berthd's CRI socket, with its own CNI bridge and
# the registry mirrors of the CRI tests. Compare with containerd 1.6.20's figure in
# ../shared/cri/README.md (median 183 ms, each step including ~16 ms of crictl start-up).
#
#   bash scripts/bench-cri.sh [N]     (N rounds, default 10; BERTH_CRI_TOOLS as for the tests)
#
# It runs the ignored test `crictl_session_benchmark` of compat-tests/tests/cri.rs with
# BERTHD_BIN set to the release build; that test's daemon and CNI setup clean up after it.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export BENCH_N="${1:-10}"

cargo build --release -q --workspace --bins  # the README's build (same features, same symbols)
# The target dir, wherever CARGO_TARGET_DIR or a cargo config puts it.
TARGET_DIR="$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')"
[[ -n "$TARGET_DIR" ]] || { echo "cannot find the target directory with cargo metadata" >&2; exit 1; }
export BERTHD_BIN="$TARGET_DIR/release/berthd"

STARTED_REGISTRIES=0
if ! bash scripts/registries.sh status >/dev/null 2>&1; then
    bash scripts/registries.sh start >/dev/null
    STARTED_REGISTRIES=1
fi
cleanup() {
    ((STARTED_REGISTRIES)) && bash scripts/registries.sh stop >/dev/null || true
}
trap cleanup EXIT

if cargo nextest --version >/dev/null 2>&1; then
    cargo nextest run -p compat-tests --test cri --run-ignored only --no-capture \
        -E 'test(=crictl_session_benchmark)'
else
    cargo test -p compat-tests --test cri -- --ignored --exact crictl_session_benchmark --nocapture
fi
