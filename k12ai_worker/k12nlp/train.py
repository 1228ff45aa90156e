"""A k12nlp training job: read the data, build vocabulary and model, train, archive the best."""

from __future__ import annotations

import random
import time
from itertools import chain

import numpy as np
import torch

from k12ai_contract.spec import JobSpec
from k12ai_worker.k12nlp.archive import save_model_archive
from k12ai_worker.k12nlp.batching import TextBatchSource
from k12ai_worker.k12nlp.config import TrainConfig, read_train_config
from k12ai_worker.k12nlp.datasets import index_instances, read_instances
from k12ai_worker.k12nlp.metrics import classification_metrics
from k12ai_worker.k12nlp.readers import Instance
from k12ai_worker.k12nlp.vocabulary import LABELS, Vocabulary
from k12ai_worker.training.device import select_device
from k12ai_worker.training.model_training import train_model
from k12ai_worker.training.reporting import EventSink
from k12ai_worker.training.train_result import report_train_result

_DATA_KEYS = {"train": "train_data_path", "validation": "validation_data_path", "test": "test_data_path"}


def seed_everything(config: TrainConfig) -> None:
    random.seed(config.random_seed)
    np.random.seed(config.numpy_seed)
    torch.manual_seed(config.pytorch_seed)


def read_datasets(config: TrainConfig) -> dict[str, list[Instance]]:
    return {
        name: read_instances(
            config.dataset_reader if name == "train" else config.evaluation_reader, path, _DATA_KEYS[name]
        )
        for name, path in config.data_paths().items()
    }


def build_vocabulary(config: TrainConfig, datasets: dict[str, list[Instance]]) -> Vocabulary:
    names: list[str] = list(config.datasets_for_vocab_creation or datasets)
    indexers = {**config.dataset_reader.token_indexers, **config.evaluation_reader.token_indexers}
    return Vocabulary.from_instances(
        chain.from_iterable(datasets[n] for n in names if n in datasets), indexers.values(), config.vocabulary
    )


def run_train(spec: JobSpec, sink: EventSink) -> None:
    archived_config, config = read_train_config(spec.params)
    seed_everything(config)
    device = select_device(wants_gpu=config.trainer.cuda_device >= 0, sink=sink)

    started = time.monotonic()
    datasets = read_datasets(config)
    vocab = build_vocabulary(config, datasets)
    counts = ", ".join(f"{len(instances)} {name}" for name, instances in datasets.items())
    sink.emit(
        "info",
        {
            "message": f"read {counts} instances; vocabulary of {vocab.size('tokens')} tokens and "
            f"{vocab.size(LABELS)} labels, in {time.monotonic() - started:.2f} s"
        },
    )
    model = config.model.build(vocab, path="model", sink=sink).to(device)
    sources = {
        name: TextBatchSource(
            index_instances(
                instances,
                (config.dataset_reader if name == "train" else config.evaluation_reader).token_indexers,
                vocab,
                _DATA_KEYS[name],
            ),
            config.iterator if name == "train" else config.evaluation_iterator,
            shuffle=config.trainer.shuffle and name == "train",
            seed=config.numpy_seed,
        )
        for name, instances in datasets.items()
    }

    def on_best(weights: dict[str, torch.Tensor], epoch: int, metrics: dict[str, float]) -> None:
        save_model_archive(spec, archived_config, vocab, weights)

    result = train_model(
        model,
        config.trainer,
        device=device,
        metrics=classification_metrics,
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
        metrics=classification_metrics,
        archive=spec.model_archive,
    )
