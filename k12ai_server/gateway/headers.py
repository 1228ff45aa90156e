"""HTTP headers <-> gRPC metadata, named as grpc-gateway names them.

In: ``Authorization`` as ``authorization``, ``Grpc-Metadata-<key>`` as ``<key>``, the caller's
address appended to ``x-forwarded-for``, ``x-forwarded-host``, and ``Grpc-Timeout`` as the
call's deadline. Out: response metadata as ``Grpc-Metadata-<key>``, trailers as
``Grpc-Trailer-<key>``.
"""

from __future__ import annotations

import base64
import re
import time
from collections.abc import Iterable, Mapping

import grpc

from k12ai_server.gateway.context import Metadata
from k12ai_server.gateway.status import GatewayError

METADATA_PREFIX = "grpc-metadata-"
# gRPC's timeout syntax: up to 8 digits and a unit.
_TIMEOUT = re.compile(r"(\d{1,8})([HMSmun])")
_TIMEOUT_UNIT_S = {"H": 3600.0, "M": 60.0, "S": 1.0, "m": 1e-3, "u": 1e-6, "n": 1e-9}
# gRPC allows only printable ASCII in text metadata; anything else could not be a header either.
_PRINTABLE = re.compile(r"[\x20-\x7e]*")


def request_metadata(headers: Mapping[str, str], peer_host: str) -> Metadata:
    metadata: list[tuple[str, str | bytes]] = []
    forwarded_for = ""
    for name, value in headers.items():
        key = name.lower()
        if key == "authorization":
            metadata.append((key, value))
        elif key.startswith(METADATA_PREFIX) and len(key) > len(METADATA_PREFIX):
            metadata.append(_metadata_pair(key.removeprefix(METADATA_PREFIX), value))
        elif key == "x-forwarded-for":
            forwarded_for = value
        elif key == "host":
            metadata.append(("x-forwarded-host", value))
    if peer_host:
        metadata.append(("x-forwarded-for", f"{forwarded_for}, {peer_host}" if forwarded_for else peer_host))
    return tuple(metadata)


def _metadata_pair(key: str, value: str) -> tuple[str, str | bytes]:
    if key.endswith("-bin"):
        try:
            return key, base64.b64decode(value + "=" * (-len(value) % 4))
        except ValueError:
            raise GatewayError(grpc.StatusCode.INVALID_ARGUMENT, f"{key}: not base64") from None
    return key, value


def deadline(headers: Mapping[str, str]) -> float | None:
    """The monotonic deadline ``Grpc-Timeout`` asks for, or None."""
    value = headers.get("Grpc-Timeout")
    if value is None:
        return None
    found = _TIMEOUT.fullmatch(value)
    if found is None:
        raise GatewayError(grpc.StatusCode.INVALID_ARGUMENT, f"Grpc-Timeout: bad value {value!r}")
    return time.monotonic() + int(found.group(1)) * _TIMEOUT_UNIT_S[found.group(2)]


def response_headers(initial: Metadata, trailing: Iterable[tuple[str, str | bytes]]) -> dict[str, str]:
    headers = {f"Grpc-Metadata-{key}": _header_value(value) for key, value in initial}
    headers.update({f"Grpc-Trailer-{key}": _header_value(value) for key, value in trailing})
    return {name: value for name, value in headers.items() if _PRINTABLE.fullmatch(name + value)}


def _header_value(value: str | bytes) -> str:
    return base64.b64encode(value).decode() if isinstance(value, bytes) else value
