"""DownloadArtefact: a job's file byte for byte over gRPC, the built-in gateway and Envoy, each a
plain file download over REST (Content-Type, Content-Disposition); another user's job NOT_FOUND.

One token-secured ``k12ai-server`` process with Envoy in front of it, for this module.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
import requests
from envoy_front import EnvoyProcess

from k12ai_client import ClientConfig, K12AIClient, RPCError
from k12ai_contract.rundir import ProjectDir
from k12ai_server.security.tokens import hash_token
from tests.conftest import TOKENS, example
from tests.gateway.conftest import RestServer, start_envoy, start_rest_server, stop
from tests.gateway.rest import TIMEOUT_S, wait_for_state

# More than two of the server's 1 MiB chunks, and not a multiple of anything.
LARGE_BYTES = 2 * 1024 * 1024 + 4099


@dataclass(frozen=True)
class Downloads:
    server: RestServer
    envoy: EnvoyProcess

    def urls(self) -> dict[str, str]:
        return {"gateway": self.server.url, "envoy": self.envoy.url}

    def client(self, user: str) -> K12AIClient:
        return K12AIClient(ClientConfig(target=f"127.0.0.1:{self.server.grpc_port}", token=TOKENS[user]))


@pytest.fixture(scope="module")
def downloads(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Downloads]:
    folder = tmp_path_factory.mktemp("downloads")
    tokens = folder / "tokens.json"
    entries = [{"user": u, "sha256": hash_token(t), "admin": u == "root"} for u, t in TOKENS.items()]
    tokens.write_text(json.dumps({"tokens": entries}))
    server = start_rest_server(folder, "--tokens-file", str(tokens))
    try:
        with start_envoy(folder / "envoy", server.grpc_port) as envoy:
            yield Downloads(server, envoy)
    finally:
        stop(server.proc)


def bearer(user: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKENS[user]}"}


def run_job(downloads: Downloads, kind: str, body: dict[str, Any]) -> str:
    """Starts a job as alice over REST and waits for it to finish; returns its id."""
    reply = requests.post(
        f"{downloads.server.url}/k12ai/framework/{kind}",
        json=body,
        headers=bearer("alice"),
        timeout=TIMEOUT_S,
    ).json()
    assert reply["code"] == 100000, reply
    job = wait_for_state(
        downloads.server.url, reply["job_id"], {"finished", "failed"}, headers=bearer("alice")
    )
    assert job["state"] == "finished", job["reason"]
    return str(reply["job_id"])


@pytest.fixture(scope="module")
def project(downloads: Downloads) -> tuple[str, str, str]:
    """A project of alice's with a finished training and a prediction: (uuid, train job, predict job)."""
    uid = f"dl-{uuid.uuid4().hex[:8]}"
    train = {**example("k12ml", "train_iris"), "user": "alice", "service_uuid": uid}
    predict = {**example("k12ml", "predict_iris"), "user": "alice", "service_uuid": uid}
    return uid, run_job(downloads, "train", train), run_job(downloads, "predict", predict)


def http_download(url: str, job_id: str, user: str) -> requests.Response:
    return requests.get(
        f"{url}/k12ai/framework/jobs/{job_id}/artefact", headers=bearer(user), timeout=TIMEOUT_S
    )


def assert_same_everywhere(downloads: Downloads, job_id: str, file: Path, tmp_path: Path) -> dict[str, str]:
    """The job's artefact equals ``file`` through all three; returns the two REST answers' headers."""
    expected = file.read_bytes()
    with downloads.client("alice") as client:
        saved = client.download_artefact(job_id, tmp_path)
    assert saved.read_bytes() == expected
    headers = {}
    for name, url in downloads.urls().items():
        answer = http_download(url, job_id, "alice")
        assert answer.status_code == 200, (name, answer.text)
        assert answer.content == expected, name
        headers[name] = f"{answer.headers['Content-Type']} | {answer.headers['Content-Disposition']}"
    assert headers["gateway"] == headers["envoy"]
    assert saved.name in headers["gateway"]  # the gRPC client saved it under the name REST gives
    return headers


def test_a_training_model_is_the_same_file_through_grpc_the_gateway_and_envoy(
    downloads: Downloads, project: tuple[str, str, str], tmp_path: Path
) -> None:
    uid, train, _ = project
    archive = ProjectDir(downloads.server.data_root / "users" / "alice" / uid).run_archive(train)
    headers = assert_same_everywhere(downloads, train, archive, tmp_path)
    assert headers["gateway"] == f'application/gzip | attachment; filename="model-{train}.tar.gz"'


def test_a_predict_output_file_in_several_chunks(
    downloads: Downloads, project: tuple[str, str, str], tmp_path: Path
) -> None:
    uid, _, predict = project
    output = downloads.server.data_root / "users" / "alice" / uid / "predictions.jsonl"
    assert output.stat().st_size > 0
    assert_same_everywhere(downloads, predict, output, tmp_path)
    # The transport on a file of several chunks: the server streams whatever the file holds now.
    large = output.with_name(".large.tmp")
    large.write_bytes(os.urandom(LARGE_BYTES))
    large.replace(output)
    headers = assert_same_everywhere(downloads, predict, output, tmp_path)
    assert headers["envoy"] == 'application/octet-stream | attachment; filename="predictions.jsonl"'


def test_another_users_job_is_not_found_everywhere(
    downloads: Downloads, project: tuple[str, str, str], tmp_path: Path
) -> None:
    _, train, _ = project
    with downloads.client("bob") as client, pytest.raises(RPCError) as refused:
        client.download_artefact(train, tmp_path)
    assert refused.value.status == grpc.StatusCode.NOT_FOUND
    assert list(tmp_path.iterdir()) == []  # nothing half-written is left
    for name, url in downloads.urls().items():
        answer = http_download(url, train, "bob")
        assert (answer.status_code, answer.json()) == (
            404,
            {"code": 5, "message": f"job {train!r} not found", "details": []},
        ), name
        assert (
            requests.get(f"{url}/k12ai/framework/jobs/{train}/artefact", timeout=TIMEOUT_S).status_code == 401
        )


def test_a_job_without_a_file_says_so(downloads: Downloads, project: tuple[str, str, str]) -> None:
    uid, _, _ = project
    body = {**example("k12ml", "evaluate_iris"), "user": "alice", "service_uuid": uid}
    body["service_params"] = {"dataset": {"type": "builtin", "name": "iris"}}
    evaluate = run_job(downloads, "evaluate", body)
    for name, url in downloads.urls().items():
        answer = http_download(url, evaluate, "alice")
        assert answer.status_code == 404, name
        assert answer.json()["message"] == f"evaluate job {evaluate} was given no output_file", name
