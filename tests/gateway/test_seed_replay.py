"""Every request of the seed notebooks, sent over REST as written, through both transcoders.

Adjusted only where the issue allows: host and port, ids (a fresh ``service_uuid`` per test)
and data paths. Seed 000's own k12nlp requests are replayed as written (their config included);
the flows that must train to the end use a small k12ml config in the same request shape, so
the replay trains in a second (k12nlp's full seed training is tests/server/test_k12nlp.py's).
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from tests.conftest import example
from tests.gateway.conftest import RestServer, Transcoder
from tests.gateway.rest import call, wait_for_state
from tests.k12nlp_requests import seed_request_on_fixtures

SUCCESS, MISSING_FIELD, TASK_START_FAILED, JOB_NOT_FOUND = 100000, 100100, 100202, 100203
ENVELOPE = {"code", "descr", "message"}
STATS_KEYS = {"cpu_percent", "cpu_percent_list", "cpu_memory_total", "cpu_memory_usage", "cpu_memory_percent"}
CONFIG = {"dataset": {"type": "builtin", "name": "iris"}, "model": {"type": "random_forest"}}


def seed_data(op: str, user: str, uuid_: str, params: str | None) -> str:
    """The notebook's own string template (000, "C. 启动训练" and the stop cells)."""
    if params is None:
        return """{
    "op":"%s",
    "user": "%s",
    "service_name": "k12ml",
    "service_uuid": "%s"
}""" % (op, user, uuid_)  # noqa: UP031 (the seed's formatting, kept)
    return """{
    "op":"%s",
    "user": "%s",
    "service_name": "k12ml",
    "service_uuid": "%s",
    "service_params": %s
}""" % (op, user, uuid_, params)  # noqa: UP031


def post(transcoder: Transcoder, api: str, data: str) -> dict[str, Any]:
    # requests.post(url=api, json=json.loads(data)), as the notebooks send it.
    answer = call("POST", f"{transcoder.url}/k12ai/{api}", json.loads(data))
    assert answer.status == 200, answer
    body: dict[str, Any] = answer.body
    assert set(body) >= ENVELOPE, body
    return body


def fresh_uuid() -> str:
    return uuid.uuid4().hex[:12]


def test_train_start_then_stop(transcoder: Transcoder, rest_server: RestServer) -> None:
    uid = fresh_uuid()
    started = post(transcoder, "framework/train", seed_data("train.start", "test", uid, json.dumps(CONFIG)))
    cache = rest_server.data_root / "users" / "test" / uid
    assert (started["code"], started["descr"]) == (SUCCESS, "task service success")
    assert started["message"] == f"train.start task cache directory: {cache}"
    stopped = post(transcoder, "framework/train", seed_data("train.stop", "test", uid, "{}"))
    # Stopped while live, or (on a fast machine) already finished: both in the seed's shape.
    assert stopped["code"] in (SUCCESS, JOB_NOT_FOUND), stopped


def test_evaluate_and_predict_before_training_say_why(
    transcoder: Transcoder, rest_server: RestServer
) -> None:
    uid = fresh_uuid()
    cache = rest_server.data_root / "users" / "test" / uid
    evaluate = post(
        transcoder,
        "framework/evaluate",
        seed_data("evaluate.start", "test", uid, '{"dataset": {"type": "builtin", "name": "iris"}}'),
    )
    assert evaluate == {
        "code": TASK_START_FAILED,
        "descr": "task service start fails",
        "message": f"model.tar.gz is not found in {cache}",
        "job_id": "",
    }
    text = json.dumps("[[5.1, 3.5, 1.4, 0.2]]")
    predict_params = '{"input_type": "text", "input_text": %s}' % text  # noqa: UP031
    predict = post(transcoder, "framework/predict", seed_data("predict.start", "test", uid, predict_params))
    assert (predict["code"], predict["message"]) == (
        TASK_START_FAILED,
        f"model.tar.gz is not found in {cache}",
    )
    for api, op in (("framework/evaluate", "evaluate.stop"), ("framework/predict", "predict.stop")):
        # The seed's stop cells send no service_params at all.
        assert post(transcoder, api, seed_data(op, "test", uid, None))["code"] == JOB_NOT_FOUND


def test_train_then_evaluate_and_predict(transcoder: Transcoder) -> None:
    uid = fresh_uuid()
    started = post(transcoder, "framework/train", seed_data("train.start", "test", uid, json.dumps(CONFIG)))
    assert wait_for_state(transcoder.url, started["job_id"], {"finished", "failed"})["state"] == "finished"
    evaluate = post(
        transcoder,
        "framework/evaluate",
        seed_data("evaluate.start", "test", uid, '{"dataset": {"type": "builtin", "name": "iris"}}'),
    )
    assert evaluate["code"] == SUCCESS, evaluate
    text = json.dumps("[[5.1, 3.5, 1.4, 0.2]]")
    predict_params = '{"input_type": "text", "input_text": %s}' % text  # noqa: UP031
    predict = post(transcoder, "framework/predict", seed_data("predict.start", "test", uid, predict_params))
    assert predict["code"] == SUCCESS, predict


def test_platform_stats_sync_and_async(transcoder: Transcoder) -> None:
    query = '{"cpus": true, "gpus": true, "disks": false, "containers": true}'
    for isasync in (False, True):
        # nb_easy's request (seed 001, "sync input" / "async input").
        request = {
            "op": "query",
            "user": "test",
            "service_name": "k12platform",
            "service_uuid": "uuid",
            "service_params": json.loads(query),
            "async": isasync,
        }
        reply = post(transcoder, "platform/stats", json.dumps(request))
        assert reply["code"] == SUCCESS, reply
        if isasync:
            assert isinstance(reply["message"], str)
        else:
            assert set(reply["message"]) >= STATS_KEYS, reply
            assert isinstance(reply["message"]["gpus"], list)
            assert isinstance(reply["message"]["containers"], list)


def test_platform_control_of_an_unknown_container(transcoder: Transcoder) -> None:
    request = {
        "op": "container.stop",
        "user": "test",
        "service_name": "k12platform",
        "service_uuid": "uuid",
        "service_params": {"id": "unknow"},
        "async": False,
    }
    assert post(transcoder, "platform/control", json.dumps(request)) == {
        "code": TASK_START_FAILED,
        "descr": "task service start fails",
        "message": "container id unknow is not found",
    }


def test_first_seed_platform_requests_are_refused_in_the_envelope(transcoder: Transcoder) -> None:
    """Seed 000's stats/control bodies (``username``/``password``, no ``op``/``user``): the later
    seed's shape stands; unknown fields are ignored and the missing field is named."""
    stats = '{"username": "test", "password": "test", "async": false, "query": {"cpus": true}}'
    assert post(transcoder, "platform/stats", stats) == {
        "code": MISSING_FIELD,
        "descr": "missing mandatory field",
        "message": "missing mandatory field 'op'",
    }
    control = (
        '{"username": "test", "password": "test", "op": "container.stop", "async": false,'
        ' "params": {"id": "testid"}}'
    )
    assert post(transcoder, "platform/control", control)["code"] == MISSING_FIELD


def test_the_first_seeds_k12nlp_requests(transcoder: Transcoder, rest_server: RestServer) -> None:
    """Seed 000 as written: the AllenNLP-style config, only its data paths pointed at the fixtures.

    Training is stopped at once (the seed's 10 epochs are the gRPC suite's to run); evaluate and
    predict come before any model, as in the notebook, and get its 100202 answer."""
    data, uid = rest_server.data_root / "datasets" / "nlp", fresh_uuid()
    train = seed_request_on_fixtures(data)
    cache = rest_server.data_root / "users" / "test" / uid
    started = post(transcoder, "framework/train", json.dumps({**train, "service_uuid": uid}))
    assert started["message"] == f"train.start task cache directory: {cache}", started
    stop = {
        "op": "train.stop",
        "user": "test",
        "service_name": "k12nlp",
        "service_uuid": uid,
        "service_params": {},
    }
    assert post(transcoder, "framework/train", json.dumps(stop))["code"] == SUCCESS
    assert (
        wait_for_state(transcoder.url, started["job_id"], {"stopped", "failed", "finished"})["state"]
        == "stopped"
    )

    evaluate = example("k12nlp", "evaluate")
    evaluate["service_params"]["input_file"] = str(data / "sst_test.txt")
    for api, request in (
        ("framework/evaluate", evaluate),
        ("framework/predict", example("k12nlp", "predict")),
    ):
        reply = post(transcoder, api, json.dumps({**request, "service_uuid": uid}))
        assert reply == {
            "code": TASK_START_FAILED,
            "descr": "task service start fails",
            "message": f"model.tar.gz is not found in {cache}",
            "job_id": "",
        }
        op = request["op"].replace(".start", ".stop")
        stopped = {"op": op, "user": "test", "service_name": "k12nlp", "service_uuid": uid}
        assert post(transcoder, api, json.dumps(stopped))["code"] == JOB_NOT_FOUND
