"""The client facades cover every RPC the services define (as snake_case methods)."""

from __future__ import annotations

import re

import pytest

import k12ai_client
from k12ai_api.v1 import framework_pb2, platform_pb2
from k12ai_client import AsyncK12AIClient, K12AIClient

RPCS = [
    method.name
    for module in (framework_pb2, platform_pb2)
    for service in module.DESCRIPTOR.services_by_name.values()
    for method in service.methods
]


def snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


@pytest.mark.parametrize("facade", [K12AIClient, AsyncK12AIClient])
@pytest.mark.parametrize("rpc", RPCS)
def test_every_rpc_has_a_method(facade: type, rpc: str) -> None:
    assert callable(getattr(facade, snake(rpc), None)), f"{facade.__name__} lacks {snake(rpc)} for {rpc}"


def test_public_names_are_a_decision() -> None:
    assert sorted(k12ai_client.__all__) == sorted(
        [
            "AsyncK12AIClient", "ClientConfig", "Event", "HTTPStatusError", "Heartbeat", "Job", "JobEnd",
            "K12AIClient", "K12AIError", "LocalFileError", "RPCError", "ReplyCode", "ReplyError",
            "UnreachableError", "WatchError", "WatchItem", "WatchState", "reply_message", "to_envelope",
        ]
    )  # fmt: skip
    for name in k12ai_client.__all__:
        assert hasattr(k12ai_client, name)
