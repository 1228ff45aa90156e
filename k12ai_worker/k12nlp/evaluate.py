"""A k12nlp evaluate job: the archived model's metrics on ``input_file``."""

from __future__ import annotations

import json

from k12ai_contract.rundir import ProjectDir
from k12ai_contract.spec import JobSpec
from k12ai_worker.k12ml.files import write_atomic
from k12ai_worker.k12nlp.archive import load_model_archive
from k12ai_worker.k12nlp.batching import TextBatchSource
from k12ai_worker.k12nlp.config import EvaluateParams, TrainConfig
from k12ai_worker.k12nlp.datasets import index_instances, read_instances
from k12ai_worker.k12nlp.metrics import classification_metrics
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
    # As AllenNLP's evaluate: the validation reader and iterator where the config has them.
    reader = config.evaluation_reader
    instances = read_instances(reader, params.input_file, "input_file")
    dataset = index_instances(instances, reader.token_indexers, archive.vocab, "input_file")
    source = TextBatchSource(dataset, config.evaluation_iterator, shuffle=False, seed=config.numpy_seed)
    metrics = evaluate(model, source, device, classification_metrics)
    sink.emit("metrics", metrics)
    if params.output_file:
        # Relative to the project's cache directory, as k12ml's (the server holds it there).
        output = ProjectDir(spec.cache_dir).output_file(params.output_file)
        write_atomic(output, (json.dumps(metrics, indent=4) + "\n").encode())
