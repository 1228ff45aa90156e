"""Register the server as a Consul service with a gRPC health check; deregister on a clean stop.

Registration runs in the background: a Consul that is down at start-up delays it, never the
server. It is repeated every ``REFRESH_S`` (the agent treats a repeat as an update), so a
registration an agent lost in a restart comes back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

REFRESH_S = 30.0
RETRY_MIN_S = 0.5
RETRY_MAX_S = 30.0
CHECK_INTERVAL = "10s"
CHECK_TIMEOUT = "5s"
# A server that stayed unhealthy this long is dropped from the catalog by Consul itself.
DEREGISTER_CRITICAL_AFTER = "30m"
WILDCARD_HOSTS = frozenset({"", "0.0.0.0", "::", "[::]"})


@dataclass(frozen=True, kw_only=True)
class ServiceDefinition:
    name: str
    address: str
    grpc_port: int
    http_port: int
    # The gRPC port speaks TLS: the check must too (it does not verify the certificate, see below).
    tls: bool = False

    @property
    def service_id(self) -> str:
        return f"{self.name}-{self.address}-{self.grpc_port}"

    def register_args(self) -> dict[str, Any]:
        """Arguments of py-consul's ``agent.service.register``."""
        from consul import Check  # the optional `consul` extra

        return {
            "name": self.name,
            "service_id": self.service_id,
            "address": self.address,
            "port": self.grpc_port,
            "tags": ["grpc", "http"],
            "meta": {"grpc_port": str(self.grpc_port), "http_port": str(self.http_port)},
            # The standard grpc.health.v1 service, whole-server status ("").
            "check": Check.grpc(
                f"{self.address}:{self.grpc_port}",
                CHECK_INTERVAL,
                use_tls=self.tls or None,
                # Consul checks by address, which a certificate for a service name may not carry.
                tls_skip_verify=True if self.tls else None,
                timeout=CHECK_TIMEOUT,
                deregister=DEREGISTER_CRITICAL_AFTER,
            ),
        }


def advertised_address(configured: str, host: str) -> str:
    if configured:
        return configured
    return socket.gethostname() if host in WILDCARD_HOSTS else host


class ServiceRegistration:
    def __init__(self, client: Any, definition: ServiceDefinition, *, token: str = "") -> None:
        self._client = client
        self.definition = definition
        self._token = token or None
        self._task: asyncio.Task[None] | None = None
        self.registered = asyncio.Event()

    def start(self) -> None:
        self._task = asyncio.create_task(self._keep_registered(), name="consul-registration")

    async def close(self, timeout_s: float = 2.0) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if not self.registered.is_set():
            return
        self.registered.clear()
        try:
            await asyncio.wait_for(
                self._client.agent.service.deregister(self.definition.service_id, token=self._token),
                timeout_s,
            )
            log.info("deregistered %s from Consul", self.definition.service_id)
        except Exception as exc:  # a stopping server must not fail on Consul
            log.warning("could not deregister %s from Consul: %s", self.definition.service_id, exc)

    async def _keep_registered(self) -> None:
        retry_s = RETRY_MIN_S
        while True:
            try:
                await self._client.agent.service.register(
                    **self.definition.register_args(), token=self._token
                )
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("Consul registration of %s failed, retrying: %s", self.definition.service_id, exc)
                await asyncio.sleep(retry_s)
                retry_s = min(retry_s * 2, RETRY_MAX_S)
                continue
            if not self.registered.is_set():
                log.info("registered %s in Consul", self.definition.service_id)
                self.registered.set()
            retry_s = RETRY_MIN_S
            await asyncio.sleep(REFRESH_S)
