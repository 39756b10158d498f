#!/usr/bin/env bash
# THE test command: installs the test dependencies, builds the workspace, starts the
# loopback registries, builds and pushes the fixture images, then runs the whole suite.
#
#   scripts/test.sh                  # everything (cargo nextest when installed, else cargo test)
#   scripts/test.sh -p compat-tests  # arguments replace --workspace
#
# Exit status: the suite's.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

export RUST_BACKTRACE="${RUST_BACKTRACE:-1}"
# A clean CI checkout gains nothing from incremental caches, which double the target's size.
if [[ -n "${CI:-}" ]]; then
    export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"
fi

step() { echo "==> $*" >&2; }

step "test dependencies"
bash scripts/install-test-deps.sh

# The target dir, wherever CARGO_TARGET_DIR or a cargo config puts it.
TARGET_DIR="$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')"
if [[ -z "$TARGET_DIR" ]]; then
    echo "test.sh: cannot find the target directory with cargo metadata" >&2
    exit 1
fi
BIN_DIR="$TARGET_DIR/debug"

step "cargo build --workspace --bins"
cargo build --workspace --bins

# Leave registries that were already running (a developer's) as they are; stop ours on exit.
if bash scripts/registries.sh status >/dev/null 2>&1; then
    step "registries already running"
else
    step "starting registries"
    trap 'bash scripts/registries.sh stop || true' EXIT
    bash scripts/registries.sh start
fi

step "fixtures (build, push, write JSON)"
BERTH_FIXTURES="$(RUST_LIB_BACKTRACE=0 "$BIN_DIR/berth-fixtures" --dir "${BERTH_FIXTURES_DIR:-$ROOT/target/berth-fixtures}")"
export BERTH_FIXTURES
export BERTHD_BIN="$BIN_DIR/berthd"
echo "BERTH_FIXTURES=$BERTH_FIXTURES" >&2
echo "BERTHD_BIN=$BERTHD_BIN" >&2

if (($#)); then
    SELECT=("$@")
else
    SELECT=(--workspace)
fi

status=0
if cargo nextest --version >/dev/null 2>&1; then
    step "cargo nextest run --no-fail-fast ${SELECT[*]}"
    cargo nextest run --no-fail-fast "${SELECT[@]}" || status=$?
else
    step "cargo test --no-fail-fast ${SELECT[*]}"
    cargo test --no-fail-fast "${SELECT[@]}" || status=$?
fi
exit "$status"
