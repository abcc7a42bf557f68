"""Throughput and latency of the control plane against a baseline measured in the same run.

The baseline is moto (the only other App Mesh emulator on the package registries), started
on loopback next to ours. Both get the same workload: a fresh mesh, N CreateVirtualNode
(http2:80 listener, DNS discovery), then N DescribeVirtualNode, first from one client thread
and then from 8 threads sharing the N. Requests are plain HTTP with one connection per
request (moto closes every connection anyway) and a dummy SigV4 header (moto routes on it).
Ours is also measured with keep-alive connections, which is how SDKs talk to it.

Prints one table row per (server, mode, threads, operation) and the ratios ours/moto, plus
each server's resident memory after the run. Bounded: N requests per phase and a deadline.

Usage: python bench/control_plane.py --ours PATH_TO_BINARY [--n 2000] [--threads 1,8]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid

SPEC = {
    "listeners": [{"portMapping": {"port": 80, "protocol": "http2"}}],
    "serviceDiscovery": {"dns": {"hostname": "svc.apps.local"}},
}
AUTH = ("AWS4-HMAC-SHA256 Credential=testing/20250101/us-east-1/appmesh/aws4_request, "
        "SignedHeaders=host, Signature=0")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(port: int, deadline: float) -> None:
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


class Client:
    """One request per call; `keep_alive` reuses one connection per thread."""

    def __init__(self, port: int, keep_alive: bool):
        self.port, self.keep_alive, self.conn = port, keep_alive, None

    def request(self, method: str, path: str, body: dict | None = None) -> None:
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        headers = {"Authorization": AUTH, "Content-Type": "application/json"}
        self.conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
        r = self.conn.getresponse()
        data = r.read()
        if not self.keep_alive or r.getheader("Connection", "").lower() == "close":
            self.conn.close()
            self.conn = None
        if r.status != 200:
            raise RuntimeError(f"{method} {path}: {r.status} {data[:200]!r}")


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))] if xs else float("nan")


def phase(port: int, n: int, threads: int, keep_alive: bool, deadline: float) -> dict:
    mesh = "bench-" + uuid.uuid4().hex[:8]
    Client(port, keep_alive).request("PUT", "/v20190125/meshes", {"meshName": mesh})
    out: dict = {}
    per = n // threads
    for op in ("create", "describe"):
        lat: list[float] = []
        errors = [0]
        lock = threading.Lock()

        def worker(tid: int) -> None:
            c = Client(port, keep_alive)
            mine = []
            for i in range(per):
                if time.time() > deadline:
                    break
                name = f"vn-{tid}-{i}"
                t0 = time.perf_counter()
                try:
                    if op == "create":
                        c.request("PUT", f"/v20190125/meshes/{mesh}/virtualNodes", {"virtualNodeName": name, "spec": SPEC})
                    else:
                        c.request("GET", f"/v20190125/meshes/{mesh}/virtualNodes/{name}")
                except Exception:  # counted, not fatal: the table shows it
                    with lock:
                        errors[0] += 1
                    continue
                mine.append(time.perf_counter() - t0)
            with lock:
                lat.extend(mine)

        start = time.perf_counter()
        ts = [threading.Thread(target=worker, args=(t,)) for t in range(threads)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        elapsed = time.perf_counter() - start
        out[op] = {"requests": len(lat), "errors": errors[0], "rps": len(lat) / elapsed if elapsed else 0.0,
                   "p50_ms": pct(lat, 50) * 1000, "p99_ms": pct(lat, 99) * 1000}
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--ours", required=True, help="path to appmesh-control-plane")
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--threads", default="1,8")
    ap.add_argument("--deadline", type=float, default=300.0, help="seconds for the whole run")
    a = ap.parse_args()
    deadline = time.time() + a.deadline
    threads = [int(t) for t in a.threads.split(",")]

    data = tempfile.mkdtemp(prefix="appmesh-bench-")
    procs = []
    try:
        ours = subprocess.Popen([a.ours, "serve", "--listen", "127.0.0.1:0", "--data-dir", data,
                                 "--quota", f"virtual-nodes-per-mesh={a.n * 2}", "--quota", "meshes=1000"],
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        procs.append(ours)
        line = ours.stdout.readline()
        ours_port = int(line.rsplit(":", 1)[1])
        moto_port = free_port()
        moto_bin = shutil.which("moto_server", path=os.path.dirname(sys.executable)) or "moto_server"
        moto = subprocess.Popen([moto_bin, "-H", "127.0.0.1", "-p", str(moto_port)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(moto)
        wait_http(moto_port, time.time() + 30)

        rows = []
        for t in threads:
            for name, port, keep, pid in (("moto", moto_port, False, moto.pid),
                                          ("ours", ours_port, False, ours.pid),
                                          ("ours keep-alive", ours_port, True, ours.pid)):
                res = phase(port, a.n, t, keep, deadline)
                for op in ("create", "describe"):
                    rows.append((name, t, op, res[op]))
        print(f"{'server':<16} {'threads':>7} {'op':<9} {'requests':>8} {'errors':>6} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8}")
        for name, t, op, r in rows:
            print(f"{name:<16} {t:>7} {op:<9} {r['requests']:>8} {r['errors']:>6} {r['rps']:>9.1f} {r['p50_ms']:>8.2f} {r['p99_ms']:>8.2f}")
        print()
        base = {(t, op): r for name, t, op, r in rows if name == "moto"}
        for name, t, op, r in rows:
            if name == "moto":
                continue
            b = base[(t, op)]
            print(f"ratio {name} / moto, {t} thread(s), {op}: throughput x{r['rps'] / b['rps']:.2f}, "
                  f"p50 latency x{r['p50_ms'] / b['p50_ms']:.2f}")
        print(f"resident memory after the run: ours {rss_mb(ours.pid):.1f} MB, moto {rss_mb(moto.pid):.1f} MB")
        failed = sum(r["errors"] for _, _, _, r in rows if _ != "moto")
        return 1 if failed else 0
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
