#!/usr/bin/env bash
# Benchmark (not a test) of running containers, with a release berthd and — when dockerd is
# installed (apt-get install docker.io) — with dockerd in the same run, on the same image
# (the busybox fixture, pulled from the loopback registry). dockerd gets a default bridge
# of its own for the run (never docker0), without iptables.
#
# Reports the stock CLI's own start (`docker --version`, no daemon call), which every
# run and exec figure includes once, and, for each engine:
#   - `docker run --rm IMAGE true`: median and p90 over N runs (default 20), through the CLI,
#     on the default bridge and with `--network none` (for berthd also on a user-defined
#     network: endpoint plus embedded DNS);
#   - `docker exec C true`: median and p90;
#   - containers per second for create+start+wait+remove through the API, in sequence and
#     with 8 concurrent clients;
#   - the engine's idle RSS (berthd + berth-containerd; dockerd + containerd);
#   - the RSS the engine adds per running container (shims and daemons, not the container's
#     own processes), from 10 `sleep` containers;
#   - for berthd, the per-stage breakdown of a run and of an exec (medians of the
#     `berth_timing` debug events of berthd and berth-containerd);
# and the table of the figures beside dockerd's, with the ratios and the targets.
#
# The roots are under /tmp; the first line says which filesystem that is. On ext4 without
# a journal (this project's test machine) every new file skips the inodes freed in the last
# minute or more, one by one, so the figures of one binary move with how many containers
# ran in the minute before: compare builds in alternating runs, a minute apart.
#
#   bash scripts/bench-containers.sh [N]    (needs the fixtures: scripts/test.sh once)
#   BENCH_ENGINES=dockerd bash scripts/bench-containers.sh   (one engine only)
#   BENCH_BERTHD=/path/to/berthd bash scripts/bench-containers.sh   (other binaries, not built;
#       berth-containerd, berth-shim and berth-runc are taken from the same folder)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
N="${1:-20}"
FIXTURES="${BERTH_FIXTURES:-$ROOT/target/berth-fixtures/fixtures.json}"
[[ -f "$FIXTURES" ]] || { echo "no $FIXTURES: run scripts/test.sh once first" >&2; exit 1; }

if [[ -z "${BENCH_BERTHD:-}" ]]; then
    cargo build --release -q --workspace --bins  # the README's build (same features, same symbols)
    # The target dir, wherever CARGO_TARGET_DIR or a cargo config puts it.
    TARGET_DIR="$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')"
    [[ -n "$TARGET_DIR" ]] || { echo "cannot find the target directory with cargo metadata" >&2; exit 1; }
    BENCH_BERTHD="$TARGET_DIR/release/berthd"
fi
STARTED_REGISTRIES=0
if ! bash scripts/registries.sh status >/dev/null 2>&1; then
    bash scripts/registries.sh start >/dev/null
    STARTED_REGISTRIES=1
fi
WORK="$(mktemp -d /tmp/berth-bench-XXXXXX)"
cleanup() {
    ((STARTED_REGISTRIES)) && bash scripts/registries.sh stop >/dev/null || true
}
trap cleanup EXIT

python3 "$ROOT/scripts/bench_containers.py" --work "$WORK" --fixtures "$FIXTURES" \
    --berthd "$BENCH_BERTHD" -n "$N" \
    --engines "${BENCH_ENGINES:-berthd,dockerd}"
