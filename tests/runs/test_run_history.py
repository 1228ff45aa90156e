"""Run history through a real server and real k12ml jobs: every training kept by job id, the
latest in the seed's place, an earlier run evaluated by its job id, another framework's model
refused at the request, and retention."""

from __future__ import annotations

import asyncio
import io
import os
import tarfile
from pathlib import Path
from typing import Any

import pytest

from k12ai_api.v1 import common_pb2
from k12ai_client import AsyncK12AIClient, ClientConfig, ReplyError, to_envelope
from k12ai_contract.model_origin import ORIGIN_MEMBER, ModelOrigin, read_model_origin
from k12ai_contract.rundir import ProjectDir
from k12ai_server.app import Server
from k12ai_server.runs.retention import RetentionPolicy, prune_runs
from tests.conftest import example, server_config
from tests.jobs import run_to_end

Code = common_pb2.ReplyCode


def training(uuid: str, model: dict[str, Any]) -> dict[str, Any]:
    body = example("k12ml", "train_iris")
    body["service_uuid"] = uuid
    body["service_params"]["model"] = model
    return body


def evaluation(uuid: str, **params: Any) -> dict[str, Any]:
    body = example("k12ml", "evaluate_iris")
    body["service_uuid"] = uuid
    body["service_params"] = {"dataset": {"type": "builtin", "name": "iris"}, **params}
    return body


async def run(client: AsyncK12AIClient, call: Any, body: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    """The job's id and its metrics payloads, once it finished."""
    events, end = await run_to_end(client, call, body)
    assert end.state == "finished", (await client.get_job(end.job_id)).reason
    return end.job_id, [to_envelope(e)["metrics"] for e in events if e.type == "metrics"]


async def test_each_training_kept_and_an_earlier_one_evaluated_by_job_id(
    client: AsyncK12AIClient, server: Server
) -> None:
    first, first_metrics = await asyncio.wait_for(
        run(client, client.train, training("hist", {"type": "decision_tree", "params": {"max_depth": 1}})),
        120,
    )
    second, second_metrics = await asyncio.wait_for(
        run(client, client.train, training("hist", {"type": "random_forest"})), 120
    )
    # A one-split tree cannot tell three classes apart; the forest can: the two runs differ.
    assert first_metrics[-1]["accuracy"] < second_metrics[-1]["accuracy"]
    project = ProjectDir(server.config.data_root / "users" / "test" / "hist")
    assert project.run_archive(first).is_file() and project.run_archive(second).is_file()
    assert project.latest_archive.samefile(project.run_archive(second))
    assert read_model_origin(project.run_archive(first)) is not None

    _, earlier = await run(client, client.evaluate, evaluation("hist", job_id=first))
    _, latest = await run(client, client.evaluate, evaluation("hist"))
    keys = ("accuracy", "f1_macro")
    assert {k: earlier[-1][k] for k in keys} == {k: first_metrics[-1][k] for k in keys}
    assert {k: latest[-1][k] for k in keys} == {k: second_metrics[-1][k] for k in keys}


async def test_another_frameworks_model_is_refused_before_a_job_starts(
    client: AsyncK12AIClient, server: Server
) -> None:
    await asyncio.wait_for(run(client, client.train, training("cross", {"type": "knn"})), 120)
    before = await client.list_jobs(service_uuid="cross")
    data = server.config.data_root / "sst_test.txt"
    body = {
        "op": "evaluate.start",
        "service_name": "k12nlp",
        "service_uuid": "cross",
        "service_params": {"input_file": str(data)},
    }
    with pytest.raises(ReplyError) as refused:
        await client.evaluate(body)
    assert refused.value.code == Code.REPLY_CODE_TASK_START_FAILED
    assert "trained by k12ml" in refused.value.message and "not k12nlp" in refused.value.message
    assert len(await client.list_jobs(service_uuid="cross")) == len(before)


@pytest.mark.parametrize(
    ("job_id", "code", "words"),
    [
        ("0123abcd", Code.REPLY_CODE_TASK_START_FAILED, "model.tar.gz is not found in"),
        ("../../other", Code.REPLY_CODE_INVALID_PARAMS, "service_params.job_id: expected the job id"),
        (7, Code.REPLY_CODE_INVALID_PARAMS, "service_params.job_id: expected the job id"),
    ],
)
async def test_an_unknown_or_malformed_run_is_refused(
    client: AsyncK12AIClient, job_id: Any, code: int, words: str
) -> None:
    with pytest.raises(ReplyError) as refused:
        await client.evaluate(evaluation("norun", job_id=job_id))
    assert refused.value.code == code
    assert words in refused.value.message


async def test_retention_keeps_the_newest_runs_and_the_latest(tmp_path: Path) -> None:
    server = await Server.start(server_config(tmp_path, keep_runs=2))
    try:
        async with AsyncK12AIClient(ClientConfig(target=f"127.0.0.1:{server.grpc_port}", user="test")) as c:
            model = {"type": "decision_tree"}
            runs = [(await run(c, c.train, training("kept", model)))[0] for _ in range(3)]
    finally:
        await server.stop()
    project = ProjectDir(tmp_path / "data" / "users" / "test" / "kept")
    assert sorted(p.name for p in project.runs.iterdir()) == sorted(runs[1:])
    assert project.latest_archive.samefile(project.run_archive(runs[2]))


def _run_folder(project: ProjectDir, job_id: str, created: int) -> int:
    """A run folder holding an archive as a k12ml training writes it; returns its size."""
    project.run(job_id).mkdir(parents=True)
    with tarfile.open(project.run_archive(job_id), "w:gz") as tar:
        for name, data in (
            (ORIGIN_MEMBER, ModelOrigin("k12ml", job_id).to_member()),
            ("w", os.urandom(4000)),
        ):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    os.utime(project.run(job_id), ns=(created * 1_000_000, created * 1_000_000))
    return project.run_archive(job_id).stat().st_size


def test_prune_by_bytes_removes_oldest_first_and_never_the_latest_or_a_live_run(tmp_path: Path) -> None:
    project = ProjectDir(tmp_path)
    size = max(_run_folder(project, job_id, created=n) for n, job_id in enumerate(["a", "b", "c", "d", "e"]))
    # "a" is the latest model (a link to its archive, as a training leaves it); "c" is still training.
    os.link(project.run_archive("a"), project.latest_archive)
    created = {"b": 1, "c": 2, "d": 3}  # the store knows these; "a" and "e" go by their folders' age
    policy = RetentionPolicy(keep_runs=0, keep_bytes=int(3.5 * size))
    removed = prune_runs(project, policy, created, {"c"})
    # a (latest) and c (live) are kept whatever their age; b and d, the oldest others, make room.
    assert removed == ["b", "d"]
    assert sorted(p.name for p in project.runs.iterdir()) == ["a", "c", "e"]
