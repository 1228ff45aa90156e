"""Every input a user can get wrong answers its own code and names what is wrong."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from k12ai_api.v1 import common_pb2
from k12ai_client import AsyncK12AIClient, ReplyError
from k12ai_server.app import Server
from tests.conftest import example
from tests.jobs import run_to_end

Code = common_pb2.ReplyCode


def train(**fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "op": "train.start",
        "user": "test",
        "service_name": "k12ml",
        "service_uuid": "123456",
        "service_params": {"dataset": {"type": "builtin", "name": "iris"}, "model": {"type": "knn"}},
    }
    body.update(fields)
    return {k: v for k, v in body.items() if v is not None}


async def refused(call: Any, body: dict[str, Any]) -> ReplyError:
    with pytest.raises(ReplyError) as info:
        await call(body)
    return info.value


@pytest.mark.parametrize("field", ["op", "user", "service_name", "service_uuid"])
async def test_missing_mandatory_field_is_named(client: AsyncK12AIClient, field: str) -> None:
    err = await refused(client.train, train(**{field: ""}))
    assert err.code == Code.REPLY_CODE_MISSING_FIELD
    assert f"'{field}'" in err.message


async def test_missing_service_params_on_start(client: AsyncK12AIClient) -> None:
    err = await refused(client.train, train(service_params=None))
    assert err.code == Code.REPLY_CODE_MISSING_FIELD
    assert "service_params" in err.message


async def test_unknown_op_names_the_op_and_the_endpoint(client: AsyncK12AIClient) -> None:
    err = await refused(client.train, train(op="evaluate.start"))
    assert err.code == Code.REPLY_CODE_UNKNOWN_OP
    assert "'evaluate.start'" in err.message and "/k12ai/framework/train" in err.message


async def test_unknown_service(client: AsyncK12AIClient) -> None:
    err = await refused(client.train, train(service_name="k12xx"))
    assert err.code == Code.REPLY_CODE_UNKNOWN_SERVICE
    assert "'k12xx'" in err.message and "k12ml" in err.message


@pytest.mark.parametrize("bad", ["../etc", "a/b", "has space", "x" * 65, "a..b", "\x00"])
async def test_identifiers_that_would_escape_a_path_are_refused(client: AsyncK12AIClient, bad: str) -> None:
    err = await refused(client.train, train(service_uuid=bad))
    assert err.code == Code.REPLY_CODE_INVALID_IDENTIFIER
    assert "service_uuid" in err.message


async def test_invalid_params_name_the_key(client: AsyncK12AIClient) -> None:
    err = await refused(client.train, train(service_params={"dataset": {"type": "builtin", "name": "iris"},
                                                            "model": {"type": "svm2"}}))  # fmt: skip
    assert err.code == Code.REPLY_CODE_INVALID_PARAMS
    assert "model.type" in err.message


async def test_input_path_outside_the_data_roots(client: AsyncK12AIClient, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere.csv"
    outside.write_text("a,label\n1,x\n")
    params = {"dataset": {"type": "csv", "path": str(outside)}, "model": {"type": "knn"}}
    err = await refused(client.train, train(service_params=params))
    assert err.code == Code.REPLY_CODE_PATH_OUTSIDE_DATA_ROOT
    assert "dataset.path" in err.message


async def test_symlink_out_of_the_data_root_is_refused(client: AsyncK12AIClient, server: Server) -> None:
    link = server.config.data_root / "sneaky.csv"
    link.symlink_to("/etc/passwd")
    params = {"dataset": {"type": "csv", "path": str(link)}, "model": {"type": "knn"}}
    err = await refused(client.train, train(service_params=params))
    assert err.code == Code.REPLY_CODE_PATH_OUTSIDE_DATA_ROOT


async def test_evaluate_without_a_model_answers_the_seed_reply(
    client: AsyncK12AIClient, server: Server
) -> None:
    body = train(op="evaluate.start", service_params={"dataset": {"type": "builtin", "name": "iris"}})
    err = await refused(client.evaluate, body)
    assert err.code == Code.REPLY_CODE_TASK_START_FAILED == 100202
    assert err.descr == "task service start fails"
    assert err.message == f"model.tar.gz is not found in {server.config.data_root}/users/test/123456"


async def test_stop_without_a_live_job(client: AsyncK12AIClient) -> None:
    err = await refused(client.train, train(op="train.stop", service_params=None))
    assert err.code == Code.REPLY_CODE_JOB_NOT_FOUND
    assert "test/123456" in err.message


async def test_params_nested_too_deep_are_refused_with_the_path(client: AsyncK12AIClient) -> None:
    deep: dict[str, Any] = {"leaf": 1}
    for _ in range(20):
        deep = {"d": deep}
    err = await refused(client.train, train(service_params={"model": deep}))
    assert err.code == Code.REPLY_CODE_INVALID_PARAMS
    assert err.message.startswith("service_params.model.d.d") and "deeper than 16" in err.message


@pytest.mark.parametrize("number", [float("nan"), float("inf"), float("-inf")])
async def test_non_finite_numbers_over_grpc_are_refused_with_the_path(
    client: AsyncK12AIClient, number: float
) -> None:
    """JSON cannot carry them, but a gRPC Struct can; they must not reach a framework."""
    err = await refused(client.train, train(service_params={"trainer": {"lr": [1.0, number]}}))
    assert err.code == Code.REPLY_CODE_INVALID_PARAMS
    assert err.message == "service_params.trainer.lr[1]: NaN and Infinity are not JSON numbers"


async def test_oversized_params_are_refused(client: AsyncK12AIClient) -> None:
    err = await refused(client.train, train(service_params={"blob": "x" * 300_000}))
    assert err.code == Code.REPLY_CODE_INVALID_PARAMS
    assert "bytes, more than" in err.message


@pytest.mark.parametrize("output", ["/etc/evil.json", "../other/x.json", "../../users/bob/1/model.tar.gz"])
async def test_output_file_must_stay_in_the_cache_dir(client: AsyncK12AIClient, output: str) -> None:
    body = train(op="evaluate.start", service_params={"dataset": {"type": "builtin", "name": "iris"},
                                                      "output_file": output})  # fmt: skip
    err = await refused(client.evaluate, body)
    assert err.code == Code.REPLY_CODE_PATH_OUTSIDE_DATA_ROOT
    assert "output_file" in err.message


async def test_an_empty_output_file_means_none_as_in_the_seed(client: AsyncK12AIClient) -> None:
    """The seed's templates send ``"output_file": ""`` for "do not write one"."""
    await run_to_end(client, client.train, example("k12ml", "train_iris"))
    body = example("k12ml", "evaluate_iris")
    body["service_params"]["output_file"] = ""
    events, end = await run_to_end(client, client.evaluate, body)
    assert end.state == "finished"
    assert any(e.type == "metrics" for e in events)
