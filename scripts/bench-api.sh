#!/usr/bin/env bash
# Benchmark (not a test) of the API server, with a release berthd and — when dockerd is
# installed (apt-get install docker.io) — with dockerd in the same run, each on a private
# socket and roots, driven by the same C load generator (scripts/bench/loadgen.c: keep-alive
# connections over the unix socket, one request in flight on each, driven by one epoll thread
# so that the generator leaves the cores to the engine; answers read whole).
#
# Prints, for each engine, the median over --repeat runs of:
#   - GET /_ping: requests per second with 8 connections for 5 s, and p99 latency;
#   - GET /containers/json?all=1 with 100 created containers: requests/s, p50, p99;
#   - for both, the engine's CPU time per request (its processes' utime+stime from /proc):
#     unlike requests/s, it hardly moves when other work shares the machine;
#   - idle RSS, fresh (berthd + berth-containerd; dockerd + containerd);
#   - RSS after a workload: 600 runs (create+start+wait+rm, 8 API clients) and 1 000
#     connections opened together, each asking /_ping once, then all closed;
#   - of both RSS figures, the anonymous part (RssAnon: heap and stacks); the rest is mapped
#     files, mostly the binaries' code pages that the workload ran;
# and the ratios berthd/dockerd. The image is the host's static busybox, imported (no
# registry needed). The machine is shared: the load average is printed; re-run when it
# was high.
#
#   bash scripts/bench-api.sh [--seconds 5] [--repeat 3] [--runs 600] [--settle 5]
#   BENCH_ENGINES=berthd bash scripts/bench-api.sh     (one engine only)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

cargo build --release -q --workspace --bins  # the README's build (same features, same symbols)
# The target dir, wherever CARGO_TARGET_DIR or a cargo config puts it.
TARGET_DIR="$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')"
[[ -n "$TARGET_DIR" ]] || { echo "cannot find the target directory with cargo metadata" >&2; exit 1; }
LOADGEN="$TARGET_DIR/release/berth-loadgen"
if [[ ! -x "$LOADGEN" || "$ROOT/scripts/bench/loadgen.c" -nt "$LOADGEN" ]]; then
    cc -O2 -pthread -o "$LOADGEN" "$ROOT/scripts/bench/loadgen.c"
fi
WORK="$(mktemp -d /tmp/berth-bench-api-XXXXXX)"

exec python3 "$ROOT/scripts/bench_api.py" --work "$WORK" --berthd "$TARGET_DIR/release/berthd" \
    --loadgen "$LOADGEN" --engines "${BENCH_ENGINES:-berthd,dockerd}" "$@"
