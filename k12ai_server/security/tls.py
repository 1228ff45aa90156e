"""Binding the gRPC port, with TLS (and mutual TLS) when certificates are configured.

The port is this server's alone: gRPC sets SO_REUSEPORT by default, which lets a second
server bind a port that one is already serving (the kernel then splits the connections
between them), so the server is built with ``grpc.so_reuseport`` 0 (SERVER_OPTIONS) and a
second bind is refused, naming the port.
"""

from __future__ import annotations

import errno
import os
import socket
from dataclasses import dataclass

import grpc

from k12ai_server.config import ServerConfig
from k12ai_server.start_errors import StartRefusedError

# Options of every gRPC server k12ai builds.
SERVER_OPTIONS = (("grpc.so_reuseport", 0),)


class PortInUseError(StartRefusedError):
    pass


@dataclass(frozen=True, kw_only=True)
class IngestTls:
    """The internal ingest service's TLS: the public port's certificate, and what jobs trust."""

    cert: bytes
    key: bytes
    ca_pem: str


def ingest_tls(config: ServerConfig) -> IngestTls | None:
    """TLS for the ingest port when the server has a certificate: the job's secret crosses it."""
    if config.tls_cert is None or config.tls_key is None:
        return None
    trusted = config.ingest.ca or config.tls_cert
    return IngestTls(
        cert=config.tls_cert.read_bytes(), key=config.tls_key.read_bytes(), ca_pem=trusted.read_text()
    )


def server_credentials(config: ServerConfig) -> grpc.ServerCredentials | None:
    if config.tls_cert is None and config.tls_key is None:
        return None
    if config.tls_cert is None or config.tls_key is None:
        raise ValueError("TLS needs both --tls-cert and --tls-key")
    client_ca = config.tls_client_ca.read_bytes() if config.tls_client_ca else None
    return grpc.ssl_server_credentials(
        [(config.tls_key.read_bytes(), config.tls_cert.read_bytes())],
        root_certificates=client_ca,
        require_client_auth=client_ca is not None,
    )


def bind(server: grpc.aio.Server, config: ServerConfig) -> int:
    address = f"{config.host}:{config.grpc_port}"
    credentials = server_credentials(config)
    try:
        if credentials is None:
            port: int = server.add_insecure_port(address)
        else:
            port = server.add_secure_port(address, credentials)
    except RuntimeError:
        # gRPC says only "Failed to bind"; the reason comes from trying the same bind ourselves.
        raise PortInUseError(
            f"cannot bind the gRPC port {address}: {_bind_error(config.host, config.grpc_port)}"
        ) from None
    return port


def _bind_error(host: str, port: int) -> str:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        return str(exc)
    family, kind, proto, _, sockaddr = infos[0]
    with socket.socket(family, kind, proto) as probe:
        # As gRPC binds: an old connection in TIME_WAIT does not count as in use.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(sockaddr)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return "the port is in use (another k12ai-server, or another program, is serving it)"
            return os.strerror(exc.errno) if exc.errno else str(exc)
    return "gRPC could not bind it (run with GRPC_VERBOSITY=debug for its reason)"
