"""Inputs that once crashed a call (gRPC UNKNOWN with the exception's text, REST 500) now get a
documented code, and whatever still fails inside the server answers INTERNAL (RESOURCE_EXHAUSTED
for a full disk) with a fixed message, the traceback in the log only and an audit line."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import grpc
import pytest
import requests

from k12ai_api.v1 import framework_pb2
from k12ai_client import AsyncK12AIClient, ReplyError, RPCError
from k12ai_server.app import Server

INVALID_PARAMS = 100103
DEEP = "[" * 50_000 + "]" * 50_000


def body(op: str, service: str = "k12ml", **params: Any) -> dict[str, Any]:
    return {
        "op": op,
        "user": "test",
        "service_name": service,
        "service_uuid": "unhandled",
        "service_params": params,
    }


async def post(
    server: Server, kind: str, document: Any = None, *, raw: str | None = None
) -> requests.Response:
    """The REST call, from a thread: the server under test runs on this event loop."""
    data = raw if raw is not None else json.dumps(document)
    url = f"http://127.0.0.1:{server.http_port}/k12ai/framework/{kind}"
    return await asyncio.to_thread(requests.post, url, data=data, timeout=60)


def audit_lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    return [json.loads(r.getMessage()) for r in caplog.records if r.name == "k12ai.audit"]


REFUSED_PARAMS = [
    (
        "NUL byte in a path",
        "train",
        body("train.start", dataset={"type": "csv", "path": "/data/a\u0000b.csv"}, model={"type": "knn"}),
        "service_params.dataset.path: a path cannot contain a NUL character",
    ),
    (
        "NUL byte in output_file",
        "evaluate",
        body("evaluate.start", dataset={"type": "builtin", "name": "iris"}, output_file="a\u0000b"),
        "service_params.output_file: a path cannot contain a NUL character",
    ),
    (
        "deeply nested JSON text in input_text",
        "predict",
        body("predict.start", input_type="text", input_text=DEEP),
        "service_params.input_text: JSON nested deeper than 16 levels",
    ),
    (
        "deeply nested JSON text in overrides",
        "train",
        body("train.start", "k12nlp", overrides=DEEP),
        "service_params.overrides: JSON nested deeper than 16 levels",
    ),
    (
        "output_file over the trained model",
        "evaluate",
        body("evaluate.start", dataset={"type": "builtin", "name": "iris"}, output_file="model.tar.gz"),
        "service_params.output_file: 'model.tar.gz' would overwrite the trained model (model.tar.gz)",
    ),
    (
        "output_file over the model's temporary file",
        "evaluate",
        body(
            "evaluate.start", dataset={"type": "builtin", "name": "iris"}, output_file=".model.tar.gz.7.tmp"
        ),
        "service_params.output_file: '.model.tar.gz.7.tmp' would overwrite the trained model",
    ),
    (
        "output_file that is the cache directory",
        "evaluate",
        body("evaluate.start", dataset={"type": "builtin", "name": "iris"}, output_file="sub/.."),
        "service_params.output_file: 'sub/..' would overwrite the cache directory itself",
    ),
]


@pytest.mark.parametrize(
    ("case", "kind", "request_body", "says"), REFUSED_PARAMS, ids=[c[0] for c in REFUSED_PARAMS]
)
async def test_inputs_that_crashed_a_start_get_a_code_over_grpc_and_rest(
    server: Server, client: AsyncK12AIClient, case: str, kind: str, request_body: dict[str, Any], says: str
) -> None:
    with pytest.raises(ReplyError) as refused:
        await getattr(client, kind)(request_body)
    assert refused.value.code == INVALID_PARAMS, case
    assert refused.value.message.startswith(says)
    answer = await post(server, kind, request_body)
    assert answer.status_code == 200
    assert (answer.json()["code"], answer.json()["message"][: len(says)]) == (INVALID_PARAMS, says)


async def test_an_integer_beyond_a_double_is_a_400(server: Server) -> None:
    raw = json.dumps(body("train.start", dataset={"type": "builtin", "name": "iris"}, model={"type": "knn"}))
    raw = raw.replace('"knn"}', '"knn", "params": {"n_neighbors": ' + "9" * 400 + "}}")
    answer = await post(server, "train", raw=raw)
    assert answer.status_code == 400
    assert answer.json() == {
        "code": 3,
        "message": "invalid JSON body: an integer of 400 digits is out of the range of a double",
        "details": [],
    }


def _varint(number: int) -> bytes:
    out = bytearray()
    while number > 0x7F:
        out.append(number & 0x7F | 0x80)
        number >>= 7
    out.append(number)
    return bytes(out)


def _length_delimited(field: int, payload: bytes) -> bytes:
    return _varint((field << 3) | 2) + _varint(len(payload)) + payload


def deep_struct(depth: int) -> bytes:
    """A google.protobuf.Struct nested ``depth`` levels, encoded by hand (protobuf refuses to build it)."""
    value = _length_delimited(3, b"x")  # Value.string_value
    struct = b""
    for _ in range(depth):
        struct = _length_delimited(1, _length_delimited(1, b"a") + _length_delimited(2, value))
        value = _length_delimited(5, struct)  # Value.struct_value
    return struct


async def test_a_struct_nested_past_protobufs_limit(server: Server, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="k12ai.audit")
    start = framework_pb2.TrainRequest(
        op="train.start", user="test", service_name="k12ml", service_uuid="deep"
    )
    raw = start.SerializeToString() + _length_delimited(6, deep_struct(150))  # field 6: service_params
    async with grpc.aio.insecure_channel(f"127.0.0.1:{server.grpc_port}") as channel:
        train = channel.unary_unary(
            "/k12ai.v1.Framework/Train",
            request_serializer=lambda data: data,
            response_deserializer=framework_pb2.TrainResponse.FromString,
        )
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await train(raw)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert (refused.value.details() or "").startswith("the request could not be decoded: ")
    (line,) = audit_lines(caplog)
    assert (line["audit"], line["rpc"], line["status"]) == (
        "failure",
        "/k12ai.v1.Framework/Train",
        "INVALID_ARGUMENT",
    )

    document: Any = "x"
    for _ in range(150):
        document = {"a": document}
    answer = await post(server, "train", {**body("train.start"), "service_params": document})
    assert answer.status_code == 400 and answer.json()["code"] == 3


async def test_a_failure_inside_the_server_answers_internal_without_its_text(
    server: Server,
    client: AsyncK12AIClient,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A fault injected where no input reaches today: the job service fails."""

    async def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("secret detail of the failure")

    monkeypatch.setattr(server.jobs, "start", broken)
    caplog.set_level(logging.INFO)
    request_body = body("train.start", dataset={"type": "builtin", "name": "iris"}, model={"type": "knn"})
    with pytest.raises(RPCError) as failed:
        await client.train(request_body)
    assert failed.value.status == grpc.StatusCode.INTERNAL
    assert "secret" not in str(failed.value)
    answer = await post(server, "train", request_body)
    assert answer.status_code == 500
    assert answer.json() == {"code": 13, "message": "internal error (see the server log)", "details": []}
    failures = [line for line in audit_lines(caplog) if line["audit"] == "failure"]
    assert [(f["rpc"], f["status"], f["error"], f["user"]) for f in failures] == [
        ("Framework.Train", "INTERNAL", "RuntimeError", "test")
    ] * 2
    assert "secret detail of the failure" in caplog.text  # the traceback: in the log only


def test_a_full_disk_at_a_start_is_answered_and_audited(tmp_path: Path) -> None:
    """The state directory on a small tmpfs, in a mount namespace of the server's own, filled up."""
    state = tmp_path / "state"
    state.mkdir()
    log = (tmp_path / "server.log").open("w")
    mount = f"mount -t tmpfs -o size=4m,nr_inodes=64 tmpfs {state}"
    server = (
        f"exec {sys.executable} -m k12ai_server --grpc-port 0 --http-port 0 "
        f"--data-root {tmp_path / 'data'} --state-dir {state}"
    )
    proc = subprocess.Popen(
        ["unshare", "--mount", "sh", "-c", f"{mount} && {server}"],
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert proc.stdout is not None
        ports = re.search(r"grpc=[^ ]+:(\d+) http=[^ ]+:(\d+)", proc.stdout.readline())
        if ports is None:
            pytest.skip(
                f"no tmpfs mount in a private mount namespace here: {(tmp_path / 'server.log').read_text()}"
            )
        url = f"http://127.0.0.1:{ports.group(2)}/k12ai"
        # Fill the server's tmpfs (only it sees that mount): its blocks, then its inodes.
        fill = f"cat /dev/zero > {state}/blocks; i=0; while touch {state}/inode$i; do i=$((i+1)); done"
        subprocess.run(
            ["nsenter", "-t", str(proc.pid), "-m", "sh", "-c", fill], capture_output=True, check=False
        )

        request_body = body("train.start", dataset={"type": "builtin", "name": "iris"}, model={"type": "knn"})
        answer = requests.post(f"{url}/framework/train", json=request_body, timeout=60)
        assert answer.status_code == 200
        assert answer.json()["code"] == 100202
        assert "No space left on device" in answer.json()["message"]
        # The server still answers what needs no disk.
        stats = {"op": "query", "user": "test", "service_name": "k12platform", "service_uuid": "u"}
        assert requests.post(f"{url}/platform/stats", json=stats, timeout=60).json()["code"] == 100000
    finally:
        proc.terminate()
        proc.wait(timeout=60)
        log.close()
    lines = (tmp_path / "server.log").read_text().splitlines()
    audited = [json.loads(line.partition("k12ai.audit: ")[2]) for line in lines if "k12ai.audit: " in line]
    assert [(a["op"], a["code"]) for a in audited] == [("train.start", 100202)]
    assert not [line for line in lines if "Traceback" in line]


def sqlite_full_error() -> sqlite3.Error:
    """A real SQLITE_FULL, from a database allowed a single page."""
    db = sqlite3.connect(":memory:")
    db.execute("PRAGMA max_page_count = 2")
    db.execute("CREATE TABLE t (x BLOB)")
    try:
        db.execute("INSERT INTO t VALUES (zeroblob(100000))")
    except sqlite3.Error as exc:
        return exc
    finally:
        db.close()
    raise AssertionError("SQLite wrote past its page limit")


async def test_a_full_database_answers_resource_exhausted(
    server: Server,
    client: AsyncK12AIClient,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Where the job service's own write of the job meets a full disk, the boundary answers for it."""
    full = sqlite_full_error()

    async def write_fails(*args: Any, **kwargs: Any) -> Any:
        raise full

    monkeypatch.setattr(server.jobs, "start", write_fails)
    caplog.set_level(logging.INFO, logger="k12ai.audit")
    request_body = body("train.start", dataset={"type": "builtin", "name": "iris"}, model={"type": "knn"})
    with pytest.raises(RPCError) as failed:
        await client.train(request_body)
    assert failed.value.status == grpc.StatusCode.RESOURCE_EXHAUSTED
    answer = await post(server, "train", request_body)
    assert answer.status_code == 429
    assert answer.json() == {
        "code": 8,
        "message": "the server's storage is full; try again later",
        "details": [],
    }
    statuses = [line["status"] for line in audit_lines(caplog) if line["audit"] == "failure"]
    assert statuses == ["RESOURCE_EXHAUSTED"] * 2
