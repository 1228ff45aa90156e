"""``k12ai-server --consul-addr``: a server process registers, mirrors, and deregisters on SIGTERM."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from k12ai_client import AsyncK12AIClient, ClientConfig
from tests.conftest import ServerProcess, assert_eventually
from tests.mirror.consul_double import ConsulDouble
from tests.mirror.seed_mirror import stats_async


async def test_the_flag_turns_the_mirror_and_the_registration_on(
    server_process: Callable[..., ServerProcess], consul: ConsulDouble
) -> None:
    sp = server_process("--consul-addr", f"http://{consul.addr}")

    async def registered() -> bool:
        return any(s["Port"] == sp.grpc_port for s in consul.services.values())

    await assert_eventually(registered, timeout_s=20)
    async with AsyncK12AIClient(ClientConfig(target=f"127.0.0.1:{sp.grpc_port}", user="test")) as client:
        await stats_async(client)

    async def mirrored() -> bool:
        return "platform/test/uuid/query/result" in consul.kv

    await assert_eventually(mirrored, timeout_s=20)
    await asyncio.to_thread(sp.stop)  # SIGTERM: a clean stop
    assert sp.proc.returncode == 0
    assert consul.services == {}
