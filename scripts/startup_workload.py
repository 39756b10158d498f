"""The everyday workload scripts/startup-order.sh traces (its second tier): what the CLI's
usual commands and scripts/bench-api.sh's workload run in berthd and berth-containerd, so
the linker can place that code together. Small counts: under callgrind each request is
slow, and one pass runs every function the many would.

    python3 scripts/startup_workload.py --sock S --loadgen L
"""
import argparse
import concurrent.futures
import subprocess
import sys

from bench_api import IMAGE, import_image, one_run
from bench_containers import api


def cli(sock, *args):
    subprocess.run(["docker", "-H", f"unix://{sock}", *args], check=True,
                   stdout=subprocess.DEVNULL)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sock", required=True)
    ap.add_argument("--loadgen", required=True)
    a = ap.parse_args()
    s = a.sock
    import_image(s)
    sh = ["/bin/busybox", "sh", "-c", "echo hello; exec /bin/busybox sleep 600"]
    cli(s, "run", "--rm", "--network", "none", IMAGE, "/bin/busybox", "true")
    cli(s, "run", "--rm", IMAGE, "/bin/busybox", "true")
    cli(s, "run", "-d", "--name", "order1", IMAGE, *sh)
    cli(s, "exec", "order1", "/bin/busybox", "true")
    cli(s, "logs", "order1")
    for args in (["ps", "-a"], ["images"], ["inspect", "order1"], ["network", "ls"],
                 ["volume", "ls"], ["stop", "-t", "1", "order1"], ["rm", "order1"]):
        cli(s, *args)
    # scripts/bench-api.sh's workload, smaller.
    subprocess.run([a.loadgen, "--unix", s, "--path", "/_ping", "--conns", "8",
                    "--seconds", "2"], check=True, stdout=subprocess.DEVNULL)
    ids = [api(s, "POST", "/containers/create",
               {"Image": IMAGE, "Cmd": ["/bin/busybox", "true"],
                "HostConfig": {"NetworkMode": "none"}})["Id"] for _ in range(10)]
    subprocess.run([a.loadgen, "--unix", s, "--path", "/containers/json?all=1", "--conns", "8",
                    "--seconds", "2"], check=True, stdout=subprocess.DEVNULL)
    for cid in ids:
        api(s, "DELETE", f"/containers/{cid}")
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        for f in [pool.submit(one_run, s) for _ in range(16)]:
            f.result()
    subprocess.run([a.loadgen, "--unix", s, "--path", "/_ping", "--open", "100"], check=True,
                   stdout=subprocess.DEVNULL)


if __name__ == "__main__":
    sys.exit(main())
