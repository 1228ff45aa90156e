"""The k12ai client: blocking and asyncio facades over the generated gRPC stubs."""

from k12ai_api.v1.common_pb2 import Event, ReplyCode
from k12ai_api.v1.framework_pb2 import Heartbeat, Job, JobEnd
from k12ai_client._aio import AsyncK12AIClient
from k12ai_client._calls import reply_message, to_envelope
from k12ai_client._config import ClientConfig
from k12ai_client._errors import (
    HTTPStatusError,
    K12AIError,
    LocalFileError,
    ReplyError,
    RPCError,
    UnreachableError,
    WatchError,
)
from k12ai_client._sync import K12AIClient
from k12ai_client._watch import WatchItem, WatchState

__all__ = [
    "AsyncK12AIClient",
    "ClientConfig",
    "Event",
    "HTTPStatusError",
    "Heartbeat",
    "Job",
    "JobEnd",
    "K12AIClient",
    "K12AIError",
    "LocalFileError",
    "RPCError",
    "ReplyCode",
    "ReplyError",
    "UnreachableError",
    "WatchError",
    "WatchItem",
    "WatchState",
    "reply_message",
    "to_envelope",
]
