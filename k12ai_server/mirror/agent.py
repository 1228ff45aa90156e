"""The Consul agent as the mirror and the registration use it, through py-consul's asyncio client."""

from __future__ import annotations

import urllib.parse
import warnings
from dataclasses import dataclass
from typing import Any

from k12ai_server.config import ConsulConfig
from k12ai_server.mirror.mirror import RejectedWriteError

DEFAULT_PORT = 8500
# Whole-request limit of every call to the agent, so a hung agent fails a write instead of holding it.
REQUEST_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class AgentAddress:
    scheme: str
    host: str
    port: int


def parse_addr(addr: str) -> AgentAddress:
    """``host:port``, ``host`` or ``http(s)://host[:port]``, as CONSUL_HTTP_ADDR takes them."""
    parsed = urllib.parse.urlsplit(addr if "//" in addr else f"//{addr}")
    scheme = parsed.scheme or "http"
    if scheme not in ("http", "https") or not parsed.hostname:
        raise ValueError(f"Consul address {addr!r}: expected host:port or http(s)://host:port")
    return AgentAddress(scheme, parsed.hostname, parsed.port or DEFAULT_PORT)


def connect(config: ConsulConfig) -> Any:
    """A ``consul.aio.Consul``; call from a running event loop (it opens an aiohttp session)."""
    # Imported here: py-consul is the optional `consul` extra.
    import consul.aio

    address = parse_addr(config.addr)
    verify: bool | str = str(config.ca_file) if config.ca_file and config.tls_verify else config.tls_verify
    cert = (
        (str(config.client_cert), str(config.client_key))
        if config.client_cert and config.client_key
        else None
    )
    with warnings.catch_warnings():
        # py-consul still passes aiohttp's deprecated verify_ssl/ssl_context; they behave as documented.
        warnings.simplefilter("ignore", DeprecationWarning)
        return consul.aio.Consul(
            host=address.host,
            port=address.port,
            scheme=address.scheme,
            # Passed with every call instead: py-consul lets CONSUL_HTTP_TOKEN override this one.
            token=None,
            dc=config.datacenter or None,
            verify=verify,
            cert=cert,
            connections_timeout=REQUEST_TIMEOUT_S,
        )


class ConsulKv:
    """KV writes for the mirror (``KvWriter``)."""

    def __init__(self, client: Any, *, token: str = "") -> None:
        self._client = client
        self._token = token or None

    async def put(self, key: str, value: bytes) -> None:
        from consul.exceptions import BadRequest, ClientError

        try:
            stored = await self._client.kv.put(key, value, token=self._token)
        except (BadRequest, ClientError) as exc:
            # 400 (malformed) and 413 (over the agent's kv_max_value_size) come back the same
            # every time; 403 (ACL) and 429 (rate limit) may not, and are retried.
            if isinstance(exc, BadRequest) or str(exc).startswith("413"):
                raise RejectedWriteError(str(exc)) from exc
            raise
        if not stored:
            raise RuntimeError(f"Consul answered false to PUT {key}")
