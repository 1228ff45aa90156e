"""Errors a framework raises for input the user got wrong.

Each carries the reply code the server answers with, so a bad config yields
the same code whether the server caught it before start or the job did.
"""

from __future__ import annotations

# Mirrors k12ai.v1.ReplyCode; the worker must not import the generated API.
INVALID_PARAMS = 100103
TASK_START_FAILED = 100202


class ConfigError(Exception):
    """A config value is wrong; ``key`` is its dotted path, e.g. ``model.encoder.type``."""

    code = INVALID_PARAMS
    descr = "invalid service params"

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}" if key else message)
        self.key = key


class MissingArtefactError(Exception):
    """evaluate/predict found no ``model.tar.gz`` (the seed's 100202)."""

    code = TASK_START_FAILED
    descr = "task service start fails"
