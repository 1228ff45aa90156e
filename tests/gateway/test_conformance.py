"""The built-in gateway held to Envoy's gRPC-JSON transcoder: the same requests, compared.

Each case goes to both transcoders in front of the same server; statuses and parsed bodies
must be equal after :func:`normalise` (ids and host figures that differ between two calls)
and after the differences Envoy has by design, each named below and applied explicitly:

- ``ENVOY_ROUTING_TEXT``: an unknown path, or a known path with the wrong method, is a 404
  with a ``text/plain`` "Could not resolve <path> to a method." from Envoy
  (``reject_unknown_method``); grpc-gateway, and so the gateway, answers JSON status bodies:
  404 ``NOT_FOUND`` for the path, 501 ``UNIMPLEMENTED`` "Method Not Allowed" for the method.
- ``ENVOY_PARSE_TEXT``: a body or query value that does not parse is a 400 from both, but
  Envoy's body is its parser's message in ``text/plain``; the gateway's is a status body
  with ``INVALID_ARGUMENT``.
- ``ENVOY_LAX_JSON``: Envoy takes a repeated key (the first value) and a quoted boolean
  (``"async": "true"``); protojson, which grpc-gateway and so the gateway follow, refuses both
  with ``INVALID_ARGUMENT``.
- ``ENVOY_TRAILING_SLASH``: Envoy's path matcher drops a trailing "/" (``/k12ai/framework/jobs/``
  is ListJobs there); grpc-gateway, and so the gateway, match the path as sent: a 404.
- ``ENVOY_STREAM_UNWRAPPED``: Envoy writes each stream message as it is; grpc-gateway, and
  so the gateway, wraps it as ``{"result": <message>}``.
- ``ENVOY_17_DIGITS``: Envoy writes a double that needs more than 15 significant digits with
  17 (C's ``%.17g``: ``0.96666666666666667``); protojson, and so the gateway, writes the
  shortest text that reads back as the same double (``0.9666666666666667``).

Downloads (``DownloadArtefact``, a stream of ``google.api.HttpBody``) are the file itself from
both, with the same ``Content-Type`` and ``Content-Disposition`` (``test_downloads.py``).

Everything else must match as it is, compared as the bytes write it (a number's text
included, so ``1`` and ``1.0`` differ): field names, unpopulated fields, int64 as strings,
whole numbers without a fraction, the ``async`` JSON name, unknown fields ignored, status
bodies of gRPC errors (``details`` included), HTTP statuses from gRPC codes.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests
from envoy_front import EnvoyProcess

from tests.gateway.conftest import RestServer, Transcoder
from tests.gateway.rest import (
    JOB_ID,
    TIMEOUT_S,
    Answer,
    Number,
    call,
    stream_lines,
    wait_for_state,
    with_number_text,
)

ENVOY_ROUTING_TEXT = "envoy: routing failure as text/plain 404"
ENVOY_PARSE_TEXT = "envoy: parse failure as text/plain 400"
ENVOY_STREAM_UNWRAPPED = "envoy: stream lines without the result wrapper"
ENVOY_LAX_JSON = "envoy: repeated keys and quoted booleans accepted"
ENVOY_TRAILING_SLASH = "envoy: a trailing slash ignored"
ENVOY_17_DIGITS = "envoy: %.17g where the shortest text has 16 digits"


@dataclass(frozen=True)
class Case:
    name: str
    method: str
    path: str
    body: Any = None
    raw: str | None = None
    # For a gateway answer, what Envoy answers instead, by design (see the module docstring).
    envoy_difference: str = ""
    headers: dict[str, str] = field(default_factory=dict)


def seed_request(op: str, uid: str, params: Any, **extra: Any) -> dict[str, Any]:
    return {
        "op": op,
        "user": "test",
        "service_name": "k12ml",
        "service_uuid": uid,
        "service_params": params,
        **extra,
    }


STATS_RAW = '{"op": "query", "user": "test", "service_name": "k12platform", "service_uuid": "{uid}"%s}'
IRIS = {"dataset": {"type": "builtin", "name": "iris"}, "model": {"type": "random_forest"}}
CASES = [
    Case("train start", "POST", "/k12ai/framework/train", seed_request("train.start", "{uid}", IRIS)),
    Case(
        "train start with seed-only fields and async",
        "POST",
        "/k12ai/framework/train",
        seed_request("train.start", "{uid}-b", IRIS, username="test", password="test", **{"async": True}),
    ),
    Case(
        "train start with the proto name of async",
        "POST",
        "/k12ai/framework/train",
        seed_request("train.start", "{uid}-c", IRIS, async_mode=False),
    ),
    Case("unknown op", "POST", "/k12ai/framework/train", seed_request("train.begin", "{uid}", IRIS)),
    Case(
        "unknown service",
        "POST",
        "/k12ai/framework/train",
        {**seed_request("train.start", "{uid}", IRIS), "service_name": "k12xx"},
    ),
    Case(
        "bad params",
        "POST",
        "/k12ai/framework/train",
        seed_request("train.start", "{uid}", {"model": {"type": "svm2"}}),
    ),
    Case(
        "identifier with ..", "POST", "/k12ai/framework/train", seed_request("train.start", "../{uid}", IRIS)
    ),
    Case("empty body", "POST", "/k12ai/framework/evaluate", raw=""),
    Case(
        "evaluate before train",
        "POST",
        "/k12ai/framework/evaluate",
        seed_request("evaluate.start", "{uid}-e", IRIS),
    ),
    Case("stop nothing", "POST", "/k12ai/framework/predict", seed_request("predict.stop", "{uid}-p", {})),
    Case("wrong JSON type", "POST", "/k12ai/framework/train", {"op": 5}, envoy_difference=ENVOY_PARSE_TEXT),
    Case("malformed JSON", "POST", "/k12ai/framework/train", raw='{"op":', envoy_difference=ENVOY_PARSE_TEXT),
    Case(
        "NaN is not JSON",
        "POST",
        "/k12ai/platform/stats",
        raw=STATS_RAW % ', "service_params": {"a": NaN}',
        envoy_difference=ENVOY_PARSE_TEXT,
    ),
    Case(
        "a number beyond a double",
        "POST",
        "/k12ai/platform/stats",
        raw=STATS_RAW % ', "service_params": {"a": 1e400}',
        envoy_difference=ENVOY_PARSE_TEXT,
    ),
    Case(
        # Found by sending odd values through both: the error quoting it back was a 500.
        "a lone surrogate quoted in the error",
        "POST",
        "/k12ai/platform/stats",
        raw=STATS_RAW % ', "service_params": "\\ud800"',
        envoy_difference=ENVOY_PARSE_TEXT,
    ),
    Case(
        "a repeated key",
        "POST",
        "/k12ai/platform/stats",
        raw=STATS_RAW % ', "op": "query"',
        envoy_difference=ENVOY_LAX_JSON,
    ),
    Case(
        "a quoted boolean",
        "POST",
        "/k12ai/platform/stats",
        raw=STATS_RAW % ', "async": "true"',
        envoy_difference=ENVOY_LAX_JSON,
    ),
    Case("query integer with a sign", "GET", "/k12ai/framework/jobs?service_uuid={fuid}-f&limit=%2B3"),
    Case(
        "query integer with an exponent",
        "GET",
        "/k12ai/framework/jobs?limit=1e2",
        envoy_difference=ENVOY_PARSE_TEXT,
    ),
    Case(
        "stats sync",
        "POST",
        "/k12ai/platform/stats",
        {
            "op": "query",
            "user": "test",
            "service_name": "k12platform",
            "service_uuid": "{uid}",
            "service_params": {"cpus": True},
        },
    ),
    Case(
        "stats async",
        "POST",
        "/k12ai/platform/stats",
        {
            "op": "query",
            "user": "test",
            "service_name": "k12platform",
            "service_uuid": "{uid}",
            "async": True,
        },
    ),
    Case(
        "control unknown container",
        "POST",
        "/k12ai/platform/control",
        {
            "op": "container.stop",
            "user": "test",
            "service_name": "k12platform",
            "service_uuid": "{uid}",
            "service_params": {"id": "nope"},
        },
    ),
    Case("get job", "GET", "/k12ai/framework/jobs/{job_id}"),
    Case("get missing job", "GET", "/k12ai/framework/jobs/0123"),
    # The file itself (google.api.HttpBody); headers and other users in test_downloads.py.
    Case("download a job's model", "GET", "/k12ai/framework/jobs/{job_id}/artefact"),
    Case("download, missing job", "GET", "/k12ai/framework/jobs/0123/artefact"),
    Case("get job, encoded traversal", "GET", "/k12ai/framework/jobs/%2e%2e%2f%2e%2e%2fetc%2fpasswd"),
    Case(
        "list jobs by query",
        "GET",
        "/k12ai/framework/jobs?service_uuid={fuid}-f&states=finished&states=failed&limit=5",
    ),
    Case("list jobs, JSON names in the query", "GET", "/k12ai/framework/jobs?serviceUuid={fuid}-f&limit=5"),
    Case(
        "list jobs, unknown query parameter ignored",
        "GET",
        "/k12ai/framework/jobs?service_uuid={fuid}-f&bogus=1",
    ),
    Case("list jobs, bad state", "GET", "/k12ai/framework/jobs?states=bogus"),
    Case("list jobs, bad int", "GET", "/k12ai/framework/jobs?limit=abc", envoy_difference=ENVOY_PARSE_TEXT),
    Case("watch a missing job", "GET", "/k12ai/framework/events?job_id=0123"),
    Case("unknown path", "GET", "/k12ai/framework/nothing", envoy_difference=ENVOY_ROUTING_TEXT),
    Case("trailing slash", "GET", "/k12ai/framework/jobs/", envoy_difference=ENVOY_TRAILING_SLASH),
    Case(
        "trailing slash on a POST",
        "POST",
        "/k12ai/platform/stats/",
        raw="{}",
        envoy_difference=ENVOY_TRAILING_SLASH,
    ),
    Case("wrong method", "DELETE", "/k12ai/framework/train", envoy_difference=ENVOY_ROUTING_TEXT),
    Case(
        "wrong method on a template", "POST", "/k12ai/framework/jobs/abc", envoy_difference=ENVOY_ROUTING_TEXT
    ),
]


@pytest.fixture(scope="module")
def finished_job(rest_server: RestServer) -> dict[str, str]:
    """A job that has ended, named in requests as {job_id}; its project is {fuid}-f."""
    uid = f"conf-{uuid.uuid4().hex[:8]}"
    reply = call(
        "POST", f"{rest_server.url}/k12ai/framework/train", seed_request("train.start", f"{uid}-f", IRIS)
    )
    wait_for_state(rest_server.url, reply.body["job_id"], {"finished"})
    return {"job_id": reply.body["job_id"], "fuid": uid}


def send(base_url: str, case: Case, values: dict[str, str], uid: str) -> Answer:
    fill = {**values, "uid": uid}
    path = case.path.format(**fill)
    body = json.loads(json.dumps(case.body).replace("{uid}", uid)) if case.body is not None else None
    raw = case.raw.replace("{uid}", uid) if case.raw is not None else None
    return call(case.method, base_url + path, body, raw=raw, headers=case.headers)


def normalise(answer: Answer, uid: str, *, envoy: bool = False) -> tuple[int, Any]:
    """Status and body, the body read from its bytes with every number kept as its text."""
    text = answer.raw.decode() if answer.is_json else str(answer.body)
    text = JOB_ID.sub("<job_id>", text.replace(uid, "<uid>") if uid else text)
    body = with_number_text(text) if answer.is_json else text
    if envoy:
        body = shortest_numbers(body)
    if isinstance(body, dict) and isinstance(body.get("message"), dict):
        # Host figures change between two calls; their names and kinds must not.
        body["message"] = {k: _kind(v) for k, v in body["message"].items()}
    return answer.status, body


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_same_answer_from_both(
    case: Case, rest_server: RestServer, envoy: EnvoyProcess, finished_job: dict[str, str]
) -> None:
    base = f"conf-{uuid.uuid4().hex[:8]}"
    gateway = normalise(send(rest_server.url, case, finished_job, f"{base}-g"), f"{base}-g")
    envoy_answer = send(envoy.url, case, finished_job, f"{base}-e")
    if case.envoy_difference == ENVOY_ROUTING_TEXT:
        assert gateway in (
            (404, {"code": Number("5"), "message": "Not Found", "details": []}),
            (501, {"code": Number("12"), "message": "Method Not Allowed", "details": []}),
        )
        assert (envoy_answer.status, envoy_answer.content_type) == (404, "text/plain")
        assert "Could not resolve" in envoy_answer.body
    elif case.envoy_difference == ENVOY_TRAILING_SLASH:
        assert gateway == (404, {"code": Number("5"), "message": "Not Found", "details": []})
        assert envoy_answer.status == 200
    elif case.envoy_difference == ENVOY_LAX_JSON:
        assert gateway[0] == 400 and gateway[1]["code"] == Number("3"), gateway
        assert envoy_answer.status == 200
    elif case.envoy_difference == ENVOY_PARSE_TEXT:
        assert gateway[0] == 400 and gateway[1]["code"] == Number("3"), gateway
        assert (envoy_answer.status, envoy_answer.content_type) == (400, "text/plain")
    else:
        assert normalise(envoy_answer, f"{base}-e", envoy=True) == gateway


def _kind(value: Any) -> str:
    # Host figures change between two calls, and with them whether a percentage is whole.
    return "number" if isinstance(value, Number) else type(value).__name__


def shortest_numbers(document: Any) -> Any:
    """ENVOY_17_DIGITS applied: each fraction Envoy wrote with %.17g as its shortest text."""
    if isinstance(document, dict):
        return {key: shortest_numbers(value) for key, value in document.items()}
    if isinstance(document, list):
        return [shortest_numbers(value) for value in document]
    if isinstance(document, Number) and not document.is_integer:
        value = float(document.text)
        if document.text == f"{value:.17g}":
            return Number(repr(value))
    return document


def test_shortest_numbers_touches_only_envoys_17_digit_fractions() -> None:
    envoy = with_number_text('{"a": 0.96666666666666667, "b": 1, "c": 0.5, "d": [1e+21, 2.5]}')
    assert shortest_numbers(envoy) == with_number_text(
        '{"a": 0.9666666666666667, "b": 1, "c": 0.5, "d": [1e+21, 2.5]}'
    )
    # A whole number written with a fraction stays as it was written, so the comparison sees it.
    assert shortest_numbers(with_number_text("[1.0]")) == [Number("1.0")]


def test_routing_errors_follow_grpc_gateway(rest_server: RestServer) -> None:
    assert normalise(call("GET", f"{rest_server.url}/nothing"), "") == (
        404,
        {"code": Number("5"), "message": "Not Found", "details": []},
    )
    assert normalise(call("PUT", f"{rest_server.url}/k12ai/platform/stats"), "") == (
        501,
        {"code": Number("12"), "message": "Method Not Allowed", "details": []},
    )


def test_watch_streams_the_same_events(
    rest_server: RestServer, envoy: EnvoyProcess, finished_job: dict[str, str]
) -> None:
    query = f"/k12ai/framework/events?job_id={finished_job['job_id']}&types=status&types=metrics"
    status, gateway_lines = stream_lines(rest_server.url + query, parse=with_number_text)
    envoy_status, envoy_lines = stream_lines(envoy.url + query, parse=with_number_text)
    assert status == envoy_status == 200
    # ENVOY_STREAM_UNWRAPPED and ENVOY_17_DIGITS: the only differences in a stream's lines.
    assert all(set(line) == {"result"} for line in gateway_lines), gateway_lines
    unwrapped = [line["result"] for line in gateway_lines]
    assert _events_and_end(unwrapped) == _events_and_end(shortest_numbers(envoy_lines))
    events, end = _events_and_end(unwrapped)
    assert end == {"job_id": finished_job["job_id"], "state": "finished"}
    assert {e["type"] for e in events} == {"status", "metrics"}
    assert all(isinstance(e["seq"], str) for e in events), "int64 as a string"
    epochs = [e["payload"]["epoch"] for e in events if e["type"] == "metrics"]
    assert epochs and all(epoch.is_integer for epoch in epochs), epochs


def _events_and_end(lines: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    # Batching and heartbeats depend on timing; the events and the end do not.
    events = [event for line in lines for event in line.get("events", [])]
    ends = [line["end"] for line in lines if "end" in line]
    return events, ends[-1] if ends else None


def test_whole_numbers_are_written_without_a_fraction(
    transcoder: Transcoder, finished_job: dict[str, str]
) -> None:
    """In the bytes: a Struct holds every number as a double, and both print a whole one as ``1``."""
    stats = {"op": "query", "user": "test", "service_name": "k12platform", "service_uuid": "whole"}
    answer = call("POST", f"{transcoder.url}/k12ai/platform/stats", stats)
    written = _written(answer.raw, "cpu_memory_total")
    # The host's, and each running job container's when other tests' jobs run.
    assert written and all(total.isdigit() for total in written), answer.raw[:300]
    events = f"{transcoder.url}/k12ai/framework/events?job_id={finished_job['job_id']}&types=metrics"
    streams = [requests.get(events, timeout=TIMEOUT_S).content]
    if not transcoder.is_envoy:  # server-sent events are the gateway's own
        streams.append(
            requests.get(events, headers={"Accept": "text/event-stream"}, timeout=TIMEOUT_S).content
        )
    for raw in streams:
        epochs = _written(raw, "epoch")
        assert epochs and all(epoch.isdigit() for epoch in epochs), raw[:500]


def _written(raw: bytes, key: str) -> list[str]:
    """How each number under ``key`` is written in a JSON text."""
    return [found.decode() for found in re.findall(rb'"%s":([^,}\]]+)' % key.encode(), raw)]
