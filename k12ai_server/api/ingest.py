"""The internal EventIngestService: a job's shipper hands over the lines of its events file.

Served on its own port (``--ingest-port``), never by the REST gateway: the nodes of
a cluster reach it while the public API may stay on loopback. A call is
authenticated by the job's own secret, compared in constant time; with the
server's certificate (``--tls-cert``) the port serves TLS, so neither the secret
nor the events cross the network in the clear.
"""

from __future__ import annotations

import socket
from typing import Any

import grpc

from k12ai_api.internal.v1 import ingest_pb2, ingest_pb2_grpc
from k12ai_contract.events import MAX_LINE_BYTES
from k12ai_server.config import IngestConfig
from k12ai_server.jobs.ingest import InvalidEventsError, JobNotIngestingError, OffsetGapError
from k12ai_server.jobs.service import JobService
from k12ai_server.security.job_secrets import JobSecrets
from k12ai_server.security.tls import SERVER_OPTIONS, IngestTls

# The longest event line and the rest of a call.
MAX_RECEIVE_BYTES = MAX_LINE_BYTES + 1024 * 1024


class IngestServicer(ingest_pb2_grpc.EventIngestServiceServicer):
    """Shipped bytes into the one ingest path (``JobService.ingest``), as the file tail feeds it."""

    def __init__(self, *, jobs: JobService, secrets: JobSecrets) -> None:
        self._jobs = jobs
        self._secrets = secrets

    async def Append(  # noqa: N802 (the RPC's name)
        self, request: ingest_pb2.AppendRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> ingest_pb2.AppendResponse:
        job_id = request.job_id
        if not self._secrets.verify(job_id, request.secret):
            await context.abort(grpc.StatusCode.PERMISSION_DENIED, f"wrong secret for job {job_id!r}")
        if request.offset < 0:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "offset must not be negative")
        if self._jobs.get(job_id) is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"no job {job_id}")
        try:
            acked = await self._jobs.ingest.ingest(job_id, request.offset, request.data)
        except OffsetGapError:
            # Bytes are missing in between: the answer tells the shipper where to resend from.
            acked = self._jobs.ingest.acked(job_id)
        except JobNotIngestingError as exc:
            await context.abort(grpc.StatusCode.FAILED_PRECONDITION, str(exc))
        except InvalidEventsError as exc:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        return ingest_pb2.AppendResponse(acked_offset=acked)


class IngestEndpoint:
    """The ingest service's own gRPC server: bound first, so jobs' specs can name its port."""

    def __init__(self, server: grpc.aio.Server, address: str, ca_pem: str = "") -> None:
        self._server = server
        # "host:port" a job dials.
        self.address = address
        # What a job verifies the service's certificate with; "" when it serves plain gRPC.
        self.ca_pem = ca_pem

    @classmethod
    def bind(cls, config: IngestConfig, *, default_host: str, tls: IngestTls | None) -> IngestEndpoint:
        server = grpc.aio.server(
            options=[*SERVER_OPTIONS, ("grpc.max_receive_message_length", MAX_RECEIVE_BYTES)]
        )
        host = config.host or default_host
        address = f"{host}:{config.port}"
        if tls is None:
            port = server.add_insecure_port(address)
        else:
            # No client certificate: a job proves itself with its secret, which TLS keeps private.
            port = server.add_secure_port(address, grpc.ssl_server_credentials([(tls.key, tls.cert)]))
        if not port:
            raise OSError(f"cannot bind the ingest service to {address}")
        return cls(server, config.advertise or f"{_dialable(host)}:{port}", tls.ca_pem if tls else "")

    def serve(self, *, jobs: JobService, secrets: JobSecrets) -> None:
        ingest_pb2_grpc.add_EventIngestServiceServicer_to_server(
            IngestServicer(jobs=jobs, secrets=secrets), self._server
        )

    async def start(self) -> None:
        await self._server.start()

    async def stop(self, grace_s: float) -> None:
        await self._server.stop(grace_s)


def _dialable(host: str) -> str:
    if host in ("", "0.0.0.0", "::", "[::]"):
        return socket.gethostname()
    return f"[{host}]" if ":" in host else host
