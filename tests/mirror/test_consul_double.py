"""The Consul test double behaves as Consul documents it, seen through py-consul (the client k12ai uses)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from k12ai_server.config import ConsulConfig
from k12ai_server.mirror import agent
from tests.conftest import assert_eventually
from tests.mirror.consul_double import ConsulDouble


@pytest.fixture
async def client(consul: ConsulDouble) -> AsyncIterator[Any]:
    c = agent.connect(ConsulConfig(addr=consul.addr))
    yield c
    await c.close()


async def test_kv_put_get_recurse_keys_and_delete(client: Any) -> None:
    assert await client.kv.put("framework/test/1/train.start/metrics", b'{"a": 1}')
    assert await client.kv.put("framework/test/1/train.start/status", b"{}")
    assert await client.kv.put("framework/test/2/train.start/status", b"{}")
    index, entry = await client.kv.get("framework/test/1/train.start/metrics")
    assert entry["Value"] == b'{"a": 1}' and entry["ModifyIndex"] == int(index)
    _, entries = await client.kv.get("framework/test/1/", recurse=True)
    assert [e["Key"] for e in entries] == [
        "framework/test/1/train.start/metrics",
        "framework/test/1/train.start/status",
    ]
    _, keys = await client.kv.get("framework/test/", keys=True, separator="/")
    assert keys == ["framework/test/1/", "framework/test/2/"]
    assert await client.kv.delete("framework/test/1/", recurse=True)
    _, missing = await client.kv.get("framework/test/1/train.start/metrics")
    assert missing is None
    _, left = await client.kv.get("framework/", recurse=True)
    assert [e["Key"] for e in left] == ["framework/test/2/train.start/status"]


async def test_check_and_set(client: Any) -> None:
    assert await client.kv.put("k", b"1", cas=0)
    assert not await client.kv.put("k", b"2", cas=0)  # 0: only when absent
    _, entry = await client.kv.get("k")
    assert not await client.kv.put("k", b"2", cas=entry["ModifyIndex"] + 1)
    assert await client.kv.put("k", b"2", cas=entry["ModifyIndex"])
    assert not await client.kv.delete("k", cas=entry["ModifyIndex"])  # stale index
    _, entry = await client.kv.get("k")
    assert entry["Value"] == b"2"


async def test_a_blocking_query_waits_for_a_change_or_its_wait(client: Any, consul: ConsulDouble) -> None:
    index, _ = await client.kv.get("watched")
    started = time.monotonic()
    _, nothing = await client.kv.get("watched", index=index, wait="200ms")
    assert nothing is None and time.monotonic() - started >= 0.2

    query = asyncio.create_task(client.kv.get("watched", index=index, wait="5m"))

    async def blocked() -> bool:
        return consul.blocked_queries == 1

    await assert_eventually(blocked)
    await client.kv.put("watched", b"now")  # the change wakes the waiting query
    new_index, entry = await asyncio.wait_for(query, 30)
    assert entry["Value"] == b"now" and int(new_index) > int(index)


async def test_service_register_and_deregister(client: Any, consul: ConsulDouble) -> None:
    from consul import Check

    check = Check.grpc("127.0.0.1:8118", "10s")
    assert await client.agent.service.register("k12ai", service_id="k12ai-1", port=8118, check=check)
    services = await client.agent.services()
    assert services["k12ai-1"]["Service"] == "k12ai" and services["k12ai-1"]["Port"] == 8118
    assert await client.agent.service.deregister("k12ai-1")
    assert await client.agent.services() == {}
    # 404 "Unknown service ID", which py-consul reads as False.
    assert not await client.agent.service.deregister("k12ai-1")
    assert ("PUT", "/v1/agent/service/deregister/k12ai-1") in consul.requests
    with pytest.raises(Exception, match="Interval"):
        await client.agent.service.register("k12ai", check={"grpc": "127.0.0.1:8118"})


async def test_an_acl_token_is_required_when_set() -> None:
    consul = ConsulDouble(acl_token="s3cret")
    await consul.start()
    anonymous = agent.connect(ConsulConfig(addr=consul.addr))
    try:
        with pytest.raises(Exception, match="Permission denied"):
            await anonymous.kv.put("k", b"v")
        assert await anonymous.kv.put("k", b"v", token="s3cret")
    finally:
        await anonymous.close()
        await consul.stop()


async def test_down_refuses_connections_and_up_keeps_the_data(client: Any, consul: ConsulDouble) -> None:
    assert await client.kv.put("k", b"v")
    await consul.stop()
    with pytest.raises(OSError):
        await client.kv.get("k")
    await consul.start()
    _, entry = await client.kv.get("k")
    assert entry["Value"] == b"v"
