"""Does the Consul mirror slow the event path? Side by side in one run, same server code:

1. ``EventLog.append`` (store + fan-out, what a job's events go through) per event, and the
   event loop's lateness (a 5 ms timer's overshoot: what every RPC and Watch on the server
   waits behind), while events arrive at a steady rate over a set of keys, with the mirror
   off, on with Consul answering, and on with Consul down.
2. How long after the last event the mirror has written everything: Consul up throughout,
   and Consul coming back after the run (the next retry is up to 5 s away).

Consul is stood in for by a KV sink in a child process (PUT answered ``true``), since no Consul
binary can be had here; it measures k12ai's side, not Consul's.

    python scripts/bench_mirror.py [--rate 500] [--seconds 4] [--keys 40]
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchkit import pct, row

from k12ai_server.app import Server
from k12ai_server.config import ConsulConfig, ServerConfig
from k12ai_server.events.record import EventRecord

PROBE_S = 0.005


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def run_sink(port: int) -> None:
    from aiohttp import web

    async def put(request: web.Request) -> web.Response:
        await request.read()
        return web.json_response(True)

    async def main() -> None:
        app = web.Application()
        app.router.add_route("PUT", "/v1/kv/{key:.*}", put)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        print("sink ready", flush=True)
        await asyncio.Event().wait()

    asyncio.run(main())


def start_sink(port: int) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, __file__, "--sink", str(port)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None and "ready" in proc.stdout.readline()
    return proc


async def produce(server: Server, rate: int, seconds: float, keys: int) -> tuple[list[float], list[float]]:
    """Append paced events; the per-append times and the probe's overshoots, in ms."""
    lateness: list[float] = []
    done = asyncio.Event()

    async def probe() -> None:
        while not done.is_set():
            started = time.perf_counter()
            await asyncio.sleep(PROBE_S)
            lateness.append((time.perf_counter() - started - PROBE_S) * 1000)

    probe_task = asyncio.create_task(probe())
    appends: list[float] = []
    total = int(rate * seconds)
    start = time.perf_counter()
    for i in range(total):
        delay = start + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        event = EventRecord(
            type="metrics", tag="framework", op="train.start", user="bench", service_uuid=f"p{i % keys}",
            payload={"i": i, "accuracy": i / total, "loss": 1 - i / total},
        )  # fmt: skip
        t0 = time.perf_counter()
        await server.events.append([event])
        appends.append((time.perf_counter() - t0) * 1000)
    done.set()
    await probe_task
    return appends, lateness


async def caught_up_after(server: Server, timeout_s: float = 60.0) -> float:
    assert server.consul is not None
    started = time.perf_counter()
    while server.consul.mirror.health().lag_events or server.consul.mirror.health().buffered_keys:
        if time.perf_counter() - started > timeout_s:
            return float("inf")
        await asyncio.sleep(0.005)
    return (time.perf_counter() - started) * 1000


async def scenario(
    state: Path, consul_addr: str, args: argparse.Namespace
) -> tuple[list[float], list[float]]:
    consul = ConsulConfig(addr=consul_addr, register=False)
    server = await Server.start(
        ServerConfig(
            grpc_port=0, http_port=0, data_root=state / "data", state_dir=state / "state", consul=consul
        )
    )
    try:
        return await produce(server, args.rate, args.seconds, args.keys)
    finally:
        await server.stop()


async def main(args: argparse.Namespace) -> None:
    root = Path(tempfile.mkdtemp(prefix="bench-mirror-"))
    up_port, down_port = free_port(), free_port()
    sink = start_sink(up_port)
    results: dict[str, tuple[list[float], list[float]]] = {}
    try:
        results["mirror off"] = await scenario(root / "off", "", args)
        # Consul up: the same, plus how soon the mirror has written everything.
        config = ConsulConfig(addr=f"127.0.0.1:{up_port}", register=False)
        server = await Server.start(
            ServerConfig(
                grpc_port=0, http_port=0, data_root=root / "up", state_dir=root / "up-s", consul=config
            )
        )
        try:
            results["mirror on, Consul up"] = await produce(server, args.rate, args.seconds, args.keys)
            up_catch_up_ms = await caught_up_after(server)
            assert server.consul is not None
            up_writes = server.consul.mirror.health().writes
        finally:
            await server.stop()
        # Consul down for the whole run, back afterwards.
        config = ConsulConfig(addr=f"127.0.0.1:{down_port}", register=False)
        server = await Server.start(
            ServerConfig(
                grpc_port=0, http_port=0, data_root=root / "dn", state_dir=root / "dn-s", consul=config
            )
        )
        try:
            results["mirror on, Consul down"] = await produce(server, args.rate, args.seconds, args.keys)
            assert server.consul is not None
            buffered = server.consul.mirror.health().buffered_keys
            launched = time.perf_counter()
            back = start_sink(down_port)
            try:
                down_catch_up_ms = await caught_up_after(server) + (time.perf_counter() - launched) * 1000
            finally:
                back.terminate()
                back.wait(10)
        finally:
            await server.stop()
    finally:
        sink.terminate()
        sink.wait(10)

    total = int(args.rate * args.seconds)
    print(f"1. event path, {total} events at {args.rate}/s over {args.keys} keys (ms)")
    base_append = pct(results["mirror off"][0], 50)
    base_late = pct(results["mirror off"][1], 50)
    for name, (appends, _) in results.items():
        print(row(f"EventLog.append, {name}", appends, base_append))
    for name, (_, lateness) in results.items():
        print(row(f"loop lateness, {name}", lateness, base_late))
    print("2. mirror catch-up after the last event")
    print(f"  Consul up throughout: {up_catch_up_ms:8.1f} ms ({up_writes} PUTs for {total} events)")
    print(
        f"  Consul back after the run ({buffered} keys buffered), from the sink's launch "
        f"(its start-up and the mirror's retry backoff, at most 5 s, included): {down_catch_up_ms:8.1f} ms"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rate", type=int, default=500)
    parser.add_argument("--seconds", type=float, default=4.0)
    # 4: one training's status/info/metrics/log keys; 40: ten such jobs at once.
    parser.add_argument("--keys", type=int, default=4)
    parser.add_argument("--sink", type=int, help=argparse.SUPPRESS)
    cli = parser.parse_args()
    if cli.sink:
        run_sink(cli.sink)
    else:
        asyncio.run(main(cli))
