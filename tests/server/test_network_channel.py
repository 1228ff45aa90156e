"""The network event channel on the local runner: a real worker under its shipper, a real ingest port.

The server never reads these jobs' events files: every event reaches it through the
internal EventIngestService, and the tests compare what it stored with the worker's
spool file byte for byte. A test client speaks the same RPC to check resends, gaps,
secrets and garbage.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import psutil
import pytest
import requests

from k12ai_api.internal.v1 import ingest_pb2, ingest_pb2_grpc
from k12ai_client import AsyncK12AIClient, ClientConfig
from k12ai_server.app import Server
from k12ai_server.config import IngestConfig
from k12ai_server.security.job_secrets import JobSecrets
from tests.conftest import assert_eventually, example, server_config
from tests.jobs import events_of, run_to_end, slow_training, states
from tests.spool import spool_events, worker_events


@pytest.fixture
async def shipping_server(tmp_path: Path) -> AsyncIterator[Server]:
    config = server_config(tmp_path, event_channel="network", ingest=IngestConfig(port=0))
    server = await Server.start(config)
    yield server
    await server.stop()


@pytest.fixture
async def shipping_client(shipping_server: Server) -> AsyncIterator[AsyncK12AIClient]:
    config = ClientConfig(target=f"127.0.0.1:{shipping_server.grpc_port}", user="test")
    async with AsyncK12AIClient(config) as client:
        yield client


async def test_every_event_arrives_once_in_order_through_the_network(
    shipping_client: AsyncK12AIClient, shipping_server: Server
) -> None:
    events, end = await run_to_end(shipping_client, shipping_client.train, example("k12ml", "train_iris"))
    assert end.state == "finished", end
    assert states(events) == ["queued", "starting", "running", "finished"]
    job = shipping_server.jobs.get(events[0].job_id)
    assert job is not None
    assert worker_events(events) == spool_events(job.events_path)
    assert job.events_offset == job.events_path.stat().st_size
    assert [e.seq for e in events] == sorted({e.seq for e in events})


def _stub(server: Server) -> ingest_pb2_grpc.EventIngestServiceStub:
    assert server.ingest is not None
    return ingest_pb2_grpc.EventIngestServiceStub(grpc.aio.insecure_channel(server.ingest.address))


async def _paused_job(client: AsyncK12AIClient, server: Server) -> tuple[str, psutil.Process]:
    """A running job whose worker is stopped (SIGSTOP) once its shipper has handed everything over."""
    reply = await client.train(slow_training())
    job_id = reply.job_id

    async def worker_started() -> bool:
        job = server.jobs.get(job_id)
        return job is not None and job.state.value == "running"

    await assert_eventually(worker_started)
    job = server.jobs.get(job_id)
    assert job is not None
    (worker,) = psutil.Process(int(job.runner_ref)).children()
    worker.send_signal(signal.SIGSTOP)

    async def shipped_all() -> bool:
        current = server.jobs.get(job_id)
        return current is not None and current.events_offset == current.events_path.stat().st_size

    await assert_eventually(shipped_all)
    return job_id, worker


async def test_resends_and_gaps_are_ignored_and_the_acknowledged_offset_answered(
    shipping_client: AsyncK12AIClient, shipping_server: Server
) -> None:
    job_id, worker = await _paused_job(shipping_client, shipping_server)
    job = shipping_server.jobs.get(job_id)
    assert job is not None
    spool = job.events_path.read_bytes()
    secret = JobSecrets.load(shipping_server.config.state_dir).secret_for(job_id)
    stored = shipping_server.events.last_seq(job_id)
    stub = _stub(shipping_server)

    resend = await stub.Append(ingest_pb2.AppendRequest(job_id=job_id, secret=secret, offset=0, data=spool))
    line = b'{"type":"info","timestamp":1,"payload":{"message":"after a gap"}}\n'
    gap = ingest_pb2.AppendRequest(job_id=job_id, secret=secret, offset=len(spool) + 10, data=line)
    after_gap = await stub.Append(gap)
    assert resend.acked_offset == after_gap.acked_offset == len(spool)
    assert shipping_server.events.last_seq(job_id) == stored

    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await stub.Append(ingest_pb2.AppendRequest(job_id=job_id, secret="x" * 64, offset=0, data=spool))
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
    other = JobSecrets.load(shipping_server.config.state_dir).secret_for("nope")
    with pytest.raises(grpc.aio.AioRpcError) as unknown:
        await stub.Append(ingest_pb2.AppendRequest(job_id="nope", secret=other, offset=0))
    assert unknown.value.code() == grpc.StatusCode.NOT_FOUND

    worker.send_signal(signal.SIGCONT)
    await shipping_client.train({**slow_training(), "op": "train.stop", "service_params": {}})
    _, end = await asyncio.wait_for(events_of(shipping_client, job_id), 60)
    assert end.state == "stopped"
    late = ingest_pb2.AppendRequest(job_id=job_id, secret=secret, offset=len(spool), data=line)
    with pytest.raises(grpc.aio.AioRpcError) as settled:
        await stub.Append(late)
    assert settled.value.code() == grpc.StatusCode.FAILED_PRECONDITION


async def test_a_shipped_line_that_is_no_event_fails_the_job(
    shipping_client: AsyncK12AIClient, shipping_server: Server
) -> None:
    job_id, _ = await _paused_job(shipping_client, shipping_server)
    job = shipping_server.jobs.get(job_id)
    assert job is not None
    secret = JobSecrets.load(shipping_server.config.state_dir).secret_for(job_id)
    garbage = ingest_pb2.AppendRequest(
        job_id=job_id, secret=secret, offset=job.events_offset, data=b"this is no event\n"
    )
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await _stub(shipping_server).Append(garbage)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    # The stopped worker gets SIGKILL after the grace period.
    _, end = await asyncio.wait_for(events_of(shipping_client, job_id), 60)
    assert end.state == "failed"
    reason = (await shipping_client.get_job(job_id)).reason
    assert "invalid event" in reason and "this is no event" in reason


async def test_the_ingest_service_is_neither_on_the_public_port_nor_routed_by_rest(
    shipping_server: Server,
) -> None:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{shipping_server.grpc_port}") as channel:
        stub = ingest_pb2_grpc.EventIngestServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as missing:
            await stub.Append(ingest_pb2.AppendRequest(job_id="x"))
    assert missing.value.code() == grpc.StatusCode.UNIMPLEMENTED
    base = f"http://127.0.0.1:{shipping_server.http_port}"
    path = "/k12ai.internal.v1.EventIngestService/Append"
    answer = await asyncio.to_thread(requests.post, base + path, json={"job_id": "x"}, timeout=10)
    assert answer.status_code == 404
    openapi = await asyncio.to_thread(requests.get, base + "/openapi.json", timeout=10)
    assert "EventIngest" not in openapi.text and "internal" not in openapi.text


async def test_with_the_server_certificate_the_channel_is_tls(tmp_path: Path, pki: Path) -> None:
    """The job's secret and events cross an encrypted channel; a plain gRPC caller gets nowhere."""
    config = server_config(
        tmp_path,
        event_channel="network",
        tls_cert=pki / "server.pem",
        tls_key=pki / "server.key",
        # The certificate names localhost: the jobs dial that name, and trust the test's CA.
        ingest=IngestConfig(host="localhost", port=0, ca=pki / "ca.pem"),
    )
    server = await Server.start(config)
    try:
        assert server.ingest is not None
        trusting = ClientConfig(target=f"localhost:{server.grpc_port}", user="test", ca_cert=pki / "ca.pem")
        async with AsyncK12AIClient(trusting) as client:
            events, end = await run_to_end(client, client.train, example("k12ml", "train_iris"))
        assert end.state == "finished", end
        job = server.jobs.get(end.job_id)
        assert job is not None
        assert worker_events(events) == spool_events(job.events_path)
        async with grpc.aio.insecure_channel(server.ingest.address) as plain:
            request = ingest_pb2.AppendRequest(job_id=end.job_id, secret="guess", offset=0)
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await ingest_pb2_grpc.EventIngestServiceStub(plain).Append(request, timeout=5)
        assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
    finally:
        await server.stop()
