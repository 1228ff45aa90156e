"""TLS and mutual TLS on the gRPC port, with certificates made by the test."""

from __future__ import annotations

import datetime
from pathlib import Path

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from k12ai_client import AsyncK12AIClient, ClientConfig, RPCError
from k12ai_server.app import Server
from tests.conftest import server_config

STATS = {"op": "query", "user": "test", "service_name": "k12platform", "service_uuid": "u"}


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def issue(
    folder: Path,
    name: str,
    issuer: tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None,
    *,
    ca: bool = False,
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(name))
        .issuer_name(issuer[0].subject if issuer else _name(name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if not ca:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False
        )
    cert = builder.sign(issuer[1] if issuer else key, hashes.SHA256())
    (folder / f"{name}.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / f"{name}.key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert, key


@pytest.fixture
def pki(tmp_path: Path) -> Path:
    folder = tmp_path / "pki"
    folder.mkdir()
    ca = issue(folder, "ca", None, ca=True)
    issue(folder, "server", ca)
    issue(folder, "client", ca)
    return folder


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
    server = await Server.start(
        server_config(tmp_path, tls_cert=pki / "server.pem", tls_key=pki / "server.key")
    )
    try:
        async with client_for(server, pki, client_cert=False) as client:
            assert (await client.stats(STATS)).code == 100000
        async with AsyncK12AIClient(
            ClientConfig(target=f"localhost:{server.grpc_port}", timeout_s=2)
        ) as plain:
            with pytest.raises(RPCError) as info:
                await plain.stats(STATS)
            assert info.value.status == grpc.StatusCode.UNAVAILABLE
    finally:
        await server.stop()


async def test_mutual_tls_refuses_clients_without_a_certificate(tmp_path: Path, pki: Path) -> None:
    server = await Server.start(
        server_config(
            tmp_path, tls_cert=pki / "server.pem", tls_key=pki / "server.key", tls_client_ca=pki / "ca.pem"
        )
    )
    try:
        async with client_for(server, pki, client_cert=True) as client:
            assert (await client.stats(STATS)).code == 100000
        async with client_for(server, pki, client_cert=False) as anonymous:
            with pytest.raises(RPCError) as info:
                await anonymous.stats(STATS)
            assert info.value.status == grpc.StatusCode.UNAVAILABLE
    finally:
        await server.stop()
