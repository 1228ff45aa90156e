"""The job supervisor through a real server and real workers: every fault settles the job with a reason.

A line the store cannot hold (of each kind), the same line met again after a restart, a full
disk, the wall-clock limit: each ends the job ``failed`` with the reason, stops its worker and
frees its slot, while the server goes on answering.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import pytest

from k12ai_client import AsyncK12AIClient, ClientConfig
from k12ai_contract.events import MAX_LINE_BYTES
from k12ai_server.app import Server
from tests.conftest import ServerProcess, assert_eventually, example, server_config
from tests.jobs import events_of, slow_training, state_is, worker_of

STATS = {"op": "query", "user": "test", "service_name": "k12platform", "service_uuid": "u"}


def info(payload: bytes) -> bytes:
    return b'{"type":"info","timestamp":1,"payload":' + payload + b"}\n"


# Each a line Python's json module or SQLite would take, or that a reader could not send on.
POISON: dict[str, bytes] = {
    "NaN": info(b'{"loss":NaN}'),
    "Infinity": info(b'{"loss":-Infinity}'),
    "a number that overflows a double": info(b'{"loss":1e999}'),
    "an integer beyond 64 bits": info(b'{"step":18446744073709551616}'),
    "a timestamp beyond 64 bits": b'{"type":"info","timestamp":99999999999999999999,"payload":{}}\n',
    "invalid UTF-8": info(b'{"message":"\xff\xfe"}'),
    "a lone surrogate": info(b'{"message":"\\ud800"}'),
    "nesting too deep for a reader": info(b"[" * 40 + b"]" * 40),
    "nesting too deep for the parser": info(b"[" * 10**5 + b"]" * 10**5),
    "JSON but no event": b'{"hello":"world"}\n',
    "garbage": b"\x00\xff this is no event\n",
    "a complete line that is too long": info(b'"' + b"x" * MAX_LINE_BYTES + b'"'),
    "a line that never ends": b"x" * (MAX_LINE_BYTES + 1),
}


def client_config(server: Server, user: str = "test") -> ClientConfig:
    return ClientConfig(target=f"127.0.0.1:{server.grpc_port}", user=user)


def events_file(state_dir: Path, job_id: str) -> Path:
    return state_dir / "jobs" / job_id / "events.jsonl"


@pytest.mark.parametrize("line", POISON.values(), ids=POISON.keys())
async def test_a_line_the_store_cannot_hold_fails_the_job_with_the_reason(
    client: AsyncK12AIClient, server: Server, line: bytes
) -> None:
    reply = await client.train(slow_training("poison"))
    # Appended as the worker starts: the line is read whenever it comes, before or after the worker's own.
    with events_file(server.config.state_dir, reply.job_id).open("ab") as channel:
        channel.write(line)
    _, end = await asyncio.wait_for(events_of(client, reply.job_id), 60)
    assert end.state == "failed"
    job = await client.get_job(reply.job_id)
    assert "the worker wrote an invalid event" in job.reason or "longer than" in job.reason, job.reason
    assert (await client.stats(STATS)).code == 100000


async def test_a_poisoned_job_frees_its_slot_and_its_identity(tmp_path: Path) -> None:
    server = await Server.start(server_config(tmp_path, max_running_jobs=1))
    try:
        async with AsyncK12AIClient(
            ClientConfig(target=f"127.0.0.1:{server.grpc_port}", user="test")
        ) as client:
            first = await client.train(slow_training("slot"))
            other = {**example("k12ml", "train_iris"), "user": "test", "service_uuid": "next"}
            queued = await client.train(other)
            assert queued.code == 100204  # the only slot is the poisoned job's
            await assert_eventually(lambda: state_is(client, first.job_id, "running"), 60)
            worker = worker_of(first.job_id)
            with events_file(server.config.state_dir, first.job_id).open("ab") as channel:
                channel.write(POISON["NaN"])
            _, end = await asyncio.wait_for(events_of(client, first.job_id), 60)
            assert end.state == "failed"
            # Its worker was stopped, the queued job got the slot, and the identity is free again.
            await assert_eventually(lambda: _gone(worker), 30)
            _, next_end = await asyncio.wait_for(events_of(client, queued.job_id), 120)
            assert next_end.state == "finished"
            again = await client.train(slow_training("slot"))
            await client.train({**slow_training("slot"), "op": "train.stop", "service_params": {}})
            assert (await asyncio.wait_for(events_of(client, again.job_id), 60))[1].state == "stopped"
    finally:
        await server.stop()


async def test_a_poison_line_met_again_after_a_restart_settles_the_same_way(
    server_process: Callable[..., ServerProcess], tmp_path: Path
) -> None:
    first = server_process()
    async with AsyncK12AIClient(ClientConfig(target=f"127.0.0.1:{first.grpc_port}", user="test")) as client:
        reply = await client.train(slow_training("poison-restart"))
        await assert_eventually(lambda: state_is(client, reply.job_id, "running"), 60)
    first.kill()
    with events_file(tmp_path / "state", reply.job_id).open("ab") as channel:
        channel.write(POISON["NaN"])
    second = server_process()
    async with AsyncK12AIClient(ClientConfig(target=f"127.0.0.1:{second.grpc_port}", user="test")) as client:
        _, end = await asyncio.wait_for(events_of(client, reply.job_id), 60)
        assert end.state == "failed"
        assert "the worker wrote an invalid event" in (await client.get_job(reply.job_id)).reason
        assert (await client.stats(STATS)).code == 100000


async def test_a_job_past_the_wall_clock_limit_is_stopped_and_fails(tmp_path: Path) -> None:
    server = await Server.start(server_config(tmp_path, job_time_limit_s=3.0))
    try:
        async with AsyncK12AIClient(
            ClientConfig(target=f"127.0.0.1:{server.grpc_port}", user="test")
        ) as client:
            reply = await client.train(slow_training("too-long"))
            _, end = await asyncio.wait_for(events_of(client, reply.job_id), 60)
            assert end.state == "failed"
            assert "wall-clock limit of 3 s" in (await client.get_job(reply.job_id)).reason
    finally:
        await server.stop()


@contextlib.contextmanager
def small_tmpfs(path: Path, size: str) -> Iterator[None]:
    path.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True, text=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root or CAP_SYS_ADMIN): {mounted.stderr.strip()}")
    try:
        yield
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def fill(path: Path) -> None:
    """Write ``path`` until the file system is full."""
    with path.open("wb") as f:
        try:
            while True:
                f.write(b"\0" * 65536)
                f.flush()
        except OSError as exc:
            assert exc.errno == errno.ENOSPC


async def test_a_full_disk_fails_the_job_and_the_server_goes_on(tmp_path: Path) -> None:
    state = tmp_path / "state"
    with small_tmpfs(state, "32m"):
        server = await Server.start(server_config(tmp_path, state_dir=state))
        try:
            async with AsyncK12AIClient(client_config(server)) as client:
                reply = await client.train(slow_training("full"))
                await assert_eventually(lambda: state_is(client, reply.job_id, "running"), 60)
                worker = worker_of(reply.job_id)
                fill(state / "filler")
                # The worker cannot write its next event (or the server cannot store it): it ends.
                await assert_eventually(lambda: _gone(worker), 60)
                assert (await client.stats(STATS)).code == 100000
                assert (await client.get_job(reply.job_id)).job_id == reply.job_id
                (state / "filler").unlink()
                _, end = await asyncio.wait_for(events_of(client, reply.job_id), 90)
                assert end.state == "failed"
                reason = (await client.get_job(reply.job_id)).reason
                print(f"the job's reason: {reason}")
                assert reason
                # The server takes and runs jobs again.
                _, after = await asyncio.wait_for(
                    events_of(client, (await client.train(example("k12ml", "train_iris"))).job_id), 120
                )
                assert after.state == "finished"
        finally:
            await server.stop()


async def _gone(proc: psutil.Process) -> bool:
    try:
        return not proc.is_running() or proc.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True
