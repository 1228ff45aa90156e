"""The GPU queue on a pretend inventory (``fake_gpus``): no driver needed, the allocation is real.

Two k12nlp trainings that each ask for a GPU (the seed's ``trainer.cuda_device: 0``) on a
one-GPU host: the second waits ``queued`` and starts only once the first has ended. On a host
with NVIDIA GPUs the same runs on NVML's inventory, the jobs on the devices they were given.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from k12ai_api.v1 import common_pb2
from k12ai_client import AsyncK12AIClient, ClientConfig, Event, to_envelope
from k12ai_server.app import Server
from k12ai_server.platform.gpus import NvmlGpus
from tests.conftest import server_config
from tests.jobs import events_of
from tests.k12nlp_requests import seed_train_request

Code = common_pb2.ReplyCode


@pytest.fixture
async def one_gpu_server(tmp_path: Path) -> AsyncIterator[Server]:
    server = await Server.start(server_config(tmp_path, fake_gpus=1))
    yield server
    await server.stop()


async def test_a_second_gpu_job_waits_for_the_only_gpu(one_gpu_server: Server) -> None:
    config = ClientConfig(target=f"127.0.0.1:{one_gpu_server.grpc_port}", user="test")
    async with AsyncK12AIClient(config) as client:
        body = seed_train_request(one_gpu_server.config.data_root / "datasets" / "nlp")
        body["service_params"]["trainer"]["cuda_device"] = 0
        first = await client.train({**body, "service_uuid": "gpu-first"})
        second = await client.train({**body, "service_uuid": "gpu-second"})
        assert first.code == Code.REPLY_CODE_SUCCESS
        assert second.code == Code.REPLY_CODE_JOB_QUEUED
        assert "1 free GPU" in second.message
        (first_events, first_end), (second_events, second_end) = await asyncio.wait_for(
            asyncio.gather(events_of(client, first.job_id), events_of(client, second.job_id)), 300
        )
    assert first_end.state == second_end.state == "finished"
    first_done = _status_seq(first_events, "finished")
    second_starting = _status_seq(second_events, "starting")
    assert second_starting > first_done, "the second job started while the first held the GPU"
    queued = [to_envelope(e)["status"] for e in second_events if _state(e) == "queued"]
    assert queued and queued[0]["position"] == 1
    assert [to_envelope(e)["status"].get("devices") for e in first_events if _state(e) == "starting"] == [[0]]


@pytest.mark.gpu
async def test_gpu_jobs_queue_on_the_hosts_real_gpus(tmp_path: Path) -> None:
    """One GPU job more than the host has GPUs: each runs on its own device, the last waits."""
    inventory = NvmlGpus().inventory()
    if not inventory:
        pytest.skip("NVML finds no NVIDIA GPU on this host")
    server = await Server.start(server_config(tmp_path))
    try:
        async with AsyncK12AIClient(
            ClientConfig(target=f"127.0.0.1:{server.grpc_port}", user="test")
        ) as client:
            body = seed_train_request(server.config.data_root / "datasets" / "nlp")
            body["service_params"]["trainer"]["cuda_device"] = 0
            replies = [
                await client.train({**body, "service_uuid": f"gpu-{i}"}) for i in range(len(inventory) + 1)
            ]
            assert [r.code for r in replies[:-1]] == [Code.REPLY_CODE_SUCCESS] * len(inventory)
            assert replies[-1].code == Code.REPLY_CODE_JOB_QUEUED
            ended = await asyncio.wait_for(
                asyncio.gather(*(events_of(client, r.job_id) for r in replies)), 300
            )
    finally:
        await server.stop()
    assert [end.state for _, end in ended] == ["finished"] * len(replies)
    devices = [
        to_envelope(e)["status"]["devices"] for events, _ in ended for e in events if _state(e) == "starting"
    ]
    assert sorted(d for ds in devices[:-1] for d in ds) == inventory
    infos = [" ".join(str(to_envelope(e)["info"]) for e in events if e.type == "info") for events, _ in ended]
    assert all("running on cuda:" in info for info in infos), infos
    last_started = _status_seq(ended[-1][0], "starting")
    assert any(last_started > _status_seq(events, "finished") for events, _ in ended[:-1])


def _state(event: Event) -> str:
    return str(to_envelope(event).get("status", {}).get("state", "")) if event.type == "status" else ""


def _status_seq(events: list[Event], state: str) -> int:
    return next(e.seq for e in events if _state(e) == state)
