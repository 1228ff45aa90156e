"""The REST port's timeouts: headers that never finish (slowloris), and Grpc-Timeout on streams."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from k12ai_server.app import Server
from tests.conftest import server_config

SLOW_CONNECTIONS = 250
HEADER_TIMEOUT_S = 1.0
# A hang guard only: every connection is expected to be closed soon after HEADER_TIMEOUT_S.
CLOSED_GUARD_S = 120
DEADLINE_EXCEEDED = 4


@pytest.fixture
async def short_header_timeout(tmp_path: Path) -> AsyncIterator[Server]:
    server = await Server.start(server_config(tmp_path, http_header_timeout_s=HEADER_TIMEOUT_S))
    yield server
    await server.stop()


async def slow_client(port: int, *, trickle: bool) -> bytes:
    """Start a request whose headers never end (or end one byte at a time, forever); what the server sent
    before closing the connection."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /k12ai/framework/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    await writer.drain()

    async def trickle_forever() -> None:
        while True:
            await asyncio.sleep(0.1)
            writer.write(b"X")
            await writer.drain()

    trickler = asyncio.ensure_future(trickle_forever()) if trickle else None
    try:
        return await reader.read()  # b"" once the server closes
    except ConnectionResetError:
        return b""
    finally:
        if trickler is not None:
            trickler.cancel()
        writer.close()


async def test_connections_that_never_finish_their_headers_are_closed(short_header_timeout: Server) -> None:
    port = short_header_timeout.http_port
    slow = [asyncio.ensure_future(slow_client(port, trickle=i % 2 == 1)) for i in range(SLOW_CONNECTIONS)]
    # Meanwhile the port still serves whole requests.
    jobs = f"http://127.0.0.1:{port}/k12ai/framework/jobs"
    async with aiohttp.ClientSession() as session, session.get(jobs) as reply:
        assert reply.status == 200
    answers = await asyncio.wait_for(asyncio.gather(*slow), CLOSED_GUARD_S)
    assert len(answers) == SLOW_CONNECTIONS
    # Closed without an answer: there was never a whole request to answer.
    assert set(answers) == {b""}


@pytest.mark.parametrize("sse", [False, True], ids=["ndjson", "sse"])
async def test_grpc_timeout_ends_a_rest_stream(server: Server, sse: bool) -> None:
    headers = {"Grpc-Timeout": "1500m", **({"Accept": "text/event-stream"} if sse else {})}
    url = f"http://127.0.0.1:{server.http_port}/k12ai/framework/events?user=test"
    async with aiohttp.ClientSession() as session, session.get(url, headers=headers) as reply:
        assert reply.status == 200
        body = await asyncio.wait_for(reply.read(), CLOSED_GUARD_S)
    lines = [line for line in body.split(b"\n") if line.strip()]
    last = json.loads(lines[-1].removeprefix(b"data: "))
    assert last["error"]["code"] == DEADLINE_EXCEEDED
    assert last["error"]["message"] == "Deadline Exceeded"
    if sse:
        assert lines[-2] == b"event: error"


async def test_grpc_timeout_before_the_first_message_is_a_504(tmp_path: Path) -> None:
    # No event and no heartbeat for a minute: the deadline comes before the stream's first message.
    server = await Server.start(server_config(tmp_path, heartbeat_s=60.0))
    url = f"http://127.0.0.1:{server.http_port}/k12ai/framework/events?user=test"
    try:
        async with (
            aiohttp.ClientSession() as session,
            session.get(url, headers={"Grpc-Timeout": "300m"}) as reply,
        ):
            assert reply.status == 504
            body = await reply.json()
    finally:
        await server.stop()
    assert body == {"code": DEADLINE_EXCEEDED, "message": "Deadline Exceeded", "details": []}
