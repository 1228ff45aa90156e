"""Log events of real jobs through a real server: a job's output in order, a crash's summary and
traceback, ``k12ai logs`` (and ``-f``), and a flood of 100,000 lines.

The jobs are k12ml predictions whose model (``noisy_model.NoisyModel``, in the project's
archive) prints and may raise: the only stand-in here is the model's code.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from k12ai_client import AsyncK12AIClient, ClientConfig, Event, to_envelope
from k12ai_server.app import Server
from tests.conftest import ROOT, example, server_config
from tests.jobs import events_of
from tests.logs.noisy_model import NoisyModel, install


@pytest.fixture
async def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Server]:
    # The workers unpickle NoisyModel from this repository's tests package.
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    srv = await Server.start(server_config(tmp_path))
    yield srv
    await srv.stop()


def predict(uuid: str) -> dict[str, Any]:
    body = example("k12ml", "predict_iris")
    body["service_uuid"] = uuid
    body["service_params"] = {"input_type": "text", "input_text": "[[1, 2]]"}
    return body


async def run(client: AsyncK12AIClient, call: Any, body: dict[str, Any]) -> tuple[str, list[Event], str]:
    """Starts a job and watches it: its id, its events and how it ended."""
    return await watch_to_end(client, (await call(body)).job_id)


async def watch_to_end(client: AsyncK12AIClient, job_id: str) -> tuple[str, list[Event], str]:
    events, end = await events_of(client, job_id)
    return job_id, events, end.state


def logs_of(events: list[Event]) -> list[dict[str, Any]]:
    return [to_envelope(e)["log"] for e in events if e.type == "log"]


async def k12ai(server: Server, *args: str) -> tuple[int, str, str]:
    """The CLI in a child process (asyncio's, so this test's in-process server keeps serving)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "k12ai_client", "--target", f"127.0.0.1:{server.grpc_port}", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def project(server: Server, uuid: str) -> Path:
    return server.config.data_root / "users" / "test" / uuid


async def test_a_jobs_output_is_its_log_in_order(client: AsyncK12AIClient, server: Server) -> None:
    install(project(server, "talk"), NoisyModel(stdout_lines=30, stderr_lines=3))
    job_id, events, state = await run(client, client.predict, predict("talk"))
    assert state == "finished"
    logs = logs_of(events)
    assert [log["line"] for log in logs if log["stream"] == "stdout"] == [
        f"stdout line {i}" for i in range(30)
    ]
    assert [log["line"] for log in logs if log["stream"] == "stderr"] == [
        f"stderr line {i}" for i in range(3)
    ]
    seqs = [e.seq for e in events if e.type == "log"]
    assert seqs == sorted(seqs)

    code, out, err = await k12ai(server, "logs", job_id)
    assert code == 0, err
    assert out.splitlines() == [f"stdout line {i}" for i in range(30)]
    assert err.splitlines()[-3:] == [f"stderr line {i}" for i in range(3)]


async def test_a_crash_is_a_summary_and_its_traceback_is_in_the_log(
    client: AsyncK12AIClient, server: Server
) -> None:
    install(project(server, "crash"), NoisyModel(stdout_lines=2, crash="the model broke"))
    job_id, events, state = await run(client, client.predict, predict("crash"))
    assert state == "failed"
    job = await client.get_job(job_id)
    assert job.reason == "RuntimeError: the model broke (the traceback is in the job's log); exit code 1"
    stderr = [log["line"] for log in logs_of(events) if log["stream"] == "stderr"]
    assert stderr[0] == "Traceback (most recent call last):"
    assert stderr[-1] == "RuntimeError: the model broke"
    [error] = [to_envelope(e)["error"] for e in events if e.type == "error"]
    assert error["code"] == 100500


async def test_logs_follow_a_running_job_to_its_end(client: AsyncK12AIClient, server: Server) -> None:
    install(project(server, "slow"), NoisyModel(stdout_lines=20, pause_s=0.1))
    reply = await client.predict(predict("slow"))
    code, out, err = await k12ai(server, "logs", "-f", reply.job_id)
    assert code == 0, err
    assert out.splitlines() == [f"stdout line {i}" for i in range(20)]
    assert (await client.get_job(reply.job_id)).state == "finished"


async def test_a_flood_is_thinned_out_counted_and_leaves_others_alone(
    client: AsyncK12AIClient, server: Server
) -> None:
    install(project(server, "flood"), NoisyModel(stdout_lines=100_000))
    other = example("k12ml", "train_iris")
    other["service_uuid"] = "calm"
    peak_rss = 0

    async def supervisor_rss(job_id: str) -> None:
        nonlocal peak_rss
        while True:
            for proc in psutil.process_iter(["cmdline", "memory_info"]):
                cmdline = proc.info["cmdline"] or []
                if "k12ai_worker" in cmdline and any(job_id in part for part in cmdline):
                    peak_rss = max(peak_rss, proc.info["memory_info"].rss)
            await asyncio.sleep(0.05)

    flood = await client.predict(predict("flood"))
    sampler = asyncio.ensure_future(supervisor_rss(flood.job_id))
    try:
        (_, calm_events, calm_state), (_, events, state) = await asyncio.gather(
            run(client, client.train, other), watch_to_end(client, flood.job_id)
        )
    finally:
        sampler.cancel()
    assert (state, calm_state) == ("finished", "finished")
    logs = logs_of(events)
    kept = [log for log in logs if "dropped" not in log]
    dropped = sum(log.get("dropped", 0) for log in logs)
    assert dropped > 0 and len(kept) + dropped == 100_000  # every line kept or counted
    numbers = [int(log["line"].rsplit(" ", 1)[1]) for log in kept]
    assert numbers == sorted(numbers)
    # The other job's watcher got every one of its events, in order, to its end.
    assert [e.type for e in calm_events][-1] == "status" and {"metrics", "result"} <= {
        e.type for e in calm_events
    }
    assert [e.seq for e in calm_events] == sorted({e.seq for e in calm_events})
    assert 0 < peak_rss < 100 * 2**20, f"supervisor RSS {peak_rss / 2**20:.0f} MiB"


@pytest.fixture
async def client(server: Server) -> AsyncIterator[AsyncK12AIClient]:
    async with AsyncK12AIClient(ClientConfig(target=f"127.0.0.1:{server.grpc_port}", user="test")) as c:
        yield c
