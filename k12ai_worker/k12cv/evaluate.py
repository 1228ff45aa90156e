"""A k12cv evaluate job: the archived model's metrics on ``input_file``, read as the validation data was."""

from __future__ import annotations

import dataclasses
import json

from k12ai_contract.rundir import ProjectDir
from k12ai_contract.spec import JobSpec
from k12ai_worker.k12cv.archive import load_model_archive
from k12ai_worker.k12cv.config import EvaluateParams, TrainConfig
from k12ai_worker.k12cv.data import batch_source, read_images
from k12ai_worker.k12cv.metrics import classification_metrics
from k12ai_worker.k12ml.files import write_atomic
from k12ai_worker.training.device import select_device
from k12ai_worker.training.evaluation import evaluate
from k12ai_worker.training.job_params import read_archived_config, read_job_params
from k12ai_worker.training.reporting import EventSink


def run_evaluate(spec: JobSpec, sink: EventSink) -> None:
    params, overrides = read_job_params(EvaluateParams, spec.params)
    archive = load_model_archive(spec.model_archive)
    config = read_archived_config(TrainConfig, archive.config, overrides)
    device = select_device(wants_gpu=params.cuda_device >= 0, sink=sink)
    model = archive.restore(config, device)
    reader = config.evaluation_reader
    iterator = config.evaluation_iterator
    if params.batch_size is not None:
        iterator = dataclasses.replace(iterator, batch_size=params.batch_size)
    source = batch_source(
        read_images(reader, params.input_file, "input_file"),
        reader=reader,
        reader_key="validation_dataset_reader" if config.validation_dataset_reader else "dataset_reader",
        iterator=iterator,
        labels=archive.inputs.labels,
        device=device,
        training=False,
        shuffle=False,
        seed=config.numpy_seed,
        key="input_file",
        size=archive.inputs.image_size,
    )
    metrics = evaluate(model, source, device, classification_metrics(len(archive.inputs.labels)))
    sink.emit("metrics", metrics)
    if params.output_file:
        # Relative to the project's cache directory, as k12ml's and k12nlp's (the server holds it there).
        output = ProjectDir(spec.cache_dir).output_file(params.output_file)
        write_atomic(output, (json.dumps(metrics, indent=4) + "\n").encode())
