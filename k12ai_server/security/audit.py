"""One structured line per call that changes something, per refused caller, per server failure.

Lines go to logger ``k12ai.audit`` as JSON objects, each with ``audit`` (what happened),
``time`` and ``peer``:

- a mutating call (start, stop, ``container.stop``), refused ones included: ``caller``,
  ``admin``, ``op``, ``user``, ``service_name``, ``service_uuid``, ``code``, ``job_id``;
- a call without a valid token (``audit: "unauthenticated"``): ``rpc`` and ``reason``;
- a call that failed inside the server (``audit: "failure"``): ``rpc``, the request's
  ``op`` / ``user`` / ``service_name`` / ``service_uuid`` where it has them, the gRPC
  ``status`` answered and the ``error`` class (the traceback is in the server log).

Every string is cut to MAX_FIELD_CHARS, so a caller cannot make a line as long as its request.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from k12ai_server.security.tokens import Principal

audit_log = logging.getLogger("k12ai.audit")

MAX_FIELD_CHARS = 256
REQUEST_FIELDS = ("op", "user", "service_name", "service_uuid")


def record(principal: Principal, peer: str, rpc: str, request: Any, *, code: int, job_id: str = "") -> None:
    _write(
        rpc,
        peer,
        caller=principal.user,
        admin=principal.admin,
        **_request_fields(request),
        code=code,
        job_id=job_id,
    )


def unauthenticated(peer: str, rpc: str, reason: str) -> None:
    _write("unauthenticated", peer, rpc=rpc, reason=reason)


def failure(peer: str, rpc: str, request: Any, *, status: str, error: str) -> None:
    _write("failure", peer, rpc=rpc, **_request_fields(request), status=status, error=error)


def _request_fields(request: Any) -> dict[str, Any]:
    return {name: getattr(request, name, "") for name in REQUEST_FIELDS}


def _write(what: str, peer: str, **fields: Any) -> None:
    line = {"audit": what, "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "peer": peer, **fields}
    audit_log.info(json.dumps({k: _capped(v) for k, v in line.items()}, separators=(",", ":")))


def _capped(value: Any) -> Any:
    if isinstance(value, str) and len(value) > MAX_FIELD_CHARS:
        return f"{value[:MAX_FIELD_CHARS]}...(+{len(value) - MAX_FIELD_CHARS} chars)"
    return value
