"""The client's configuration, and the one place it is read from the environment.

The CLI, the notebook helpers and a script's ``ClientConfig.from_env()`` all read the same
variables, so a secured server is reached the same way from each: ``K12AI_TARGET``,
``K12AI_USER``, ``K12AI_TOKEN``, ``K12AI_CA_CERT``, ``K12AI_CLIENT_CERT``, ``K12AI_CLIENT_KEY``.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc

from k12ai_client._watch import Reconnects

DEFAULT_TARGET = "127.0.0.1:8118"
# ClientConfig field -> the environment variable that sets it.
ENVIRONMENT = {
    "target": "K12AI_TARGET",
    "user": "K12AI_USER",
    "token": "K12AI_TOKEN",
    "ca_cert": "K12AI_CA_CERT",
    "client_cert": "K12AI_CLIENT_CERT",
    "client_key": "K12AI_CLIENT_KEY",
}
_PATHS = frozenset({"ca_cert", "client_cert", "client_key"})


@dataclass(frozen=True, kw_only=True)
class ClientConfig:
    # The server's gRPC address, host:port.
    target: str = DEFAULT_TARGET
    # Sent as the `user` of requests that do not name one.
    user: str = ""
    timeout_s: float = 30.0
    # An API token (``k12ai-server token create``); sent as `authorization: Bearer`.
    token: str = ""
    # TLS: the CA that signed the server's certificate; with client_cert/key, mutual TLS.
    ca_cert: Path | None = None
    client_cert: Path | None = None
    client_key: Path | None = None
    # Extra gRPC metadata.
    extra_metadata: tuple[tuple[str, str], ...] = ()
    # Reconnect attempts of a watch after its connection drops.
    watch_retries: int = 10
    watch_retry_backoff_s: float = 0.5

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **given: Any) -> ClientConfig:
        """Fields from ``K12AI_*`` variables; ``given`` values that are not None win over them."""
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {
            field: environ[var] for field, var in ENVIRONMENT.items() if environ.get(var)
        }
        values.update({field: value for field, value in given.items() if value is not None})
        for field in _PATHS & values.keys():
            values[field] = Path(values[field]).expanduser()
        return cls(**values)

    @property
    def metadata(self) -> tuple[tuple[str, str], ...]:
        auth = (("authorization", f"Bearer {self.token}"),) if self.token else ()
        return (*auth, *self.extra_metadata)

    @property
    def tls(self) -> bool:
        return self.ca_cert is not None

    def credentials(self) -> grpc.ChannelCredentials:
        def read(path: Path | None) -> bytes | None:
            return path.read_bytes() if path is not None else None

        return grpc.ssl_channel_credentials(read(self.ca_cert), read(self.client_key), read(self.client_cert))

    def ssl_context(self) -> ssl.SSLContext:
        """The same trust and client certificate for HTTPS (the REST gateway)."""
        context = ssl.create_default_context(cafile=self.ca_cert)
        if self.client_cert is not None:
            context.load_cert_chain(self.client_cert, self.client_key)
        return context

    def reconnects(self) -> Reconnects:
        """A fresh reconnect policy for one watch."""
        return Reconnects(retries=self.watch_retries, backoff_s=self.watch_retry_backoff_s)
