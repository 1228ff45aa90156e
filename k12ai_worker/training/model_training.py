"""A train job's training: the optimizer and scheduler its trainer config names, and the shared loop."""

from __future__ import annotations

from collections.abc import Mapping

import torch

from k12ai_worker.training.reporting import EventSink
from k12ai_worker.training.trainer import BatchSource, MetricsFactory, OnBest, Trainer, TrainingResult
from k12ai_worker.training.trainer_config import TrainerSpec


def train_model(
    model: torch.nn.Module,
    settings: TrainerSpec,
    *,
    device: torch.device,
    metrics: MetricsFactory,
    sink: EventSink,
    sources: Mapping[str, BatchSource],
    on_best: OnBest,
) -> TrainingResult:
    """Trains on ``sources["train"]``, validating on ``sources["validation"]`` where there is one."""
    # Frozen parameters (a fixed pretrained embedding) are left out, as AllenNLP's trainer does.
    optimizer = settings.optimizer.build(p for p in model.parameters() if p.requires_grad)
    scheduler = settings.learning_rate_scheduler
    trainer = Trainer(
        model=model,
        optimizer=optimizer,
        settings=settings,
        device=device,
        metrics=metrics,
        sink=sink,
        scheduler=None if scheduler is None else scheduler.build(optimizer),
        on_best=on_best,
    )
    return trainer.train(sources["train"], sources.get("validation"))
