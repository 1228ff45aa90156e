"""A Consul test double on a real port, and a real k12ai server mirroring into it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from k12ai_server.app import Server
from k12ai_server.config import ConsulConfig
from tests.conftest import server_config
from tests.mirror.consul_double import ConsulDouble


@pytest.fixture
async def consul() -> AsyncIterator[ConsulDouble]:
    double = ConsulDouble()
    await double.start()
    yield double
    await double.stop()


@pytest.fixture
async def consul_server(tmp_path: Path, consul: ConsulDouble) -> AsyncIterator[Server]:
    srv = await Server.start(server_config(tmp_path, consul=ConsulConfig(addr=consul.addr)))
    yield srv
    await srv.stop()
