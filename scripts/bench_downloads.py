#!/usr/bin/env python3
"""Artefact download throughput (DownloadArtefact), side by side in one run, same file:

1. reading it from local disk (the baseline: ``open`` and ``read`` 1 MiB at a time);
2. over gRPC (a sync stub reading the stream of HttpBody chunks);
3. over REST through the built-in gateway (a plain chunked file download);
4. over REST through Envoy's gRPC-JSON transcoder.

The file is a k12ml training's run archive, replaced by ``--mib`` MiB of random bytes (the
transport does not care what they are). Every reader discards what it reads; the file stays
in the page cache; rounds alternate and each path's best round counts. The server and Envoy
run in child processes on this machine.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import grpc
import requests
from benchkit import finished_job, k12ai
from envoy_front import running_envoy

from k12ai_api.v1 import framework_pb2, framework_pb2_grpc
from k12ai_contract.rundir import ProjectDir

CHUNK = 1024 * 1024


def disk_reader(path: Path) -> Callable[[], int]:
    def read() -> int:
        total = 0
        with path.open("rb") as file:
            while chunk := file.read(CHUNK):
                total += len(chunk)
        return total

    return read


def grpc_reader(port: int, job_id: str) -> Callable[[], int]:
    stub = framework_pb2_grpc.FrameworkStub(grpc.insecure_channel(f"127.0.0.1:{port}"))
    request = framework_pb2.DownloadArtefactRequest(job_id=job_id)
    return lambda: sum(len(body.data) for body in stub.DownloadArtefact(request))


def rest_reader(port: int, job_id: str) -> Callable[[], int]:
    session = requests.Session()
    url = f"http://127.0.0.1:{port}/k12ai/framework/jobs/{job_id}/artefact"

    def read() -> int:
        with session.get(url, stream=True, timeout=60) as reply:
            reply.raise_for_status()
            return sum(len(chunk) for chunk in reply.iter_content(CHUNK))

    return read


def best_mib_s(readers: dict[str, Callable[[], int]], size: int, rounds: int) -> dict[str, float]:
    best = dict.fromkeys(readers, 0.0)
    for _ in range(rounds):
        for name, read in readers.items():
            start = time.perf_counter()
            if read() != size:
                raise RuntimeError(f"{name}: not {size} bytes")
            best[name] = max(best[name], size / 2**20 / (time.perf_counter() - start))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--mib", type=int, default=256, help="file size (default 256 MiB)")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, k12ai(Path(tmp)) as (grpc_port, http_port):
        job_id = finished_job(http_port)
        archive = ProjectDir(Path(tmp) / "data" / "users" / "test" / "123456").run_archive(job_id)
        with archive.open("wb") as file:
            for _ in range(args.mib):
                file.write(os.urandom(CHUNK))
        size = archive.stat().st_size
        with running_envoy(Path(tmp) / "envoy", grpc_port, log_level="error") as proxy:
            readers = {
                "local disk (open/read)": disk_reader(archive),
                "gRPC (DownloadArtefact stream)": grpc_reader(grpc_port, job_id),
                "REST via the built-in gateway": rest_reader(http_port, job_id),
                "REST via Envoy": rest_reader(proxy.port, job_id),
            }
            best = best_mib_s(readers, size, args.rounds)
    disk = best["local disk (open/read)"]
    print(f"{args.mib} MiB file, best of {args.rounds} interleaved rounds")
    for name, mib_s in best.items():
        print(f"  {name:<34} {mib_s:9.1f} MiB/s   x{mib_s / disk:.3f} of local disk")


if __name__ == "__main__":
    main()
