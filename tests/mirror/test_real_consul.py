"""The mirror's checks against a real Consul agent; skipped unless CONSUL_HTTP_ADDR names one.

    consul agent -dev &          # or any agent you may write framework/test/ and platform/test/ on
    CONSUL_HTTP_ADDR=127.0.0.1:8500 pytest tests/mirror/test_real_consul.py

Token and TLS come from the usual variables (CONSUL_HTTP_TOKEN, CONSUL_CACERT, ...). The test
deletes framework/test/123456/ and platform/test/uuid/ first. The outage is a TCP proxy in front
of the agent that cuts the line and restores it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from k12ai_server.app import Server
from k12ai_server.config import ConsulConfig
from k12ai_server.mirror import agent
from k12ai_server.mirror.settings import add_consul_args, consul_config
from tests.conftest import assert_eventually, server_config
from tests.mirror.seed_mirror import (
    SEED_KEYS,
    assert_seed_envelope,
    client_for,
    latest_envelopes,
    mirror_caught_up,
    run_job,
    stats_async,
)
from tests.tcp_proxy import TcpProxy

pytestmark = pytest.mark.skipif(
    not os.environ.get("CONSUL_HTTP_ADDR"),
    reason="needs a real Consul agent: set CONSUL_HTTP_ADDR (and CONSUL_HTTP_TOKEN with ACLs)",
)
PREFIXES = ("framework/test/123456/", "platform/test/uuid/")


class AgentKv:
    """Reads and cleans the real agent's KV through py-consul."""

    def __init__(self, config: ConsulConfig) -> None:
        self._client = agent.connect(config)
        self._token = config.token or None

    async def values(self) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for prefix in PREFIXES:
            _, entries = await self._client.kv.get(prefix, recurse=True, token=self._token)
            found |= {e["Key"]: json.loads(e["Value"]) for e in entries or ()}
        return found

    async def clear(self) -> None:
        for prefix in PREFIXES:
            await self._client.kv.delete(prefix, recurse=True, token=self._token)

    async def services(self) -> dict[str, Any]:
        services: dict[str, Any] = await self._client.agent.services()
        return services

    async def close(self) -> None:
        await self._client.close()


@pytest.fixture
def agent_config() -> ConsulConfig:
    parser = argparse.ArgumentParser()
    add_consul_args(parser)
    return consul_config(parser.parse_args([]))


@pytest.fixture
async def agent_kv(agent_config: ConsulConfig) -> AsyncIterator[AgentKv]:
    kv = AgentKv(agent_config)
    await kv.clear()
    yield kv
    await kv.close()


async def test_keys_and_values_match_the_seeds_on_a_real_agent(
    tmp_path: Path, agent_config: ConsulConfig, agent_kv: AgentKv
) -> None:
    server = await Server.start(server_config(tmp_path, consul=agent_config))
    try:
        events = []
        async with client_for(server) as client:
            for kind in ("train", "evaluate", "predict"):
                state, job_events = await run_job(client, kind)
                assert state == "finished"
                events += job_events
            await stats_async(client)
        await mirror_caught_up(server)

        async def result_landed() -> bool:
            return "platform/test/uuid/query/result" in await agent_kv.values()

        await assert_eventually(result_landed, timeout_s=10)
        values = await agent_kv.values()
        assert set(values) == SEED_KEYS
        expected = latest_envelopes(events)
        for key, value in values.items():
            assert_seed_envelope(key, value)
            if key in expected:
                assert value == expected[key]
        assert values["platform/test/uuid/query/result"]["result"]["code"] == 100000
    finally:
        await server.stop()


async def test_an_outage_of_the_real_agent_leaves_the_job_alone_and_the_mirror_converges(
    tmp_path: Path, agent_config: ConsulConfig, agent_kv: AgentKv
) -> None:
    target = agent.parse_addr(agent_config.addr)
    proxy = TcpProxy(target.host, target.port)
    await proxy.start()
    addr = f"{target.scheme}://{proxy.addr}"
    server = await Server.start(
        server_config(tmp_path, consul=replace(agent_config, addr=addr, register=False))
    )
    try:
        await proxy.stop()
        async with client_for(server) as client:
            state, events = await run_job(client, "train")
        assert state == "finished"
        assert server.consul is not None
        mirror = server.consul.mirror

        async def lag_visible() -> bool:
            health = mirror.health()
            return not health.connected and health.lag_events > 0 and health.buffered_keys > 0

        await assert_eventually(lag_visible, timeout_s=10)
        assert await agent_kv.values() == {}
        await proxy.start()
        await mirror_caught_up(server)
        expected = latest_envelopes(events)
        assert await agent_kv.values() == expected
    finally:
        await server.stop()
        await proxy.stop()


async def test_registration_on_a_real_agent(tmp_path: Path, agent_config: ConsulConfig) -> None:
    kv = AgentKv(agent_config)
    server = await Server.start(server_config(tmp_path, consul=agent_config))
    try:
        assert server.consul is not None and server.consul.registration is not None
        await asyncio.wait_for(server.consul.registration.registered.wait(), 10)
        service_id = server.consul.registration.definition.service_id
        service = (await kv.services())[service_id]
        assert service["Service"] == "k12ai" and service["Port"] == server.grpc_port
        assert service["Meta"]["http_port"] == str(server.http_port)
    finally:
        await server.stop()
    try:
        assert service_id not in await kv.services()
    finally:
        await kv.close()
