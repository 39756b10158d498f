#!/usr/bin/env bash
# Makes daemon/startup-order.txt and containerd-lite/startup-order.txt: the functions of
# berthd and of berth-containerd that start-up, `docker version`, `docker info` and `/_ping`
# run (one mangled name a line, as lld's `--symbol-ordering-file` reads them). Each crate's
# build.rs passes its list to the linker, which places those functions together: start-up
# then touches, and keeps resident, a few MB of each binary's code instead of most of it.
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
WORK="$(mktemp -d /tmp/berth-order-XXXXXX)"
SOCK="$WORK/d.sock"
# berth-containerd, which berthd starts, is traced too; the firewall tools it runs are not.
valgrind --tool=callgrind --demangle=no --callgrind-out-file="$WORK/cg.%p.out" \
    --trace-children=yes --trace-children-skip='*iptables*,*nft*,*modprobe*,*sysctl*' \
    "$BIN" --data-root "$WORK/data" --exec-root "$WORK/exec" --pidfile "$WORK/engine.pid" \
    -H "unix://$SOCK" >"$WORK/log" 2>&1 &
VG=$!
for _ in $(seq 120); do
    docker -H "unix://$SOCK" version >/dev/null 2>&1 && break
    sleep 1
done
docker -H "unix://$SOCK" info >/dev/null
curl -s --unix-socket "$SOCK" http://berth/_ping >/dev/null
sleep 2
kill -TERM "$VG"
wait "$VG" || true
# berth-containerd outlives berthd, as with dockerd and containerd.
pkill -TERM -f "berth-containerd .*--state $WORK/exec/" || true
sleep 5
# Every function callgrind names (fn= and cfn= lines), kept where the binary has that symbol.
cat "$WORK"/cg.*.out | grep -E '^c?fn=\([0-9]+\) ' | sed -E 's/^c?fn=\([0-9]+\) //' \
    | sort -u >"$WORK/ran"
for pair in berthd:daemon berth-containerd:containerd-lite; do
    bin="$TARGET_DIR/release/${pair%%:*}" list="${pair#*:}/startup-order.txt"
    nm "$bin" | awk '{print $NF}' | sort -u >"$WORK/symbols"
    comm -12 "$WORK/ran" "$WORK/symbols" >"$list"
    echo "$list: $(wc -l <"$list") functions"
done
# berthd keeps its default bridge and firewall table after a stop, as dockerd does:
# remove this run's, as the benchmarks do.
python3 -c "import sys; sys.path.insert(0, 'scripts'); import bench_containers as b; b.remove_berth_network('$WORK')"
rm -rf "$WORK"
