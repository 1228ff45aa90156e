"""The seed's k12nlp training request, its data paths pointed at copies of the SST/GloVe fixtures."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from k12ai_client.examples_data import K12NLP_SAMPLE
from tests.conftest import example

# The SST/GloVe slice `k12ai examples data` writes a sample of, kept in the client package.
FIXTURES = K12NLP_SAMPLE


def seed_request_on_fixtures(data: Path) -> dict[str, Any]:
    """The seed's request as written, but for its data paths: the fixtures, copied to ``data``."""
    shutil.copytree(FIXTURES, data, dirs_exist_ok=True)
    body = example("k12nlp", "train")
    params = body["service_params"]
    params["train_data_path"] = str(data / "sst_train.txt")
    params["validation_data_path"] = str(data / "sst_dev.txt")
    params["test_data_path"] = str(data / "sst_test.txt")
    embedder = params["model"]["text_field_embedder"]["token_embedders"]["tokens"]
    embedder["pretrained_file"] = str(data / "glove.6B.50d.fixture.txt.gz")
    return body


def seed_train_request(data: Path) -> dict[str, Any]:
    """The same, trained for one epoch in batches of 32, as a user would override it."""
    body = seed_request_on_fixtures(data)
    body["service_params"]["overrides"] = {"trainer.num_epochs": 1, "iterator.batch_size": 32}
    return body
