"""Tokens, per-user isolation on every RPC, and the open-mode rules."""

from __future__ import annotations

import asyncio
from pathlib import Path

import grpc
import psutil
import pytest

from k12ai_api.v1 import common_pb2
from k12ai_client import ReplyError, RPCError, WatchState, reply_message
from k12ai_server.app import Server
from k12ai_server.security.policy import InsecureConfigError
from tests.conftest import assert_eventually, server_config
from tests.jobs import events_of, slow_training, state_is
from tests.security.callers import connect, control, stats

Code = common_pb2.ReplyCode


@pytest.mark.parametrize("token", ["", "k12ai_wrong"])
async def test_calls_without_a_valid_token_are_unauthenticated(secured: Server, token: str) -> None:
    async with connect(secured, "alice", token=token) as client:
        for call in (client.stats(stats("alice")), client.list_jobs(), client.get_job("x")):
            with pytest.raises(RPCError) as info:
                await call
            assert info.value.status == grpc.StatusCode.UNAUTHENTICATED
        with pytest.raises(RPCError) as watch_info:
            async for _ in client.watch(user="alice"):
                pass
        assert watch_info.value.status == grpc.StatusCode.UNAUTHENTICATED


async def test_health_stays_open(secured: Server) -> None:
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    async with grpc.aio.insecure_channel(f"127.0.0.1:{secured.grpc_port}") as channel:
        reply = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest())
    assert reply.status == health_pb2.HealthCheckResponse.SERVING


async def test_isolation_matrix(secured: Server) -> None:
    """Alice's token against every RPC on Bob's live job."""
    async with connect(secured, "bob") as bob, connect(secured, "alice") as alice:
        body = {**slow_training("bobs"), "user": "bob"}
        job_id = (await bob.train(body)).job_id
        await assert_eventually(lambda: state_is(bob, job_id, "running"), 60)
        bobs_container = job_id[:12]

        for call in (
            alice.train(body),
            alice.train({**body, "op": "train.stop", "service_params": {}}),
            alice.stats(stats("bob")),
            alice.control(control("bob", bobs_container)),
            alice.control(control("alice", bobs_container)),
        ):
            with pytest.raises(ReplyError) as refused:
                await call
            assert refused.value.code == Code.REPLY_CODE_PERMISSION_DENIED, refused.value

        for query, status in (
            (alice.get_job(job_id), grpc.StatusCode.NOT_FOUND),
            (alice.list_jobs(user="bob"), grpc.StatusCode.PERMISSION_DENIED),
        ):
            with pytest.raises(RPCError) as info:
                await query
            assert info.value.status == status
        for filters, status in (
            (WatchState(job_id=job_id), grpc.StatusCode.NOT_FOUND),
            (WatchState(user="bob"), grpc.StatusCode.PERMISSION_DENIED),
        ):
            with pytest.raises(RPCError) as info:
                async for _ in alice.watch(filters):
                    pass
            assert info.value.status == status

        assert await alice.list_jobs() == []
        containers = reply_message(await alice.stats(stats("alice")))["containers"]
        assert containers == []
        assert [c["user"] for c in reply_message(await bob.stats(stats("bob")))["containers"]] == ["bob"]

        # Bob's job ran on untouched; an admin may stop it.
        assert (await bob.get_job(job_id)).state == "running"
        async with connect(secured, "root") as root:
            await root.control(control("bob", bobs_container))
        _, end = await asyncio.wait_for(events_of(bob, job_id), 60)
        assert end.state == "stopped"


async def test_open_mode_is_refused_off_loopback(tmp_path: Path) -> None:
    with pytest.raises(InsecureConfigError, match="without tokens"):
        await Server.start(server_config(tmp_path, host="0.0.0.0"))


async def test_open_mode_off_loopback_needs_the_explicit_flag(tmp_path: Path) -> None:
    server = await Server.start(server_config(tmp_path, host="0.0.0.0", allow_open=True))
    try:
        listening = {
            c.laddr for c in psutil.Process().net_connections("tcp") if c.status == psutil.CONN_LISTEN
        }
        # Every interface: gRPC takes "0.0.0.0" as IPv6's "::", which takes IPv4 too.
        assert {("0.0.0.0", server.http_port)} <= listening
        assert listening & {("0.0.0.0", server.grpc_port), ("::", server.grpc_port)}
        # Serving, and open: a caller without a token acts as the user it names.
        async with connect(server, "anyone", token="") as client:
            reply = await client.stats(stats("anyone"))
        assert reply.code == Code.REPLY_CODE_SUCCESS
    finally:
        await server.stop()
