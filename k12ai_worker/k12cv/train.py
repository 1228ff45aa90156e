"""A k12cv training job: read the images, build the model, train, archive the best."""

from __future__ import annotations

import random
import time
from pathlib import Path

import numpy as np
import torch

from k12ai_contract.errors import ConfigError
from k12ai_contract.spec import JobSpec
from k12ai_worker.inputs import open_binary
from k12ai_worker.k12cv.archive import ModelInputs, build_classifier, save_model_archive
from k12ai_worker.k12cv.batching import image_size
from k12ai_worker.k12cv.config import TrainConfig, read_train_config
from k12ai_worker.k12cv.data import batch_source, read_images
from k12ai_worker.k12cv.images import ImageSet, sorted_labels
from k12ai_worker.k12cv.metrics import classification_metrics
from k12ai_worker.k12cv.models.classifier import ImageClassifier, load_matching
from k12ai_worker.training.background import LatestWriter
from k12ai_worker.training.device import select_device
from k12ai_worker.training.model_training import train_model
from k12ai_worker.training.reporting import EventSink
from k12ai_worker.training.train_result import report_train_result
from k12ai_worker.training.trainer import BatchSource


def seed_everything(config: TrainConfig) -> None:
    random.seed(config.random_seed)
    np.random.seed(config.numpy_seed)
    torch.manual_seed(config.pytorch_seed)


def model_inputs(config: TrainConfig, train: ImageSet) -> ModelInputs:
    labels = sorted_labels(train.labels)
    if len(labels) < 2:
        raise ConfigError(
            "train_data_path", f"a classifier needs at least 2 labels in the data, found {labels}"
        )
    if config.model.num_classes is not None and config.model.num_classes != len(labels):
        raise ConfigError(
            "model.num_classes",
            f"is {config.model.num_classes}, but the training data has {len(labels)} labels",
        )
    size = image_size(train, config.dataset_reader.decode_size, "train_data_path")
    return ModelInputs(labels, train.channels, size)


def build_model(config: TrainConfig, inputs: ModelInputs, sink: EventSink) -> ImageClassifier:
    model = build_classifier(config, inputs)
    file = config.model.pretrained_file
    if file is not None:
        path = Path(file)
        if not path.is_file():
            raise ConfigError("model.pretrained_file", f"file not found: {file}")
        with open_binary("model.pretrained_file", path) as opened:
            try:
                weights = torch.load(opened, map_location="cpu", weights_only=True)
            except Exception as exc:  # torch raises many kinds for a file that is not a state_dict
                raise ConfigError(
                    "model.pretrained_file", f"{file} is not a torch state_dict: {exc}"
                ) from None
        if not isinstance(weights, dict):
            raise ConfigError(
                "model.pretrained_file", f"{file} holds a {type(weights).__name__}, not a state_dict"
            )
        loaded, skipped = load_matching(model.network, weights)
        if not loaded:
            raise ConfigError(
                "model.pretrained_file", f"{file} has no tensor of this model's names and shapes"
            )
        sink.emit(
            "info",
            {
                "message": f"loaded {len(loaded)} tensors from {file}"
                + (
                    f"; skipped {len(skipped)} of other names or shapes: {', '.join(skipped[:5])}"
                    if skipped
                    else ""
                )
            },
        )
    return model


def run_train(spec: JobSpec, sink: EventSink) -> None:
    archived_config, config = read_train_config(spec.params)
    seed_everything(config)
    device = select_device(wants_gpu=config.trainer.cuda_device >= 0, sink=sink)

    started = time.monotonic()
    datasets = {
        name: read_images(config.reader_for(name), path, key)
        for name, (key, path) in config.data_paths().items()
    }
    inputs = model_inputs(config, datasets["train"])
    sources: dict[str, BatchSource] = {
        name: batch_source(
            images,
            reader=config.reader_for(name),
            reader_key="dataset_reader" if name == "train" else "validation_dataset_reader",
            iterator=config.iterator if name == "train" else config.evaluation_iterator,
            labels=inputs.labels,
            device=device,
            training=name == "train",
            shuffle=name == "train" and config.trainer.shuffle,
            seed=config.numpy_seed,
            key=config.data_paths()[name][0],
            size=inputs.image_size,
        )
        for name, images in datasets.items()
    }
    counts = ", ".join(f"{len(images)} {name}" for name, images in datasets.items())
    height, width = inputs.image_size
    sink.emit(
        "info",
        {
            "message": f"read {counts} images of {inputs.channels}x{height}x{width} "
            f"in {len(inputs.labels)} classes, in {time.monotonic() - started:.2f} s"
        },
    )
    model = build_model(config, inputs, sink).to(device)
    metrics = classification_metrics(len(inputs.labels))

    with LatestWriter() as writer:

        def on_best(weights: dict[str, torch.Tensor], epoch: int, values: dict[str, float]) -> None:
            # ``weights`` are the trainer's fresh CPU copies: safe to write while training goes on.
            writer.submit(lambda: save_model_archive(spec, archived_config, inputs, weights))

        result = train_model(
            model,
            config.trainer,
            device=device,
            metrics=metrics,
            sink=sink,
            sources=sources,
            on_best=on_best,
        )

    report_train_result(
        sink,
        result,
        sources=sources,
        evaluate_on_test=config.evaluate_on_test,
        model=model,
        device=device,
        metrics=metrics,
        archive=spec.model_archive,
    )
