"""Both clients' watch, through one reconnect policy: a dropped link is resumed with no gap and
no duplicate; what retrying cannot mend fails at once; a link that stays down fails in the end."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import grpc
import pytest

from k12ai_client import (
    AsyncK12AIClient,
    ClientConfig,
    Event,
    K12AIClient,
    WatchError,
    WatchState,
    to_envelope,
)
from k12ai_client._watch import Reconnects
from k12ai_server.app import Server
from tests.jobs import events_of, slow_training
from tests.tcp_proxy import TcpProxy


class Failed(grpc.RpcError):  # type: ignore[misc]
    """What grpc raises for a failed call (the policy reads only its code and details)."""

    def __init__(self, status: grpc.StatusCode) -> None:
        self.status = status

    def code(self) -> grpc.StatusCode:
        return self.status

    def details(self) -> str:
        return f"{self.status.name.lower()} for the test"


def test_unavailable_backs_off_longer_each_time_until_retries_run_out() -> None:
    policy = Reconnects(retries=3, backoff_s=0.5)
    assert [policy.after_error(Failed(grpc.StatusCode.UNAVAILABLE)) for _ in range(3)] == [0.5, 1.0, 1.5]
    with pytest.raises(WatchError) as info:
        policy.after_error(Failed(grpc.StatusCode.UNAVAILABLE))
    assert info.value.status == grpc.StatusCode.UNAVAILABLE


def test_a_message_in_between_starts_the_count_again() -> None:
    policy = Reconnects(retries=1, backoff_s=0.5)
    assert policy.after_error(Failed(grpc.StatusCode.UNAVAILABLE)) == 0.5
    policy.received()
    assert policy.after_error(Failed(grpc.StatusCode.UNAVAILABLE)) == 0.5


@pytest.mark.parametrize("status", [grpc.StatusCode.NOT_FOUND, grpc.StatusCode.PERMISSION_DENIED])
def test_what_retrying_cannot_mend_fails_at_once(status: grpc.StatusCode) -> None:
    with pytest.raises(WatchError) as info:
        Reconnects(retries=10, backoff_s=0.5).after_error(Failed(status))
    assert info.value.status == status


def test_a_closed_stream_ends_an_open_watch_and_resumes_a_job_watch() -> None:
    policy = Reconnects(retries=1, backoff_s=0.5)
    assert policy.after_close(WatchState(user="u")) is None
    assert policy.after_close(WatchState(job_id="j")) == 0.5
    with pytest.raises(WatchError, match="closed before the job ended"):
        policy.after_close(WatchState(job_id="j"))


@pytest.fixture
async def proxy(server: Server) -> AsyncIterator[TcpProxy]:
    """The server's gRPC port behind a line that can be cut."""
    line = TcpProxy("127.0.0.1", server.grpc_port)
    await line.start()
    yield line
    await line.stop()


def through(proxy: TcpProxy) -> ClientConfig:
    return ClientConfig(target=proxy.addr, user="test", watch_retry_backoff_s=0.05)


@dataclass
class CutOnce:
    """Cuts the line once the job runs, and stops the job at the first event after the cut."""

    client: AsyncK12AIClient
    uuid: str
    cut: Callable[[], object]
    seqs: list[int] = field(default_factory=list)
    cut_after: int = 0  # how many events came before the cut

    async def saw(self, event: Event) -> None:
        self.seqs.append(event.seq)
        if not self.cut_after and to_envelope(event).get("status", {}).get("state") == "running":
            self.cut_after = len(self.seqs)
            self.cut()
        elif self.cut_after and len(self.seqs) == self.cut_after + 1:
            await self.client.train({**slow_training(self.uuid), "op": "train.stop"})


async def test_the_asyncio_client_resumes_after_the_link_drops(
    client: AsyncK12AIClient, proxy: TcpProxy
) -> None:
    reply = await client.train(slow_training("resume-aio"))
    watcher = CutOnce(client, "resume-aio", proxy.drop_connections)
    async with AsyncK12AIClient(through(proxy)) as remote:
        async for item in remote.watch(job_id=reply.job_id):
            if isinstance(item, Event):
                await watcher.saw(item)
    await _assert_resumed(client, proxy, reply.job_id, watcher)


async def test_the_sync_client_resumes_after_the_link_drops(
    client: AsyncK12AIClient, proxy: TcpProxy
) -> None:
    reply = await client.train(slow_training("resume-sync"))
    loop = asyncio.get_running_loop()
    watcher = CutOnce(client, "resume-sync", lambda: loop.call_soon_threadsafe(proxy.drop_connections))

    def watch() -> None:
        with K12AIClient(through(proxy)) as remote:
            for item in remote.watch(job_id=reply.job_id):
                if isinstance(item, Event):
                    asyncio.run_coroutine_threadsafe(watcher.saw(item), loop).result(60)

    await asyncio.to_thread(watch)
    await _assert_resumed(client, proxy, reply.job_id, watcher)


async def test_a_link_that_stays_down_fails_the_watch(server: Server) -> None:
    line = TcpProxy("127.0.0.1", server.grpc_port)
    await line.start()
    config = ClientConfig(target=line.addr, watch_retries=2, watch_retry_backoff_s=0.05)
    await line.stop()
    async with AsyncK12AIClient(config) as remote:
        with pytest.raises(WatchError) as info:
            async for _ in remote.watch(job_id="0" * 32):
                pass
    assert info.value.status == grpc.StatusCode.UNAVAILABLE


async def _assert_resumed(client: AsyncK12AIClient, proxy: TcpProxy, job_id: str, watcher: CutOnce) -> None:
    assert watcher.cut_after and len(watcher.seqs) > watcher.cut_after, "events came after the cut"
    assert proxy.accepted >= 2, "the client connected again"
    events, end = await events_of(client, job_id)
    assert watcher.seqs == [e.seq for e in events]  # no gap, no duplicate, in order
    assert end.state == "stopped"
