#!/usr/bin/env python3
"""Core figures of k12ai, each measured side by side with its baseline in one run:

1. gRPC unary p50/p99 of a job query (GetJob) vs a no-op grpc.aio echo server;
2. Watch delivery latency p50/p99, 100 subscribers, events produced at 1000/s;
3. train.start -> `running` (k12ml) vs a bare ``python -c pass`` spawn.

Servers run in child processes so the client's work never shares their loop.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
from benchkit import child, k12ai_server, pct, row

from k12ai_api.v1 import framework_pb2
from k12ai_client import ClientConfig, Event, K12AIClient, to_envelope

ROOT = Path(__file__).resolve().parent.parent
ECHO_METHOD = "/bench.Echo/Echo"
TRAIN_IRIS_PATH = ROOT / "examples" / "k12ml" / "train_iris.json"


# -- 1. unary ---------------------------------------------------------------


async def echo_server() -> None:
    server = grpc.aio.server()
    handler = grpc.unary_unary_rpc_method_handler(_echo)
    server.add_generic_rpc_handlers([grpc.method_handlers_generic_handler("bench.Echo", {"Echo": handler})])
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    print(f"echo listening 127.0.0.1:{port}", flush=True)
    await server.wait_for_termination()


async def _echo(request: bytes, context: grpc.aio.ServicerContext[bytes, bytes]) -> bytes:
    return request


def time_calls(call: Callable[[], Any], n: int) -> list[float]:
    for _ in range(min(200, n)):
        call()  # warm-up: connection, caches
    out = []
    for _ in range(n):
        start = time.perf_counter_ns()
        call()
        out.append((time.perf_counter_ns() - start) / 1e6)
    return out


def bench_unary(target: str, job_id: str, n: int) -> None:
    with child([sys.executable, __file__, "--echo-server"], "echo listening") as (line, _):
        echo_target = line.split()[-1]
        with grpc.insecure_channel(echo_target) as channel:
            echo = channel.unary_unary(ECHO_METHOD)
            payload = framework_pb2.GetJobRequest(job_id=job_id).SerializeToString()
            baseline = time_calls(lambda: echo(payload), n)
    with grpc.insecure_channel(target) as channel:
        from k12ai_api.v1 import framework_pb2_grpc

        stub = framework_pb2_grpc.FrameworkStub(channel)
        request = framework_pb2.GetJobRequest(job_id=job_id)
        ours = time_calls(lambda: stub.GetJob(request), n)
    print("1. unary RPC latency (sequential calls, one channel)")
    print(row("no-op grpc.aio echo server (baseline)", baseline))
    print(row("k12ai GetJob", ours, pct(baseline, 50)))


# -- 2. watch fan-out -------------------------------------------------------


async def subscribers(target: str, count: int, expect: int, stalled: bool, after_seq: int) -> None:
    """Child process: `count` watch streams (plus one that never reads, if `stalled`);
    prints the delivery latencies in ms as JSON."""
    latencies: list[float] = []
    channel = grpc.aio.insecure_channel(target)
    from k12ai_api.v1 import framework_pb2_grpc

    stub = framework_pb2_grpc.FrameworkStub(channel)

    async def one() -> None:
        got = 0
        async for response in stub.Watch(framework_pb2.WatchRequest(user="bench", after_seq=after_seq)):
            now = time.time_ns()
            for event in response.events:
                latencies.append((now - int(event.payload.struct_value["sent_ns"])) / 1e6)
                got += 1
            if got >= expect:
                return

    tasks = [asyncio.create_task(one()) for _ in range(count)]
    stall = stub.Watch(framework_pb2.WatchRequest(user="bench", after_seq=after_seq)) if stalled else None
    await asyncio.sleep(1.0)
    print("subscribed", flush=True)
    await asyncio.wait_for(asyncio.gather(*tasks), 120)
    print(json.dumps(latencies), flush=True)
    if stall is not None:
        stall.cancel()
    await channel.close()


async def bench_watch(state: Path, count: int, rate: int, seconds: float) -> None:
    from k12ai_server.app import Server
    from k12ai_server.config import ServerConfig

    server = await Server.start(
        ServerConfig(grpc_port=0, http_port=0, data_root=state / "w-data", state_dir=state / "w-state")
    )
    try:
        free = await _produce(server, count, rate, seconds, stalled=False)
        stalled = await _produce(server, count, rate, seconds, stalled=True)
    finally:
        await server.stop()
    print(
        f"2. Watch delivery latency, {count} subscribers, {rate} events/s for {seconds:.0f} s "
        f"(event stored durably, then fanned out)"
    )
    print(row(f"stored -> received, all reading ({len(free)})", free))
    print(row(f"same, plus one watcher that never reads ({len(stalled)})", stalled, pct(free, 50)))


async def _produce(server: Any, count: int, rate: int, seconds: float, *, stalled: bool) -> list[float]:
    from k12ai_server.events.record import EventRecord

    total = int(rate * seconds)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        __file__,
        "--subscribers",
        str(count),
        "--target",
        f"127.0.0.1:{server.grpc_port}",
        "--expect",
        str(total),
        *(["--stalled"] if stalled else []),
        *("--after-seq", str(server.events.last_seq())),
        stdout=asyncio.subprocess.PIPE,
        limit=1 << 28,
    )
    assert proc.stdout is not None
    await proc.stdout.readline()  # "subscribed"
    start = time.perf_counter()
    for i in range(total):
        # Paced against the clock, so a slow tick is made up rather than lost.
        delay = start + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        await server.events.append(
            [
                EventRecord(
                    type="metrics",
                    tag="framework",
                    op="train.start",
                    user="bench",
                    service_uuid="b",
                    payload={"sent_ns": time.time_ns(), "i": i},
                )
            ]
        )
    latencies: list[float] = json.loads(await proc.stdout.readline())
    await proc.wait()
    return latencies


# -- 3. start latency -------------------------------------------------------


def bench_start(target: str, repeats: int) -> None:
    spawn = []
    for _ in range(repeats):
        start = time.perf_counter_ns()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        spawn.append((time.perf_counter_ns() - start) / 1e6)
    to_running = []
    with K12AIClient(ClientConfig(target=target, user="bench")) as client:
        for i in range(repeats):
            body = {**json.loads(TRAIN_IRIS_PATH.read_text()), "service_uuid": f"start{i}"}
            start = time.perf_counter_ns()
            reply = client.train(body)
            for item in client.watch(job_id=reply.job_id):
                if isinstance(item, Event) and to_envelope(item).get("status", {}).get("state") == "running":
                    to_running.append((time.perf_counter_ns() - start) / 1e6)
                    break
            client.train({**body, "op": "train.stop", "service_params": {}})
    print("3. job start latency")
    print(row("bare `python -c pass` spawn (baseline)", spawn))
    print(row("train.start (k12ml) -> status running", to_running, pct(spawn, 50)))


def first_job(target: str) -> str:
    with K12AIClient(ClientConfig(target=target, user="bench")) as client:
        reply = client.train({**json.loads(TRAIN_IRIS_PATH.read_text()), "service_uuid": "unary"})
        for _ in client.watch(job_id=reply.job_id):
            pass
        return reply.job_id


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--echo-server", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--subscribers", type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument("--stalled", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--after-seq", type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument("--target", default="", help=argparse.SUPPRESS)
    p.add_argument("--expect", type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument("--calls", type=int, default=3000)
    p.add_argument("--watchers", type=int, default=100)
    p.add_argument("--rate", type=int, default=1000)
    p.add_argument("--seconds", type=float, default=5.0)
    p.add_argument("--starts", type=int, default=5)
    args = p.parse_args(argv)
    if args.echo_server:
        asyncio.run(echo_server())
        return
    if args.subscribers:
        asyncio.run(subscribers(args.target, args.subscribers, args.expect, args.stalled, args.after_seq))
        return
    with tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp)
        with k12ai_server(state) as target:
            bench_unary(target, first_job(target), args.calls)
            bench_start(target, args.starts)
        asyncio.run(bench_watch(state, args.watchers, args.rate, args.seconds))


if __name__ == "__main__":
    main()
