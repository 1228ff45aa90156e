"""Binding the gRPC port, with TLS (and mutual TLS) when certificates are configured."""

from __future__ import annotations

import grpc

from k12ai_server.config import ServerConfig


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
    if credentials is None:
        port: int = server.add_insecure_port(address)
    else:
        port = server.add_secure_port(address, credentials)
    return port
