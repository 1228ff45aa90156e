"""A server killed at each point of a job's start path leaves no worker running unseen.

``K12AI_FAULT=<point>`` makes the server end itself as a ``kill -9`` would (``os._exit``) when
the job reaches that point: row saved ``queued``, row saved ``starting`` (no process yet),
process spawned with its pid not saved, pid saved. A new server on the same state finds the job
and its worker (by the worker's command line, not a saved pid), adopts it or starts it once,
and never lets a second job of the same identity run.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

import pytest

from k12ai_api.v1 import common_pb2
from k12ai_client import AsyncK12AIClient, ClientConfig, K12AIError, ReplyError, to_envelope
from k12ai_server.jobs.faults import FAULT_ENV, FAULT_EXIT_CODE, FAULT_POINTS
from tests.conftest import ServerProcess, assert_eventually
from tests.jobs import events_of, slow_training, state_is, workers_of


@pytest.mark.parametrize("point", FAULT_POINTS)
async def test_a_server_killed_on_the_start_path_leaves_no_worker_unseen(
    server_process: Callable[..., ServerProcess], point: str
) -> None:
    body = slow_training(f"crash-{point}")
    first = server_process(env={FAULT_ENV: point})
    async with AsyncK12AIClient(ClientConfig(target=f"127.0.0.1:{first.grpc_port}", user="test")) as client:
        # The points after the spawn come after the reply; the earlier ones end the server before it.
        with contextlib.suppress(K12AIError):
            await client.train(body)
    assert await asyncio.to_thread(first.proc.wait, 60) == FAULT_EXIT_CODE

    second = server_process()
    async with AsyncK12AIClient(ClientConfig(target=f"127.0.0.1:{second.grpc_port}", user="test")) as client:
        [job] = await client.list_jobs(user="test")
        await assert_eventually(lambda: state_is(client, job.job_id, "running"), 60)
        with pytest.raises(ReplyError) as refused:
            await client.train(body)
        assert refused.value.code == common_pb2.ReplyCode.REPLY_CODE_JOB_ALREADY_RUNNING
        assert len(workers_of(job.job_id)) == 1
        await client.train({**body, "op": "train.stop", "service_params": {}})
        events, end = await asyncio.wait_for(events_of(client, job.job_id), 60)
        assert end.state == "stopped"
        # One worker ran, once: it said `running` once.
        running = [e for e in events if e.type == "status" and to_envelope(e)["status"]["state"] == "running"]
        assert len(running) == 1
        seqs = [e.seq for e in events]
        assert seqs == sorted(set(seqs))
        await assert_eventually(lambda: _no_workers(job.job_id), 30)
        assert [j.job_id for j in await client.list_jobs(user="test")] == [job.job_id]


async def _no_workers(job_id: str) -> bool:
    return not workers_of(job_id)
