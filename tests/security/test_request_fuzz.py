"""Hypothesis on request validation: whatever a client sends, the answer is a documented code."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import grpc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from k12ai_api.v1 import common_pb2
from k12ai_client import ClientConfig, K12AIClient, ReplyError, RPCError
from tests.conftest import ServerProcess

DOCUMENTED = set(common_pb2.ReplyCode.values()) - {common_pb2.REPLY_CODE_INTERNAL_ERROR}
json_values = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)
identifiers = st.text(max_size=80) | st.sampled_from(["test", "../x", "a/b", "k12ml", "", " ", "é", "\n"])
ops = st.sampled_from(
    ["train.start", "train.stop", "evaluate.start", "query", "container.stop", ""]
) | st.text(max_size=20)


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[K12AIClient]:
    from tests.conftest import start_server_process

    server: ServerProcess = start_server_process(tmp_path_factory.mktemp("fuzz"))
    with K12AIClient(ClientConfig(target=f"127.0.0.1:{server.grpc_port}", timeout_s=10)) as c:
        yield c
    server.stop()


def answer(call: Callable[[dict[str, Any]], Any], body: dict[str, Any]) -> int:
    try:
        return int(call(body).code)
    except ReplyError as err:
        return err.code
    except RPCError as err:
        # The only status a seed call may end with is a refusal of the caller, never a crash.
        assert err.status not in (grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN), err
        return -1


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    op=ops,
    user=identifiers,
    service_name=st.sampled_from(["k12ml", "k12nlp", "k12cv", "k12platform"]) | st.text(max_size=10),
    service_uuid=identifiers,
    params=st.dictionaries(st.text(max_size=12), json_values, max_size=5),
    endpoint=st.sampled_from(["train", "evaluate", "predict", "stats", "control"]),
)
def test_any_request_gets_a_documented_code(
    client: K12AIClient,
    op: str,
    user: str,
    service_name: str,
    service_uuid: str,
    params: dict[str, Any],
    endpoint: str,
) -> None:
    body = {"op": op, "user": user, "service_name": service_name, "service_uuid": service_uuid,
            "service_params": params}  # fmt: skip
    code = answer(getattr(client, endpoint), body)
    assert code in DOCUMENTED or code == -1, code
