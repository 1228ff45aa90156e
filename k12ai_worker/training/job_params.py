"""Reading a PyTorch framework job's ``service_params``: its ``overrides`` and its typed form.

Every kind of job (train, evaluate, predict) takes ``overrides``: an object (or
its JSON text) of dotted keys merged into the training config, as AllenNLP's
``--overrides``. A train job's apply to its own config; an evaluate or predict
job's to the config archived with the model, so they can only be checked in
form until the archive is read. Each framework keeps its own config classes;
what is read and how is the same for all of them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, Protocol, TypeVar

from k12ai_contract.errors import ConfigError
from k12ai_worker.training.params import apply_overrides, join, parse

OVERRIDES_KEY = "overrides"

T = TypeVar("T")


class PredictInput(Protocol):
    """The keys of a predict job's params that say where its inputs are."""

    @property
    def input_type(self) -> Literal["text", "file"]: ...
    @property
    def input_text(self) -> str | None: ...
    @property
    def input_file(self) -> str | None: ...
    @property
    def batch_size(self) -> int: ...


def split_overrides(params: Mapping[str, Any]) -> tuple[dict[str, Any], Any]:
    """``params`` without its ``overrides``, and those overrides (None if absent)."""
    rest = dict(params)
    return rest, rest.pop(OVERRIDES_KEY, None)


def read_train_config(config_type: type[T], params: Mapping[str, Any]) -> tuple[dict[str, Any], T]:
    """The training config with overrides applied (as archived), and its parsed form."""
    config, overrides = split_overrides(params)
    if overrides is not None:
        config = apply_overrides(config, overrides, OVERRIDES_KEY)
    return config, parse(config_type, config)


def read_archived_config(config_type: type[T], config: Mapping[str, Any], overrides: Any) -> T:
    if overrides is not None:
        config = apply_overrides(config, overrides, OVERRIDES_KEY)
    return parse(config_type, config)


def read_job_params(params_type: type[T], params: Mapping[str, Any]) -> tuple[T, Any]:
    """An evaluate or predict job's params, and the overrides for its archived config."""
    rest, overrides = split_overrides(params)
    return parse(params_type, rest), overrides


def validate_overrides(overrides: Any) -> None:
    """Overrides of an archived config can only be checked against it; here, their form."""
    if overrides is not None:
        apply_overrides({}, overrides, OVERRIDES_KEY)


def config_with_valid_overrides(params: Mapping[str, Any]) -> dict[str, Any]:
    """The train config with its overrides, or without them where they are malformed.

    For the server's look-ups (input files, GPUs) before validation has said
    what is wrong; validation reports the malformed overrides.
    """
    rest, overrides = split_overrides(params)
    if overrides is None:
        return rest
    try:
        return apply_overrides(rest, overrides, OVERRIDES_KEY)
    except ConfigError:
        return rest


def check_predict_input(params: PredictInput, path: str) -> None:
    if params.input_type == "text" and params.input_text is None:
        raise ConfigError(join(path, "input_text"), 'is required when input_type is "text"')
    if params.input_type == "file" and params.input_file is None:
        raise ConfigError(join(path, "input_file"), 'is required when input_type is "file"')
    if params.batch_size < 1:
        raise ConfigError(join(path, "batch_size"), f"must be at least 1, got {params.batch_size}")
