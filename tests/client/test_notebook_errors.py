"""The notebook helpers fail loudly: an HTTP error or an absent server is a typed error, not "no data yet"."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys

import pytest

from k12ai_client import ClientConfig, HTTPStatusError, K12AIError, UnreachableError
from k12ai_client.notebook import NotebookConfig, NotebookSession
from k12ai_server.app import Server
from tests.conftest import TOKENS
from tests.mirror.consul_double import ConsulDouble


def stats_post(nb: NotebookSession, user: str) -> dict[str, object]:
    return nb.k12ai_post_platform_request(uri="k12ai/platform/stats", op="query", user=user, uuid="nb")


def session(server: Server, token: str = "", **config: object) -> NotebookSession:
    url = f"http://127.0.0.1:{server.http_port}"
    return NotebookSession(NotebookConfig(url=url, client=ClientConfig(token=token), **config))  # type: ignore[arg-type]


def test_both_errors_are_the_clients() -> None:
    assert issubclass(HTTPStatusError, K12AIError) and issubclass(UnreachableError, K12AIError)


async def test_a_missing_token_raises_the_gateways_status(secured: Server) -> None:
    anonymous = session(secured)
    with pytest.raises(HTTPStatusError) as info:
        await asyncio.to_thread(stats_post, anonymous, "alice")
    assert (info.value.status, info.value.code) == (401, 16)
    assert "token" in info.value.message
    # Reading results: a 401 too, not an empty list.
    with pytest.raises(HTTPStatusError) as info:
        await asyncio.to_thread(anonymous.k12ai_get_data, "platform/alice/nb/query", "result")
    assert (info.value.status, info.value.code) == (401, 16)


async def test_with_the_token_it_works_and_another_users_results_are_refused(secured: Server) -> None:
    alice = session(secured, TOKENS["alice"], poll_interval_s=0.2)
    posted = await asyncio.to_thread(stats_post, alice, "alice")
    assert posted["res"]["code"] == 100000  # type: ignore[index]
    with pytest.raises(HTTPStatusError) as info:
        await asyncio.to_thread(alice.k12ai_get_data, "platform/bob/nb/query", "result")
    assert (info.value.status, info.value.code) == (403, 7)


def test_no_server_at_the_url_says_which_and_how_to_set_it(closed_port: int) -> None:
    nb = NotebookSession(NotebookConfig(url=f"http://127.0.0.1:{closed_port}", timeout_s=5))
    for call in (lambda: stats_post(nb, "test"), lambda: nb.k12ai_get_data("platform/test/nb/query")):
        with pytest.raises(UnreachableError) as info:
            call()
        assert f"127.0.0.1:{closed_port}" in str(info.value) and "K12AI_URL" in str(info.value)


def test_no_consul_agent_says_which_and_how_to_set_it(closed_port: int) -> None:
    nb = NotebookSession(NotebookConfig(consul_addr=f"127.0.0.1:{closed_port}"))
    with pytest.raises(UnreachableError) as info:
        nb.k12ai_get_data("platform/test/nb/query", "result")
    assert f"127.0.0.1:{closed_port}" in str(info.value) and "CONSUL_HTTP_ADDR" in str(info.value)


async def test_a_consul_refusal_is_an_http_status_error() -> None:
    consul = ConsulDouble(acl_token="the-token")
    await consul.start()
    try:
        nb = NotebookSession(NotebookConfig(consul_addr=consul.addr, consul_token="wrong"))
        with pytest.raises(HTTPStatusError) as info:
            await asyncio.to_thread(nb.k12ai_get_data, "platform/test/nb/query", "result")
        assert info.value.status == 403
        allowed = NotebookSession(NotebookConfig(consul_addr=consul.addr, consul_token="the-token"))
        assert await asyncio.to_thread(allowed.k12ai_get_data, "platform/test/nb/query", "result") == []
    finally:
        await consul.stop()


async def test_the_module_functions_read_the_environment(secured: Server) -> None:
    """As a seed notebook uses them: the settings from K12AI_URL and K12AI_TOKEN, no code."""
    cell = (
        "from k12ai_client.notebook import k12ai_post_platform_request as post\n"
        "import json\n"
        "print(json.dumps(post(uri='k12ai/platform/stats', op='query', user='alice', uuid='nb')))"
    )
    env = {**os.environ, "K12AI_URL": f"http://127.0.0.1:{secured.http_port}", "K12AI_TOKEN": TOKENS["alice"]}
    ran = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-c", cell], capture_output=True, text=True, env=env, timeout=60
    )
    assert ran.returncode == 0, ran.stderr
    message = json.loads(ran.stdout)["res"]["message"]
    assert type(message["cpu_memory_total"]) is int
