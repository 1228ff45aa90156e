"""SIGTERM stops a ``k12ai-server`` with streams open: each stream is ended, telling its client
where to resume, and the process exits without waiting for any client to hang up."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
from collections.abc import Callable, Iterator
from typing import Any

import grpc
import pytest
import requests

from k12ai_api.v1 import framework_pb2, framework_pb2_grpc
from tests.conftest import ServerProcess

# A hang guard only: the server is expected to be gone long before.
EXIT_GUARD_S = 120
UNAVAILABLE = grpc.StatusCode.UNAVAILABLE.value[0]


def open_rest_stream(server: ServerProcess, *, sse: bool) -> Iterator[bytes]:
    """A Watch of every event of user test over REST, its first message already in."""
    headers = {"Accept": "text/event-stream"} if sse else {}
    reply = requests.get(
        f"http://127.0.0.1:{server.http_port}/k12ai/framework/events?user=test",
        headers=headers,
        stream=True,
        timeout=EXIT_GUARD_S,
    )
    assert reply.status_code == 200
    lines = reply.iter_lines()
    assert next(line for line in lines if line.strip())  # a heartbeat: the stream is live
    return lines


def rest_stream_end(lines: Iterator[bytes]) -> list[bytes]:
    return [line for line in lines if line.strip()]


async def grpc_stream_status(server: ServerProcess, first_seen: asyncio.Event) -> tuple[grpc.StatusCode, str]:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{server.grpc_port}") as channel:
        stream = framework_pb2_grpc.FrameworkStub(channel).Watch(framework_pb2.WatchRequest(user="test"))
        try:
            async for _ in stream:
                first_seen.set()
        except grpc.aio.AioRpcError as error:
            return error.code(), error.details() or ""
    raise AssertionError("the stream ended without a status")


async def test_sigterm_ends_open_rest_and_grpc_streams_and_the_server_exits(
    server_process: Callable[..., ServerProcess],
) -> None:
    server = server_process("--shutdown-grace-s", "3")
    loop = asyncio.get_running_loop()
    ndjson = await loop.run_in_executor(None, lambda: open_rest_stream(server, sse=False))
    sse = await loop.run_in_executor(None, lambda: open_rest_stream(server, sse=True))
    grpc_live = asyncio.Event()
    grpc_watch = asyncio.ensure_future(grpc_stream_status(server, grpc_live))
    await asyncio.wait_for(grpc_live.wait(), EXIT_GUARD_S)

    server.proc.send_signal(signal.SIGTERM)
    ndjson_end, sse_end = await asyncio.gather(
        loop.run_in_executor(None, rest_stream_end, ndjson), loop.run_in_executor(None, rest_stream_end, sse)
    )
    code, details = await asyncio.wait_for(grpc_watch, EXIT_GUARD_S)
    exit_code = await loop.run_in_executor(None, lambda: server.proc.wait(timeout=EXIT_GUARD_S))

    assert exit_code == 0
    error = json.loads(ndjson_end[-1])["error"]
    assert error["code"] == UNAVAILABLE
    assert "shutting down" in error["message"] and "after_seq=" in error["message"]
    assert sse_end[-2:][0] == b"event: error"
    sse_error: dict[str, Any] = json.loads(sse_end[-1].removeprefix(b"data: "))["error"]
    assert sse_error["code"] == UNAVAILABLE
    assert code == grpc.StatusCode.UNAVAILABLE and "after_seq=" in details


@pytest.mark.parametrize("sse", [False, True], ids=["ndjson", "sse"])
def test_a_client_that_never_reads_does_not_hold_the_server(
    server_process: Callable[..., ServerProcess], sse: bool
) -> None:
    server = server_process("--shutdown-grace-s", "2")
    lines = open_rest_stream(server, sse=sse)  # opened, then never read again
    server.proc.send_signal(signal.SIGTERM)
    try:
        assert server.proc.wait(timeout=EXIT_GUARD_S) == 0
    except subprocess.TimeoutExpired:
        server.proc.kill()
        raise
    del lines
