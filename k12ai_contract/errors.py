"""Errors a framework raises for input the user got wrong, each with its reply code.

A bad config yields the same code whether the server caught it before the start
(``validate``) or the job found it while running (an ``error`` event).
"""

from __future__ import annotations

from k12ai_contract.codes import WorkerCode


class ConfigError(Exception):
    """A config value is wrong; ``key`` is its dotted path, e.g. ``model.encoder.type``."""

    code = WorkerCode.INVALID_PARAMS

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}" if key else message)
        self.key = key


class MissingArtefactError(Exception):
    """evaluate/predict found no model archive (the seed's 100202)."""

    code = WorkerCode.TASK_START_FAILED


class InputRefusedError(Exception):
    """The worker would not read an input: it is outside the data roots, in another user's
    area, or not a plain file or directory, once opened (the server checked the path at the
    request; this is what the job found when it opened it)."""

    code = WorkerCode.PATH_OUTSIDE_DATA_ROOT

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}" if key else message)
        self.key = key
        # The message without its key, e.g. "'/data/x.csv' is outside the data roots (/data)".
        self.detail = message
