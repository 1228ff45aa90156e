"""The mirror's bound and its settings: the real event log and py-consul against the Consul test double."""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from k12ai_server.config import ConsulConfig
from k12ai_server.events.bus import EventBus
from k12ai_server.events.log import EventLog
from k12ai_server.events.record import EventRecord
from k12ai_server.mirror import ConsulMirror, MirrorSettings, agent
from k12ai_server.mirror.cursor import MirrorCursor
from k12ai_server.mirror.settings import add_consul_args, consul_config
from k12ai_server.state.db import Database
from tests.conftest import assert_eventually
from tests.mirror.consul_double import ConsulDouble


def metrics(service_uuid: str, i: int) -> EventRecord:
    return EventRecord(
        type="metrics", tag="framework", op="train.start", user="test", service_uuid=service_uuid,
        payload={"step": i},
    )  # fmt: skip


@pytest.fixture
async def log_and_mirror(
    tmp_path: Path, consul: ConsulDouble
) -> AsyncIterator[tuple[EventLog, ConsulMirror]]:
    db = Database.open(tmp_path)
    # A bus queue of 8: the mirror overflows it at once and must re-read the log.
    events = EventLog(db, EventBus(queue_size=8))
    client = agent.connect(ConsulConfig(addr=consul.addr))
    mirror = ConsulMirror(
        kv=agent.ConsulKv(client),
        events=events,
        cursor=MirrorCursor(db, "consul"),
        settings=MirrorSettings(max_buffered_keys=5, backoff_max_s=0.2, write_timeout_s=1.0),
    )
    mirror.start()
    yield events, mirror
    await mirror.close(flush_timeout_s=0.1)
    await client.close()
    db.close()


async def test_the_buffer_stays_bounded_through_an_outage_and_the_log_fills_the_gap(
    log_and_mirror: tuple[EventLog, ConsulMirror], consul: ConsulDouble
) -> None:
    events, mirror = log_and_mirror
    await consul.stop()
    peak = 0
    for i in range(400):
        await events.append([metrics(f"p{i % 50}", i)])  # 50 keys, 8 events each
        peak = max(peak, mirror.health().buffered_keys)

    async def failed_more_than(count: int) -> bool:
        nonlocal peak
        health = mirror.health()
        peak = max(peak, health.buffered_keys)
        return health.failed_writes > count

    await assert_eventually(lambda: failed_more_than(0))
    # The writer backs off and fails again meanwhile: the buffer stays bounded all along.
    first_failures = mirror.health().failed_writes
    await assert_eventually(lambda: failed_more_than(first_failures))
    health = mirror.health()
    assert peak <= 5 and health.buffered_keys <= 5
    assert health.lag_events > 350 and not health.connected

    await consul.start()

    async def converged() -> bool:
        health = mirror.health()
        return health.lag_events == 0 and health.buffered_keys == 0

    await assert_eventually(converged, timeout_s=30)
    assert len(consul.kv) == 50
    for p in range(50):
        # The latest of the key's 8 events (i = p, p + 50, ..., p + 350).
        assert consul.value(f"framework/test/p{p}/train.start/metrics")["metrics"] == {"step": p + 350}


async def test_a_value_consul_refuses_for_good_is_dropped_and_the_rest_flows(
    log_and_mirror: tuple[EventLog, ConsulMirror], consul: ConsulDouble
) -> None:
    events, mirror = log_and_mirror
    huge = EventRecord(
        type="log", tag="framework", op="train.start", user="test", service_uuid="big",
        payload={"text": "x" * (600 * 1024)},  # over Consul's 512 KiB value limit: 413, every time
    )  # fmt: skip
    await events.append([huge, metrics("small", 1)])

    async def settled() -> bool:
        health = mirror.health()
        return health.lag_events == 0 and health.buffered_keys == 0

    await assert_eventually(settled, timeout_s=10)
    health = mirror.health()
    assert health.dropped_writes == 1 and health.writes == 1 and health.connected
    assert set(consul.kv) == {"framework/test/small/train.start/metrics"}


def parse(env: dict[str, str], *argv: str) -> ConsulConfig:
    parser = argparse.ArgumentParser()
    add_consul_args(parser, env)
    return consul_config(parser.parse_args(list(argv)))


def test_consul_is_off_unless_an_address_is_given() -> None:
    assert not parse({}).enabled


def test_settings_come_from_consuls_own_variables() -> None:
    config = parse(
        {
            "CONSUL_HTTP_ADDR": "consul.internal:8501",
            "CONSUL_HTTP_SSL": "true",
            "CONSUL_HTTP_TOKEN": "t0ken",
            "CONSUL_CACERT": "/etc/consul/ca.pem",
            "CONSUL_HTTP_SSL_VERIFY": "false",
        }
    )
    assert config.addr == "https://consul.internal:8501" and config.token == "t0ken"
    assert config.ca_file == Path("/etc/consul/ca.pem") and not config.tls_verify
    assert agent.parse_addr(config.addr) == agent.AgentAddress("https", "consul.internal", 8501)


def test_k12ai_variables_and_flags_come_first() -> None:
    env = {"CONSUL_HTTP_ADDR": "a:1", "K12AI_CONSUL_ADDR": "b:2", "K12AI_CONSUL_REGISTER": "0"}
    assert parse(env).addr == "b:2" and not parse(env).register
    assert parse(env, "--consul-addr", "c:3").addr == "c:3"


@pytest.mark.parametrize(
    ("addr", "expected"),
    [
        ("127.0.0.1:8500", ("http", "127.0.0.1", 8500)),
        ("consul", ("http", "consul", 8500)),
        ("http://consul:9500", ("http", "consul", 9500)),
        ("https://consul", ("https", "consul", 8500)),
    ],
)
def test_agent_addresses(addr: str, expected: tuple[str, str, int]) -> None:
    assert agent.parse_addr(addr) == agent.AgentAddress(*expected)


@pytest.mark.parametrize("addr", ["unix:///var/run/consul.sock", "ftp://consul:21", "://"])
def test_unusable_agent_addresses_are_refused(addr: str) -> None:
    with pytest.raises(ValueError, match="Consul address"):
        agent.parse_addr(addr)
