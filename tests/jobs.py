"""Jobs through a real server as the tests drive them: a long request, a job followed to its end."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Callable
from typing import Any

import psutil

from k12ai_api.v1 import common_pb2
from k12ai_client import AsyncK12AIClient, ClientConfig, Event, JobEnd, to_envelope
from tests.conftest import ServerProcess, assert_eventually, example


def slow_training(uuid: str = "slow") -> dict[str, Any]:
    """Long enough to stop or kill mid-way: many boosting stages on digits."""
    body = example("k12ml", "train_iris")
    body["service_uuid"] = uuid
    body["service_params"] = {
        "dataset": {"type": "builtin", "name": "digits"},
        "model": {"type": "gradient_boosting", "params": {"n_estimators": 3000}},
    }
    return body


async def events_of(client: AsyncK12AIClient, job_id: str, after_seq: int = 0) -> tuple[list[Event], JobEnd]:
    events: list[Event] = []
    async for item in client.watch(job_id=job_id, last_seq=after_seq):
        if isinstance(item, JobEnd):
            return events, item
        assert isinstance(item, Event)
        events.append(item)
    raise AssertionError("watch ended without JobEnd")


async def run_to_end(client: AsyncK12AIClient, call: Any, body: dict[str, Any]) -> tuple[list[Event], JobEnd]:
    reply = await call(body)
    assert reply.code == common_pb2.REPLY_CODE_SUCCESS
    return await asyncio.wait_for(events_of(client, reply.job_id), 120)


def states(events: list[Event]) -> list[str]:
    return [to_envelope(e)["status"]["state"] for e in events if e.type == "status"]


async def state_is(client: AsyncK12AIClient, job_id: str, state: str) -> bool:
    return (await client.get_job(job_id)).state == state


def workers_of(job_id: str) -> list[psutil.Process]:
    """The job's worker processes (session leaders: DataLoader-style forks do not count)."""
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        cmdline = proc.info["cmdline"] or []
        if "k12ai_worker" in cmdline and any(job_id in part for part in cmdline):
            with contextlib.suppress(psutil.Error):
                if proc.status() != psutil.STATUS_ZOMBIE:
                    found.append(proc)
    return found


def worker_of(job_id: str) -> psutil.Process:
    found = workers_of(job_id)
    if not found:
        raise AssertionError(f"no worker process for {job_id} (pid {os.getpid()} looked)")
    return found[0]


async def running_then_server_killed(start: Callable[..., ServerProcess], body: dict[str, Any]) -> str:
    """Start the training on a server process, then kill -9 that server once the job runs."""
    server = start()
    async with AsyncK12AIClient(ClientConfig(target=f"127.0.0.1:{server.grpc_port}", user="test")) as client:
        reply = await client.train(body)
        await assert_eventually(lambda: state_is(client, reply.job_id, "running"), 120)
    server.kill()
    return reply.job_id
