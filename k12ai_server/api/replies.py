"""Reply codes, their seed wording, and the error that carries one."""

from __future__ import annotations

from k12ai_api.v1 import common_pb2
from k12ai_contract.codes import WorkerCode

Code = common_pb2.ReplyCode

SUCCESS = Code.REPLY_CODE_SUCCESS
MISSING_FIELD = Code.REPLY_CODE_MISSING_FIELD
UNKNOWN_OP = Code.REPLY_CODE_UNKNOWN_OP
UNKNOWN_SERVICE = Code.REPLY_CODE_UNKNOWN_SERVICE
INVALID_PARAMS = Code.REPLY_CODE_INVALID_PARAMS
PATH_OUTSIDE_DATA_ROOT = Code.REPLY_CODE_PATH_OUTSIDE_DATA_ROOT
INVALID_IDENTIFIER = Code.REPLY_CODE_INVALID_IDENTIFIER
JOB_ALREADY_RUNNING = Code.REPLY_CODE_JOB_ALREADY_RUNNING
TASK_START_FAILED = Code.REPLY_CODE_TASK_START_FAILED
JOB_NOT_FOUND = Code.REPLY_CODE_JOB_NOT_FOUND
JOB_QUEUED = Code.REPLY_CODE_JOB_QUEUED
PERMISSION_DENIED = Code.REPLY_CODE_PERMISSION_DENIED
INTERNAL_ERROR = Code.REPLY_CODE_INTERNAL_ERROR
UNAVAILABLE = Code.REPLY_CODE_UNAVAILABLE

DESCR: dict[int, str] = {
    # The codes a worker reports too: their words are the contract's.
    **{code.value: code.descr for code in WorkerCode},
    SUCCESS: "task service success",
    MISSING_FIELD: "missing mandatory field",
    UNKNOWN_OP: "unknown op",
    UNKNOWN_SERVICE: "unknown service",
    INVALID_IDENTIFIER: "invalid identifier",
    JOB_ALREADY_RUNNING: "task service already running",
    JOB_NOT_FOUND: "task service not found",
    JOB_QUEUED: "task service queued",
    PERMISSION_DENIED: "permission denied",
    INTERNAL_ERROR: "internal error",
    UNAVAILABLE: "service unavailable",
}


class ApiError(Exception):
    """A request the server refuses; becomes the reply envelope ``{code, descr, message}``."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    @property
    def descr(self) -> str:
        return DESCR[self.code]
