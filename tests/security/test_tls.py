"""TLS and mutual TLS on the gRPC port, with certificates made by the test."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest

from k12ai_client import AsyncK12AIClient, ClientConfig, RPCError
from k12ai_server.app import Server
from tests.pki import tls_server

STATS = {"op": "query", "user": "test", "service_name": "k12platform", "service_uuid": "u"}


def client_for(server: Server, pki: Path, *, client_cert: bool) -> AsyncK12AIClient:
    return AsyncK12AIClient(
        ClientConfig(
            target=f"localhost:{server.grpc_port}",
            ca_cert=pki / "ca.pem",
            client_cert=pki / "client.pem" if client_cert else None,
            client_key=pki / "client.key" if client_cert else None,
            timeout_s=5,
        )
    )


async def test_tls_serves_clients_that_trust_the_ca(tmp_path: Path, pki: Path) -> None:
    async with tls_server(tmp_path, pki) as server:
        async with client_for(server, pki, client_cert=False) as client:
            assert (await client.stats(STATS)).code == 100000
        async with AsyncK12AIClient(
            ClientConfig(target=f"localhost:{server.grpc_port}", timeout_s=2)
        ) as plain:
            with pytest.raises(RPCError) as info:
                await plain.stats(STATS)
            assert info.value.status == grpc.StatusCode.UNAVAILABLE


async def test_mutual_tls_refuses_clients_without_a_certificate(tmp_path: Path, pki: Path) -> None:
    async with tls_server(tmp_path, pki, mutual=True) as server:
        async with client_for(server, pki, client_cert=True) as client:
            assert (await client.stats(STATS)).code == 100000
        async with client_for(server, pki, client_cert=False) as anonymous:
            with pytest.raises(RPCError) as info:
                await anonymous.stats(STATS)
            assert info.value.status == grpc.StatusCode.UNAVAILABLE
