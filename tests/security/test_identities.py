"""No empty identity, no id matched by pattern, no platform event where its audience may not look."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from k12ai_client import AsyncK12AIClient, Event, ReplyError, reply_message, to_envelope
from k12ai_server.app import Server
from k12ai_server.security.policy import InsecureConfigError
from k12ai_server.security.tokens import Principal, hash_token
from tests.conftest import assert_eventually, server_config
from tests.jobs import slow_training, state_is
from tests.security.callers import connect, control, stats

NOT_FOUND, DENIED, SUCCESS = 100202, 100300, 100000


def token_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "k12ai_server", "token", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("user", ["", "../x", "(open)"])
def test_token_create_refuses_a_user_that_is_no_identifier(tmp_path: Path, user: str) -> None:
    tokens = tmp_path / "tokens.json"
    created = token_cli("create", "--user", user, "--file", str(tokens))
    assert created.returncode == 2
    assert f"--user {user!r} must match" in created.stderr
    assert not tokens.exists()


async def test_an_empty_user_in_a_tokens_file_refuses_the_start(tmp_path: Path) -> None:
    tokens = tmp_path / "tokens.json"
    entries = [{"user": "alice", "sha256": hash_token("a")}, {"user": "", "sha256": hash_token("b")}]
    tokens.write_text(json.dumps({"tokens": entries}))
    with pytest.raises(InsecureConfigError, match=r"tokens\[1\]: user '' must match"):
        await Server.start(server_config(tmp_path, tokens_file=tokens))


def test_a_principal_is_never_nameless() -> None:
    with pytest.raises(ValueError, match="needs a user name"):
        Principal(user="", admin=True)


async def control_code(client: AsyncK12AIClient, body: dict[str, Any]) -> tuple[int, str]:
    try:
        reply = await client.control(body)
    except ReplyError as refused:
        return refused.code, refused.message
    return reply.code, str(reply_message(reply))


async def test_container_ids_are_matched_exactly_never_as_patterns(secured: Server) -> None:
    async with connect(secured, "bob") as bob, connect(secured, "alice") as alice:
        job_id = (await bob.train({**slow_training("pattern"), "user": "bob"})).job_id
        await assert_eventually(lambda: state_is(bob, job_id, "running"), 60)
        prefix = job_id[:12]
        guesses = [
            "%" * 12,
            "_" * 12,
            prefix[:11] + "%",
            prefix[:11] + "_",
            prefix.upper() if prefix.upper() != prefix else prefix + "X",
            f"{prefix[:6]}%{prefix[7:]}",
        ]
        # Neither the owner nor anybody else finds a job by a pattern: every guess is "not found".
        for who, client in (("bob", bob), ("alice", alice)):
            for guess in guesses:
                code, message = await control_code(client, control(who, guess))
                assert (code, message) == (NOT_FOUND, f"container id {guess} is not found"), (who, guess)
        # The real prefix: refused for alice (not hers), stopped for bob.
        assert (await control_code(alice, control("alice", prefix)))[0] == DENIED
        assert await control_code(bob, control("bob", prefix)) == (
            SUCCESS,
            f"container id {prefix} stop success",
        )
        await assert_eventually(lambda: state_is(bob, job_id, "stopped"), 60)


async def async_stats_result(client: AsyncK12AIClient, user: str) -> dict[str, Any]:
    """The result event an async Stats stores in ``user``'s stream."""
    reply = await client.stats({**stats(user), "async": True})
    assert reply.code == SUCCESS
    async for item in client.watch(user=user, types=["result"]):
        assert isinstance(item, Event)
        return to_envelope(item)["result"]["message"]  # type: ignore[no-any-return]
    raise AssertionError("the stream ended without the result")


async def test_async_stats_hold_only_what_the_streams_owner_may_see(secured: Server) -> None:
    async with (
        connect(secured, "bob") as bob,
        connect(secured, "alice") as alice,
        connect(secured, "root") as admin,
    ):
        job_id = (await bob.train({**slow_training("audience"), "user": "bob"})).job_id
        await assert_eventually(lambda: state_is(bob, job_id, "running"), 60)
        # The host sampler has seen bob's job.
        await assert_eventually(lambda: _sync_containers_of(admin, "root", ["bob"]), 60)
        # An admin's async Stats for alice lands in alice's stream: it lists alice's containers only.
        for_alice = await asyncio.wait_for(async_stats_result(admin, "alice"), 60)
        assert for_alice["containers"] == []
        # alice's own and bob's own see their own; the admin's own stream sees everyone's.
        assert (await asyncio.wait_for(async_stats_result(alice, "alice"), 60))["containers"] == []
        assert [
            c["user"] for c in (await asyncio.wait_for(async_stats_result(bob, "bob"), 60))["containers"]
        ] == ["bob"]
        everyone = await asyncio.wait_for(async_stats_result(admin, "root"), 60)
        assert [c["user"] for c in everyone["containers"]] == ["bob"]
        await bob.control(control("bob", job_id[:12]))


async def _sync_containers_of(client: AsyncK12AIClient, user: str, expect: list[str]) -> bool:
    message = reply_message(await client.stats(stats(user)))
    return [c["user"] for c in message["containers"]] == expect
