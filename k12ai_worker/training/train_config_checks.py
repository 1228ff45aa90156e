"""Checks of a training config that hold for every framework on the shared loop.

Each framework runs them among its own checks, in the order that decides which
error a config with several is reported for.
"""

from __future__ import annotations

from collections.abc import Sequence

from k12ai_contract.errors import ConfigError
from k12ai_worker.training.params import join
from k12ai_worker.training.trainer_config import TrainerSpec


def check_validation_metric(path: str, trainer: TrainerSpec, metric_names: Sequence[str]) -> None:
    metric = trainer.metric_name
    if metric not in metric_names:
        raise ConfigError(
            join(path, "trainer.validation_metric"),
            f"unknown metric {metric!r}; expected one of {', '.join(metric_names)}",
        )


def check_data_for_trainer(
    path: str,
    trainer: TrainerSpec,
    *,
    validation_data_path: str | None,
    evaluate_on_test: bool,
    test_data_path: str | None,
) -> None:
    """A plateau scheduler has validation data to follow; evaluate_on_test has test data."""
    scheduler = trainer.learning_rate_scheduler
    if scheduler is not None and scheduler.needs_validation_metric and not validation_data_path:
        raise ConfigError(
            join(path, "trainer.learning_rate_scheduler.type"),
            "reduce_on_plateau follows the validation metric, so it needs validation_data_path",
        )
    if evaluate_on_test and not test_data_path:
        raise ConfigError(join(path, "evaluate_on_test"), "needs test_data_path")
