"""The server's Consul link: the KV mirror and the service registration, started and stopped together."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from grpc_health.v1 import health, health_pb2

from k12ai_server.config import ConsulConfig
from k12ai_server.events.log import EventLog
from k12ai_server.mirror import agent
from k12ai_server.mirror.cursor import MirrorCursor
from k12ai_server.mirror.mirror import ConsulMirror, MirrorHealth, MirrorSettings
from k12ai_server.mirror.registration import ServiceDefinition, ServiceRegistration, advertised_address
from k12ai_server.state.db import Database

log = logging.getLogger(__name__)

# The mirror's state in grpc.health.v1 (NOT_SERVING while Consul refuses writes); the server's own
# status ("") does not depend on it: a job never waits for Consul.
HEALTH_SERVICE = "k12ai.mirror.Consul"


class ConsulLink:
    def __init__(
        self, *, client: Any, mirror: ConsulMirror, registration: ServiceRegistration | None
    ) -> None:
        self._client = client
        self.mirror = mirror
        self.registration = registration
        self._health_tasks: set[asyncio.Task[None]] = set()

    @classmethod
    async def start(
        cls,
        config: ConsulConfig,
        *,
        events: EventLog,
        db: Database,
        host: str,
        grpc_port: int,
        http_port: int,
        tls: bool,
        health_servicer: health.aio.HealthServicer,
        settings: MirrorSettings | None = None,
    ) -> ConsulLink:
        client = agent.connect(config)
        link: ConsulLink | None = None

        def report(state: MirrorHealth) -> None:
            status = (
                health_pb2.HealthCheckResponse.SERVING
                if state.connected
                else health_pb2.HealthCheckResponse.NOT_SERVING
            )
            task = asyncio.create_task(health_servicer.set(HEALTH_SERVICE, status))
            assert link is not None
            link._health_tasks.add(task)
            task.add_done_callback(link._health_tasks.discard)

        mirror = ConsulMirror(
            kv=agent.ConsulKv(client, token=config.token),
            events=events,
            cursor=MirrorCursor(db, "consul"),
            settings=settings or MirrorSettings(max_buffered_keys=config.max_buffered_keys),
            on_connected_change=report,
        )
        registration = None
        if config.register:
            definition = ServiceDefinition(
                name=config.service_name,
                address=advertised_address(config.service_address, host),
                grpc_port=grpc_port,
                http_port=http_port,
                tls=tls,
            )
            registration = ServiceRegistration(client, definition, token=config.token)
        link = cls(client=client, mirror=mirror, registration=registration)
        await health_servicer.set(HEALTH_SERVICE, health_pb2.HealthCheckResponse.SERVING)
        mirror.start()
        if registration is not None:
            registration.start()
        log.info(
            "Consul at %s: mirroring events to KV%s", config.addr, ", registering" if registration else ""
        )
        return link

    async def deregister(self) -> None:
        """Leave Consul's catalog (idempotent); the mirror keeps writing until ``close``."""
        if self.registration is not None:
            await self.registration.close()

    async def close(self) -> None:
        """Deregister (if not yet), flush what the mirror holds, close the client."""
        await self.deregister()
        await self.mirror.close()
        for task in tuple(self._health_tasks):
            with contextlib.suppress(Exception):
                await task
        await self._client.close()
