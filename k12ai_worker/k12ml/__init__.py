"""k12ml: classification with scikit-learn, run inside a job.

Importing this package (and ``config``) imports neither scikit-learn nor
numpy: the server calls ``validate`` and ``input_paths`` on every request.

``service_params`` by job kind (``[M]`` mandatory, ``[O]`` optional,
``[C]`` mandatory under a condition, as in the seed); an unknown key anywhere
is refused by name, so a typo never trains with a default silently.

train::

    {
      "dataset": {"type": "builtin", "name": "iris"},     // [M] iris | wine | breast_cancer | digits
             or {"type": "csv", "path": "/data/x.csv",    //     header row, numeric features
                 "label_column": "species"},              //     [O] default: the last column
      "model": {"type": "random_forest",                  // [M] see estimators.py
                "params": {"n_estimators": 50}},          // [O] checked against estimators.py
      "validation_split": 0.2,                            // [O] held out, stratified when possible
      "seed": 0,                                          // [O] the split and the estimator
      "standardize": true                                 // [O] StandardScaler before the model
    }

evaluate (exactly one of ``input_file`` and ``dataset``)::

    {
      "input_file": "/data/test.csv",      // [C] labelled CSV; features by the training names
      "label_column": "species",           // [O] default: training's label column, else the last
      "dataset": {"type": "builtin", "name": "iris"},   // [C] the training set: its held-out rows
      "output_file": "metrics.json"        // [O] metrics as JSON; relative to the cache directory
    }

predict::

    {
      "input_type": "text",                // [M] "text" or "file"
      "input_text": "[[5.1, 3.5, 1.4, 0.2]]",  // [C] JSON list of feature rows, a string or a list
      "input_file": "/data/rows.csv",      // [C] CSV of feature rows; a label column is ignored
      "output_file": "predictions.jsonl",  // [O] one prediction line per instance
      "batch_size": 32,                    // [O] rows scored at a time
      "predictor": ""                      // [O] accepted for the seed's sake; has no effect
    }

Events: train emits ``info`` (dataset shape, classes, split) and ``metrics``
(``accuracy``, ``f1_macro``, ``loss`` when the estimator has
``predict_proba``; ``epoch``/``progress`` while an ensemble grows); evaluate
one ``metrics``; predict one ``predict`` per instance (see ``predict.py``).
Training leaves ``runs/{job_id}/model.tar.gz`` in the cache directory and makes it the
project's ``model.tar.gz`` (see ``archive.py`` and ``k12ai_worker.model_runs``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from k12ai_contract.spec import JobSpec
from k12ai_worker.events import EventWriter
from k12ai_worker.k12ml import config as _config

__all__ = ["gpus_wanted", "input_paths", "run", "validate"]


def validate(kind: str, params: Mapping[str, Any]) -> None:
    _config.parse(kind, params)


def input_paths(kind: str, params: Mapping[str, Any]) -> list[tuple[str, str]]:
    return _config.input_paths(kind, params)


def gpus_wanted(kind: str, params: Mapping[str, Any]) -> int:
    return 0


def run(spec: JobSpec, events: EventWriter) -> None:
    # The run modules import numpy and scikit-learn; only a job pays for that.
    job = _config.parse(spec.kind, spec.params)
    if isinstance(job, _config.TrainConfig):
        from k12ai_worker.k12ml import train

        train.run(spec, events, job)
    elif isinstance(job, _config.EvaluateConfig):
        from k12ai_worker.k12ml import evaluate

        evaluate.run(spec, events, job)
    else:
        from k12ai_worker.k12ml import predict

        predict.run(spec, events, job)
