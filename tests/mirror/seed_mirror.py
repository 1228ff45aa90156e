"""What the mirror tests share: the seeds' keys and envelope, k12ml jobs and an async stats query
through a mirroring server, and waiting for the mirror to catch up."""

from __future__ import annotations

import re
import time
from typing import Any

from k12ai_client import AsyncK12AIClient, ClientConfig, Event, JobEnd, to_envelope
from k12ai_server.app import Server
from tests.conftest import assert_eventually, example

ENVELOPE_KEYS = {"version", "type", "tag", "op", "user", "service_uuid", "timestamp", "datetime"}
# What the seeds' readers find after a k12ml train, evaluate and predict of project 123456 and
# an async stats query of project "uuid": framework/{user}/{uuid}/{op}/{type}, platform/.../query/result.
# Every finished job ends with a `result` event (its final metrics, or its predictions' count).
SEED_KEYS = {
    "framework/test/123456/train.start/status",
    "framework/test/123456/train.start/info",
    "framework/test/123456/train.start/metrics",
    "framework/test/123456/train.start/result",
    "framework/test/123456/evaluate.start/status",
    "framework/test/123456/evaluate.start/info",
    "framework/test/123456/evaluate.start/metrics",
    "framework/test/123456/evaluate.start/result",
    "framework/test/123456/predict.start/status",
    "framework/test/123456/predict.start/info",
    "framework/test/123456/predict.start/predict",
    "framework/test/123456/predict.start/result",
    "platform/test/uuid/query/result",
}
STATS_QUERY = {"cpus": True, "gpus": True, "disks": False, "containers": True}


def client_for(server: Server) -> AsyncK12AIClient:
    return AsyncK12AIClient(ClientConfig(target=f"127.0.0.1:{server.grpc_port}", user="test"))


async def run_job(client: AsyncK12AIClient, kind: str) -> tuple[str, list[Event]]:
    """Start a k12ml example job, follow it to its end; its final state and events."""
    reply = await getattr(client, kind)(example("k12ml", f"{kind}_iris"))
    events: list[Event] = []
    state = ""
    async for item in client.watch(job_id=reply.job_id):
        if isinstance(item, Event):
            events.append(item)
        elif isinstance(item, JobEnd):
            state = item.state
    return state, events


async def stats_async(client: AsyncK12AIClient) -> None:
    """An async stats query of project "uuid"; returns once its result event is stored."""
    sent_ms = time.time_ns() // 1_000_000
    await client.stats(
        {"op": "query", "service_name": "k12platform", "service_uuid": "uuid", "async": True,
         "service_params": STATS_QUERY}
    )  # fmt: skip
    async for item in client.watch(service_uuid="uuid", op="query", types=["result"]):
        if isinstance(item, Event) and item.timestamp >= sent_ms:  # not an earlier query's
            return


async def mirror_caught_up(server: Server) -> None:
    assert server.consul is not None
    mirror = server.consul.mirror

    async def caught_up() -> bool:
        health = mirror.health()
        return health.lag_events == 0 and health.buffered_keys == 0

    await assert_eventually(caught_up, timeout_s=30)


def latest_envelopes(events: list[Event]) -> dict[str, dict[str, Any]]:
    latest: dict[str, dict[str, Any]] = {}
    for event in events:
        latest[f"{event.tag}/{event.user}/{event.service_uuid}/{event.op}/{event.type}"] = to_envelope(event)
    return latest


def assert_seed_envelope(key: str, value: dict[str, Any]) -> None:
    tag, user, uuid, op, type_ = key.split("/")
    assert set(value) == ENVELOPE_KEYS | {type_}, key
    assert (value["tag"], value["user"], value["service_uuid"], value["op"], value["type"]) == (
        tag, user, uuid, op, type_,
    )  # fmt: skip
    assert value["version"] == "0.1.0"
    assert isinstance(value["timestamp"], int) and value["timestamp"] > 1.5e12  # ms, a JSON number
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", value["datetime"])
