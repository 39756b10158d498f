"""Container benchmark driver for scripts/bench-containers.sh (see there for what it reports).

Starts berthd (and dockerd when installed) on private sockets and roots under --work, runs
the same workload against each, prints medians, rates, RSS figures and ratios, and cleans
up every process and mount it made.
"""
import argparse
import concurrent.futures
import http.client
import json
import os
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


def rss_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
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


def engine_rss_kib(marker):
    return sum(rss_kib(p) for p in engine_pids(marker))


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
    def __init__(self, name, work, argv):
        self.name = name
        self.root = os.path.join(work, name)
        os.makedirs(self.root, exist_ok=True)
        self.sock = os.path.join(self.root, "api.sock")
        self.env = dict(os.environ, DOCKER_HOST=f"unix://{self.sock}",
                        DOCKER_CONFIG=os.path.join(self.root, "cli-config"))
        log = open(os.path.join(self.root, "engine.log"), "wb")
        self.proc = subprocess.Popen(argv(self.root, self.sock), stdout=log, stderr=log,
                                     start_new_session=True)
        try:
            wait_socket(self.sock, self.proc)
        except Exception:
            self.stop()
            raise

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


def berthd_argv(binary):
    return lambda root, sock: [binary, "--data-root", f"{root}/data", "--exec-root",
                               f"{root}/exec", "--pidfile", f"{root}/engine.pid",
                               "-H", f"unix://{sock}"]


def dockerd_argv(root, sock):
    return ["dockerd", "-H", f"unix://{sock}", "--data-root", f"{root}/data", "--exec-root",
            f"{root}/exec", "--pidfile", f"{root}/engine.pid", "--bridge=none",
            "--iptables=false", "--ip-masq=false"]


def one_lifecycle(sock, image):
    c = api(sock, "POST", "/containers/create",
            {"Image": image, "Cmd": ["true"], "HostConfig": {"NetworkMode": "none"}})
    cid = c["Id"]
    api(sock, "POST", f"/containers/{cid}/start")
    api(sock, "POST", f"/containers/{cid}/wait")
    api(sock, "DELETE", f"/containers/{cid}")


def measure(engine, image, n):
    out = {}
    engine.docker("pull", "-q", image)
    time.sleep(IDLE_SETTLE_SECONDS)
    out["idle_rss_kib"] = engine_rss_kib(engine.root)

    engine.docker("run", "--rm", "--network", "none", image, "true")  # warm-up
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        engine.docker("run", "--rm", "--network", "none", image, "true")
        times.append((time.perf_counter() - t0) * 1000)
    out["run_median_ms"], out["run_p90_ms"] = median_p90(times)
    if engine.name == "berthd":
        # What network setup adds: the same runs on the default bridge network.
        times = []
        for _ in range(n):
            t0 = time.perf_counter()
            engine.docker("run", "--rm", image, "true")
            times.append((time.perf_counter() - t0) * 1000)
        out["bridge_run_median_ms"], _ = median_p90(times)
        # And on a user-defined network: an endpoint plus the embedded DNS.
        engine.docker("network", "create", "bench-net")
        times = []
        for _ in range(n):
            t0 = time.perf_counter()
            engine.docker("run", "--rm", "--network", "bench-net", image, "true")
            times.append((time.perf_counter() - t0) * 1000)
        out["user_net_run_median_ms"], _ = median_p90(times)
        engine.docker("network", "rm", "bench-net")

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
          f"p90 {r['run_p90_ms']:.0f} ms")
    if "bridge_run_median_ms" in r:
        print(f"{name}: docker run --rm true on the default bridge: median "
              f"{r['bridge_run_median_ms']:.0f} ms (network setup adds "
              f"{r['bridge_run_median_ms'] - r['run_median_ms']:.0f} ms over --network none)")
    if "user_net_run_median_ms" in r:
        print(f"{name}: docker run --rm true on a user-defined network: median "
              f"{r['user_net_run_median_ms']:.0f} ms (endpoint and embedded DNS add "
              f"{r['user_net_run_median_ms'] - r['run_median_ms']:.0f} ms over --network none)")
    print(f"{name}: create+start+wait+rm: {r['seq_per_s']:.1f}/s in sequence, "
          f"{r['conc_per_s']:.1f}/s with {CONCURRENT_CLIENTS} clients")
    print(f"{name}: idle RSS {r['idle_rss_kib'] / 1024:.1f} MiB, "
          f"added per running container {r['per_container_rss_kib'] / 1024:.2f} MiB")


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

    results = {}
    wanted = a.engines.split(",")
    plan = [("berthd", berthd_argv(a.berthd))] if "berthd" in wanted else []
    if "dockerd" not in wanted:
        pass
    elif shutil.which("dockerd"):
        plan.append(("dockerd", dockerd_argv))
    else:
        print("dockerd not installed: no comparison (apt-get install docker.io)")
    try:
        for name, argv in plan:
            engine = Engine(name, a.work, argv)
            try:
                results[name] = measure(engine, image, a.n)
            finally:
                engine.stop()
            report(name, results[name])
    finally:
        shutil.rmtree(a.work, ignore_errors=True)
    if len(results) == 2:
        b, d = results["berthd"], results["dockerd"]
        print("ratios dockerd/berthd: "
              f"run median {d['run_median_ms'] / b['run_median_ms']:.2f}x, "
              f"sequential rate {b['seq_per_s'] / d['seq_per_s']:.2f}x, "
              f"concurrent rate {b['conc_per_s'] / d['conc_per_s']:.2f}x, "
              f"idle RSS {d['idle_rss_kib'] / max(1, b['idle_rss_kib']):.2f}x, "
              f"per-container RSS {d['per_container_rss_kib'] / max(1, b['per_container_rss_kib']):.2f}x")


if __name__ == "__main__":
    sys.exit(main())
