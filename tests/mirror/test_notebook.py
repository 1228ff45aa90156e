"""The seed notebooks' cells through k12ai_client.notebook, reading from Consul (the double) or the server.

The helpers are blocking (as in a notebook), so each cell sequence runs in a thread while the
server and the Consul double serve on this test's event loop.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from k12ai_client.notebook import NotebookConfig, NotebookSession, k12ai_print
from k12ai_server.app import Server
from k12ai_server.config import ConsulConfig
from tests.conftest import example, server_config
from tests.mirror.consul_double import ConsulDouble

QUERY = """{
    "cpus": true,
    "gpus": true,
    "disks": false,
    "containers": true
}"""


@dataclass(frozen=True)
class SeedServer:
    server: Server
    # The helpers pointed at it: reading Consul (the double) or the server's Watch.
    nb: NotebookSession


@pytest.fixture(params=["consul", "watch"])
async def seed_server(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[SeedServer]:
    consul = ConsulDouble()
    if request.param == "consul":
        await consul.start()
    config = ConsulConfig(addr=consul.addr) if request.param == "consul" else ConsulConfig()
    server = await Server.start(server_config(tmp_path, consul=config))
    nb = NotebookSession(
        NotebookConfig(
            url=f"http://127.0.0.1:{server.http_port}",
            consul_addr=consul.addr if request.param == "consul" else "",
            poll_interval_s=0.5,
        )
    )
    yield SeedServer(server, nb)
    await server.stop()
    await consul.stop()


def stats_cell(nb: NotebookSession, isasync: bool) -> dict[str, Any]:
    """Seed 001, In [2] / In [9], as written there."""
    stats = nb.k12ai_post_platform_request(
        uri="k12ai/platform/stats", op="query", user="test", uuid="uuid", params=QUERY, isasync=isasync
    )
    print("async input:" if isasync else "sync input:")
    k12ai_print(stats["req"])
    if isasync:
        nb.k12ai_del_data(stats["key"])
        print("async out:")
        k12ai_print(nb.k12ai_get_data(stats["key"], "result", waitcnt=5))
    else:
        print("sync output:")
        k12ai_print(stats["res"])
    return stats


def control_cell(nb: NotebookSession, stats: dict[str, Any]) -> dict[str, Any]:
    """Seed 001, In [4], as written there (its lookup of a container id fails: 'unknow')."""
    result = nb.k12ai_get_data(stats["key"], "result")
    try:
        cid = result[0]["value"]["result"]["containers"][0]["id"]
    except Exception:
        cid = "unknow"
    isasync = False
    stats = nb.k12ai_post_platform_request(
        uri="k12ai/platform/control",
        op="container.stop",
        user="test",
        uuid="uuid",
        params='{"id":"%s"}' % cid,  # noqa: UP031 (the seed's own line)
        isasync=isasync,
    )
    k12ai_print(stats)
    return stats


def printed_documents(text: str) -> list[Any]:
    """The JSON documents k12ai_print wrote, in order (the label lines between them skipped)."""
    decoder = json.JSONDecoder()
    text = "\n" + text
    documents: list[Any] = []
    at = 0
    while True:
        starts = [i for i in (text.find("\n{", at), text.find("\n[", at)) if i >= 0]
        if not starts:
            return documents
        document, at = decoder.raw_decode(text, min(starts) + 1)
        documents.append(document)


async def test_seed_platform_cells_print_the_seeds_shapes(
    seed_server: SeedServer, capsys: pytest.CaptureFixture[str]
) -> None:
    first = await asyncio.to_thread(stats_cell, seed_server.nb, True)
    out = capsys.readouterr().out
    assert out.startswith(
        'async input:\n{\n    "op": "query",\n    "user": "test",\n    "service_name": "k12platform"'
    )
    req, async_out = printed_documents(out)
    assert req == {
        "op": "query", "user": "test", "service_name": "k12platform", "service_uuid": "uuid",
        "service_params": {"cpus": True, "gpus": True, "disks": False, "containers": True}, "async": True,
    }  # fmt: skip
    assert first["key"] == "platform/test/uuid/query"
    assert first["res"]["code"] == 100000
    (entry,) = async_out
    assert entry["key"] == "platform/test/uuid/query/result"
    value = entry["value"]
    assert {k: value[k] for k in ("version", "type", "tag", "user", "service_uuid", "op")} == {
        "version": "0.1.0", "type": "result", "tag": "platform", "user": "test", "service_uuid": "uuid",
        "op": "query",
    }  # fmt: skip
    assert isinstance(value["timestamp"], int)
    assert value["result"]["code"] == 100000
    assert {"cpu_percent", "cpu_percent_list", "cpu_memory_total", "gpus", "containers"} <= set(
        value["result"]["message"]
    )

    # Again: k12ai_del_data hides the first result, so the cell prints the new one.
    await asyncio.to_thread(stats_cell, seed_server.nb, True)
    (second,) = printed_documents(capsys.readouterr().out)[1]
    assert second["value"]["timestamp"] >= value["timestamp"]
    assert second["value"] != value

    sync = await asyncio.to_thread(stats_cell, seed_server.nb, False)
    out = capsys.readouterr().out
    assert "sync input:" in out and "sync output:" in out
    req, res = printed_documents(out)
    assert req["async"] is False
    assert res["code"] == 100000 and res == sync["res"]
    assert {"cpu_percent", "cpu_memory_total", "gpus", "containers"} <= set(res["message"])
    assert type(res["message"]["cpu_memory_total"]) is int

    stop = await asyncio.to_thread(control_cell, seed_server.nb, sync)
    (printed,) = printed_documents(capsys.readouterr().out)
    assert printed == stop
    assert stop == {
        "req": {
            "op": "container.stop", "user": "test", "service_name": "k12platform", "service_uuid": "uuid",
            "service_params": {"id": "unknow"}, "async": False,
        },
        "res": {
            "code": 100202,
            "descr": "task service start fails",
            "message": "container id unknow is not found",
        },
        "key": "platform/test/uuid/container.stop",
    }  # fmt: skip


def train_cell(nb: NotebookSession) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]:
    train = example("k12ml", "train_iris")
    started = nb.k12ai_post_framework_request(
        uri="k12ai/framework/train", op="train.start", user="test", service_name="k12ml", uuid="123456",
        params=json.dumps(train["service_params"]),
    )  # fmt: skip
    deadline = time.monotonic() + 60
    status: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        status = nb.k12ai_get_data(started["key"], "status", waitcnt=2)
        if status and status[0]["value"]["status"]["state"] in ("finished", "failed"):
            break
    return started, status, nb.k12ai_get_data(started["key"], None)


async def test_a_training_through_the_framework_helper(seed_server: SeedServer) -> None:
    started, status, everything = await asyncio.to_thread(train_cell, seed_server.nb)
    assert started["key"] == "framework/test/123456/train.start"
    assert started["res"]["code"] == 100000
    assert [s["key"] for s in status] == ["framework/test/123456/train.start/status"]
    assert status[0]["value"]["status"]["state"] == "finished"
    assert [e["key"] for e in everything] == [
        "framework/test/123456/train.start/info",
        "framework/test/123456/train.start/metrics",
        "framework/test/123456/train.start/result",
        "framework/test/123456/train.start/status",
    ]
    metrics = everything[1]["value"]
    assert metrics["type"] == "metrics" and "accuracy" in metrics["metrics"]
    # Integers the worker wrote stay integers, from Consul and from the server's stream alike.
    assert type(metrics["metrics"]["epoch"]) is int


async def test_nothing_there_is_an_empty_list(seed_server: SeedServer) -> None:
    started = time.monotonic()
    assert (
        await asyncio.to_thread(seed_server.nb.k12ai_get_data, "platform/test/nothing/query", "result", 2)
        == []
    )
    assert time.monotonic() - started >= 0.5  # waitcnt tries, poll_interval_s apart
