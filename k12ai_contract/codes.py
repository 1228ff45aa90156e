"""The reply codes a worker may report in its ``error`` events.

Values of ``k12ai.v1.ReplyCode`` (protos/k12ai/v1/common.proto); a test pins them
there. The worker does not import the generated API, so the few it uses live here.
"""

from __future__ import annotations

import enum


class WorkerCode(enum.IntEnum):
    INVALID_PARAMS = 100103
    PATH_OUTSIDE_DATA_ROOT = 100104
    TASK_START_FAILED = 100202
    # A job that crashed (an exception it did not expect); its log holds the traceback.
    INTERNAL_ERROR = 100500

    @property
    def descr(self) -> str:
        """The reply envelope's ``descr`` of this code (the server answers with the same words)."""
        return _DESCR[self]


_DESCR = {
    WorkerCode.INVALID_PARAMS: "invalid service params",
    WorkerCode.PATH_OUTSIDE_DATA_ROOT: "path outside the data roots",
    WorkerCode.TASK_START_FAILED: "task service start fails",
    WorkerCode.INTERNAL_ERROR: "internal error",
}
