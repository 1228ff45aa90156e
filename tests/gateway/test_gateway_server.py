"""The gateway as k12ai-server runs it: following a real job, hang-ups, tokens and TLS over REST."""

from __future__ import annotations

import json
import logging
import socket
import ssl
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import psutil
import pytest

from k12ai_server.app import Server
from k12ai_server.cli import parse_args
from tests.conftest import TOKENS, assert_eventually, example, server_config
from tests.gateway.conftest import start_envoy
from tests.jobs import slow_training
from tests.pki import tls_server

PERMISSION_DENIED = 100300


def url(server: Server, path: str, scheme: str = "http", host: str = "127.0.0.1") -> str:
    return f"{scheme}://{host}:{server.http_port}{path}"


async def post(server: Server, path: str, body: Any, **kwargs: Any) -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession() as session,
        session.post(url(server, path), json=body, **kwargs) as reply,
    ):
        return reply.status, await reply.json()


async def test_ndjson_follows_a_running_job_line_by_line(server: Server) -> None:
    status, started = await post(server, "/k12ai/framework/train", slow_training("follow"))
    assert (status, started["code"]) == (200, 100000)
    job_id = started["job_id"]
    watch = url(server, f"/k12ai/framework/events?job_id={job_id}&types=metrics&types=status")
    lines: list[dict[str, Any]] = []
    stopped = False
    async with aiohttp.ClientSession() as session, session.get(watch) as reply:
        assert reply.headers["Transfer-Encoding"] == "chunked"
        async for raw in reply.content:  # one line per stream message, as `curl -N` prints them
            lines.append(json.loads(raw))
            running = any(e["payload"].get("state") == "running" for e in lines[-1]["result"]["events"])
            if running and not stopped:
                # A line arrives while the job still runs: the stream is not held back to its end.
                job = server.jobs.get(job_id)
                assert job is not None and not job.state.is_terminal()
                stop = {**slow_training("follow"), "op": "train.stop"}
                assert (await post(server, "/k12ai/framework/train", stop))[1]["code"] == 100000
                stopped = True
    assert stopped
    assert lines[-1]["result"]["end"] == {"job_id": job_id, "state": "stopped"}


async def test_event_source_follows_a_job_to_its_end(server: Server) -> None:
    _, started = await post(server, "/k12ai/framework/train", example("k12ml", "train_iris"))
    watch = url(server, f"/k12ai/framework/events?job_id={started['job_id']}&types=status")
    async with (
        aiohttp.ClientSession() as session,
        session.get(watch, headers={"Accept": "text/event-stream"}) as reply,
    ):
        assert reply.content_type == "text/event-stream"
        text = await reply.text()
    messages = [data for _, data in sse_messages(text)]
    states = [e["payload"]["state"] for m in messages for e in m["result"]["events"]]
    assert states[-1] == "finished"
    assert messages[-1]["result"]["end"]["state"] == "finished"


def sse_messages(text: str) -> list[tuple[str | None, dict[str, Any]]]:
    """(id, data) of each server-sent event."""
    found = []
    for chunk in text.split("\n\n"):
        fields = dict(line.split(": ", 1) for line in chunk.splitlines() if ": " in line)
        if "data" in fields:
            found.append((fields.get("id"), json.loads(fields["data"])))
    return found


async def test_an_event_source_resumes_after_its_last_event_id(server: Server) -> None:
    _, started = await post(server, "/k12ai/framework/train", example("k12ml", "train_iris"))
    job_id = started["job_id"]
    await assert_eventually(lambda: _job_ended(server, job_id), 60)
    watch = url(server, f"/k12ai/framework/events?job_id={job_id}")
    sse = {"Accept": "text/event-stream"}
    async with aiohttp.ClientSession() as session:
        async with session.get(watch, headers=sse) as reply:
            whole = sse_messages(await reply.text())
        seqs = [int(e["seq"]) for _, m in whole for e in m["result"]["events"]]
        # Each message's id is the last seq it carries.
        assert all(i == m["result"]["events"][-1]["seq"] for i, m in whole if m["result"]["events"])
        resume_after = seqs[len(seqs) // 2]
        async with session.get(watch, headers={**sse, "Last-Event-ID": str(resume_after)}) as reply:
            resumed = sse_messages(await reply.text())
        # Newline-delimited JSON has no event ids: Last-Event-ID means nothing there.
        async with session.get(watch, headers={"Last-Event-ID": str(resume_after)}) as reply:
            plain = [json.loads(line) async for line in reply.content if line.strip()]
    assert [int(e["seq"]) for _, m in resumed for e in m["result"]["events"]] == [
        s for s in seqs if s > resume_after
    ]
    assert resumed[-1][1]["result"]["end"]["state"] == "finished"
    assert [int(e["seq"]) for m in plain for e in m["result"]["events"]] == seqs


async def _job_ended(server: Server, job_id: str) -> bool:
    job = server.jobs.get(job_id)
    return job is not None and job.state.is_terminal()


async def test_hanging_up_ends_the_server_stream(server: Server) -> None:
    events = server.events
    before = events.subscriber_count
    async with aiohttp.ClientSession() as session:
        reply = await session.get(url(server, "/k12ai/framework/events?user=test"))
        await reply.content.readline()  # a heartbeat at the latest: the watch is live
        assert events.subscriber_count == before + 1
        reply.close()

    async def unsubscribed() -> bool:
        return events.subscriber_count == before

    await assert_eventually(unsubscribed, timeout_s=5)


def bearer(user: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKENS[user]}"}


async def test_the_authorization_header_is_the_grpc_token(secured: Server) -> None:
    stats = {"op": "query", "user": "alice", "service_name": "k12platform", "service_uuid": "u"}
    assert await post(secured, "/k12ai/platform/stats", stats) == (
        401,
        {
            "code": 16,
            "message": "missing or invalid bearer token (metadata 'authorization: Bearer <token>')",
            "details": [],
        },
    )
    wrong = {"Authorization": "Bearer k12ai_wrong"}
    assert (await post(secured, "/k12ai/platform/stats", stats, headers=wrong))[0] == 401
    status, reply = await post(secured, "/k12ai/platform/stats", stats, headers=bearer("alice"))
    assert (status, reply["code"]) == (200, 100000)


async def test_one_users_token_on_another_users_job(secured: Server) -> None:
    body = {**example("k12ml", "train_iris"), "user": "bob"}
    _, started = await post(secured, "/k12ai/framework/train", body, headers=bearer("bob"))
    job_id = started["job_id"]
    status, reply = await post(
        secured, "/k12ai/framework/train", {**body, "op": "train.stop"}, headers=bearer("alice")
    )
    assert (status, reply["code"]) == (200, PERMISSION_DENIED)
    async with aiohttp.ClientSession(headers=bearer("alice")) as session:
        for path in (f"/k12ai/framework/jobs/{job_id}", f"/k12ai/framework/events?job_id={job_id}"):
            async with session.get(url(secured, path)) as answer:
                # Not confirmed to exist: the same answer as a job that does not.
                assert (answer.status, (await answer.json())["code"]) == (404, 5)
        async with session.get(url(secured, "/k12ai/framework/jobs?user=bob")) as answer:
            assert (answer.status, (await answer.json())["code"]) == (403, 7)
    async with (
        aiohttp.ClientSession(headers=bearer("root")) as admin,
        admin.get(url(secured, f"/k12ai/framework/jobs/{job_id}")) as answer,
    ):
        assert answer.status == 200


async def test_rest_calls_are_audited_with_the_callers_address(
    secured: Server, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="k12ai.audit")
    body = {**example("k12ml", "train_iris"), "user": "alice", "service_uuid": "audited-rest"}
    await post(secured, "/k12ai/framework/train", body, headers=bearer("alice"))
    await post(secured, "/k12ai/framework/train", {**body, "op": "train.stop"}, headers=bearer("bob"))
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "k12ai.audit"]
    assert [(line["caller"], line["op"], line["code"]) for line in lines] == [
        ("alice", "train.start", 100000),
        ("bob", "train.stop", PERMISSION_DENIED),
    ]
    assert all(line["peer"].startswith("ipv4:127.0.0.1:") for line in lines)


async def test_envoy_passes_the_token_too(secured: Server, tmp_path: Path) -> None:
    with start_envoy(tmp_path, secured.grpc_port) as proxy:
        stats = {"op": "query", "user": "alice", "service_name": "k12platform", "service_uuid": "u"}
        async with aiohttp.ClientSession() as session:
            async with session.post(f"{proxy.url}/k12ai/platform/stats", json=stats) as reply:
                assert (reply.status, (await reply.json())["code"]) == (401, 16)
            async with session.post(
                f"{proxy.url}/k12ai/platform/stats", json=stats, headers=bearer("alice")
            ) as reply:
                assert (reply.status, (await reply.json())["code"]) == (200, 100000)


STATS = {"op": "query", "user": "test", "service_name": "k12platform", "service_uuid": "u"}


async def test_tls_from_the_grpc_settings(tmp_path: Path, pki: Path) -> None:
    async with tls_server(tmp_path, pki) as server:
        trusting = ssl.create_default_context(cafile=pki / "ca.pem")
        async with aiohttp.ClientSession() as session:
            https = url(server, "/k12ai/platform/stats", "https", "localhost")
            async with session.post(https, json=STATS, ssl=trusting) as reply:
                assert (await reply.json())["code"] == 100000
            with pytest.raises(aiohttp.ClientConnectorCertificateError):
                await session.post(https, json=STATS)  # the system CAs do not know ours
            with pytest.raises(aiohttp.ClientError):
                await session.post(url(server, "/k12ai/platform/stats", "http", "localhost"), json=STATS)


async def test_mutual_tls_refuses_clients_without_a_certificate(tmp_path: Path, pki: Path) -> None:
    async with tls_server(tmp_path, pki, mutual=True) as server:
        https = url(server, "/k12ai/platform/stats", "https", "localhost")
        anonymous = ssl.create_default_context(cafile=pki / "ca.pem")
        with_cert = ssl.create_default_context(cafile=pki / "ca.pem")
        with_cert.load_cert_chain(pki / "client.pem", pki / "client.key")
        async with aiohttp.ClientSession() as session:
            async with session.post(https, json=STATS, ssl=with_cert) as reply:
                assert (await reply.json())["code"] == 100000
            with pytest.raises(aiohttp.ClientError):
                async with session.post(https, json=STATS, ssl=anonymous) as reply:
                    await reply.read()


PAGE = "http://page.example:8080"


@pytest.fixture
async def cors_server(tmp_path: Path) -> AsyncIterator[Server]:
    srv = await Server.start(server_config(tmp_path, cors_origins=(PAGE,)))
    yield srv
    await srv.stop()


async def test_a_listed_origin_may_call_and_follow(cors_server: Server) -> None:
    preflight = {
        "Origin": PAGE,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type",
    }
    async with aiohttp.ClientSession() as session:
        async with session.options(url(cors_server, "/k12ai/framework/train"), headers=preflight) as reply:
            assert reply.status == 204
            assert reply.headers["Access-Control-Allow-Origin"] == PAGE
            assert reply.headers["Access-Control-Allow-Methods"] == "OPTIONS, POST"
            assert reply.headers["Access-Control-Allow-Headers"] == "authorization, content-type"
        body = example("k12ml", "train_iris")
        async with session.post(
            url(cors_server, "/k12ai/framework/train"), json=body, headers={"Origin": PAGE}
        ) as reply:
            assert reply.headers["Access-Control-Allow-Origin"] == PAGE
            job_id = (await reply.json())["job_id"]
        watch = url(cors_server, f"/k12ai/framework/events?job_id={job_id}&types=status")
        headers = {"Origin": PAGE, "Accept": "text/event-stream"}
        async with session.get(watch, headers=headers) as reply:
            # The stream's headers carry it too, so an EventSource on the page may read it.
            assert reply.headers["Access-Control-Allow-Origin"] == PAGE
            assert (await reply.text()).endswith("\n\n")


async def test_other_origins_get_no_cors(cors_server: Server) -> None:
    other = {"Origin": "http://elsewhere.example", "Access-Control-Request-Method": "POST"}
    async with aiohttp.ClientSession() as session:
        async with session.options(url(cors_server, "/k12ai/framework/train"), headers=other) as reply:
            assert reply.status == 501  # no preflight answer: routing as without CORS
            assert "Access-Control-Allow-Origin" not in reply.headers
        async with session.get(url(cors_server, "/k12ai/framework/jobs"), headers=other) as reply:
            assert reply.status == 200
            assert "Access-Control-Allow-Origin" not in reply.headers


def test_cors_origins_from_flags_and_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert parse_args(["--cors-origin", PAGE, "--cors-origin", "*"]).cors_origins == (PAGE, "*")
    monkeypatch.setenv("K12AI_CORS_ORIGINS", f"{PAGE},http://two.example")
    assert parse_args([]).cors_origins == (PAGE, "http://two.example")
    monkeypatch.delenv("K12AI_CORS_ORIGINS")
    assert parse_args([]).cors_origins == ()


async def test_a_taken_rest_port_fails_the_start_cleanly(tmp_path: Path) -> None:
    before = _listening_ports()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(OSError, match="address already in use"):
            await Server.start(server_config(tmp_path, http_port=taken.getsockname()[1]))
        # The failed start stopped its gRPC server: it left no listening socket behind.
        assert _listening_ports() == before | {taken.getsockname()[1]}
    server = await Server.start(server_config(tmp_path))
    try:
        status, reply = await post(server, "/k12ai/platform/stats", STATS)
        assert (status, reply["code"]) == (200, 100000)
    finally:
        await server.stop()


def _listening_ports() -> set[int]:
    """The TCP ports this test process listens on."""
    connections = psutil.Process().net_connections(kind="tcp")
    return {c.laddr.port for c in connections if c.status == psutil.CONN_LISTEN}
