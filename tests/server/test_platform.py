"""Platform.Stats and Platform.Control in the later seed's shapes."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from k12ai_api.v1 import common_pb2
from k12ai_client import AsyncK12AIClient, Event, ReplyError, reply_message, to_envelope
from k12ai_server.platform.gpus import NvmlGpus
from tests.conftest import assert_eventually
from tests.jobs import events_of, slow_training, state_is

Code = common_pb2.ReplyCode
SEED_STATS_KEYS = {
    "cpu_percent", "cpu_percent_list", "cpu_memory_total", "cpu_memory_usage", "cpu_memory_percent",
    "gpus", "containers",
}  # fmt: skip
SEED_GPU_KEYS = {"name", "gpu_percent", "gpu_memory_total", "gpu_memory_usage", "gpu_memory_percent"}


def stats_request(is_async: bool, **params: Any) -> dict[str, Any]:
    return {
        "op": "query",
        "user": "test",
        "service_name": "k12platform",
        "service_uuid": "uuid",
        "async": is_async,
        "service_params": params or {"cpus": True, "gpus": True, "disks": False, "containers": True},
    }


def control_request(container_id: str, user: str = "test") -> dict[str, Any]:
    return {
        "op": "container.stop",
        "user": user,
        "service_name": "k12platform",
        "service_uuid": "uuid",
        "async": False,
        "service_params": {"id": container_id},
    }


async def test_sync_stats_has_the_seed_fields(client: AsyncK12AIClient) -> None:
    reply = await client.stats(stats_request(False))
    assert reply.code == 100000
    message = reply_message(reply)
    assert message.keys() >= SEED_STATS_KEYS
    assert "disks" not in message
    assert message["cpu_memory_total"] > message["cpu_memory_usage"] > 0
    assert len(message["cpu_percent_list"]) >= 1
    # The GPUs NVML shows this process (none without a driver), each with the seed's fields.
    assert [gpu["name"] for gpu in message["gpus"]] == [gpu.name for gpu in NvmlGpus().sample()]
    assert all(gpu.keys() == SEED_GPU_KEYS for gpu in message["gpus"])


async def test_async_stats_arrives_as_a_result_event(client: AsyncK12AIClient) -> None:
    reply = await client.stats(stats_request(True))
    assert reply.code == 100000
    # Whether it is stored before the watch starts or after, the watch delivers it.
    envelope = await asyncio.wait_for(_first_result(client), 10)
    assert (envelope["tag"], envelope["op"], envelope["type"]) == ("platform", "query", "result")
    assert envelope["result"]["code"] == 100000
    assert envelope["result"]["message"].keys() >= SEED_STATS_KEYS


async def test_unknown_stats_key_is_named(client: AsyncK12AIClient) -> None:
    with pytest.raises(ReplyError) as info:
        await client.stats(stats_request(False, cpu=True))
    assert info.value.code == Code.REPLY_CODE_INVALID_PARAMS
    assert "service_params.cpu" in info.value.message


async def test_control_unknown_id_answers_the_seed_message(client: AsyncK12AIClient) -> None:
    with pytest.raises(ReplyError) as info:
        await client.control(control_request("unknow"))
    assert info.value.code == 100202
    assert info.value.message == "container id unknow is not found"


async def test_running_job_shows_in_stats_and_container_stop_stops_it(client: AsyncK12AIClient) -> None:
    reply = await client.train(slow_training("stats"))
    await assert_eventually(lambda: state_is(client, reply.job_id, "running"), 60)
    containers = reply_message(await client.stats(stats_request(False)))["containers"]
    mine = [c for c in containers if c["service_uuid"] == "stats"]
    assert len(mine) == 1
    assert (mine[0]["op"], mine[0]["user"], len(mine[0]["id"])) == ("train.start", "test", 12)

    with pytest.raises(ReplyError) as info:
        await client.control(control_request(mine[0]["id"], user="mallory"))
    assert info.value.code == Code.REPLY_CODE_PERMISSION_DENIED

    stopped = await client.control(control_request(mine[0]["id"]))
    assert reply_message(stopped) == f"container id {mine[0]['id']} stop success"
    _, end = await asyncio.wait_for(events_of(client, reply.job_id), 60)
    assert end.state == "stopped"


async def _first_result(client: AsyncK12AIClient) -> dict[str, Any]:
    async for item in client.watch(user="test", service_uuid="uuid", op="query", types=["result"]):
        if isinstance(item, Event):
            return to_envelope(item)
    raise AssertionError("no result event")
