"""Per-user data under the data roots, at the request and at the worker's open.

A user's jobs read shared data and ``{root}/users/<user>/``; another user's area is refused
like a path outside the roots. An admin reads a user's data by acting as that user.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from k12ai_client import AsyncK12AIClient, ClientConfig, ReplyError, to_envelope
from k12ai_server.app import Server
from tests.conftest import assert_eventually, server_config
from tests.jobs import events_of, slow_training, state_is
from tests.security.callers import connect

PATH_OUTSIDE, SUCCESS, QUEUED = 100104, 100000, 100204
SECRET = "cells-outside-the-roots-93c2"


def csv_training(user: str, uuid: str, path: Path) -> dict[str, Any]:
    return {
        "op": "train.start",
        "user": user,
        "service_name": "k12ml",
        "service_uuid": uuid,
        "service_params": {"dataset": {"type": "csv", "path": str(path)}, "model": {"type": "knn"}},
    }


def write_rows(path: Path, label: str = "x") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"a,b,label\n1,2,{label}\n3,4,{label}\n5,6,y\n7,8,y\n")
    return path


async def start_code(client: AsyncK12AIClient, body: dict[str, Any]) -> tuple[int, str]:
    try:
        reply = await client.train(body)
    except ReplyError as refused:
        return refused.code, refused.message
    return reply.code, reply.message


async def test_another_users_area_is_refused_at_the_request(secured: Server) -> None:
    root = secured.config.data_root
    shared = write_rows(root / "datasets" / "shared.csv")
    alices = write_rows(root / "users" / "alice" / "mine.csv")
    bobs = write_rows(root / "users" / "bob" / "his.csv")
    borrowed = root / "users" / "alice" / "borrowed.csv"
    borrowed.symlink_to(bobs)  # a link in alice's own area, into bob's
    async with connect(secured, "alice") as alice, connect(secured, "root") as admin:
        allowed = [
            await start_code(alice, csv_training("alice", "shared", shared)),
            await start_code(alice, csv_training("alice", "own", alices)),
            # An admin reads bob's data by acting as bob.
            await start_code(admin, csv_training("bob", "as-bob", bobs)),
        ]
        refused = [
            await start_code(alice, csv_training("alice", "bobs", bobs)),
            await start_code(alice, csv_training("alice", "link", borrowed)),
            await start_code(alice, csv_training("alice", "all", root / "users")),
            await start_code(admin, csv_training("root", "as-root", bobs)),
        ]
    # Admitted (running, or queued for a job slot).
    assert all(code in (SUCCESS, QUEUED) for code, _ in allowed), allowed
    for (code, message), path in zip(refused, (bobs, borrowed, root / "users", bobs), strict=True):
        assert code == PATH_OUTSIDE
        assert message.startswith(f"service_params.dataset.path: {str(path)!r} is in another user's data")


@pytest.fixture
async def one_slot(tmp_path: Path) -> AsyncIterator[Server]:
    server = await Server.start(server_config(tmp_path, max_running_jobs=1))
    yield server
    await server.stop()


async def test_an_input_swapped_for_a_symlink_after_the_check_fails_the_job(
    one_slot: Server, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    outside = write_rows(tmp_path / "outside" / "secret.csv", label=SECRET)
    checked = write_rows(one_slot.config.data_root / "users" / "test" / "rows.csv")
    config = ClientConfig(target=f"127.0.0.1:{one_slot.grpc_port}", user="test")
    async with AsyncK12AIClient(config) as client:
        # The only job slot is taken, so the job waits queued between the check and the open.
        blocker = await client.train(slow_training("blocker"))
        await assert_eventually(lambda: state_is(client, blocker.job_id, "running"), 60)
        reply = await client.train(csv_training("test", "swapped", checked))
        assert reply.code == QUEUED

        checked.unlink()
        checked.symlink_to(outside)
        await client.train({**slow_training("blocker"), "op": "train.stop", "service_params": {}})
        events, end = await asyncio.wait_for(events_of(client, reply.job_id), 120)
        job = await client.get_job(reply.job_id)

    assert end.state == "failed"
    errors = [to_envelope(e)["error"] for e in events if e.type == "error"]
    assert errors[-1]["code"] == PATH_OUTSIDE
    assert errors[-1]["message"].startswith(f"dataset.path: {str(checked)!r} is outside the data roots")
    assert "is outside the data roots" in job.reason
    run_dir = one_slot.config.state_dir / "jobs" / reply.job_id
    seen = [str(to_envelope(e)) for e in events] + [job.reason, caplog.text]
    seen += [f.read_text(errors="replace") for f in run_dir.iterdir() if f.is_file()]
    assert not [text for text in seen if SECRET in text]
