"""Path traversal through REST, against both transcoders: each attempt answered with its
documented code, the message naming the field.

100104 (PATH_OUTSIDE_DATA_ROOT) for a path in ``service_params`` that is relative or resolves
(symlinks followed) outside the data roots; 100105 (INVALID_IDENTIFIER) for an identifier that
could become a path; 404 / ``NOT_FOUND`` for an encoded traversal in the URL. A JSON string is
never URL-decoded: ``%2e%2e%2f`` inside a body path is a file name of those characters, which
stays inside the root.
"""

from __future__ import annotations

import http.client
import json
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.gateway.conftest import RestServer, Transcoder
from tests.gateway.rest import call, wait_for_state

PATH_OUTSIDE, BAD_IDENTIFIER, SUCCESS = 100104, 100105, 100000


@pytest.fixture(scope="module")
def data_root(rest_server: RestServer) -> Path:
    root = rest_server.data_root
    (root / "datasets").mkdir(parents=True, exist_ok=True)
    (root / "datasets" / "tiny.csv").write_text("a,b,label\n1,2,x\n3,4,y\n5,6,x\n7,8,y\n")
    escape = root / "escape"
    if not escape.is_symlink():
        escape.symlink_to("/etc")  # a symlink inside the root that leads out of it
    return root


def train(transcoder: Transcoder, *, user: str = "test", uid: str = "", **params: Any) -> dict[str, Any]:
    body = {
        "op": "train.start",
        "user": user,
        "service_name": "k12ml",
        "service_uuid": uid or f"pt-{uuid.uuid4().hex[:8]}",
        "service_params": {"model": {"type": "random_forest"}, **params},
    }
    answer = call("POST", f"{transcoder.url}/k12ai/framework/train", body)
    assert answer.status == 200, answer
    reply: dict[str, Any] = answer.body
    return reply


def csv(path: str) -> dict[str, Any]:
    return {"dataset": {"type": "csv", "path": path}}


BODY_PATHS = [
    # A relative path is read under the data root (k12ai_server/api/data_paths.py): ../ leaves it.
    ("relative ../", "../etc/passwd", "is outside the data roots"),
    ("relative, dot-dot out of the root", "datasets/../../../etc/passwd", "is outside the data roots"),
    ("absolute outside", "/etc/passwd", "is outside the data roots"),
    ("dot-dot out of the root", "{root}/../../etc/passwd", "is outside the data roots"),
    ("symlink escape", "{root}/escape/passwd", "is outside the data roots"),
    ("relative symlink escape", "escape/passwd", "is outside the data roots"),
]


@pytest.mark.parametrize(("case", "path", "says"), BODY_PATHS, ids=[c[0] for c in BODY_PATHS])
def test_input_paths_outside_the_roots(
    transcoder: Transcoder, data_root: Path, case: str, path: str, says: str
) -> None:
    reply = train(transcoder, **csv(path.format(root=data_root)))
    assert reply["code"] == PATH_OUTSIDE, (case, reply)
    assert reply["message"].startswith("service_params.dataset.path: "), reply
    assert says in reply["message"]


@pytest.mark.parametrize("output", ["../../../x.json", "/tmp/x.json", "sub/../../../x.json"])
def test_output_file_must_stay_in_the_cache_dir(transcoder: Transcoder, output: str) -> None:
    body = {
        "op": "evaluate.start",
        "user": "test",
        "service_name": "k12ml",
        "service_uuid": f"pt-{uuid.uuid4().hex[:8]}",
        "service_params": {"dataset": {"type": "builtin", "name": "iris"}, "output_file": output},
    }
    reply = call("POST", f"{transcoder.url}/k12ai/framework/evaluate", body).body
    assert reply["code"] == PATH_OUTSIDE, reply
    assert reply["message"].startswith("service_params.output_file: ")


@pytest.mark.parametrize(
    ("field", "value"),
    [("service_uuid", "../x"), ("service_uuid", "a/b"), ("user", "..%2f..%2fetc"), ("user", "/etc")],
)
def test_identifiers_that_could_become_paths(transcoder: Transcoder, field: str, value: str) -> None:
    kwargs = {"user": value} if field == "user" else {"uid": value}
    reply = train(transcoder, dataset={"type": "builtin", "name": "iris"}, **kwargs)
    assert reply["code"] == BAD_IDENTIFIER, reply
    assert reply["message"].startswith(f"{field} {value!r} must match")


@pytest.mark.parametrize("prefix", ["{root}/", ""], ids=["absolute", "relative"])
def test_an_encoded_body_path_is_not_decoded(transcoder: Transcoder, data_root: Path, prefix: str) -> None:
    literal = prefix.format(root=data_root) + "%2e%2e%2f%2e%2e%2fetc%2fpasswd"
    reply = train(transcoder, **csv(literal))
    # Inside the root (a file of that literal name, which does not exist): the job starts and fails.
    assert reply["code"] == SUCCESS, reply
    job = wait_for_state(transcoder.url, reply["job_id"], {"finished", "failed"})
    assert job["state"] == "failed"


def test_a_relative_path_is_read_under_the_data_root(transcoder: Transcoder, data_root: Path) -> None:
    reply = train(transcoder, **csv("datasets/tiny.csv"))
    assert reply["code"] == SUCCESS, reply
    job = wait_for_state(transcoder.url, reply["job_id"], {"finished", "failed"})
    assert job["state"] == "finished", job["reason"]


def test_a_symlink_inside_the_root_is_fine(transcoder: Transcoder, data_root: Path) -> None:
    link = data_root / "datasets" / "tiny-link.csv"
    if not link.is_symlink():
        link.symlink_to(data_root / "datasets" / "tiny.csv")
    assert train(transcoder, **csv(str(link)))["code"] == SUCCESS


@pytest.mark.parametrize(
    "path",
    ["/k12ai/framework/jobs/..%2F..%2Fetc%2Fpasswd", "/k12ai/framework/jobs/%2e%2e%2f%2e%2e%2fetc%2fpasswd"],
)
def test_encoded_traversal_in_a_path_variable_is_just_an_id(transcoder: Transcoder, path: str) -> None:
    answer = call("GET", transcoder.url + path)
    assert (answer.status, answer.body) == (
        404,
        {"code": 5, "message": "job '../../etc/passwd' not found", "details": []},
    )


@pytest.mark.parametrize(
    "path",
    [
        "/k12ai/platform/../framework/train",
        "/k12ai/framework/%2e%2e/platform/stats",
        "/k12ai/./framework/train",
    ],
)
def test_dot_segments_in_the_url_match_no_route(transcoder: Transcoder, path: str) -> None:
    # Sent as is (http.client does not remove dot segments as URL libraries do).
    target = urlsplit(transcoder.url)
    connection = http.client.HTTPConnection(target.hostname or "", target.port, timeout=10)
    connection.request("POST", path, body=json.dumps({"op": "query", "user": "test"}))
    reply = connection.getresponse()
    body = reply.read().decode()
    connection.close()
    assert reply.status == 404
    if not transcoder.is_envoy:  # ENVOY_ROUTING_TEXT (see test_conformance)
        assert json.loads(body) == {"code": 5, "message": "Not Found", "details": []}
