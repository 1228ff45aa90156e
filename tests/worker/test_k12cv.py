"""k12cv inside real job processes (``python -m k12ai_worker spec.json``) on scikit-learn's digits.

The digits are written by the tests as PNG files in an ``image_folder`` layout
(one sub-folder per class) or as an MNIST-style CSV file; nothing is downloaded.
Jobs run with one torch thread: on the shared 2-core CI machine a tiny CNN's
batches are slower split over contended threads than run on one.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from sklearn.datasets import load_digits

import k12ai_worker.k12cv as k12cv
from k12ai_contract.errors import ConfigError
from tests.digits import Digits, write_digits
from tests.worker import job_process
from tests.worker.job_process import Job

ROOT = Path(__file__).resolve().parents[2]
METRICS = {"accuracy", "accuracy3", "loss"}


def example(name: str) -> dict[str, Any]:
    return job_process.example("k12cv", name)


def digits_train_params(digits: Digits, **overrides: Any) -> dict[str, Any]:
    params = example("train_digits")
    params["train_data_path"] = str(digits.train)
    params["validation_data_path"] = str(digits.validation)
    if overrides:
        params["overrides"] = overrides
    return params


def run_job(work: Path, cache: Path, kind: str, params: dict[str, Any]) -> Job:
    # One torch thread: see the module's docstring.
    return job_process.run_job("k12cv", work, cache, kind, params, env={**os.environ, "OMP_NUM_THREADS": "1"})


def write_digits_csv(file: Path) -> None:
    """The digits as an MNIST-style CSV: a header row, then ``label, 64 pixels 0..255`` per row."""
    digits = load_digits()
    pixels = np.rint(digits.data * (255 / 16)).astype(np.int64)
    header = "label," + ",".join(f"pixel{i}" for i in range(pixels.shape[1]))
    rows = [f"{label}," + ",".join(map(str, row)) for label, row in zip(digits.target, pixels, strict=True)]
    file.write_text("\n".join([header, *rows]) + "\n")


@pytest.mark.parametrize(
    ("change", "key", "message"),
    [
        ({"model.type": "vgg"}, "model.type", "unknown model type 'vgg'"),
        ({"model.in_channels": 3}, "model.in_channels", "dataset_reader gives 1-channel images"),
        ({"dataset_reader.type": "folders"}, "dataset_reader.type", "unknown dataset reader type"),
        (
            {
                "dataset_reader.transforms": [
                    {"type": "normalize", "mean": [0.5], "std": [0.5]},
                    {"type": "resize", "size": 16},
                ]
            },
            "dataset_reader.transforms.1",
            "must be the first transform",
        ),
        (
            {"dataset_reader.transforms": [{"type": "normalize", "mean": [0.5, 0.5, 0.5], "std": [1, 1, 1]}]},
            "dataset_reader.transforms.0.mean",
            "the images have 1 channels",
        ),
        ({"trainer.validation_metric": "+f1"}, "trainer.validation_metric", "unknown metric 'f1'"),
        ({"iterator.batch_size": 0}, "iterator.batch_size", "must be at least 1"),
        ({"model.dropout": 1.5}, "model.dropout", "must lie in [0, 1)"),
    ],
)
def test_config_errors_name_the_key(change: dict[str, Any], key: str, message: str, tmp_path: Path) -> None:
    params = digits_train_params(Digits(tmp_path / "train", tmp_path / "validation", []), **change)
    with pytest.raises(ConfigError) as caught:
        k12cv.validate("train", params)
    assert caught.value.key == key
    assert message in str(caught.value)


def test_digits_splits_need_no_data_root_but_files_do() -> None:
    params = {
        "dataset_reader": {"type": "sklearn_digits"},
        "train_data_path": "train",
        "validation_data_path": "test",
        "model": {"type": "small_cnn", "pretrained_file": "/data/weights.th"},
        "trainer": {"optimizer": {"type": "adam"}},
    }
    assert k12cv.input_paths("train", params) == [("model.pretrained_file", "/data/weights.th")]
    params["dataset_reader"] = {"type": "image_folder"}
    assert [key for key, _ in k12cv.input_paths("train", params)] == [
        "train_data_path",
        "validation_data_path",
        "model.pretrained_file",
    ]
    assert k12cv.gpus_wanted("train", {**params, "overrides": {"trainer.cuda_device": 0}}) == 1


def test_csv_pixels_train_with_builtin_digits_validation_then_evaluate(tmp_path: Path) -> None:
    csv = tmp_path / "digits.csv"
    write_digits_csv(csv)
    cache = tmp_path / "users" / "test" / "123456"
    params = {
        "dataset_reader": {"type": "csv_pixels"},
        "validation_dataset_reader": {"type": "sklearn_digits"},
        "train_data_path": str(csv),
        "validation_data_path": "test",
        "model": {"type": "small_cnn", "channels": [8, 16]},
        "iterator": {"batch_size": 64},
        "trainer": {
            "num_epochs": 2,
            "validation_metric": "+accuracy",
            "optimizer": {"type": "adam", "lr": 0.01},
        },
    }
    job = run_job(tmp_path, cache, "train", params)
    assert job.code == 0, job.stderr
    assert any(
        "1797 train, 360 validation images of 1x8x8 in 10 classes" in i["message"] for i in job.of("info")
    )
    validation = [m for m in job.of("metrics") if m["phase"] == "validation"]
    assert [m["epoch"] for m in validation if m["batch"] == m["num_batches"]] == [1, 2]
    assert all(m.keys() >= METRICS for m in validation)
    (result,) = job.of("result")
    # The validation split is part of the CSV, so it is seen in training: a high score, not a held-out one.
    assert result["best_validation_accuracy"] > 0.8

    job = run_job(tmp_path, cache, "evaluate", {"input_file": "test", "output_file": "scores.json"})
    assert job.code == 0, job.stderr
    (scores,) = job.of("metrics")
    assert scores["accuracy"] == pytest.approx(result["best_validation_accuracy"])
    assert json.loads((cache / "scores.json").read_text()) == scores


def test_predict_without_a_model_and_with_bad_input_say_why(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    job = run_job(tmp_path, cache, "predict", {"input_type": "text", "input_text": "aGVsbG8="})
    assert job.code == 2
    assert job.error == f"model.tar.gz is not found in {cache}"


def test_resnet_from_a_pretrained_file_then_evaluate_decoding_in_workers_and_predict_base64(
    tmp_path: Path,
) -> None:
    import base64

    import torch

    from k12ai_worker.k12cv.models.resnet import ResNet

    digits = write_digits(tmp_path / "digits")
    # A backbone trained elsewhere for 5 classes: all but its head fit a 10-class model.
    pretrained = tmp_path / "resnet_5.th"
    backbone = ResNet((2, 2, 2, 2), 1, 5, stem="small", width=8, dropout=0.0).state_dict()
    torch.save(backbone, pretrained)
    cache = tmp_path / "users" / "test" / "123456"
    params = {
        "dataset_reader": {
            "type": "image_folder",
            "color_mode": "grayscale",
            "transforms": [
                {"type": "resize", "size": 12},
                {"type": "random_crop", "size": 12, "padding": 1},
                {"type": "normalize", "mean": [0.3], "std": [0.4]},
            ],
        },
        "train_data_path": str(digits.train),
        "validation_data_path": str(digits.validation),
        "model": {"type": "resnet18", "stem": "small", "width": 8, "pretrained_file": str(pretrained)},
        "iterator": {"batch_size": 64},
        "trainer": {"num_epochs": 1, "optimizer": {"type": "adam", "lr": 0.003}},
    }
    job = run_job(tmp_path, cache, "train", params)
    assert job.code == 0, job.stderr
    infos = [i["message"] for i in job.of("info")]
    assert any("images of 1x12x12 in 10 classes" in m for m in infos), infos
    expected = (
        f"loaded {len(backbone) - 2} tensors from {pretrained}; skipped 2 of other names or shapes: fc.weight"
    )
    assert any(m.startswith(expected) for m in infos), infos

    cached = run_job(tmp_path, cache, "evaluate", {"input_file": str(digits.validation)})
    assert cached.code == 0, cached.stderr
    # The same images decoded each pass by 2 DataLoader workers instead of cached: the same scores.
    uncached_params = {
        "input_file": str(digits.validation),
        "overrides": {"dataset_reader.cache_limit_mb": 0, "iterator.num_workers": 2},
    }
    uncached = run_job(tmp_path, cache, "evaluate", uncached_params)
    assert uncached.code == 0, uncached.stderr
    (scores,), (again,) = cached.of("metrics"), uncached.of("metrics")
    assert scores.keys() == again.keys() == METRICS
    assert all(again[k] == pytest.approx(scores[k], abs=1e-6) for k in METRICS)

    images = [base64.b64encode(file.read_bytes()).decode() for file, _ in digits.held_out[:3]]
    job = run_job(tmp_path, cache, "predict", {"input_type": "text", "input_text": json.dumps(images)})
    assert job.code == 0, job.stderr
    assert [p["index"] for p in job.of("predict")] == [0, 1, 2]
    labels = {json.loads(p["prediction"])["label"] for p in job.of("predict")}
    assert labels <= {str(d) for d in range(10)}

    job = run_job(tmp_path, cache, "predict", {"input_type": "text", "input_text": "bm90IGFuIGltYWdl"})
    assert job.code == 2
    assert job.error.startswith("input_text: is not an image")


def test_a_predict_listing_names_images_inside_its_own_folder_only(tmp_path: Path) -> None:
    from k12ai_worker.k12cv.predict import file_images

    digits = write_digits(tmp_path / "digits")
    inside, _ = digits.held_out[0]
    listing = digits.validation / "list.txt"
    listing.write_text(f"{inside.relative_to(digits.validation)}\n\n{inside}\n")
    assert file_images(str(listing)) == [(inside, "input_file:1"), (inside, "input_file:3")]
    assert file_images(str(inside)) == [(inside, "input_file")]
    # The server held the listing to the data roots; what it lists must not leave its folder.
    listing.write_text("../train/0/0.png\n")
    with pytest.raises(ConfigError) as caught:
        file_images(str(listing))
    assert caught.value.key == "input_file:1"
    assert "outside the listing's folder" in str(caught.value)


@pytest.mark.parametrize(
    "loading",
    [{}, {"dataset_reader.cache_limit_mb": 0}],
    ids=["decoded into the cache by workers", "decoded each epoch by workers"],
)
def test_an_unreadable_image_fails_the_job_naming_the_data_key(
    tmp_path: Path, loading: dict[str, Any]
) -> None:
    digits = write_digits(tmp_path / "digits")
    broken = digits.train / "3" / "broken.png"
    broken.write_bytes(b"not a png")
    params = digits_train_params(digits, **{"trainer.num_epochs": 1, "iterator.num_workers": 2, **loading})
    job = run_job(tmp_path, tmp_path / "cache", "train", params)
    assert job.code == 2, job.stderr
    assert job.error.startswith(f"train_data_path: {broken} is not an image")


def test_images_of_another_size_ask_for_a_resize(tmp_path: Path) -> None:
    digits = write_digits(tmp_path / "digits")
    odd = digits.validation / "5" / "large.png"
    Image.new("L", (16, 16)).save(odd)
    job = run_job(
        tmp_path, tmp_path / "cache", "train", digits_train_params(digits, **{"trainer.num_epochs": 1})
    )
    assert job.code == 2, job.stderr
    assert job.error == (
        f"validation_data_path: {odd} is 16x16, not the 8x8 this job expects; add a resize transform"
    )
