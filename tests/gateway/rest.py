"""Sending one REST request and reading its answer the same way for both transcoders."""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from typing import Any

import requests

JOB_ID = re.compile(r"\b[0-9a-f]{32}\b")
TIMEOUT_S = 30.0


@dataclass(frozen=True)
class Answer:
    status: int
    content_type: str
    body: Any  # parsed JSON, or the text when the answer is not JSON
    raw: bytes = b""  # the body as it came, for what parsing hides (how a number is written)

    @property
    def is_json(self) -> bool:
        return self.content_type.startswith("application/json")


def call(method: str, url: str, body: Any = None, *, raw: str | None = None, **kwargs: Any) -> Answer:
    data = raw if raw is not None else (json.dumps(body) if body is not None else None)
    reply = requests.request(method, url, data=data, timeout=TIMEOUT_S, **kwargs)
    content_type = reply.headers.get("Content-Type", "")
    parsed: Any = reply.json() if content_type.startswith("application/json") else reply.text
    return Answer(reply.status_code, content_type, parsed, reply.content)


def stream_lines(url: str, *, parse: Any = json.loads, **kwargs: Any) -> tuple[int, list[Any]]:
    """Every newline-delimited JSON object of a stream that ends by itself, read by ``parse``."""
    with requests.get(url, stream=True, timeout=TIMEOUT_S, **kwargs) as reply:
        lines = [parse(line) for line in reply.iter_lines() if line.strip()]
        return reply.status_code, lines


@dataclass(frozen=True)
class Number:
    """A JSON number as written: ``1`` and ``1.0`` parse equal, but are not the same text."""

    text: str

    @property
    def is_integer(self) -> bool:
        return re.fullmatch(r"-?[0-9]+", self.text) is not None


def with_number_text(raw: str | bytes) -> Any:
    """JSON with each number kept as its :class:`Number` text."""
    return json.loads(raw, parse_int=Number, parse_float=Number)


def wait_for_state(
    base_url: str, job_id: str, states: set[str], timeout_s: float = 60.0, **kwargs: Any
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        job: dict[str, Any] = call("GET", f"{base_url}/k12ai/framework/jobs/{job_id}", **kwargs).body["job"]
        if job["state"] in states:
            return job
        if time.monotonic() > deadline:
            raise AssertionError(f"job {job_id} still {job['state']} after {timeout_s}s")
        time.sleep(0.1)
