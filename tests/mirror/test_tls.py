"""The mirror to an HTTPS Consul agent (the test double) with mutual TLS, certificates made by the test."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from k12ai_server.app import Server
from k12ai_server.config import ConsulConfig
from tests.conftest import assert_eventually, server_config
from tests.mirror.consul_double import ConsulDouble
from tests.mirror.seed_mirror import client_for, mirror_caught_up, stats_async


@pytest.fixture
async def tls_consul(pki: Path) -> AsyncIterator[ConsulDouble]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(pki / "server.pem", pki / "server.key")
    context.load_verify_locations(cafile=pki / "ca.pem")
    context.verify_mode = ssl.CERT_REQUIRED
    double = ConsulDouble(tls=context)
    await double.start()
    yield double
    await double.stop()


async def test_events_reach_an_agent_over_mutual_tls(
    tmp_path: Path, pki: Path, tls_consul: ConsulDouble
) -> None:
    config = ConsulConfig(
        addr=f"https://localhost:{tls_consul.port}",  # the name the agent's certificate carries
        ca_file=pki / "ca.pem",
        client_cert=pki / "client.pem",
        client_key=pki / "client.key",
    )
    server = await Server.start(server_config(tmp_path, consul=config))
    try:
        async with client_for(server) as client:
            await stats_async(client)
        await mirror_caught_up(server)
        assert tls_consul.value("platform/test/uuid/query/result")["result"]["code"] == 100000
    finally:
        await server.stop()


async def test_without_the_client_certificate_the_agent_is_unreachable(
    tmp_path: Path, pki: Path, tls_consul: ConsulDouble
) -> None:
    config = ConsulConfig(addr=f"https://localhost:{tls_consul.port}", ca_file=pki / "ca.pem", register=False)
    server = await Server.start(server_config(tmp_path, consul=config))
    try:
        async with client_for(server) as client:
            await stats_async(client)
        assert server.consul is not None
        mirror = server.consul.mirror

        async def refused() -> bool:
            return mirror.health().failed_writes > 0

        await assert_eventually(refused, timeout_s=10)
        assert not mirror.health().connected and tls_consul.kv == {}
    finally:
        await server.stop()
