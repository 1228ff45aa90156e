#!/usr/bin/env python3
"""REST latency of a job query (GetJob), side by side in one run, same server:

1. direct gRPC (the baseline);
2. REST through the built-in gateway (in-process dispatch to the servicer);
3. REST through Envoy's gRPC-JSON transcoder (deploy/envoy.yaml) in front of the gRPC port.

Sequential calls on one kept-alive connection each (http.client, a grpc channel), in
interleaved rounds so that drift on a shared machine hits all three alike. The server and
Envoy run in child processes.
"""

from __future__ import annotations

import argparse
import http.client
import json
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import grpc
from benchkit import child, pct, row

from k12ai_api.v1 import framework_pb2, framework_pb2_grpc
from k12ai_server.gateway.envoy_config import envoy_config

ROOT = Path(__file__).resolve().parent.parent
TRAIN_IRIS = json.loads((ROOT / "examples" / "k12ml" / "train_iris.json").read_text())


@contextmanager
def k12ai(state: Path) -> Iterator[tuple[int, int]]:
    cmd = [
        sys.executable, "-m", "k12ai_server", "--grpc-port", "0", "--http-port", "0",
        "--data-root", str(state / "data"), "--state-dir", str(state / "state"), "--log-level", "WARNING",
    ]  # fmt: skip
    with child(cmd, "listening") as (line, _):
        grpc_port = int(line.split("grpc=")[1].split()[0].rsplit(":", 1)[1])
        http_port = int(line.split("http=")[1].split()[0].rsplit(":", 1)[1])
        yield grpc_port, http_port


@contextmanager
def envoy(folder: Path, grpc_port: int) -> Iterator[int]:
    binary = shutil.which("envoy") or str(Path(sys.executable).parent / "envoy")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    config = folder / "envoy.json"
    config.write_text(json.dumps(envoy_config(listen_port=port, grpc_port=grpc_port)))
    proc = subprocess.Popen(
        [binary, "--disable-hot-restart", "--log-level", "error", "-c", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("envoy did not start") from None
                time.sleep(0.1)
        yield port
    finally:
        proc.terminate()
        proc.wait(30)


def rest_caller(port: int, path: str) -> Callable[[], None]:
    connection = http.client.HTTPConnection("127.0.0.1", port)

    def call() -> None:
        connection.request("GET", path)
        reply = connection.getresponse()
        body = reply.read()
        if reply.status != 200:
            raise RuntimeError(f"{reply.status}: {body!r}")
        json.loads(body)  # what a REST client does with the answer

    return call


def grpc_caller(port: int, job_id: str) -> Callable[[], None]:
    stub = framework_pb2_grpc.FrameworkStub(grpc.insecure_channel(f"127.0.0.1:{port}"))
    request = framework_pb2.GetJobRequest(job_id=job_id)

    def call() -> None:
        stub.GetJob(request, timeout=10)

    return call


def finished_job(http_port: int) -> str:
    connection = http.client.HTTPConnection("127.0.0.1", http_port)
    connection.request("POST", "/k12ai/framework/train", body=json.dumps(TRAIN_IRIS))
    job_id: str = json.loads(connection.getresponse().read())["job_id"]
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        connection.request("GET", f"/k12ai/framework/jobs/{job_id}")
        if json.loads(connection.getresponse().read())["job"]["state"] in ("finished", "failed"):
            return job_id
        time.sleep(0.2)
    raise RuntimeError("the training job did not end")


def measure(callers: dict[str, Callable[[], None]], calls: int, rounds: int) -> dict[str, list[float]]:
    for call in callers.values():
        for _ in range(200):
            call()  # warm-up: connections, caches
    samples: dict[str, list[float]] = {name: [] for name in callers}
    per_round = max(1, calls // rounds)
    for _ in range(rounds):
        for name, call in callers.items():
            for _ in range(per_round):
                start = time.perf_counter_ns()
                call()
                samples[name].append((time.perf_counter_ns() - start) / 1e6)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=3000, help="calls per path (default 3000)")
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, k12ai(Path(tmp)) as (grpc_port, http_port):
        job_id = finished_job(http_port)
        path = f"/k12ai/framework/jobs/{job_id}"
        with envoy(Path(tmp), grpc_port) as envoy_port:
            samples = measure(
                {
                    "direct gRPC (GetJob)": grpc_caller(grpc_port, job_id),
                    "REST via the built-in gateway": rest_caller(http_port, path),
                    "REST via Envoy": rest_caller(envoy_port, path),
                },
                args.calls,
                args.rounds,
            )
    direct = pct(samples["direct gRPC (GetJob)"], 50)
    print(f"GET {path.replace(job_id, '{job_id}')}, {args.calls} sequential calls each, {args.rounds} rounds")
    for name, values in samples.items():
        print(row(name, values, None if name.startswith("direct") else direct))
    gateway, via_envoy = samples["REST via the built-in gateway"], samples["REST via Envoy"]
    print(
        f"  built-in gateway / Envoy: p50 x{pct(gateway, 50) / pct(via_envoy, 50):.2f}, "
        f"p99 x{pct(gateway, 99) / pct(via_envoy, 99):.2f}"
    )


if __name__ == "__main__":
    main()
