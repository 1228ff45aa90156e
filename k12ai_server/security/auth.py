"""Who is calling: `authorization: Bearer <token>` metadata turned into a Principal.

Servicers ask for the principal of each call through its context, which works
the same for calls over a socket and calls the REST gateway dispatches
in-process with the HTTP `Authorization` header as metadata.
"""

from __future__ import annotations

from typing import Any

import grpc

from k12ai_server.security import audit
from k12ai_server.security.tokens import OPEN, Principal, TokenStore

UNAUTHENTICATED_MESSAGE = "missing or invalid bearer token (metadata 'authorization: Bearer <token>')"


class Authenticator:
    def __init__(self, tokens: TokenStore) -> None:
        self._tokens = tokens

    @property
    def open(self) -> bool:
        """No tokens configured: the embedded default, allowed on loopback only."""
        return not self._tokens

    async def principal(self, context: grpc.aio.ServicerContext[Any, Any], rpc: str) -> Principal:
        """The caller of ``rpc`` (its name, for the audit line of a refusal)."""
        if self.open:
            return OPEN
        token = bearer_token(context.invocation_metadata())
        principal = self._tokens.authenticate(token) if token else None
        if principal is None:
            audit.unauthenticated(context.peer(), rpc, "unknown bearer token" if token else "no bearer token")
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, UNAUTHENTICATED_MESSAGE)
        assert principal is not None
        return principal


def bearer_token(metadata: Any) -> str | None:
    for key, value in metadata or ():
        if key.lower() == "authorization" and isinstance(value, str) and value.startswith("Bearer "):
            return value.removeprefix("Bearer ").strip()
    return None
