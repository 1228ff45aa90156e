"""k12nlp end to end through a real server (gRPC) and real worker processes, on the SST/GloVe fixtures.

The training request is the seed's (``examples/k12nlp/train.json``) with only its data paths
pointing at copies of the fixtures under the server's data root; epochs and batch size are
overrides, as a user would give them.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from k12ai_api.v1 import common_pb2
from k12ai_client import AsyncK12AIClient, ReplyError, to_envelope
from k12ai_server.app import Server
from tests.conftest import example
from tests.jobs import run_to_end, states
from tests.k12nlp_requests import seed_train_request

Code = common_pb2.ReplyCode


async def test_seed_config_trains_evaluates_and_predicts(client: AsyncK12AIClient, server: Server) -> None:
    data = server.config.data_root / "datasets" / "nlp"
    events, end = await run_to_end(client, client.train, seed_train_request(data))
    assert end.state == "finished", end
    assert states(events) == ["queued", "starting", "running", "finished"]
    metrics = [to_envelope(e)["metrics"] for e in events if e.type == "metrics"]
    assert metrics and all(
        {"accuracy", "accuracy3", "loss", "epoch", "progress"} <= m.keys() for m in metrics
    )
    assert metrics[-1]["phase"] == "validation" and metrics[-1]["progress"] == 1
    cache = server.config.data_root / "users" / "test" / "123456"
    assert (cache / "model.tar.gz").is_file()

    evaluate = example("k12nlp", "evaluate")
    evaluate["service_params"]["input_file"] = str(data / "sst_test.txt")
    events, end = await run_to_end(client, client.evaluate, evaluate)
    assert end.state == "finished", end
    (scores,) = [to_envelope(e)["metrics"] for e in events if e.type == "metrics"]
    assert set(scores) == {"accuracy", "accuracy3", "loss"}

    events, end = await run_to_end(client, client.predict, example("k12nlp", "predict"))
    assert end.state == "finished", end
    (predicted,) = [to_envelope(e)["predict"] for e in events if e.type == "predict"]
    assert predicted["index"] == 0
    prediction = json.loads(predicted["prediction"])
    assert set(prediction) == {"logits", "class_probabilities", "label"}
    assert len(prediction["class_probabilities"]) == 5


async def test_an_unknown_type_is_refused_naming_the_key(client: AsyncK12AIClient, server: Server) -> None:
    body = seed_train_request(server.config.data_root / "datasets" / "nlp")
    body["service_params"]["model"]["encoder"]["type"] = "lstmm"
    with pytest.raises(ReplyError) as caught:
        await client.train(body)
    assert caught.value.code == Code.REPLY_CODE_INVALID_PARAMS
    assert "model.encoder.type: unknown seq2seq encoder type 'lstmm'" in caught.value.message


async def test_a_pretrained_file_outside_the_data_roots_is_refused(
    client: AsyncK12AIClient, server: Server, tmp_path: Path
) -> None:
    body = seed_train_request(server.config.data_root / "datasets" / "nlp")
    outside = tmp_path / "glove.txt"
    outside.write_text("the 0.1 0.2\n")
    body["service_params"]["model"]["text_field_embedder"]["token_embedders"]["tokens"]["pretrained_file"] = (
        str(outside)
    )
    with pytest.raises(ReplyError) as caught:
        await client.train(body)
    assert caught.value.code == Code.REPLY_CODE_PATH_OUTSIDE_DATA_ROOT
    assert "pretrained_file" in caught.value.message
