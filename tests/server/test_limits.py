"""Limits per job and per user, and each job's share of the CPU, through a real server and real workers."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from k12ai_api.v1 import common_pb2
from k12ai_client import AsyncK12AIClient, ClientConfig, ReplyError, to_envelope
from k12ai_server.app import Server
from k12ai_server.jobs.limits import CLUSTER_RUNNING_JOBS, cpu_share, running_slots
from tests.conftest import example, server_config
from tests.jobs import events_of, slow_training
from tests.k12nlp_requests import seed_train_request

Code = common_pb2.ReplyCode


def client_of(server: Server, user: str = "test") -> AsyncK12AIClient:
    return AsyncK12AIClient(ClientConfig(target=f"127.0.0.1:{server.grpc_port}", user=user))


def with_model(model: dict[str, Any]) -> dict[str, Any]:
    body = example("k12ml", "train_iris")
    body["service_params"]["model"] = model
    return body


@pytest.mark.parametrize(
    ("model", "key", "limit"),
    [
        ({"type": "gradient_boosting", "params": {"n_estimators": 10**15}}, "n_estimators", 10_000),
        ({"type": "random_forest", "params": {"max_depth": 5_000}}, "max_depth", 1_000),
        ({"type": "knn", "params": {"n_neighbors": 10**9}}, "n_neighbors", 100_000),
    ],
)
async def test_a_model_bigger_than_the_limit_is_refused_naming_the_key(
    client: AsyncK12AIClient, model: dict[str, Any], key: str, limit: int
) -> None:
    with pytest.raises(ReplyError) as refused:
        await client.train(with_model(model))
    assert refused.value.code == Code.REPLY_CODE_INVALID_PARAMS
    assert f"service_params.model.params.{key}:" in refused.value.message
    assert f"above the limit of {limit} per job" in refused.value.message


async def test_training_epochs_above_the_limit_are_refused(client: AsyncK12AIClient, server: Server) -> None:
    body = seed_train_request(server.config.data_root / "datasets" / "nlp")
    body["service_params"]["overrides"] = {"trainer.num_epochs": 10**6}
    with pytest.raises(ReplyError) as refused:
        await client.train(body)
    assert refused.value.code == Code.REPLY_CODE_INVALID_PARAMS
    assert "num_epochs: 1000000 is above the limit of 1000 per job" in refused.value.message


@pytest.fixture
async def two_slots(tmp_path: Path) -> AsyncIterator[Server]:
    server = await Server.start(server_config(tmp_path, max_running_jobs=2, max_running_jobs_per_user=1))
    yield server
    await server.stop()


async def test_one_user_cannot_hold_every_slot(two_slots: Server) -> None:
    async with client_of(two_slots, "alice") as alice, client_of(two_slots, "bob") as bob:
        first = await alice.train({**slow_training("a1"), "user": "alice"})
        second = await alice.train({**slow_training("a2"), "user": "alice"})
        assert first.code == Code.REPLY_CODE_SUCCESS
        assert second.code == Code.REPLY_CODE_JOB_QUEUED
        assert "at most 1 per user" in second.message
        # A free slot goes to another user, not to the user already running.
        other = await bob.train({**slow_training("b1"), "user": "bob"})
        assert other.code == Code.REPLY_CODE_SUCCESS
        for client, user, uuid in ((alice, "alice", "a1"), (alice, "alice", "a2"), (bob, "bob", "b1")):
            await client.train(
                {**slow_training(uuid), "user": user, "op": "train.stop", "service_params": {}}
            )
        ends = await asyncio.wait_for(
            asyncio.gather(*(events_of(alice, r.job_id) for r in (first, second, other))), 60
        )
    assert [end.state for _, end in ends] == ["stopped"] * 3


async def test_each_job_uses_its_share_of_the_cpu(tmp_path: Path) -> None:
    """Two slots: a job gets half the cores (not the libraries' default of all), and its pools use that."""
    server = await Server.start(server_config(tmp_path, max_running_jobs=2))
    try:
        async with client_of(server) as client:
            reply = await client.train(example("k12ml", "train_iris"))
            events, end = await asyncio.wait_for(events_of(client, reply.job_id), 120)
    finally:
        await server.stop()
    assert end.state == "finished"
    share = cpu_share(host_cpus=os.cpu_count() or 1, max_running=2)
    [report] = [p for p in (to_envelope(e)["info"] for e in events if e.type == "info") if "cpu_threads" in p]
    assert report["cpu_threads"] == share
    assert report["threads"] and set(report["threads"].values()) == {share}, report


def test_run_slots_default_to_the_cores_or_with_ray_to_the_cluster() -> None:
    assert running_slots(0, "local") == running_slots(0, "docker") == (os.cpu_count() or 1)
    # A server on a small host must not cap a cluster: Ray places jobs and holds the rest.
    assert running_slots(0, "ray") == CLUSTER_RUNNING_JOBS
    assert running_slots(3, "ray") == running_slots(3, "local") == 3
