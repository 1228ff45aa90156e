"""``/metrics`` of a real server, scraped over HTTP and read with prometheus-client's own parser."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from prometheus_client.openmetrics.parser import text_string_to_metric_families as openmetrics_families
from prometheus_client.parser import text_string_to_metric_families

from k12ai_client import AsyncK12AIClient, ClientConfig, JobEnd, RPCError
from k12ai_server.app import Server
from tests.conftest import assert_eventually, example, server_config
from tests.jobs import slow_training
from tests.mirror.conftest import consul, consul_server  # noqa: F401 (fixtures)

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def fetch(server: Server, accept: str = "") -> tuple[str, str]:
    headers = {"Accept": accept} if accept else {}
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://127.0.0.1:{server.http_port}/metrics", headers=headers) as reply,
    ):
        assert reply.status == 200
        return reply.headers["Content-Type"], await reply.text()


async def scrape(server: Server) -> tuple[str, Samples]:
    """The Content-Type and every sample, keyed by name and labels."""
    content_type, text = await fetch(server)
    samples = {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    return content_type, samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, frozenset(labels.items()))]


def rpc_count(samples: Samples, transport: str, method: str, code: str) -> float:
    labels = {"transport": transport, "service": "k12ai.v1.Framework", "method": method, "code": code}
    return samples.get(("k12ai_rpc_duration_seconds_count", frozenset(labels.items())), 0.0)


@pytest.fixture
async def gpu_server(tmp_path: Path) -> AsyncIterator[Server]:
    srv = await Server.start(server_config(tmp_path, fake_gpus=2))
    yield srv
    await srv.stop()


async def test_metrics_after_a_job_and_calls_over_grpc_and_rest(gpu_server: Server) -> None:
    target = f"127.0.0.1:{gpu_server.grpc_port}"
    async with AsyncK12AIClient(ClientConfig(target=target, user="test")) as client:
        reply = await client.train(example("k12ml", "train_iris"))
        async for item in client.watch(job_id=reply.job_id):
            if isinstance(item, JobEnd):
                assert item.state == "finished"
        with pytest.raises(RPCError):
            await client.get_job("0123")
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://127.0.0.1:{gpu_server.http_port}/k12ai/framework/jobs/{reply.job_id}") as rest,
    ):
        assert rest.status == 200

    content_type, samples = await scrape(gpu_server)
    assert content_type.startswith("text/plain; version=0.0.4")
    assert value(samples, "k12ai_jobs", framework="k12ml", state="finished") == 1
    assert value(samples, "k12ai_jobs", framework="k12ml", state="running") == 0
    assert value(samples, "k12ai_job_queue_length") == 0
    assert value(samples, "k12ai_gpus", state="free") == 2
    assert value(samples, "k12ai_gpus", state="allocated") == 0
    assert value(samples, "k12ai_events_stored_total") == gpu_server.events.last_seq() > 0
    assert rpc_count(samples, "grpc", "Train", "OK") == 1
    assert rpc_count(samples, "grpc", "Watch", "OK") == 1
    assert rpc_count(samples, "grpc", "GetJob", "NOT_FOUND") == 1
    assert rpc_count(samples, "rest", "GetJob", "OK") == 1
    assert rpc_count(samples, "grpc", "GetJob", "OK") == 0  # a REST call is counted once, as REST
    buckets = [
        s for (name, labels), s in samples.items() if name == "k12ai_rpc_duration_seconds_bucket"
        and ("method", "Train") in labels
    ]  # fmt: skip
    assert buckets and max(buckets) == 1


async def test_watchers_and_the_queue_while_jobs_wait(tmp_path: Path) -> None:
    server = await Server.start(server_config(tmp_path, max_running_jobs=1))
    target = f"127.0.0.1:{server.grpc_port}"
    try:
        async with AsyncK12AIClient(ClientConfig(target=target, user="test")) as client:
            follower = asyncio.ensure_future(_follow_all(client))

            async def one_watcher() -> bool:
                return value((await scrape(server))[1], "k12ai_watchers") == 1

            await assert_eventually(one_watcher)
            for uuid in ("q1", "q2"):
                await client.train(slow_training(uuid))
            _, samples = await scrape(server)
            assert value(samples, "k12ai_job_queue_length") == 1
            assert value(samples, "k12ai_jobs", framework="k12ml", state="queued") == 1
            for uuid in ("q1", "q2"):
                await client.train({**slow_training(uuid), "op": "train.stop"})
            follower.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await follower

            async def no_watcher() -> bool:
                return value((await scrape(server))[1], "k12ai_watchers") == 0

            await assert_eventually(no_watcher)
            _, samples = await scrape(server)
            assert rpc_count(samples, "grpc", "Watch", "CANCELLED") == 1
    finally:
        await server.stop()


async def _follow_all(client: AsyncK12AIClient) -> None:
    async for _ in client.watch(user="test"):
        pass


async def test_openmetrics_when_the_scraper_asks(gpu_server: Server) -> None:
    content_type, text = await fetch(gpu_server, accept="application/openmetrics-text; version=1.0.0")
    assert content_type.startswith("application/openmetrics-text; version=1.0.0")
    families = {f.name for f in openmetrics_families(text)}  # type: ignore[no-untyped-call]
    assert {"k12ai_jobs", "k12ai_events_stored", "k12ai_rpc_duration_seconds"} <= families


async def test_consul_mirror_lag_is_shown(consul_server: Server) -> None:  # noqa: F811
    async def mirrored() -> bool:
        # One scrape: the async Stats' result event (stored after the reply) is in Consul, and
        # the lag reads nothing left over.
        _, samples = await scrape(consul_server)
        return (
            value(samples, "k12ai_events_stored_total") >= 1
            and value(samples, "k12ai_consul_mirror_connected") == 1
            and value(samples, "k12ai_consul_mirror_lag_events") == 0
            and value(samples, "k12ai_consul_mirror_lag_seconds") == 0
        )

    async with AsyncK12AIClient(
        ClientConfig(target=f"127.0.0.1:{consul_server.grpc_port}", user="test")
    ) as client:
        await client.stats({"op": "query", "service_name": "k12platform", "service_uuid": "m", "async": True})
    await assert_eventually(mirrored)
