"""API server benchmark driver for scripts/bench-api.sh (see there for what it reports).

Starts berthd (and dockerd when installed) on private sockets and roots under --work (the
engine helpers of bench_containers.py), runs the same workload against each with the C load
generator, prints every figure with medians over --repeat runs, and the ratios.
"""
import argparse
import concurrent.futures
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import time

from bench_containers import (Engine, UnixHTTPConnection, api, berthd_argv, describe_filesystem,
                              dockerd_argv, engine_pids, engine_rss_kib)

IMAGE = "berth-bench/busybox:1"
CONTAINERS = 100
RUNS = 600  # the default of --runs
RUN_CLIENTS = 8
CONNECTIONS = 1000


def busybox_tar():
    """A one-file image: the host's static busybox (Debian's busybox-static) as /bin/busybox."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        tar.add("/bin/busybox", arcname="bin/busybox")
    return buf.getvalue()


def import_image(sock):
    conn = UnixHTTPConnection(sock)
    try:
        repo, tag = IMAGE.split(":")
        conn.request("POST", f"/images/create?fromSrc=-&repo={repo}&tag={tag}",
                     body=busybox_tar(), headers={"Content-Type": "application/x-tar"})
        resp = conn.getresponse()
        body = resp.read()
        if resp.status != 200 or b'"error"' in body:
            raise RuntimeError(f"import: {resp.status} {body[:300]!r}")
    finally:
        conn.close()


def cpu_seconds(pids):
    """User + system CPU time the processes used so far (their exited threads included)."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / os.sysconf("SC_CLK_TCK")


def loadgen(binary, sock, path, seconds, conns=8, engine_root=None):
    """One load generator run; with `engine_root`, also the engine's CPU time per request
    (robust to other work on a shared machine, unlike requests/s)."""
    pids = engine_pids(engine_root) if engine_root else []
    before = cpu_seconds(pids)
    out = subprocess.run([binary, "--unix", sock, "--path", path, "--conns", str(conns),
                          "--seconds", str(seconds)], check=True, stdout=subprocess.PIPE,
                         text=True).stdout
    used = cpu_seconds(pids) - before
    fields = dict(kv.split("=", 1) for kv in out.split())
    result = {k: float(v) for k, v in fields.items()}
    result["cpu_us"] = used * 1e6 / result["requests"] if result.get("requests") else 0.0
    return result


def median_of(samples, key):
    return statistics.median(s[key] for s in samples)


def one_run(sock):
    c = api(sock, "POST", "/containers/create",
            {"Image": IMAGE, "Cmd": ["/bin/busybox", "true"],
             "HostConfig": {"NetworkMode": "none"}})
    api(sock, "POST", f"/containers/{c['Id']}/start")
    api(sock, "POST", f"/containers/{c['Id']}/wait")
    api(sock, "DELETE", f"/containers/{c['Id']}")


def measure(engine, a):
    out = {}
    time.sleep(a.settle)
    out["rss_fresh_kib"] = engine_rss_kib(engine.root)
    out["anon_fresh_kib"] = engine_rss_kib(engine.root, "RssAnon")
    import_image(engine.sock)

    samples = [loadgen(a.loadgen, engine.sock, "/_ping", a.seconds, engine_root=engine.root)
               for _ in range(a.repeat)]
    out["ping_rps"] = median_of(samples, "rps")
    out["ping_cpu_us"] = median_of(samples, "cpu_us")
    out["ping_p99_ms"] = median_of(samples, "p99_ms")
    out["ping_errors"] = sum(s["errors"] for s in samples)

    ids = [api(engine.sock, "POST", "/containers/create",
               {"Image": IMAGE, "Cmd": ["/bin/busybox", "true"],
                "HostConfig": {"NetworkMode": "none"}})["Id"] for _ in range(CONTAINERS)]
    samples = [loadgen(a.loadgen, engine.sock, "/containers/json?all=1", a.seconds,
                       engine_root=engine.root) for _ in range(a.repeat)]
    out["list_rps"] = median_of(samples, "rps")
    out["list_cpu_us"] = median_of(samples, "cpu_us")
    out["list_p50_ms"] = median_of(samples, "p50_ms")
    out["list_p99_ms"] = median_of(samples, "p99_ms")
    out["list_errors"] = sum(s["errors"] for s in samples)
    for cid in ids:
        api(engine.sock, "DELETE", f"/containers/{cid}")

    t0 = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(RUN_CLIENTS) as pool:
        for f in [pool.submit(one_run, engine.sock) for _ in range(a.runs)]:
            f.result()
    out["runs_per_s"] = a.runs / (time.perf_counter() - t0)
    opened = subprocess.run([a.loadgen, "--unix", engine.sock, "--path", "/_ping", "--open",
                             str(CONNECTIONS)], check=True, stdout=subprocess.PIPE,
                            text=True).stdout.strip()
    out["connections"] = opened
    time.sleep(a.settle)
    out["rss_after_kib"] = engine_rss_kib(engine.root)
    out["anon_after_kib"] = engine_rss_kib(engine.root, "RssAnon")
    return out


def rows(runs):
    return [
    ("GET /_ping, requests/s", "ping_rps", "{:.0f}", "higher"),
    ("GET /_ping, p99 ms", "ping_p99_ms", "{:.2f}", "lower"),
    ("  same, engine CPU us per request", "ping_cpu_us", "{:.1f}", "lower"),
    (f"GET /containers/json?all=1 ({CONTAINERS} containers), requests/s", "list_rps", "{:.0f}",
     "higher"),
    ("  same, p50 ms", "list_p50_ms", "{:.2f}", "lower"),
    ("  same, p99 ms", "list_p99_ms", "{:.2f}", "lower"),
    ("  same, engine CPU us per request", "list_cpu_us", "{:.1f}", "lower"),
    ("idle RSS, fresh, MiB", "rss_fresh_mib", "{:.1f}", "lower"),
    (f"RSS after {runs} runs and {CONNECTIONS} connections, all closed, MiB", "rss_after_mib",
     "{:.1f}", "lower"),
    # The split: what the processes allocated (heap, stacks) against mapped files (the
    # binaries' code pages a workload has run, shared and reclaimable, bounded by their size).
    ("  of which anonymous (RssAnon), fresh, MiB", "anon_fresh_mib", "{:.1f}", "lower"),
    ("  of which anonymous (RssAnon), after, MiB", "anon_after_mib", "{:.1f}", "lower"),
    (f"  runs (create+start+wait+rm) per s, {RUN_CLIENTS} clients", "runs_per_s", "{:.1f}",
     "higher"),
    ]


def report(results, runs):
    names = list(results)
    for r in results.values():
        r["rss_fresh_mib"] = r["rss_fresh_kib"] / 1024
        r["rss_after_mib"] = r["rss_after_kib"] / 1024
        r["anon_fresh_mib"] = r["anon_fresh_kib"] / 1024
        r["anon_after_mib"] = r["anon_after_kib"] / 1024
    table = rows(runs)
    width = max(len(label) for label, *_ in table)
    both = "berthd" in results and "dockerd" in results
    print(f"{'figure':<{width}}  " + "  ".join(f"{n:>10}" for n in names)
          + ("  berthd vs dockerd" if both else ""))
    for label, key, fmt, better in table:
        cells = "  ".join(f"{fmt.format(results[n][key]):>10}" for n in names)
        ratio = ""
        if both:
            b, d = results["berthd"][key], results["dockerd"][key]
            if b > 0 and d > 0:
                ratio = f"  {(b / d if better == 'higher' else d / b):.2f}x better" \
                    if (b >= d) == (better == "higher") else \
                    f"  {(d / b if better == 'higher' else b / d):.2f}x worse"
        print(f"{label:<{width}}  {cells}{ratio}")
    for n in names:
        r = results[n]
        print(f"{n}: errors: ping {r['ping_errors']:.0f}, list {r['list_errors']:.0f}; "
              f"connections: {r['connections']}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", required=True)
    ap.add_argument("--berthd", required=True)
    ap.add_argument("--loadgen", required=True)
    ap.add_argument("--engines", default="berthd,dockerd")
    ap.add_argument("--berthd-before", help="another berthd build, shown as 'before'")
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--runs", type=int, default=RUNS)
    ap.add_argument("--settle", type=float, default=5.0)
    a = ap.parse_args()

    wanted = a.engines.split(",")
    plan = [("berthd", berthd_argv(a.berthd))] if "berthd" in wanted else []
    if a.berthd_before:
        plan.append(("before", berthd_argv(a.berthd_before)))
    if "dockerd" in wanted:
        if shutil.which("dockerd"):
            # As the helpers' rules say: its own containerd namespace, no bridge, no firewall.
            plan.append(("dockerd", lambda root, sock: dockerd_argv("none")(root, sock) + [
                "--containerd-plugins-namespace", "berth-bench-plugins"]))
        else:
            print("dockerd not installed: no comparison (apt-get install docker.io)")
    results = {}
    print(describe_filesystem(a.work), flush=True)
    try:
        for name, argv in plan:
            engine = Engine(name, a.work, argv)
            try:
                results[name] = measure(engine, a)
            finally:
                engine.stop()
            print(f"{name} done; load average {os.getloadavg()[0]:.2f}", flush=True)
    finally:
        shutil.rmtree(a.work, ignore_errors=True)
    report(results, a.runs)


if __name__ == "__main__":
    sys.exit(main())
