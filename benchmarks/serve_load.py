"""Load on `lsr serve`: queries per second and latency at 1, 4 and 16 concurrent clients.

    python benchmarks/serve_load.py [--bm25-index DIR] [--impact-index DIR] [--inference-free-index DIR]
                                    [--clients 1 4 16] [--requests 300] [--max-seconds 30] [-k 10]

Starts `lsr -q serve` in a subprocess on a free loopback port over the indexes (BM25 and a splade-tiny
impact index of SciFact, built into --work when not given; an inference-free index only when given),
then, per index and level, that many client threads, each with its own keep-alive HTTP connection, send
SciFact's test queries one per request ({"index": NAME, "text": ..., "k": K}) until --requests are
answered or --max-seconds pass. QPS: answers / wall time of the level; P50/P99: each request's time as
its client sees it (JSON both ways, HTTP, queueing, encoding, search); server ms: the median time the
server reports (`timing_ms.total`: waiting for the encoder, encoding and search once a search thread
has the request; no HTTP). --warm-up requests per index come first, unmeasured. The clients share this
process (and its GIL) with each other, not with the server, whose search threads are --threads.

Figures depend on the machine's load: the load average is printed before and after; run it on a quiet
machine (load below 1) for figures worth keeping.
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from common import add_out_argument, write_result
from search_speed import build  # the SciFact indexes under --work (this folder is on sys.path when run)

SHARED = Path(__file__).resolve().parents[2] / "shared"
START_TIMEOUT = 600


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(SHARED / "data/beir/scifact"))
    parser.add_argument("--model", default=str(SHARED / "models/splade-tiny"))
    parser.add_argument("--bm25-index", type=Path)
    parser.add_argument("--impact-index", type=Path)
    parser.add_argument("--inference-free-index", type=Path, help="An index built with an inference-free model.")
    parser.add_argument("--work", type=Path, default=Path("runs/serve-load"), help="Where missing indexes go.")
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--requests", type=int, default=300, help="Requests per index and level, at most.")
    parser.add_argument("--max-seconds", type=float, default=30, help="Time per index and level, at most.")
    parser.add_argument("--warm-up", type=int, default=50, help="Unmeasured requests per index first.")
    parser.add_argument("-k", type=int, default=10)
    parser.add_argument("--threads", type=int, help="The server's Lucene threads per index (default: lsr's).")
    add_out_argument(parser)
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.2f} ({os.cpu_count()} cores)")
    indexes = {"bm25": args.bm25_index or build(args, "bm25"), "impact": args.impact_index or build(args, "impact")}
    if args.inference_free_index:
        indexes["inference-free"] = args.inference_free_index
    from lsr.data import read_queries

    texts = [q.text for q in read_queries(args.data, "test")]
    port = free_port()
    server = start_server(indexes, port, args.threads)
    rows = []
    try:
        print(f"{'index':<15} {'clients':>7} {'requests':>8} {'QPS':>8} {'P50 ms':>8} {'P99 ms':>8} {'server ms':>9}")
        for name in indexes:
            load(port, name, texts, args.k, clients=4, requests=args.warm_up, max_seconds=args.max_seconds)
            for clients in args.clients:
                latencies, server_ms, wall = load(port, name, texts, args.k, clients, args.requests, args.max_seconds)
                print(f"{name:<15} {clients:>7} {len(latencies):>8} {len(latencies) / wall:>8.1f} "
                      f"{np.percentile(latencies, 50):>8.2f} {np.percentile(latencies, 99):>8.2f} "
                      f"{np.median(server_ms):>9.2f}", flush=True)
                rows.append({"index": name, "clients": clients, "requests": len(latencies),
                             "QPS": round(len(latencies) / wall, 1),
                             "P50 ms": round(float(np.percentile(latencies, 50)), 2),
                             "P99 ms": round(float(np.percentile(latencies, 99)), 2),
                             "server ms": round(float(np.median(server_ms)), 2)})
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(120)
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    write_result(args.out, "serve_load", {"k": args.k, "indexes": {name: str(path) for name, path in indexes.items()},
                                          "levels": rows, "load average after": round(os.getloadavg()[0], 2)},
                 title="Serving: `lsr serve` under concurrent clients")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(indexes: dict[str, Path], port: int, threads: int | None) -> subprocess.Popen:
    """`lsr -q serve NAME=DIR ...` on `port`, once /health answers."""
    command = [sys.executable, "-c", "from lsr.cli.main import cli; cli(prog_name='lsr')", "-q", "serve",
               *(f"{name}={folder}" for name, folder in indexes.items()), "--port", str(port),
               *(["--threads", str(threads)] if threads else [])]
    started = time.perf_counter()
    server = subprocess.Popen(command)
    while time.perf_counter() - started < START_TIMEOUT:
        if server.poll() is not None:
            sys.exit(f"lsr serve ended with status {server.returncode}")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            connection.request("GET", "/health")
            if connection.getresponse().status == 200:
                print(f"server ready in {time.perf_counter() - started:.1f} s", flush=True)
                return server
        except OSError:
            time.sleep(0.2)
    server.kill()
    sys.exit(f"lsr serve not ready after {START_TIMEOUT} s")


def load(port: int, index: str, texts: list[str], k: int, clients: int, requests: int,
         max_seconds: float) -> tuple[list[float], list[float], float]:
    """`clients` threads sending queries until `requests` are answered or `max_seconds` pass: each answer's
    latency and server time in ms, and the wall time in s."""
    numbers, deadline = itertools.count(), time.perf_counter() + max_seconds
    latencies: list[float] = []
    server_ms: list[float] = []

    def client() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=max_seconds + 60)
        headers = {"Content-Type": "application/json"}
        for number in numbers:
            if number >= requests or time.perf_counter() > deadline:
                break
            body = json.dumps({"index": index, "text": texts[number % len(texts)], "k": k})
            start = time.perf_counter()
            connection.request("POST", "/search", body=body, headers=headers)
            response = connection.getresponse()
            answer = json.loads(response.read())
            took = (time.perf_counter() - start) * 1000
            if response.status != 200:
                raise RuntimeError(f"{response.status}: {answer}")
            latencies.append(took)  # list.append is atomic under the GIL
            server_ms.append(answer["timing_ms"]["total"])
        connection.close()

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        for running in [pool.submit(client) for _ in range(clients)]:
            running.result()  # a client's error ends the benchmark
    return latencies, server_ms, time.perf_counter() - started


if __name__ == "__main__":
    main()
