"""A throwaway PKI for the TLS tests (CA, server and client certificates made by the test),
and a server that serves TLS with it."""

from __future__ import annotations

import datetime
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from k12ai_server.app import Server
from tests.conftest import server_config


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


def make_pki(folder: Path) -> Path:
    """ca.pem, server.pem/.key (for localhost) and client.pem/.key, the two signed by the CA."""
    folder.mkdir()
    ca = issue(folder, "ca", None, ca=True)
    issue(folder, "server", ca)
    issue(folder, "client", ca)
    return folder


@asynccontextmanager
async def tls_server(tmp_path: Path, pki: Path, *, mutual: bool = False) -> AsyncIterator[Server]:
    """A server with TLS on both ports; ``mutual``: clients must present a certificate of the CA."""
    client_ca = {"tls_client_ca": pki / "ca.pem"} if mutual else {}
    server = await Server.start(
        server_config(tmp_path, tls_cert=pki / "server.pem", tls_key=pki / "server.key", **client_ca)
    )
    try:
        yield server
    finally:
        await server.stop()
