#!/usr/bin/env bash
# Benchmark (not a test): time `docker pull` of the ~100 MB, 7-layer `big` fixture from
# the loopback registry, fresh each time (rmi in between), with a release berthd and —
# when dockerd is installed (apt-get install docker.io) — with dockerd in the same run.
# Prints the median and p90 of N runs for each, and the ratio.
#
#   bash scripts/bench-pull.sh [N]      (default N=5; needs the fixtures: scripts/test.sh once)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
N="${1:-5}"
FIXTURES="${BERTH_FIXTURES:-$ROOT/target/berth-fixtures/fixtures.json}"
[[ -f "$FIXTURES" ]] || { echo "no $FIXTURES: run scripts/test.sh once first" >&2; exit 1; }
REGISTRY="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["registry"])' "$FIXTURES")"
IMAGE="$REGISTRY/berth/big:latest"

cargo build --release -q --workspace --bins  # the README's build (same features, same symbols)
STARTED_REGISTRIES=0
if ! bash scripts/registries.sh status >/dev/null 2>&1; then
    bash scripts/registries.sh start >/dev/null
    STARTED_REGISTRIES=1
fi
WORK="$(mktemp -d /tmp/berth-bench-XXXXXX)"
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    ((STARTED_REGISTRIES)) && bash scripts/registries.sh stop >/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

wait_socket() { for _ in $(seq 300); do [[ -S "$1" ]] && return 0; sleep 0.1; done; echo "no socket $1" >&2; return 1; }

# times_for NAME SOCKET: N fresh pulls, prints one duration in ms per line.
times_for() {
    local sock="$2"
    export DOCKER_HOST="unix://$sock" DOCKER_CONFIG="$WORK/config-$1"
    mkdir -p "$DOCKER_CONFIG"
    for _ in $(seq "$N"); do
        docker rmi -f "$IMAGE" >/dev/null 2>&1 || true
        local t0 t1
        t0=$(date +%s%N)
        docker pull -q "$IMAGE" >/dev/null
        t1=$(date +%s%N)
        echo $(( (t1 - t0) / 1000000 ))
    done
}

stats() { python3 -c '
import sys, statistics
xs = sorted(int(x) for x in sys.stdin.read().split())
p90 = xs[min(len(xs) - 1, int(round(0.9 * (len(xs) - 1))))]
print(f"{statistics.median(xs):.0f} {p90}")'; }

"$ROOT/target/release/berthd" --data-root "$WORK/berth-data" --exec-root "$WORK/berth-exec" \
    -H "unix://$WORK/berth.sock" >"$WORK/berthd.log" 2>&1 &
PIDS+=($!)
wait_socket "$WORK/berth.sock"
read -r B_MED B_P90 < <(times_for berth "$WORK/berth.sock" | stats)
echo "berthd: docker pull $IMAGE (fresh, N=$N): median ${B_MED} ms, p90 ${B_P90} ms"

if command -v dockerd >/dev/null; then
    dockerd -H "unix://$WORK/docker.sock" --data-root "$WORK/docker-data" --exec-root "$WORK/docker-exec" \
        --pidfile "$WORK/docker.pid" --bridge=none --iptables=false --ip-masq=false \
        >"$WORK/dockerd.log" 2>&1 &
    PIDS+=($!)
    wait_socket "$WORK/docker.sock"
    sleep 1
    read -r D_MED D_P90 < <(times_for dockerd "$WORK/docker.sock" | stats)
    echo "dockerd: docker pull $IMAGE (fresh, N=$N): median ${D_MED} ms, p90 ${D_P90} ms"
    python3 -c "import sys; print(f'ratio dockerd/berthd (median): {int(sys.argv[1])/max(1,int(sys.argv[2])):.2f}x')" "$D_MED" "$B_MED"
else
    echo "dockerd not installed: no comparison (apt-get install docker.io)"
fi
