"""One structured line per call that changes something: who, what, when, from where."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from k12ai_server.security.tokens import Principal

audit_log = logging.getLogger("k12ai.audit")


def record(principal: Principal, peer: str, rpc: str, request: Any, *, code: int, job_id: str = "") -> None:
    audit_log.info(
        json.dumps(
            {
                "audit": rpc,
                "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "caller": principal.user or "(open)",
                "admin": principal.admin,
                "peer": peer,
                "op": request.op,
                "user": request.user,
                "service_name": request.service_name,
                "service_uuid": request.service_uuid,
                "code": code,
                "job_id": job_id,
            },
            separators=(",", ":"),
        )
    )
