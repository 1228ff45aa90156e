#!/usr/bin/env python3
"""REST latency of a job query (GetJob), side by side in one run, same server:

1. direct gRPC (the baseline);
2. REST through the built-in gateway (in-process dispatch to the servicer);
3. REST through Envoy's gRPC-JSON transcoder (deploy/envoy.yaml) in front of the gRPC port.

Then the gateway's JSON rendering of a Watch reply of 256 metrics events, in process: its
``to_dict`` (whole numbers printed as integers, as protojson does) against ``json_format``
alone (every Struct number printed as a double), interleaved.

Sequential calls on one kept-alive connection each (http.client, a grpc channel), in
interleaved rounds so that drift on a shared machine hits all three alike. The server and
Envoy run in child processes.
"""

from __future__ import annotations

import argparse
import http.client
import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import grpc
from benchkit import finished_job, k12ai, pct, row
from envoy_front import running_envoy
from google.protobuf import json_format

from k12ai_api.v1 import framework_pb2, framework_pb2_grpc
from k12ai_server.api.convert import event_message
from k12ai_server.events.record import EventRecord
from k12ai_server.gateway.transcode import dumps, to_dict


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
        with running_envoy(Path(tmp) / "envoy", grpc_port, log_level="error") as proxy:
            samples = measure(
                {
                    "direct gRPC (GetJob)": grpc_caller(grpc_port, job_id),
                    "REST via the built-in gateway": rest_caller(http_port, path),
                    "REST via Envoy": rest_caller(proxy.port, path),
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
    rendering = measure(render_callers(), args.calls // 10, args.rounds)
    print("rendering a Watch reply of 256 metrics events to JSON, in process")
    plain = pct(rendering["json_format alone (numbers as doubles)"], 50)
    for name, values in rendering.items():
        print(row(name, values, None if name.startswith("json_format") else plain))


def render_callers() -> dict[str, Callable[[], None]]:
    reply = framework_pb2.WatchResponse(events=[event_message(metrics_event(i)) for i in range(256)])

    def plain() -> None:
        dumps(
            json_format.MessageToDict(
                reply, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
            )
        )

    def gateway() -> None:
        dumps(to_dict(reply))

    return {
        "json_format alone (numbers as doubles)": plain,
        "gateway to_dict (whole numbers as ints)": gateway,
    }


def metrics_event(batch: int) -> EventRecord:
    payload = {
        "accuracy": 0.9123, "accuracy3": 0.9912, "loss": 0.2345, "phase": "train",
        "epoch": 3, "batch": batch, "num_batches": 256, "progress": batch / 256,
    }  # fmt: skip
    return EventRecord(
        type="metrics", tag="framework", op="train.start", user="test", service_uuid="123456",
        payload=payload, job_id="0" * 32, seq=batch + 1,
    )  # fmt: skip


if __name__ == "__main__":
    main()
