"""Each user of the secured server's TOKENS as a client, and the platform requests they send."""

from __future__ import annotations

from typing import Any

from k12ai_client import AsyncK12AIClient, ClientConfig
from k12ai_server.app import Server
from tests.conftest import TOKENS


def connect(server: Server, who: str | None, token: str | None = None) -> AsyncK12AIClient:
    token = token if token is not None else TOKENS.get(who or "", "")
    return AsyncK12AIClient(ClientConfig(target=f"127.0.0.1:{server.grpc_port}", user=who or "", token=token))


def stats(user: str) -> dict[str, Any]:
    return {"op": "query", "user": user, "service_name": "k12platform", "service_uuid": "u"}


def control(user: str, container_id: str) -> dict[str, Any]:
    return {**stats(user), "op": "container.stop", "service_params": {"id": container_id}}
