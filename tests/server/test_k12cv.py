"""k12cv end to end through a real server (gRPC) and real worker processes, on scikit-learn's digits.

The request is ``examples/k12cv/train_digits.json`` with its data paths pointing at PNGs the
test writes under the server's data root (an ``image_folder`` layout, one sub-folder per digit).
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from k12ai_api.v1 import common_pb2
from k12ai_client import AsyncK12AIClient, Event, ReplyError, to_envelope
from k12ai_server.app import Server
from tests.conftest import example
from tests.digits import Digits, write_digits
from tests.jobs import run_to_end, states

Code = common_pb2.ReplyCode
# Held-out PNGs to predict, a few per digit.
PER_DIGIT = 2


def train_request(digits: Digits) -> dict[str, Any]:
    body = example("k12cv", "train_digits")
    params = body["service_params"]
    params["train_data_path"] = str(digits.train)
    params["validation_data_path"] = str(digits.validation)
    return body


def predictions(events: list[Event]) -> list[dict[str, Any]]:
    return [json.loads(to_envelope(e)["predict"]["prediction"]) for e in events if e.type == "predict"]


async def test_digits_train_to_097_then_evaluate_and_predict_held_out_pngs(
    client: AsyncK12AIClient, server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    # One torch thread per job: on 2 shared cores a tiny CNN is slower on contended threads.
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    digits = write_digits(server.config.data_root / "datasets" / "cv" / "digits")
    events, end = await run_to_end(client, client.train, train_request(digits))
    assert end.state == "finished", end
    assert states(events) == ["queued", "starting", "running", "finished"]
    metrics = [to_envelope(e)["metrics"] for e in events if e.type == "metrics"]
    assert metrics and all(
        {"accuracy", "accuracy3", "loss", "epoch", "progress"} <= m.keys() for m in metrics
    )
    (result,) = [to_envelope(e)["result"] for e in events if e.type == "result"]
    assert result["best_validation_accuracy"] >= 0.97, result
    cache = server.config.data_root / "users" / "test" / "123456"
    assert (cache / "model.tar.gz").is_file()

    evaluate = example("k12cv", "evaluate_digits")
    evaluate["service_params"]["input_file"] = str(digits.validation)
    events, end = await run_to_end(client, client.evaluate, evaluate)
    assert end.state == "finished", end
    (scores,) = [to_envelope(e)["metrics"] for e in events if e.type == "metrics"]
    assert set(scores) == {"accuracy", "accuracy3", "loss"}
    assert scores["accuracy"] == pytest.approx(result["best_validation_accuracy"])

    chosen: list[tuple[str, str]] = []
    for digit in map(str, range(10)):
        files = [file for file, label in digits.held_out if label == digit][:PER_DIGIT]
        chosen += [(str(file.relative_to(digits.validation)), digit) for file in files]
    listing = digits.validation / "held_out.txt"
    listing.write_text("".join(f"{name}\n" for name, _ in chosen))
    predict = example("k12cv", "predict_digits")
    predict["service_params"]["input_file"] = str(listing)
    events, end = await run_to_end(client, client.predict, predict)
    assert end.state == "finished", end
    predicted = predictions(events)
    assert [p["label"] for p in predicted] == [digit for _, digit in chosen]
    assert all(set(p) == {"logits", "class_probabilities", "label"} for p in predicted)

    # One PNG as base64 text, as a browser would send an upload.
    file, digit = digits.held_out[-1]
    predict["service_params"] = {
        "input_type": "text",
        "input_text": base64.b64encode(file.read_bytes()).decode(),
    }
    events, end = await run_to_end(client, client.predict, predict)
    assert end.state == "finished", end
    (only,) = predictions(events)
    assert only["label"] == digit
    assert sum(only["class_probabilities"]) == pytest.approx(1.0, abs=1e-5)


async def test_a_data_path_outside_the_data_roots_is_refused(
    client: AsyncK12AIClient, server: Server
) -> None:
    digits = write_digits(server.config.data_root / "datasets" / "cv" / "digits")
    body = train_request(digits)
    body["service_params"]["validation_data_path"] = "/etc"
    with pytest.raises(ReplyError) as caught:
        await client.train(body)
    assert caught.value.code == Code.REPLY_CODE_PATH_OUTSIDE_DATA_ROOT
    assert "validation_data_path" in caught.value.message


async def test_an_unknown_model_type_is_refused_naming_the_key(
    client: AsyncK12AIClient, server: Server
) -> None:
    body = train_request(write_digits(server.config.data_root / "datasets" / "cv" / "digits"))
    body["service_params"]["model"]["type"] = "resnet50"
    with pytest.raises(ReplyError) as caught:
        await client.train(body)
    assert caught.value.code == Code.REPLY_CODE_INVALID_PARAMS
    assert "model.type: unknown model type 'resnet50'" in caught.value.message


async def test_a_pretrained_file_outside_the_data_roots_is_refused(
    client: AsyncK12AIClient, server: Server, tmp_path: Path
) -> None:
    body = train_request(write_digits(server.config.data_root / "datasets" / "cv" / "digits"))
    outside = tmp_path / "weights.th"
    outside.write_bytes(b"")
    body["service_params"]["model"]["pretrained_file"] = str(outside)
    with pytest.raises(ReplyError) as caught:
        await client.train(body)
    assert caught.value.code == Code.REPLY_CODE_PATH_OUTSIDE_DATA_ROOT
    assert "model.pretrained_file" in caught.value.message
