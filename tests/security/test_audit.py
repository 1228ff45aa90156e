"""The audit log: one structured line per mutating call, refused ones included."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import pytest

from k12ai_client import ReplyError, RPCError
from k12ai_server.app import Server
from k12ai_server.security.audit import MAX_FIELD_CHARS
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


async def test_unauthenticated_attempts_are_audited(
    secured: Server, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="k12ai.audit")
    for token in ("", "k12ai_wrong"):
        async with connect(secured, "alice", token=token) as client:
            with pytest.raises(RPCError):
                await client.train({**slow_training("nope"), "user": "alice"})
            with pytest.raises(RPCError):
                await client.control(control("alice", "0" * 12))
    lines = [line for line in audit_lines(caplog) if line["audit"] == "unauthenticated"]
    assert [(line["rpc"], line["reason"]) for line in lines] == [
        ("Framework.Train", "no bearer token"),
        ("Platform.Control", "no bearer token"),
        ("Framework.Train", "unknown bearer token"),
        ("Platform.Control", "unknown bearer token"),
    ]
    assert all(line["peer"].startswith("ipv4:127.0.0.1:") for line in lines)


async def test_every_refused_container_stop_is_audited(
    secured: Server, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="k12ai.audit")
    async with connect(secured, "bob") as bob:
        for body in (
            control("alice", "0" * 12),  # for another user
            {**control("bob", "0" * 12), "service_params": {}},  # no id
            {**control("bob", "0" * 12), "op": "container.kill"},  # no such op
            control("bob", "0" * 12),  # no such container
        ):
            with pytest.raises(ReplyError):
                await bob.control(body)
    by_op = [(line["caller"], line["op"], line["user"], line["code"]) for line in audit_lines(caplog)]
    assert by_op == [
        ("bob", "container.stop", "alice", 100300),
        ("bob", "container.stop", "bob", 100100),
        ("bob", "container.kill", "bob", 100101),
        ("bob", "container.stop", "bob", 100202),
    ]


async def test_audit_fields_are_capped(secured: Server, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="k12ai.audit")
    huge_op = "x" * 100_000
    async with connect(secured, "bob") as bob:
        with pytest.raises(ReplyError) as refused:
            await bob.control({**control("bob", "0" * 12), "op": huge_op})
    assert refused.value.code == 100101
    (line,) = [r.getMessage() for r in caplog.records if r.name == "k12ai.audit"]
    assert len(line) < 2_000
    assert json.loads(line)["op"] == f"{'x' * MAX_FIELD_CHARS}...(+{100_000 - MAX_FIELD_CHARS} chars)"
