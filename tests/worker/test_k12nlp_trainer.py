"""The shared training loop (``k12ai_worker.training``) that k12nlp runs on, with a small real model."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from torch import nn

from k12ai_contract.errors import ConfigError
from k12ai_worker.training.metrics import CategoricalAccuracy, Metric
from k12ai_worker.training.optimizers import OptimizerSpec, SgdSpec
from k12ai_worker.training.params import parse
from k12ai_worker.training.reporting import MetricsThrottle
from k12ai_worker.training.trainer import Trainer
from k12ai_worker.training.trainer_config import TrainerSpec
from tests.worker.toy_training import Batches, Events, Linear, PairBatch, separable


def accuracy() -> dict[str, Metric]:
    return {"accuracy": CategoricalAccuracy(), "accuracy3": CategoricalAccuracy(top_k=3)}


def settings(**values: Any) -> TrainerSpec:
    return parse(TrainerSpec, {"optimizer": {"type": "sgd", "lr": 0.5}, **values}, "trainer")


def trainer(model: nn.Module, spec: TrainerSpec, events: Events, **kwargs: Any) -> Trainer:
    return Trainer(
        model=model,
        optimizer=spec.optimizer.build(model.parameters()),
        settings=spec,
        device=torch.device("cpu"),
        metrics=accuracy,
        sink=events,
        **kwargs,
    )


def test_learns_and_keeps_the_best_epoch() -> None:
    torch.manual_seed(0)
    events = Events()
    saved: list[int] = []
    model = Linear()
    spec = settings(num_epochs=6, validation_metric="+accuracy")
    result = trainer(model, spec, events, on_best=lambda w, epoch, m: saved.append(epoch)).train(
        separable(), separable()
    )
    validation = [m for m in events.of("metrics") if m["phase"] == "validation"]
    assert [m["epoch"] for m in validation] == list(range(1, 7))
    assert result.best_metrics["accuracy"] == max(m["accuracy"] for m in validation) > 0.7
    assert result.best_epoch == saved[-1] and saved == sorted(saved)
    # on_best is called for improving epochs only.
    accuracies = [m["accuracy"] for m in validation]
    assert all(accuracies[e - 1] > max([0.0, *accuracies[: e - 1]]) for e in saved[1:])


def test_patience_stops_early_and_says_so() -> None:
    events = Events()
    # A frozen model never improves: epochs 2 and 3 fail, patience 2 stops after 3.
    model = Linear()
    spec = parse(
        TrainerSpec,
        {
            "optimizer": {"type": "sgd", "lr": 1e-30},
            "num_epochs": 10,
            "patience": 2,
            "validation_metric": "+accuracy",
        },
    )
    result = trainer(model, spec, events).train(separable(), separable())
    assert (result.epochs_completed, result.best_epoch, result.stopped_early) == (3, 1, True)
    assert any("stopping early after epoch 3" in i["message"] for i in events.of("info"))


def test_unknown_validation_metric_names_the_key() -> None:
    with pytest.raises(ConfigError, match=r"^trainer\.validation_metric: unknown metric 'f1'"):
        trainer(Linear(), settings(validation_metric="+f1"), Events()).train(separable(), separable())


def test_metrics_events_are_throttled_but_every_epoch_ends_with_one() -> None:
    events = Events()
    quiet = MetricsThrottle(events, interval_s=3600.0)
    trainer(Linear(), settings(num_epochs=2), events, throttle=quiet).train(separable(), separable())
    metrics = events.of("metrics")
    assert [(m["phase"], m["epoch"], m["batch"]) for m in metrics] == [
        ("train", 1, 6), ("validation", 1, 6), ("train", 2, 6), ("validation", 2, 6),
    ]  # fmt: skip
    assert metrics[-1]["progress"] == 1.0

    # A clock that moves a second per reading lets every batch report.
    ticks = iter(range(10**6))
    events = Events()
    busy = MetricsThrottle(events, interval_s=0.5, clock=lambda: float(next(ticks)))
    trainer(Linear(), settings(num_epochs=1), events, throttle=busy).train(separable())
    batches = [m["batch"] for m in events.of("metrics")]
    # Every batch reports, and the last one once only: its event is the epoch's.
    assert batches == [1, 2, 3, 4, 5, 6]


def test_grad_clipping_bounds_each_gradient_and_grad_norm_their_norm() -> None:
    batches = separable(n=8, batch=8)
    for key, bound in (("grad_clipping", 1e-3), ("grad_norm", 1e-3)):
        model = Linear(scale=100.0)
        before = [p.detach().clone() for p in model.parameters()]
        spec = parse(TrainerSpec, {"optimizer": {"type": "sgd", "lr": 1.0}, "num_epochs": 1, key: bound})
        trainer(model, spec, Events()).train(batches)
        steps = [p.detach() - b for p, b in zip(model.parameters(), before, strict=True)]
        if key == "grad_clipping":
            assert max(float(s.abs().max()) for s in steps) <= bound * (1 + 1e-5)
        else:
            norm = torch.linalg.vector_norm(torch.cat([s.flatten() for s in steps]))
            assert float(norm) <= bound * (1 + 1e-4)


def test_reduce_on_plateau_lowers_the_learning_rate() -> None:
    model = Linear()
    spec = parse(
        TrainerSpec,
        {
            "optimizer": {"type": "sgd", "lr": 1e-30},
            "num_epochs": 3,
            "validation_metric": "+accuracy",
            "learning_rate_scheduler": {
                "type": "reduce_on_plateau",
                "mode": "max",
                "patience": 0,
                "factor": 0.5,
            },
        },
    )
    assert spec.learning_rate_scheduler is not None
    optimizer = spec.optimizer.build(model.parameters())
    Trainer(
        model=model, optimizer=optimizer, settings=spec, device=torch.device("cpu"), metrics=accuracy,
        sink=Events(), scheduler=spec.learning_rate_scheduler.build(optimizer),
    ).train(separable(), separable())  # fmt: skip
    assert optimizer.param_groups[0]["lr"] == pytest.approx(1e-30 * 0.25)


def test_a_non_finite_loss_stops_training() -> None:
    bad = Batches([PairBatch(torch.full((4, 2), float("nan")), torch.zeros(4, dtype=torch.long))])
    with pytest.raises(FloatingPointError, match="train loss is nan in epoch 1"):
        trainer(Linear(), settings(num_epochs=1), Events()).train(bad)


def test_optimizer_specs_build_with_their_parameters() -> None:
    adam = parse(OptimizerSpec, {"type": "adam", "lr": 0.01, "betas": [0.8, 0.9]}, "trainer.optimizer")
    built = adam.build(Linear().parameters())
    assert isinstance(built, torch.optim.Adam) and built.defaults["betas"] == (0.8, 0.9)
    assert isinstance(parse(OptimizerSpec, {"type": "sgd", "lr": 0.1}), SgdSpec)
    with pytest.raises(ConfigError, match=r"^trainer\.optimizer\.lr: is required"):
        parse(OptimizerSpec, {"type": "sgd"}, "trainer.optimizer")
    with pytest.raises(ConfigError, match=r"^trainer\.optimizer\.betas: must be two numbers"):
        parse(OptimizerSpec, {"type": "adamw", "betas": [0.9]}, "trainer.optimizer")
