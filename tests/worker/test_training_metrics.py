"""Metrics fed a few batches at a time (``DeferredUpdates``) report what batch-by-batch updates report."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import pytest
import torch
from torch import nn

from k12ai_worker.training.metrics import Average, CategoricalAccuracy, DeferredUpdates, Metric
from k12ai_worker.training.params import parse
from k12ai_worker.training.reporting import MetricsThrottle
from k12ai_worker.training.trainer import Trainer
from k12ai_worker.training.trainer_config import TrainerSpec
from tests.worker.toy_training import Events, Linear, separable


def accuracies() -> dict[str, Metric]:
    return {"accuracy": CategoricalAccuracy(), "accuracy3": CategoricalAccuracy(top_k=3)}


def random_batches(
    shapes: Sequence[tuple[int, ...]], classes: int = 5
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    g = torch.Generator().manual_seed(1)
    return [
        (torch.randn(*shape, classes, generator=g), torch.randint(0, classes, shape, generator=g))
        for shape in shapes
    ]


def batch_by_batch(batches: list[tuple[torch.Tensor, torch.Tensor]]) -> dict[str, float]:
    metrics = accuracies()
    loss = Average()
    for logits, target in batches:
        loss.update_value(nn.functional.cross_entropy(logits.flatten(0, -2), target.flatten()))
        for metric in metrics.values():
            metric.update(logits, target)
    return {**{name: m.value() for name, m in metrics.items()}, "loss": loss.value()}


def deferred(batches: list[tuple[torch.Tensor, torch.Tensor]], max_batches: int) -> dict[str, float]:
    metrics = accuracies()
    loss = Average()
    pending = DeferredUpdates(metrics, loss, max_batches=max_batches)
    for logits, target in batches:
        pending.add(nn.functional.cross_entropy(logits.flatten(0, -2), target.flatten()), logits, target)
    pending.flush()
    return {**{name: m.value() for name, m in metrics.items()}, "loss": loss.value()}


@pytest.mark.parametrize("max_batches", [1, 3, 32])
def test_deferred_updates_match_batch_by_batch(max_batches: int) -> None:
    # A short last batch, as an epoch's often is.
    batches = random_batches([(8,)] * 7 + [(3,)])
    expected = batch_by_batch(batches)
    got = deferred(batches, max_batches)
    assert got["accuracy"] == expected["accuracy"]
    assert got["accuracy3"] == expected["accuracy3"]
    assert 0 < got["accuracy"] < got["accuracy3"] < 1
    assert got["loss"] == pytest.approx(expected["loss"], rel=1e-6)


def test_batches_of_other_lengths_past_the_batch_dimension_are_not_joined() -> None:
    # Sequence logits whose length changes from batch to batch cannot be concatenated.
    batches = random_batches([(4, 6), (4, 6), (4, 9), (2, 9), (4, 6)])
    expected = batch_by_batch(batches)
    got = deferred(batches, max_batches=32)
    assert got["accuracy"] == expected["accuracy"]
    assert got["accuracy3"] == expected["accuracy3"]


def test_held_batches_reach_the_metrics_only_when_flushed_or_full() -> None:
    metrics = accuracies()
    loss = Average()
    pending = DeferredUpdates(metrics, loss, max_batches=3)
    logits = torch.tensor([[0.0, 1.0], [1.0, 0.0]])
    target = torch.tensor([1, 1])
    pending.add(torch.tensor(2.0), logits, target)
    pending.add(torch.tensor(4.0), logits, None)
    assert loss.value() == 0.0 and metrics["accuracy"].value() == 0.0
    pending.add(torch.tensor(6.0), logits, target)  # the third: full, so fed
    assert loss.value() == pytest.approx(4.0)
    assert metrics["accuracy"].value() == pytest.approx(0.5)
    pending.add(torch.tensor(0.0), logits[:1], target[:1])
    pending.flush()
    assert loss.value() == pytest.approx(3.0)
    assert metrics["accuracy"].value() == pytest.approx(0.6)
    assert metrics["accuracy3"].value() == 1.0


def test_every_mid_epoch_event_counts_exactly_the_batches_before_it() -> None:
    data = separable(n=48, batch=8)
    # A learning rate of 1e-30 leaves the weights as they were: each prefix can be recomputed.
    spec = parse(TrainerSpec, {"optimizer": {"type": "sgd", "lr": 1e-30}, "num_epochs": 1}, "trainer")
    model = Linear()
    events = Events()
    ticks = itertools.count()
    busy = MetricsThrottle(events, interval_s=0.5, clock=lambda: float(next(ticks)))
    Trainer(
        model=model,
        optimizer=spec.optimizer.build(model.parameters()),
        settings=spec,
        device=torch.device("cpu"),
        metrics=accuracies,
        sink=events,
        throttle=busy,
    ).train(data)
    reported = events.of("metrics")
    assert [e["batch"] for e in reported] == list(range(1, len(data) + 1))
    batches = list(data)
    for event in reported:
        with torch.no_grad():
            outputs = [model(b) for b in batches[: event["batch"]]]
        expected = _values(outputs, [b.y for b in batches[: event["batch"]]])
        assert event["accuracy"] == expected["accuracy"]
        assert event["accuracy3"] == expected["accuracy3"]
        assert event["loss"] == pytest.approx(expected["loss"], rel=1e-6)


def _values(outputs: list[dict[str, Any]], targets: list[torch.Tensor]) -> dict[str, float]:
    metrics = accuracies()
    loss = Average()
    for output, target in zip(outputs, targets, strict=True):
        loss.update_value(output["loss"])
        for metric in metrics.values():
            metric.update(output["logits"], target)
    return {**{name: m.value() for name, m in metrics.items()}, "loss": loss.value()}
