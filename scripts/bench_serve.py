"""Latency of `mtfix serve` as an editor sees it: a 60-word paragraph sent to /v2/check, after warm-up.

    python scripts/bench_serve.py [--requests 20] [--clients 8]

Starts `mtfix serve` (the default detector and corrector, then --fast) in its own process on a free port, waits
for it to load, sends a few warm-up requests, then times --requests requests from one client and --requests
from each of --clients concurrent clients; prints p50 and p95 in milliseconds as a Markdown table.
"""
from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
PARAGRAPH = ("The minister said on Tuesday that the two guides had discussed the need to improve relations between "
             "both countries, and that a new agreement on energy could be signed before the summer. Farmers in the "
             "district expect prices to rise again once the harvest is finished next month, while growers say the "
             "drought has cut wheat yields across the region this year.")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def timed(url: str, n: int, out: list[float]) -> None:
    with httpx.Client(timeout=60) as client:
        for _ in range(n):
            started = time.perf_counter()
            answer = client.post(url, data={"text": PARAGRAPH, "language": "en-US"})
            answer.raise_for_status()
            out.append(1000 * (time.perf_counter() - started))


def bench(extra: list[str], requests: int, clients: int) -> dict[str, float]:
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "mtfix", "serve", "--port", str(port), *extra], cwd=ROOT,
                              env={**os.environ, "MTFIX_NO_PROGRESS": "1"}, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 300
        while True:
            try:
                if httpx.get(base + "/v2/healthcheck").text == "OK":
                    break
            except httpx.TransportError:
                pass
            if time.time() > deadline or server.poll() is not None:
                raise SystemExit("mtfix serve did not start")
            time.sleep(0.5)
        timed(base + "/v2/check", 3, [])  # warm-up
        alone: list[float] = []
        timed(base + "/v2/check", requests, alone)
        together: list[float] = []
        threads = [threading.Thread(target=timed, args=(base + "/v2/check", requests, together))
                   for _ in range(clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return {"p50": statistics.median(alone), "p95": percentile(alone, 0.95),
                "p50 together": statistics.median(together), "p95 together": percentile(together, 0.95)}
    finally:
        server.terminate()
        server.wait(30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=20, help="requests per client (default 20)")
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients (default 8)")
    args = parser.parse_args()
    print(f"{len(PARAGRAPH.split())}-word paragraph, {os.cpu_count()} cores, {args.requests} requests per client\n")
    print(f"| server | p50 ms, 1 client | p95 ms, 1 client | p50 ms, {args.clients} clients | "
          f"p95 ms, {args.clients} clients |")
    print("|---|---|---|---|---|")
    for name, extra in (("default", []), ("--fast", ["--fast"])):
        row = bench(extra, args.requests, args.clients)
        print(f"| {name} | {row['p50']:.0f} | {row['p95']:.0f} | {row['p50 together']:.0f} | "
              f"{row['p95 together']:.0f} |", flush=True)


if __name__ == "__main__":
    main()
