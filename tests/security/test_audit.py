"""The audit log: one structured line per mutating call, refused ones included."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import pytest

from k12ai_client import ReplyError
from k12ai_server.app import Server
from tests.conftest import assert_eventually
from tests.jobs import events_of, slow_training, state_is
from tests.security.callers import connect, control


def audit_lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    return [json.loads(r.getMessage()) for r in caplog.records if r.name == "k12ai.audit"]


async def test_start_stop_and_refusals_are_audited(secured: Server, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="k12ai.audit")
    async with connect(secured, "alice") as alice, connect(secured, "bob") as bob:
        started = await alice.train({**slow_training("audited"), "user": "alice"})
        await assert_eventually(lambda: state_is(alice, started.job_id, "running"), 60)
        with pytest.raises(ReplyError) as refused:
            await bob.train({**slow_training("audited"), "user": "alice", "op": "train.stop"})
        with pytest.raises(ReplyError) as denied:
            await bob.control(control("bob", started.job_id[:12]))
        await alice.train(
            {**slow_training("audited"), "user": "alice", "op": "train.stop", "service_params": {}}
        )
        await asyncio.wait_for(events_of(alice, started.job_id), 60)

    lines = audit_lines(caplog)
    by_op = [(line["caller"], line["op"], line["code"]) for line in lines]
    assert by_op == [
        ("alice", "train.start", 100000),
        ("bob", "train.stop", 100300),
        ("bob", "container.stop", 100300),
        ("alice", "train.stop", 100000),
    ]
    assert refused.value.code == denied.value.code == 100300
    first = lines[0]
    assert first["job_id"] == started.job_id
    assert first["peer"].startswith("ipv4:127.0.0.1:")
    assert first["service_uuid"] == "audited" and first["user"] == "alice" and first["time"]
