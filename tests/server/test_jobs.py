"""Jobs end to end through a real server and real worker processes (k12ml)."""

from __future__ import annotations

import asyncio
import json
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from k12ai_api.v1 import common_pb2
from k12ai_client import AsyncK12AIClient, ClientConfig, Event, ReplyError, to_envelope
from k12ai_contract.rundir import RunDir
from k12ai_server.app import Server
from tests.conftest import ServerProcess, assert_eventually, example
from tests.jobs import (
    events_of,
    run_to_end,
    running_then_server_killed,
    slow_training,
    state_is,
    states,
    worker_of,
)

Code = common_pb2.ReplyCode
SEED_ENVELOPE_KEYS = {"version", "type", "tag", "op", "user", "service_uuid", "timestamp", "datetime"}


async def test_train_evaluate_predict_k12ml(client: AsyncK12AIClient, server: Server) -> None:
    events, end = await run_to_end(client, client.train, example("k12ml", "train_iris"))
    assert end.state == "finished"
    assert states(events) == ["queued", "starting", "running", "finished"]
    metrics = [to_envelope(e) for e in events if e.type == "metrics"]
    assert metrics and metrics[-1]["metrics"]["accuracy"] > 0.8
    envelope = metrics[-1]
    assert envelope.keys() >= SEED_ENVELOPE_KEYS
    assert (envelope["tag"], envelope["op"], envelope["user"]) == ("framework", "train.start", "test")
    assert [e.seq for e in events] == sorted({e.seq for e in events})
    cache = server.config.data_root / "users" / "test" / "123456"
    assert (cache / "model.tar.gz").is_file()

    events, end = await run_to_end(client, client.evaluate, example("k12ml", "evaluate_iris"))
    assert end.state == "finished"
    assert any(e.type == "metrics" and "accuracy" in to_envelope(e)["metrics"] for e in events)

    events, end = await run_to_end(client, client.predict, example("k12ml", "predict_iris"))
    assert end.state == "finished"
    predictions = [to_envelope(e)["predict"] for e in events if e.type == "predict"]
    assert predictions and predictions[0]["index"] == 0
    assert {"logits", "class_probabilities", "label"} <= json.loads(predictions[0]["prediction"]).keys()


async def test_two_concurrent_watchers_see_the_same_events(client: AsyncK12AIClient) -> None:
    reply = await client.train(example("k12ml", "train_iris"))
    first, second = await asyncio.wait_for(
        asyncio.gather(events_of(client, reply.job_id), events_of(client, reply.job_id)), 120
    )
    assert [e.seq for e in first[0]] == [e.seq for e in second[0]]
    assert first[1].state == second[1].state == "finished"


async def test_watch_resumes_from_a_seq_with_no_gap_and_no_duplicate(client: AsyncK12AIClient) -> None:
    reply = await client.train(example("k12ml", "train_iris"))
    seen: list[Event] = []
    async for item in client.watch(job_id=reply.job_id):
        assert isinstance(item, Event)
        seen.append(item)
        if len(seen) == 3:
            break  # the connection is gone; the client remembers seq
    rest, end = await asyncio.wait_for(events_of(client, reply.job_id, after_seq=seen[-1].seq), 120)
    everything, _ = await events_of(client, reply.job_id)
    assert [e.seq for e in seen + rest] == [e.seq for e in everything]
    assert end.state == "finished"


async def test_duplicate_start_then_stop(client: AsyncK12AIClient) -> None:
    body = slow_training()
    reply = await client.train(body)
    with pytest.raises(ReplyError) as info:
        await client.train(body)
    assert info.value.code == Code.REPLY_CODE_JOB_ALREADY_RUNNING
    assert reply.job_id in info.value.message

    await assert_eventually(lambda: state_is(client, reply.job_id, "running"), 60)
    stop = await client.train({**body, "op": "train.stop", "service_params": {}})
    assert stop.job_id == reply.job_id
    events, end = await asyncio.wait_for(events_of(client, reply.job_id), 60)
    assert end.state == "stopped"
    assert states(events)[-1] == "stopped"
    job = await client.get_job(reply.job_id)
    assert job.state == "stopped" and job.reason == "stopped on request"
    # The identity is free again.
    again = await client.train(body)
    await client.train({**body, "op": "train.stop", "service_params": {}})
    await asyncio.wait_for(events_of(client, again.job_id), 60)


async def test_a_crashed_worker_fails_the_job_with_the_reason(client: AsyncK12AIClient) -> None:
    reply = await client.train(slow_training("crash"))
    await assert_eventually(lambda: state_is(client, reply.job_id, "running"), 60)
    worker = worker_of(reply.job_id)
    worker.send_signal(signal.SIGKILL)
    _, end = await asyncio.wait_for(events_of(client, reply.job_id), 60)
    assert end.state == "failed"
    job = await client.get_job(reply.job_id)
    assert "killed by SIGKILL" in job.reason


async def test_bad_config_inside_the_job_fails_with_the_key(client: AsyncK12AIClient, server: Server) -> None:
    """A CSV whose label column does not exist: only the job can find out."""
    csv = server.config.data_root / "rows.csv"
    csv.write_text("a,b,label\n1,2,x\n3,4,y\n5,6,x\n7,8,y\n")
    body = example("k12ml", "train_iris")
    body["service_params"] = {
        "dataset": {"type": "csv", "path": str(csv), "label_column": "nope"},
        "model": {"type": "knn"},
    }
    events, end = await run_to_end(client, client.train, body)
    assert end.state == "failed"
    errors = [to_envelope(e)["error"] for e in events if e.type == "error"]
    assert errors and "label_column" in errors[-1]["message"]
    job = await client.get_job(events[0].job_id)
    assert "label_column" in job.reason


async def test_finished_jobs_survive_a_server_restart(server_process: Callable[..., ServerProcess]) -> None:
    first = server_process()
    async with AsyncK12AIClient(ClientConfig(target=f"127.0.0.1:{first.grpc_port}")) as client:
        events, end = await run_to_end(client, client.train, example("k12ml", "train_iris"))
        job_id = events[0].job_id
    first.stop()
    second = server_process()
    async with AsyncK12AIClient(ClientConfig(target=f"127.0.0.1:{second.grpc_port}")) as client:
        job = await client.get_job(job_id)
        assert job.state == "finished"
        replayed, end = await asyncio.wait_for(events_of(client, job_id), 30)
        assert [e.seq for e in replayed] == [e.seq for e in events]
        assert end.state == "finished"
        assert [j.job_id for j in await client.list_jobs(user="test")] == [job_id]


async def test_a_job_that_ended_while_the_server_was_down_ends_when_its_worker_did(
    server_process: Callable[..., ServerProcess], tmp_path: Path
) -> None:
    job_id = await running_then_server_killed(server_process, slow_training("ended-unseen"))
    worker = worker_of(job_id)
    worker.terminate()
    worker.wait(timeout=60)
    restarted_ms = time.time_ns() // 1_000_000
    second = server_process()
    async with AsyncK12AIClient(ClientConfig(target=f"127.0.0.1:{second.grpc_port}")) as client:
        events, end = await asyncio.wait_for(events_of(client, job_id), 60)
        job = await client.get_job(job_id)
    assert end.state == "failed" and "killed by SIGTERM" in job.reason
    # The worker's exit file, written as it exited, dates the end: not the restart that noticed it.
    exit_file = RunDir(tmp_path / "state" / "jobs" / job_id).exit_code
    assert job.ended_at == exit_file.stat().st_mtime_ns // 1_000_000 <= restarted_ms
    assert events[-1].timestamp == job.ended_at


async def test_a_job_running_across_a_restart_is_readopted(
    server_process: Callable[..., ServerProcess], tmp_path: Path
) -> None:
    job_id = await running_then_server_killed(server_process, slow_training("readopt"))
    second = server_process()
    async with AsyncK12AIClient(ClientConfig(target=f"127.0.0.1:{second.grpc_port}", user="test")) as client:
        assert (await client.get_job(job_id)).state == "running"
        await client.train({**slow_training("readopt"), "op": "train.stop", "service_params": {}})
        events, end = await asyncio.wait_for(events_of(client, job_id), 60)
        assert end.state == "stopped"
        seqs = [e.seq for e in events]
        assert seqs == sorted(set(seqs))
        assert states(events) == ["queued", "starting", "running", "stopped"]
