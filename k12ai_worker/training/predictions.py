"""A predict job's output: one JSON line a prediction, as AllenNLP's predictor wrote them.

Each line goes out as a ``predict`` event, in input order, and to
``output_file`` where the job names one.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path

import torch

from k12ai_contract.rundir import ProjectDir
from k12ai_worker.training.reporting import EventSink


def prediction_lines(result: Mapping[str, torch.Tensor], labels: Sequence[str]) -> Iterator[str]:
    """One line a row of a classifier's output batch (its ``logits`` and ``class_probabilities``)."""
    logits = result["logits"].float().cpu()
    probabilities = result["class_probabilities"].float().cpu()
    for row in range(len(logits)):
        prediction = {
            "logits": logits[row].tolist(),
            "class_probabilities": probabilities[row].tolist(),
            "label": labels[int(probabilities[row].argmax())],
        }
        yield json.dumps(prediction) + "\n"


def emit_predictions(sink: EventSink, lines: Iterable[str], cache_dir: Path, output_file: str | None) -> None:
    with contextlib.ExitStack() as stack:
        output = None
        if output_file:
            # Relative to the project's cache directory, as k12ml's (the server holds it there).
            path = ProjectDir(cache_dir).output_file(output_file)
            path.parent.mkdir(parents=True, exist_ok=True)
            output = stack.enter_context(path.open("w", encoding="utf-8"))
        for index, line in enumerate(lines):
            sink.emit("predict", {"index": index, "prediction": line})
            if output is not None:
                output.write(line)
