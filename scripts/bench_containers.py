"""Container benchmark driver for scripts/bench-containers.sh (see there for what it reports).

Starts berthd (and dockerd when installed) on private sockets and roots under --work, runs
the same workload against each, prints medians, rates, RSS figures and ratios, and cleans
up every process and mount it made.
"""
import argparse
import collections
import concurrent.futures
import http.client
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time

CONCURRENT_CLIENTS = 8
IDLE_SETTLE_SECONDS = 2.0
RUNNING_CONTAINERS = 10
# berthd's and berth-containerd's per-stage timings (debug events of target berth_timing).
TIMING_LOG = "info,berth_timing=debug"
TIMING_LINE = re.compile(r'berth_timing: stage="?([\w.]+)"? us=(\d+)')
ANSI = re.compile(r"\x1b\[[0-9;]*m")
# The targets (figure -> (berthd must be <= for times, >= for rates)).
TARGETS = {
    "run_bridge_median_ms": 35,
    "run_median_ms": 30,
    "exec_median_ms": 20,
    "seq_per_s": 60,
    "conc_per_s": 120,
}


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout=60):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        s.connect(self.unix_path)
        self.sock = s


def api(sock, method, path, body=None):
    conn = UnixHTTPConnection(sock)
    try:
        data = None if body is None else json.dumps(body)
        headers = {"Content-Type": "application/json"} if data is not None else {}
        conn.request(method, path, body=data, headers=headers)
        resp = conn.getresponse()
        raw = resp.read()
        if resp.status >= 400:
            raise RuntimeError(f"{method} {path}: {resp.status} {raw[:200]!r}")
        if "json" not in (resp.getheader("Content-Type") or "") or not raw.strip():
            return raw
        return json.loads(raw)
    finally:
        conn.close()


def median_p90(xs):
    xs = sorted(xs)
    return statistics.median(xs), xs[min(len(xs) - 1, round(0.9 * (len(xs) - 1)))]


def rss_kib(pid, field="VmRSS"):
    """A process's resident memory from /proc/PID/status: VmRSS (all of it), RssAnon (its
    own heap and stacks) or RssFile (mapped files: the binary's code pages, libc)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(f"{field}:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def engine_pids(marker):
    """Processes whose command line mentions this engine's private work folder."""
    pids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if marker in cmd and "bench_containers.py" not in cmd:
            pids.append(int(d))
    return pids


def engine_rss_kib(marker, field="VmRSS"):
    return sum(rss_kib(p, field) for p in engine_pids(marker))


def wait_socket(path, proc, seconds=30):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"engine exited with {proc.returncode} before {path} appeared")
        if os.path.exists(path):
            try:
                api(path, "GET", "/_ping")
                return
            except (OSError, RuntimeError, http.client.HTTPException):
                pass
        time.sleep(0.1)
    raise RuntimeError(f"no socket {path} after {seconds}s")


class Engine:
    def __init__(self, name, work, argv, env=None):
        self.name = name
        self.root = os.path.join(work, name)
        os.makedirs(self.root, exist_ok=True)
        self.sock = os.path.join(self.root, "api.sock")
        self.env = dict(os.environ, DOCKER_HOST=f"unix://{self.sock}",
                        DOCKER_CONFIG=os.path.join(self.root, "cli-config"))
        self.logs = [os.path.join(self.root, "engine.log"),
                     os.path.join(self.root, "exec", "containerd", "containerd.log")]
        self.offsets = {}
        log = open(self.logs[0], "wb")
        self.proc = subprocess.Popen(argv(self.root, self.sock), stdout=log, stderr=log,
                                     start_new_session=True,
                                     env=dict(os.environ, **(env or {})))
        try:
            wait_socket(self.sock, self.proc)
        except Exception:
            self.stop()
            raise

    def mark_logs(self):
        """Remembers where the logs end: `new_timings` reads what comes after."""
        for path in self.logs:
            try:
                self.offsets[path] = os.path.getsize(path)
            except OSError:
                self.offsets[path] = 0

    def new_timings(self):
        """Stage -> microseconds (summed per stage) logged since `mark_logs`."""
        out = collections.Counter()
        for path in self.logs:
            try:
                with open(path, "rb") as f:
                    f.seek(self.offsets.get(path, 0))
                    text = f.read().decode(errors="replace")
            except OSError:
                continue
            for m in TIMING_LINE.finditer(ANSI.sub("", text)):
                out[m.group(1)] += int(m.group(2))
        return out

    def docker(self, *args, check=True):
        return subprocess.run(["docker", *args], env=self.env, check=check,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def stop(self):
        if self.proc.poll() is None:
            for c in (self.docker("ps", "-aq", check=False).stdout or "").split():
                self.docker("rm", "-f", c, check=False)
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        # berth-containerd and shims outlive berthd by design; containerd stops with dockerd.
        for p in engine_pids(self.root):
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.5)
        with open("/proc/self/mountinfo") as f:
            mounts = [line.split()[4] for line in f]
        for m in sorted((m for m in mounts if m.startswith(self.root)), key=len, reverse=True):
            subprocess.run(["umount", "-l", m], check=False)
        remove_berth_network(self.root)


def remove_berth_network(root):
    """berthd keeps its bridges and firewall table after a stop, as dockerd does: the
    bench removes those of its own data root (berthd's networks::host names)."""
    state = f"{root}/data/network"
    links = subprocess.run(["ip", "-j", "link", "show"], stdout=subprocess.PIPE, text=True)
    for link in json.loads(links.stdout or "[]"):
        if (link.get("ifalias") or "").startswith(f"berth:{state}:"):
            subprocess.run(["ip", "link", "del", link["ifname"]], check=False)
    h = 0x811C9DC5
    for b in state.encode():
        h = ((h ^ b) * 0x01000193) & 0xFFFFFFFF
    subprocess.run(["nft", "delete", "table", "ip", f"berth-{h:08x}"], check=False,
                   stderr=subprocess.DEVNULL)
    # And its accepts in the host's FORWARD chain (netd's host_filter), in whichever
    # iptables holds them.
    prefix = f"BERTH-{h:08X}"
    for tool in ("iptables", "ip6tables", "iptables-legacy", "ip6tables-legacy"):
        quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "check": False}
        while subprocess.run([tool, "-w", "-D", "FORWARD", "-j", f"{prefix}-FORWARD"],
                             **quiet).returncode == 0:
            pass
        for chain in (f"{prefix}-FORWARD", f"{prefix}-USER"):
            subprocess.run([tool, "-w", "-F", chain], **quiet)
            subprocess.run([tool, "-w", "-X", chain], **quiet)


def describe_filesystem(path):
    """The filesystem the engines' roots are on, as findmnt names it, for the reader: on
    ext4 without a journal (the test machine's root), a new file skips every inode freed in
    the last minute or more, so each engine's run figures depend on what ran before it."""
    out = subprocess.run(["findmnt", "-no", "FSTYPE,OPTIONS", "-T", path],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    fs = out.stdout.strip() or "unknown"
    return f"roots on {fs}; load average {os.getloadavg()[0]:.2f}"


def berthd_argv(binary):
    return lambda root, sock: [binary, "--data-root", f"{root}/data", "--exec-root",
                               f"{root}/exec", "--pidfile", f"{root}/engine.pid",
                               "-H", f"unix://{sock}"]


class DockerdBridge:
    """dockerd's default bridge, made for this run (never the host's docker0, which other
    dockerds may use): a private name and subnet, removed afterwards. No iptables."""

    def __init__(self):
        n = os.getpid() % 200 + 20
        self.name = f"bkb{os.getpid() % 100000}"
        self.cidr = f"10.251.{n}.1/24"
        subprocess.run(["ip", "link", "add", self.name, "type", "bridge"], check=True)
        subprocess.run(["ip", "addr", "add", self.cidr, "dev", self.name], check=True)
        subprocess.run(["ip", "link", "set", self.name, "up"], check=True)

    def remove(self):
        subprocess.run(["ip", "link", "del", self.name], check=False)


def dockerd_argv(bridge):
    return lambda root, sock: [
        "dockerd", "-H", f"unix://{sock}", "--data-root", f"{root}/data", "--exec-root",
        f"{root}/exec", "--pidfile", f"{root}/engine.pid", f"--bridge={bridge}",
        "--iptables=false", "--ip6tables=false", "--ip-masq=false",
        "--containerd-namespace", f"bench{os.getpid()}"]


def one_lifecycle(sock, image):
    c = api(sock, "POST", "/containers/create",
            {"Image": image, "Cmd": ["true"], "HostConfig": {"NetworkMode": "none"}})
    cid = c["Id"]
    api(sock, "POST", f"/containers/{cid}/start")
    api(sock, "POST", f"/containers/{cid}/wait")
    api(sock, "DELETE", f"/containers/{cid}")


def timed(engine, args, n):
    """`docker ARGS` n times (after one warm-up): median and p90 in ms, and the median of
    each stage berthd logged (ms)."""
    engine.docker(*args)
    times = []
    stages = collections.defaultdict(list)
    for _ in range(n):
        engine.mark_logs()
        t0 = time.perf_counter()
        engine.docker(*args)
        times.append((time.perf_counter() - t0) * 1000)
        for stage, us in engine.new_timings().items():
            stages[stage].append(us / 1000)
    med, p90 = median_p90(times)
    return med, p90, {k: statistics.median(v) for k, v in stages.items()}


def cli_floor_ms(n):
    """The stock CLI's own cost per command, with no daemon call (`docker --version`):
    every `docker run` and `docker exec` figure includes it once. The issue measured it
    at about 15 ms; it moves with the machine, not with the engine."""
    times = []
    for _ in range(n + 1):
        t0 = time.perf_counter()
        subprocess.run(["docker", "--version"], check=True, stdout=subprocess.DEVNULL)
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times[1:])


def measure(engine, image, n):
    out = {"stages": {}}
    engine.docker("pull", "-q", image)
    time.sleep(IDLE_SETTLE_SECONDS)
    out["idle_rss_kib"] = engine_rss_kib(engine.root)

    out["run_median_ms"], out["run_p90_ms"], out["stages"]["run --network none"] = timed(
        engine, ["run", "--rm", "--network", "none", image, "true"], n)
    out["run_bridge_median_ms"], _, out["stages"]["run (default bridge)"] = timed(
        engine, ["run", "--rm", image, "true"], n)
    if engine.name == "berthd":
        # And on a user-defined network: an endpoint plus the embedded DNS.
        engine.docker("network", "create", "bench-net")
        out["user_net_run_median_ms"], _, _ = timed(
            engine, ["run", "--rm", "--network", "bench-net", image, "true"], n)
        engine.docker("network", "rm", "bench-net")

    engine.docker("run", "-d", "--network", "none", "--name", "bench-exec", image,
                  "sleep", "3600")
    out["exec_median_ms"], out["exec_p90_ms"], out["stages"]["exec"] = timed(
        engine, ["exec", "bench-exec", "true"], n)
    engine.docker("rm", "-f", "bench-exec")

    one_lifecycle(engine.sock, image)
    t0 = time.perf_counter()
    for _ in range(n):
        one_lifecycle(engine.sock, image)
    out["seq_per_s"] = n / (time.perf_counter() - t0)

    total = n * 2
    t0 = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(CONCURRENT_CLIENTS) as pool:
        for f in [pool.submit(one_lifecycle, engine.sock, image) for _ in range(total)]:
            f.result()
    out["conc_per_s"] = total / (time.perf_counter() - t0)

    before = engine_rss_kib(engine.root)
    for i in range(RUNNING_CONTAINERS):
        engine.docker("run", "-d", "--network", "none", "--name", f"bench-sleep-{i}", image,
                      "sleep", "3600")
    time.sleep(IDLE_SETTLE_SECONDS)
    after = engine_rss_kib(engine.root)
    out["per_container_rss_kib"] = (after - before) / RUNNING_CONTAINERS
    return out


def report(name, r):
    print(f"{name}: docker run --rm true: median {r['run_median_ms']:.0f} ms, "
          f"p90 {r['run_p90_ms']:.0f} ms (--network none); default bridge: median "
          f"{r['run_bridge_median_ms']:.0f} ms (network setup adds "
          f"{r['run_bridge_median_ms'] - r['run_median_ms']:.0f} ms)")
    if "user_net_run_median_ms" in r:
        print(f"{name}: docker run --rm true on a user-defined network: median "
              f"{r['user_net_run_median_ms']:.0f} ms (endpoint and embedded DNS add "
              f"{r['user_net_run_median_ms'] - r['run_median_ms']:.0f} ms over --network none)")
    print(f"{name}: docker exec C true: median {r['exec_median_ms']:.0f} ms, "
          f"p90 {r['exec_p90_ms']:.0f} ms")
    print(f"{name}: create+start+wait+rm: {r['seq_per_s']:.1f}/s in sequence, "
          f"{r['conc_per_s']:.1f}/s with {CONCURRENT_CLIENTS} clients")
    print(f"{name}: idle RSS {r['idle_rss_kib'] / 1024:.1f} MiB, "
          f"added per running container {r['per_container_rss_kib'] / 1024:.2f} MiB")
    for what, stages in r["stages"].items():
        if stages:
            parts = ", ".join(f"{k} {v:.1f}" for k, v in sorted(stages.items()))
            print(f"{name}: stages of `{what}` (median ms): {parts}")


def table(results):
    rows = [
        ("docker run --rm IMG true, default bridge, median (ms)", "run_bridge_median_ms", False),
        ("same with --network none (ms)", "run_median_ms", False),
        ("docker exec C true, median (ms)", "exec_median_ms", False),
        ("create+start+wait+rm, one client (/s)", "seq_per_s", True),
        (f"same, {CONCURRENT_CLIENTS} clients (/s)", "conc_per_s", True),
    ]
    b, d = results.get("berthd"), results.get("dockerd")
    print()
    print("| figure | dockerd | berthd | dockerd/berthd | target |")
    print("|---|---|---|---|---|")
    for label, key, rate in rows:
        bv = f"{b[key]:.1f}" if b else "-"
        dv = f"{d[key]:.1f}" if d else "-"
        if b and d:
            ratio = b[key] / d[key] if rate else d[key] / b[key]
            rv = f"{ratio:.2f}x"
        else:
            rv = "-"
        target = TARGETS[key]
        tv = f"{'>=' if rate else '<='} {target}"
        if b:
            met = b[key] >= target if rate else b[key] <= target
            tv += " (met)" if met else " (not met)"
        print(f"| {label} | {dv} | {bv} | {rv} | {tv} |")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", required=True)
    ap.add_argument("--fixtures", required=True)
    ap.add_argument("--berthd", required=True)
    ap.add_argument("-n", type=int, default=20)
    ap.add_argument("--engines", default="berthd,dockerd")
    a = ap.parse_args()
    fx = json.load(open(a.fixtures))
    img = fx["images"]["busybox"]
    image = f"{fx['registry']}/{img['repository']}:{img['tag']}"

    print(describe_filesystem(a.work), flush=True)
    floor = cli_floor_ms(a.n)
    print(f"the docker CLI alone (docker --version, no daemon call): median {floor:.1f} ms; "
          "each run and exec figure below includes it once", flush=True)
    results = {}
    wanted = a.engines.split(",")
    plan = []
    if "berthd" in wanted:
        plan.append(("berthd", berthd_argv(a.berthd), {"RUST_LOG": TIMING_LOG}))
    bridge = None
    if "dockerd" not in wanted:
        pass
    elif shutil.which("dockerd"):
        bridge = DockerdBridge()
        plan.append(("dockerd", dockerd_argv(bridge.name), None))
    else:
        print("dockerd not installed: no comparison (apt-get install docker.io)")
    try:
        for name, argv, env in plan:
            engine = Engine(name, a.work, argv, env)
            try:
                results[name] = measure(engine, image, a.n)
            finally:
                engine.stop()
            report(name, results[name])
    finally:
        if bridge:
            bridge.remove()
        shutil.rmtree(a.work, ignore_errors=True)
    if len(results) == 2:
        b, d = results["berthd"], results["dockerd"]
        print("ratios dockerd/berthd: "
              f"idle RSS {d['idle_rss_kib'] / max(1, b['idle_rss_kib']):.2f}x, "
              f"per-container RSS {d['per_container_rss_kib'] / max(1, b['per_container_rss_kib']):.2f}x")
    table(results)
    if "berthd" in results:
        b = results["berthd"]
        print(f"berthd beyond the CLI's own {floor:.1f} ms: run (none) "
              f"{b['run_median_ms'] - floor:.1f} ms, run (bridge) "
              f"{b['run_bridge_median_ms'] - floor:.1f} ms, exec {b['exec_median_ms'] - floor:.1f} ms")


if __name__ == "__main__":
    sys.exit(main())
