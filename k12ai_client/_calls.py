"""The one call path both clients share: requests, metadata, timeouts, error translation."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from google.protobuf import json_format, message, struct_pb2

from k12ai_api.v1 import common_pb2, framework_pb2, platform_pb2
from k12ai_client._errors import ReplyError
from k12ai_contract.events import envelope
from k12ai_contract.json_numbers import whole_numbers_as_ints

ACCEPTED_CODES = (common_pb2.REPLY_CODE_SUCCESS, common_pb2.REPLY_CODE_JOB_QUEUED)
# The seed-shaped request type of each RPC that takes one.
REQUEST_TYPES: dict[str, type[message.Message]] = {
    "Train": framework_pb2.TrainRequest,
    "Evaluate": framework_pb2.EvaluateRequest,
    "Predict": framework_pb2.PredictRequest,
    "Stats": platform_pb2.StatsRequest,
    "Control": platform_pb2.ControlRequest,
}

R = TypeVar("R")
SeedBody = Mapping[str, Any] | message.Message


def as_request(rpc: str, request: SeedBody, default_user: str) -> message.Message:
    """A request written as in the seeds (JSON with `async`) as a message."""
    if isinstance(request, message.Message):
        return request
    body = {"user": default_user, **request} if default_user else dict(request)
    return json_format.ParseDict(body, REQUEST_TYPES[rpc](), ignore_unknown_fields=True)


def check_reply(reply: R) -> R:
    code = getattr(reply, "code", common_pb2.REPLY_CODE_SUCCESS)
    if code not in ACCEPTED_CODES:
        message_field = reply.message  # type: ignore[attr-defined]
        text = (
            json_format.MessageToJson(message_field)
            if isinstance(message_field, struct_pb2.Value)
            else str(message_field)
        )
        raise ReplyError(code, reply.descr, text.strip('"'))  # type: ignore[attr-defined]
    return reply


def reply_message(reply: Any) -> Any:
    """The `message` of a reply as plain JSON (a Value becomes dict/str/...)."""
    value = reply.message
    return (
        whole_numbers_as_ints(json_format.MessageToDict(value))
        if isinstance(value, struct_pb2.Value)
        else value
    )


def to_envelope(event: common_pb2.Event) -> dict[str, Any]:
    """The seed's JSON envelope: the payload under the key named by ``type``."""
    return envelope(
        type=event.type,
        tag=event.tag,
        op=event.op,
        user=event.user,
        service_uuid=event.service_uuid,
        timestamp=event.timestamp,
        payload=whole_numbers_as_ints(json_format.MessageToDict(event.payload)),
        datetime=event.datetime,
    )
