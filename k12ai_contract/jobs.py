"""Job kinds and the states a job moves through."""

from __future__ import annotations

import enum


class JobKind(enum.StrEnum):
    TRAIN = "train"
    EVALUATE = "evaluate"
    PREDICT = "predict"

    @property
    def start_op(self) -> str:
        # The seed's op of a job, e.g. "train.start"; events carry it.
        return f"{self.value}.start"

    @property
    def stop_op(self) -> str:
        return f"{self.value}.stop"


class JobState(enum.StrEnum):
    QUEUED = "queued"
    STARTING = "starting"
    RUNNING = "running"
    FINISHED = "finished"
    FAILED = "failed"
    STOPPED = "stopped"

    def is_terminal(self) -> bool:
        return self in TERMINAL_STATES


LIVE_STATES = (JobState.QUEUED, JobState.STARTING, JobState.RUNNING)
TERMINAL_STATES = frozenset({JobState.FINISHED, JobState.FAILED, JobState.STOPPED})
