"""The one call path both clients share: requests, metadata, timeouts, error translation."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import grpc
from google.protobuf import json_format, message, struct_pb2

from k12ai_api.v1 import common_pb2, framework_pb2, platform_pb2
from k12ai_client._errors import ReplyError
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


@dataclass(frozen=True, kw_only=True)
class ClientConfig:
    target: str = "127.0.0.1:8118"
    # Sent as the `user` of requests that do not name one.
    user: str = ""
    timeout_s: float = 30.0
    # An API token (``k12ai-server token create``); sent as `authorization: Bearer`.
    token: str = ""
    # TLS: the CA that signed the server's certificate; with client_cert/key, mutual TLS.
    ca_cert: Path | None = None
    client_cert: Path | None = None
    client_key: Path | None = None
    # Extra gRPC metadata.
    extra_metadata: tuple[tuple[str, str], ...] = ()
    # Reconnect attempts of a watch after its connection drops.
    watch_retries: int = 10
    watch_retry_backoff_s: float = 0.5

    @property
    def metadata(self) -> tuple[tuple[str, str], ...]:
        auth = (("authorization", f"Bearer {self.token}"),) if self.token else ()
        return (*auth, *self.extra_metadata)

    @property
    def tls(self) -> bool:
        return self.ca_cert is not None

    def credentials(self) -> grpc.ChannelCredentials:
        def read(path: Path | None) -> bytes | None:
            return path.read_bytes() if path is not None else None

        return grpc.ssl_channel_credentials(read(self.ca_cert), read(self.client_key), read(self.client_cert))


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
    return {
        "version": event.version,
        "type": event.type,
        "tag": event.tag,
        "op": event.op,
        "user": event.user,
        "service_uuid": event.service_uuid,
        "timestamp": event.timestamp,
        "datetime": event.datetime,
        event.type: whole_numbers_as_ints(json_format.MessageToDict(event.payload)),
    }
