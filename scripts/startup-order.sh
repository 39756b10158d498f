#!/usr/bin/env bash
# Makes daemon/startup-order.txt and containerd-lite/startup-order.txt: the functions of
# berthd and of berth-containerd in the order the linker should place them (one mangled name
# a line, as lld's `--symbol-ordering-file` reads them). Each crate's build.rs passes its
# list to the linker. Two tiers, each sorted by name:
#   1. what start-up, `docker version`, `docker info` and `/_ping` run;
#   2. what an everyday workload runs besides: scripts/startup_workload.py (the CLI's run,
#      exec, logs, ps and friends; the API's create/start/wait/rm, list and ping under load,
#      many connections).
# Start-up then touches, and keeps resident, a few MB of each binary's code instead of most
# of it, and a day's work adds a few MB more, packed behind it, not pages spread over the
# whole binary.
#
#   bash scripts/startup-order.sh     (as root; needs valgrind: apt-get install valgrind)
#
# The names carry the toolchain's, the dependencies' and their features' hashes, so the lists
# fit the README's build (`cargo build --release --workspace --bins`; a `-p` build unifies
# features differently). Re-run it after a toolchain, Cargo.lock or feature change, then
# rebuild. Names the linker does not find only lose their place.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
command -v valgrind >/dev/null || { echo "needs valgrind (apt-get install valgrind)" >&2; exit 1; }
cargo build --release -q --workspace --bins
TARGET_DIR="$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')"
BIN="$TARGET_DIR/release/berthd"
LOADGEN="$TARGET_DIR/release/berth-loadgen"
if [[ ! -x "$LOADGEN" || "$ROOT/scripts/bench/loadgen.c" -nt "$LOADGEN" ]]; then
    cc -O2 -pthread -o "$LOADGEN" "$ROOT/scripts/bench/loadgen.c"
fi
WORK="$(mktemp -d /tmp/berth-order-XXXXXX)"

# Runs berthd (and the berth-containerd it starts) under callgrind, through start-up,
# version, info and /_ping, then the workload when $2 is "workload"; writes the functions
# that ran (callgrind's fn= and cfn= names) to $1.
trace() {
    local out="$1" phase="$2" dir="$WORK/$2"
    mkdir -p "$dir"
    local sock="$dir/d.sock"
    # The shim, the runtime and the firewall tools they run are not traced.
    valgrind --tool=callgrind --demangle=no --callgrind-out-file="$dir/cg.%p.out" \
        --trace-children=yes \
        --trace-children-skip='*iptables*,*nft*,*modprobe*,*sysctl*,*berth-shim*,*berth-runc*,*docker-init*' \
        "$BIN" --data-root "$dir/data" --exec-root "$dir/exec" --pidfile "$dir/engine.pid" \
        -H "unix://$sock" >"$dir/log" 2>&1 &
    local vg=$!
    for _ in $(seq 120); do
        docker -H "unix://$sock" version >/dev/null 2>&1 && break
        sleep 1
    done
    docker -H "unix://$sock" info >/dev/null
    curl -s --unix-socket "$sock" http://berth/_ping >/dev/null
    if [[ "$phase" == workload ]]; then
        python3 "$ROOT/scripts/startup_workload.py" --sock "$sock" --loadgen "$LOADGEN"
    fi
    sleep 2
    kill -TERM "$vg"
    wait "$vg" || true
    # berth-containerd outlives berthd, as with dockerd and containerd.
    pkill -TERM -f "berth-containerd .*--state $dir/exec/" || true
    sleep 5
    cat "$dir"/cg.*.out | grep -E '^c?fn=\([0-9]+\) ' | sed -E 's/^c?fn=\([0-9]+\) //' \
        | sort -u >"$out"
    # berthd keeps its default bridge and firewall table after a stop, as dockerd does:
    # remove this run's, as the benchmarks do.
    python3 -c "import sys; sys.path.insert(0, 'scripts'); import bench_containers as b; b.remove_berth_network('$dir')"
}

trace "$WORK/ran.startup" startup
trace "$WORK/ran.everyday" workload
comm -13 "$WORK/ran.startup" "$WORK/ran.everyday" >"$WORK/ran.workload"
for pair in berthd:daemon berth-containerd:containerd-lite; do
    bin="$TARGET_DIR/release/${pair%%:*}" list="${pair#*:}/startup-order.txt"
    nm "$bin" | awk '{print $NF}' | sort -u >"$WORK/symbols"
    comm -12 "$WORK/ran.startup" "$WORK/symbols" >"$list"
    first=$(wc -l <"$list")
    comm -12 "$WORK/ran.workload" "$WORK/symbols" >>"$list"
    echo "$list: $first start-up functions, then $(($(wc -l <"$list") - first)) of the workload"
done
rm -rf "$WORK"
