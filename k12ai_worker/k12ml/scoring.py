"""Class scores of a fitted pipeline, and the metrics k12ml reports.

``logits`` and ``class_probabilities`` follow the seed's predictor output:

- an estimator with ``predict_proba`` reports its probabilities, and as
  logits their natural logarithm (floored at ``LOG_PROBABILITY_FLOOR`` so a
  zero probability stays a finite JSON number); softmax of those logits gives
  the probabilities back;
- one without (``svc``) reports its decision function as logits (a binary
  problem's single score ``s`` becomes ``[0, s]``) and their softmax as
  probabilities. Those are not calibrated, so no ``loss`` is reported for it.

The predicted label is the class of the largest probability, so the label and
the numbers next to it never disagree.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from k12ai_worker.k12ml.datasets import Features, Labels

Matrix = npt.NDArray[np.float64]

LOG_PROBABILITY_FLOOR = 1e-15


@dataclass(frozen=True)
class ClassScores:
    # Both (rows, classes), columns in the order of the model's classes.
    logits: Matrix
    probabilities: Matrix
    # The probabilities came from predict_proba, so a log loss means something.
    calibrated: bool

    def labels(self, classes: Sequence[str]) -> Labels:
        picked: Labels = np.asarray(classes, dtype=np.str_)[np.argmax(self.probabilities, axis=1)]
        return picked


def class_scores(pipeline: Any, features: Features) -> ClassScores:
    if hasattr(pipeline, "predict_proba"):
        probabilities = np.asarray(pipeline.predict_proba(features), dtype=np.float64)
        logits = np.log(np.clip(probabilities, LOG_PROBABILITY_FLOOR, 1.0))
        return ClassScores(logits, probabilities, calibrated=True)
    decision = np.asarray(pipeline.decision_function(features), dtype=np.float64)
    if decision.ndim == 1:
        decision = np.column_stack([np.zeros_like(decision), decision])
    return ClassScores(decision, _softmax(decision), calibrated=False)


def metrics(truth: Labels, scores: ClassScores, classes: Sequence[str]) -> dict[str, float]:
    """``accuracy``, ``f1_macro`` and, for calibrated scores, ``loss`` (the log loss)."""
    from sklearn.metrics import accuracy_score, f1_score, log_loss

    predicted = scores.labels(classes)
    result = {
        "accuracy": float(accuracy_score(truth, predicted)),
        "f1_macro": float(f1_score(truth, predicted, average="macro", zero_division=0)),
    }
    if scores.calibrated:
        # log_loss orders its columns by the sorted labels, and a label the
        # model never saw in training needs a column too (probability 0).
        labels = sorted(set(classes) | {str(t) for t in truth})
        padded = np.zeros((scores.probabilities.shape[0], len(labels)))
        padded[:, [labels.index(c) for c in classes]] = scores.probabilities
        result["loss"] = float(log_loss(truth, padded, labels=labels))
    return result


def _softmax(logits: Matrix) -> Matrix:
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)  # type: ignore[no-any-return]
