#!/usr/bin/env python3
"""Log latency: a line a job writes to its stdout -> the line printed by ``k12ai logs -f``.

A k12ml prediction whose model (the tests' ``NoisyModel``, in the project's archive) prints
``--lines`` lines ``--interval-ms`` apart, each ending with the time it was written
(``time.time_ns()``); ``k12ai logs -f`` runs as a user runs it, in its own process, and each
line's latency is the time its stdout showed it less the time in it. The path: the job's
pipe -> its supervisor -> the events file -> the server's tail -> SQLite -> Watch -> the CLI.
The server runs in a child process on this machine (one clock for all).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import grpc
from benchkit import ROOT, k12ai, pct

from k12ai_api.v1 import framework_pb2, framework_pb2_grpc

sys.path.insert(0, str(ROOT))
from tests.logs.noisy_model import NoisyModel, install


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--lines", type=int, default=500)
    parser.add_argument("--interval-ms", type=float, default=20.0)
    args = parser.parse_args()
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    with tempfile.TemporaryDirectory() as tmp, k12ai(Path(tmp)) as (grpc_port, _):
        install(
            Path(tmp) / "data" / "users" / "bench" / "logs",
            NoisyModel(stdout_lines=args.lines, pause_s=args.interval_ms / 1000, stamped=True),
        )
        stub = framework_pb2_grpc.FrameworkStub(grpc.insecure_channel(f"127.0.0.1:{grpc_port}"))
        request = framework_pb2.PredictRequest(
            op="predict.start", user="bench", service_name="k12ml", service_uuid="logs"
        )
        request.service_params.update({"input_type": "text", "input_text": "[[1, 2]]"})
        job_id = stub.Predict(request).job_id
        latencies_ms = follow(grpc_port, job_id)
    shown = f"{len(latencies_ms)} of {args.lines} lines, {args.interval_ms:g} ms apart"
    print(f"{shown}: written by the job -> printed by k12ai logs -f")
    p50, p99, worst = pct(latencies_ms, 50), pct(latencies_ms, 99), max(latencies_ms)
    print(f"  p50 {p50:.1f} ms   p99 {p99:.1f} ms   max {worst:.1f} ms")


def follow(grpc_port: int, job_id: str) -> list[float]:
    cli = [sys.executable, "-m", "k12ai_client", "--target", f"127.0.0.1:{grpc_port}", "logs", "-f", job_id]
    latencies: list[float] = []
    with subprocess.Popen(cli, stdout=subprocess.PIPE, text=True, bufsize=1) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            seen = time.time_ns()
            latencies.append((seen - int(line.rsplit(" ", 1)[1])) / 1e6)
    return latencies


if __name__ == "__main__":
    main()
