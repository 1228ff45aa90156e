"""The Consul mirror against the Consul test double (see consul_double.py): a real server, real jobs."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from grpc import aio
from grpc_health.v1 import health_pb2, health_pb2_grpc

from k12ai_client import Event
from k12ai_server.app import Server
from k12ai_server.config import ConsulConfig
from k12ai_server.mirror import HEALTH_SERVICE
from tests.conftest import assert_eventually, server_config
from tests.mirror.consul_double import ConsulDouble
from tests.mirror.seed_mirror import (
    SEED_KEYS,
    assert_seed_envelope,
    client_for,
    latest_envelopes,
    mirror_caught_up,
    run_job,
    stats_async,
)


async def test_keys_and_values_after_k12ml_jobs_and_async_stats_are_the_seeds(
    consul_server: Server, consul: ConsulDouble
) -> None:
    events: list[Event] = []
    async with client_for(consul_server) as client:
        for kind in ("train", "evaluate", "predict"):
            state, job_events = await run_job(client, kind)
            assert state == "finished"
            events += job_events
        await stats_async(client)
        async for item in client.watch(service_uuid="uuid", types=["result"]):
            assert isinstance(item, Event)
            events.append(item)
            break
    await mirror_caught_up(consul_server)

    assert set(consul.kv) == SEED_KEYS
    expected = latest_envelopes(events)
    for key in SEED_KEYS:
        value = consul.value(key)
        assert_seed_envelope(key, value)
        assert value == expected[key], key
    # The seed's reader shows the raw value indented by 4, as the original server stored it.
    raw = consul.kv["framework/test/123456/train.start/metrics"].value
    assert raw is not None and raw.startswith(b'{\n    "version": "0.1.0",')
    metrics = consul.value("framework/test/123456/train.start/metrics")["metrics"]
    assert {"accuracy", "loss"} <= set(metrics)
    assert consul.value("framework/test/123456/train.start/status")["status"]["state"] == "finished"
    result = consul.value("platform/test/uuid/query/result")["result"]
    assert result["code"] == 100000
    assert {"cpu_percent", "cpu_memory_total", "gpus", "containers"} <= set(result["message"])
    # Integers the worker and the server wrote stay integers in the stored text.
    assert re.search(rb'\n {8}"epoch": [0-9]+,?\n', raw), raw
    stats_raw = consul.kv["platform/test/uuid/query/result"].value or b""
    assert re.search(rb'"cpu_memory_total": [0-9]+,?\n', stats_raw), stats_raw


async def test_consul_down_during_training_leaves_the_job_alone_and_the_mirror_converges(
    consul_server: Server, consul: ConsulDouble
) -> None:
    assert consul_server.consul is not None
    mirror = consul_server.consul.mirror
    await consul.stop()
    async with client_for(consul_server) as client:
        state, events = await run_job(client, "train")
    # The job ran to its end while not one write reached Consul: it never waited for one.
    assert state == "finished"
    assert mirror.health().writes == 0

    async def lag_visible() -> bool:
        health = mirror.health()
        return not health.connected and health.buffered_keys >= 3 and health.lag_events > 0

    await assert_eventually(lag_visible, timeout_s=10)
    health = mirror.health()
    assert health.last_error and health.failed_writes > 0 and health.lag_s > 0
    assert health.buffered_keys == 4  # coalesced: status, info, metrics, result of train.start
    assert consul.kv == {}
    assert await mirror_health_status(consul_server) == "NOT_SERVING"
    assert await mirror_health_status(consul_server, service="") == "SERVING"  # what Consul checks

    await consul.start()
    await mirror_caught_up(consul_server)
    assert mirror.health().connected
    assert await mirror_health_status(consul_server) == "SERVING"
    expected = latest_envelopes(events)
    assert set(consul.kv) == set(expected)
    for key, envelope in expected.items():
        assert consul.value(key) == envelope


async def test_slow_consul_never_slows_a_job(consul_server: Server, consul: ConsulDouble) -> None:
    assert consul_server.consul is not None
    consul.delay_s = 3600.0  # every answer hangs for the whole test, well past the write timeout
    async with client_for(consul_server) as client:
        state, events = await run_job(client, "train")
    # The job ran to its end while every write to Consul hung: it never waited for one.
    assert state == "finished" and events
    assert consul_server.consul.mirror.health().writes == 0
    consul.delay_s = 0.0
    await mirror_caught_up(consul_server)
    assert consul.value("framework/test/123456/train.start/status")["status"]["state"] == "finished"


async def test_writes_refused_by_consul_are_retried(consul_server: Server, consul: ConsulDouble) -> None:
    consul.fail_writes = 500
    async with client_for(consul_server) as client:
        await stats_async(client)
    assert consul_server.consul is not None
    mirror = consul_server.consul.mirror

    async def retried() -> bool:
        return mirror.health().failed_writes >= 2

    await assert_eventually(retried, timeout_s=10)
    assert "500" in mirror.health().last_error
    consul.fail_writes = None
    await mirror_caught_up(consul_server)
    assert consul.value("platform/test/uuid/query/result")["result"]["code"] == 100000


async def test_a_restart_catches_up_what_the_mirror_missed(tmp_path: Path, consul: ConsulDouble) -> None:
    config = server_config(tmp_path, consul=ConsulConfig(addr=consul.addr))
    await consul.stop()
    first = await Server.start(config)
    async with client_for(first) as client:
        state, events = await run_job(client, "train")
    assert state == "finished"
    await first.stop()  # Consul still down: the buffered writes are lost with the process
    assert consul.kv == {}

    await consul.start()
    second = await Server.start(config)
    try:
        await mirror_caught_up(second)
        expected = latest_envelopes(events)
        assert set(consul.kv) == set(expected)
        for key, envelope in expected.items():
            assert consul.value(key) == envelope
        assert second.consul is not None
        assert second.consul.mirror.health().writes == len(expected)  # coalesced by key
    finally:
        await second.stop()
    third = await Server.start(config)
    try:
        await mirror_caught_up(third)
        assert third.consul is not None and third.consul.mirror.health().writes == 0
    finally:
        await third.stop()


async def test_the_server_registers_with_a_grpc_health_check_and_deregisters_on_stop(
    tmp_path: Path, consul: ConsulDouble
) -> None:
    server = await Server.start(server_config(tmp_path, consul=ConsulConfig(addr=consul.addr)))
    try:
        assert server.consul is not None and server.consul.registration is not None
        await asyncio.wait_for(server.consul.registration.registered.wait(), 10)
        (service_id, service), *others = consul.services.items()
        assert not others
        assert service["Service"] == "k12ai"
        assert service["Address"] == "127.0.0.1" and service["Port"] == server.grpc_port
        assert service["Meta"] == {"grpc_port": str(server.grpc_port), "http_port": str(server.http_port)}
        (check,) = consul.checks.values()
        assert check["ServiceID"] == service_id
        assert check["grpc"] == f"127.0.0.1:{server.grpc_port}" and check["interval"] == "10s"
    finally:
        await server.stop()
    assert consul.services == {} and consul.checks == {}
    assert ("PUT", f"/v1/agent/service/deregister/{service_id}") in consul.requests


async def mirror_health_status(server: Server, service: str = HEALTH_SERVICE) -> str:
    """What grpc.health.v1 answers for the mirror (or, with service "", the whole server)."""
    async with aio.insecure_channel(f"127.0.0.1:{server.grpc_port}") as channel:
        reply = await health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service=service)
        )
    return str(health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status))


async def test_the_grpc_health_check_target_answers_serving(consul_server: Server) -> None:
    assert await mirror_health_status(consul_server, service="") == "SERVING"
    assert await mirror_health_status(consul_server) == "SERVING"


async def test_an_acl_token_is_sent(tmp_path: Path) -> None:
    consul = ConsulDouble(acl_token="s3cret")
    await consul.start()
    server = await Server.start(
        server_config(tmp_path, consul=ConsulConfig(addr=f"http://{consul.addr}", token="s3cret"))
    )
    try:
        async with client_for(server) as client:
            await stats_async(client)
        await mirror_caught_up(server)
        assert "platform/test/uuid/query/result" in consul.kv
        assert server.consul is not None and server.consul.registration is not None
        await asyncio.wait_for(server.consul.registration.registered.wait(), 10)
    finally:
        await server.stop()
        await consul.stop()


async def test_without_an_address_consul_is_off(server: Server) -> None:
    assert server.consul is None and not server.config.consul.enabled
