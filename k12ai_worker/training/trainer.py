"""The one training loop: epochs, validation, early stopping, best-model checkpoints.

It knows nothing of text or images. A model is a ``torch.nn.Module`` called
with a batch that returns a dict holding ``loss`` and ``logits``; a batch
moves itself to a device and names its ``target``. Metrics accumulate on the
device, fed a few batches at a time, and values are read back only when an
event is due, so reporting never stalls the GPU.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import torch

from k12ai_contract.errors import ConfigError
from k12ai_worker.training.metrics import Average, DeferredUpdates, Metric
from k12ai_worker.training.reporting import EventSink, MetricsThrottle
from k12ai_worker.training.schedulers import EpochStep
from k12ai_worker.training.trainer_config import TrainerSpec


class Batch(Protocol):
    def to(self, device: torch.device) -> Batch: ...

    @property
    def target(self) -> torch.Tensor | None: ...


class BatchSource(Protocol):
    """The batches of one pass; iterating again starts a new pass (reshuffled if it shuffles)."""

    def __len__(self) -> int: ...

    def __iter__(self) -> Iterator[Batch]: ...


MetricsFactory = Callable[[], dict[str, Metric]]
# Called with the best weights so far (on the CPU), their epoch and validation metrics.
OnBest = Callable[[dict[str, torch.Tensor], int, dict[str, float]], None]


@dataclass
class TrainingResult:
    best_epoch: int | None
    # Validation metrics of the best epoch; training metrics where there is no validation data.
    best_metrics: dict[str, float]
    epochs_completed: int
    stopped_early: bool
    duration_s: float
    history: list[dict[str, Any]] = field(default_factory=list)


class Trainer:
    def __init__(
        self,
        *,
        model: torch.nn.Module,
        optimizer: torch.optim.Optimizer,
        settings: TrainerSpec,
        device: torch.device,
        metrics: MetricsFactory,
        sink: EventSink,
        scheduler: EpochStep | None = None,
        on_best: OnBest | None = None,
        throttle: MetricsThrottle | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._model = model
        self._optimizer = optimizer
        self._settings = settings
        self._device = device
        self._metrics = metrics
        self._sink = sink
        self._scheduler = scheduler
        self._on_best = on_best
        self._throttle = throttle or MetricsThrottle(sink, clock=clock)
        self._clock = clock
        self._params = [p for p in model.parameters() if p.requires_grad]
        if settings.grad_clipping is not None:
            # A hook clamps each gradient as it is computed, which is what
            # AllenNLP does, rather than clamping the sum afterwards.
            bound = settings.grad_clipping
            for p in self._params:
                p.register_hook(lambda grad: grad.clamp(-bound, bound))  # type: ignore[no-untyped-call]

    def train(self, train_data: BatchSource, validation_data: BatchSource | None = None) -> TrainingResult:
        settings = self._settings
        known = [*self._metrics(), "loss"]
        if validation_data is not None and settings.metric_name not in known:
            raise ConfigError(
                "trainer.validation_metric",
                f"unknown metric {settings.metric_name!r}; expected one of {', '.join(known)}",
            )
        started = self._clock()
        best_value: float | None = None
        best_epoch: int | None = None
        best_metrics: dict[str, float] = {}
        best_state: dict[str, torch.Tensor] | None = None
        epochs_without_improvement = 0
        stopped_early = False
        history: list[dict[str, Any]] = []
        epoch = 0
        for epoch in range(1, settings.num_epochs + 1):
            epoch_started = self._clock()
            train_metrics = self._run_epoch(train_data, epoch=epoch, phase="train")
            validation_metrics = (
                self._run_epoch(validation_data, epoch=epoch, phase="validation")
                if validation_data is not None
                else None
            )
            current = validation_metrics[settings.metric_name] if validation_metrics is not None else None
            # Without validation data every epoch is the best so far, as in AllenNLP.
            improved = (
                current is None
                or best_value is None
                or (current > best_value if settings.higher_is_better else current < best_value)
            )
            if improved:
                best_value, best_epoch = current, epoch
                best_metrics = validation_metrics if validation_metrics is not None else train_metrics
                epochs_without_improvement = 0
                best_state = {k: v.detach().to("cpu", copy=True) for k, v in self._model.state_dict().items()}
                if self._on_best is not None:
                    self._on_best(best_state, epoch, best_metrics)
            else:
                epochs_without_improvement += 1
            if self._scheduler is not None:
                self._scheduler(current)
            history.append(
                {
                    "epoch": epoch,
                    "train": train_metrics,
                    "validation": validation_metrics,
                    "duration_s": self._clock() - epoch_started,
                }
            )
            if settings.patience is not None and epochs_without_improvement >= settings.patience:
                stopped_early = epoch < settings.num_epochs
                if stopped_early:
                    self._sink.emit(
                        "info",
                        {
                            "message": f"stopping early after epoch {epoch}: validation "
                            f"{settings.metric_name} has not improved for {settings.patience} epochs"
                        },
                    )
                break
        if best_state is not None:
            self._model.load_state_dict(best_state)
        return TrainingResult(
            best_epoch=best_epoch,
            best_metrics=best_metrics,
            epochs_completed=epoch,
            stopped_early=stopped_early,
            duration_s=self._clock() - started,
            history=history,
        )

    def _run_epoch(self, source: BatchSource, *, epoch: int, phase: str) -> dict[str, float]:
        training = phase == "train"
        self._model.train(training)
        metrics = self._metrics()
        loss = Average()
        pending = DeferredUpdates(metrics, loss)
        num_batches = len(source)
        started = self._clock()
        index = 0
        grad_mode = contextlib.nullcontext() if training else torch.inference_mode()
        with grad_mode:
            for index, batch in enumerate(source, start=1):
                on_device = batch.to(self._device)
                output = self._model(on_device)
                batch_loss = output["loss"]
                if training:
                    self._step(batch_loss)
                pending.add(batch_loss, output["logits"], on_device.target)
                # The last batch's event is the epoch's, sent below whatever the throttle says.
                if index < num_batches and self._throttle.due():
                    pending.flush()
                    self._report(phase, epoch, index, num_batches, metrics, loss, started)
        pending.flush()
        return self._report(phase, epoch, index, num_batches, metrics, loss, started)

    def _step(self, loss: torch.Tensor) -> None:
        self._optimizer.zero_grad(set_to_none=True)
        loss.backward()  # type: ignore[no-untyped-call]
        if self._settings.grad_norm is not None:
            torch.nn.utils.clip_grad_norm_(self._params, self._settings.grad_norm)
        self._optimizer.step()

    def _report(
        self,
        phase: str,
        epoch: int,
        batch: int,
        num_batches: int,
        metrics: Mapping[str, Metric],
        loss: Average,
        started: float,
    ) -> dict[str, float]:
        values = {name: metric.value() for name, metric in metrics.items()}
        values["loss"] = loss.value()
        if not math.isfinite(values["loss"]):
            raise FloatingPointError(f"{phase} loss is {values['loss']} in epoch {epoch}, batch {batch}")
        num_epochs = self._settings.num_epochs
        done = (epoch - 1 + batch / max(num_batches, 1)) if phase == "train" else epoch
        self._throttle.emit(
            {
                **values,
                "phase": phase,
                "epoch": epoch,
                "num_epochs": num_epochs,
                "batch": batch,
                "num_batches": num_batches,
                "progress": round(done / num_epochs, 4),
                "elapsed_s": round(self._clock() - started, 3),
            }
        )
        return values
