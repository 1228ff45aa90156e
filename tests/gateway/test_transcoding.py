"""The gateway on HttpRule features k12ai's own protos do not use yet, and on every gRPC code.

A small proto (compiled here with protoc, as scripts/gen_protos.py compiles ours) declares
path variables into nested fields, ``body: "<field>"``, ``response_body``, a custom verb,
``additional_bindings``, enums, repeated and bool query parameters and a server stream; an
echo servicer answers with what it received, so each test reads back how the gateway
transcoded its request.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import grpc
import grpc_tools
import pytest
from google.protobuf import descriptor_pb2, descriptor_pool, message, message_factory

from k12ai_server.gateway import RestGateway
from k12ai_server.gateway.context import GatewayContext

ROOT = Path(__file__).resolve().parents[2]
PROTO = """
syntax = "proto3";
package gwtest.v1;
import "google/api/annotations.proto";
import "google/api/httpbody.proto";

enum Color { COLOR_UNSPECIFIED = 0; RED = 1; BLUE = 2; }
message Inner { string name = 1; int64 count = 2; }
message EchoRequest {
  string id = 1;
  Inner inner = 2;
  repeated int32 numbers = 3;
  Color color = 4;
  bool flag = 5;
  string display_name = 6;
  uint64 big = 7;
}
message EchoResponse { EchoRequest echoed = 1; repeated string metadata = 2; }

service Echo {
  rpc Get(EchoRequest) returns (EchoResponse) {
    option (google.api.http) = {
      get: "/v1/echo/{id}"
      additional_bindings { get: "/v1/{inner.name=things/*}/echo" }
    };
  }
  rpc Put(EchoRequest) returns (EchoResponse) {
    option (google.api.http) = { put: "/v1/echo/{id}:inner" body: "inner" response_body: "echoed" };
  }
  rpc Fail(EchoRequest) returns (EchoResponse) {
    option (google.api.http) = { post: "/v1/fail" body: "*" };
  }
  rpc Stream(EchoRequest) returns (stream EchoResponse) {
    option (google.api.http) = { get: "/v1/stream" };
  }
  rpc Download(EchoRequest) returns (stream google.api.HttpBody) {
    option (google.api.http) = { get: "/v1/download/{id}" };
  }
}
"""


class EchoServicer:
    def __init__(self, classes: dict[str, type[message.Message]]) -> None:
        # Built from a descriptor at run time: their fields are unknown to the type checker.
        self._response: Callable[..., message.Message] = classes["EchoResponse"]
        self._body: Callable[..., message.Message] = classes["HttpBody"]

    def _echo(self, request: message.Message, context: GatewayContext) -> message.Message:
        metadata = [f"{k}={v!s}" for k, v in context.invocation_metadata() if k != "x-forwarded-host"]
        return self._response(echoed=request, metadata=metadata)

    async def Get(self, request: Any, context: GatewayContext) -> message.Message:  # noqa: N802
        await context.send_initial_metadata((("echo-id", request.id),))
        context.set_trailing_metadata((("deadline-set", str(context.time_remaining() is not None)),))
        return self._echo(request, context)

    async def Put(self, request: message.Message, context: GatewayContext) -> message.Message:  # noqa: N802
        return self._echo(request, context)

    async def Fail(self, request: Any, context: GatewayContext) -> message.Message:  # noqa: N802
        await context.abort(grpc.StatusCode[request.id], f"failed with {request.id}")
        raise AssertionError("abort returns only by raising")

    async def Stream(self, request: Any, context: GatewayContext) -> AsyncIterator[message.Message]:  # noqa: N802
        await context.send_initial_metadata((("stream-of", str(len(request.numbers))),))
        for number in request.numbers:
            yield self._response(echoed={"numbers": [number]})
        if request.flag:
            await context.abort(grpc.StatusCode.DATA_LOSS, "the stream broke")

    async def Download(self, request: Any, context: GatewayContext) -> AsyncIterator[message.Message]:  # noqa: N802
        """``display_name`` as the file's content type, each of ``numbers`` a chunk of that many bytes;
        ``flag`` fails the stream before it starts (no numbers) or after them."""
        await context.send_initial_metadata(
            (("content-disposition", 'attachment; filename="f.bin"'), ("echo-id", request.id))
        )
        if request.flag and not request.numbers:
            await context.abort(grpc.StatusCode.NOT_FOUND, "no such file")
        for index, number in enumerate(request.numbers):
            content_type = request.display_name if index == 0 else ""
            yield self._body(content_type=content_type, data=bytes([index]) * number)
        if request.flag:
            await context.abort(grpc.StatusCode.DATA_LOSS, "the disk broke")


@pytest.fixture(scope="module")
def echo_descriptors(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[bytes, descriptor_pool.DescriptorPool]:
    folder = tmp_path_factory.mktemp("proto")
    (folder / "gwtest.proto").write_text(PROTO)
    out = folder / "set.binpb"
    wkt = Path(grpc_tools.__file__).parent / "_proto"
    subprocess.run(
        [sys.executable, "-m", "grpc_tools.protoc", f"-I{folder}", f"-I{ROOT / 'protos'}", f"-I{wkt}",
         f"--descriptor_set_out={out}", "--include_imports", "gwtest.proto"],
        check=True,
    )  # fmt: skip
    data = out.read_bytes()
    pool = descriptor_pool.DescriptorPool()
    for file in descriptor_pb2.FileDescriptorSet.FromString(data).file:
        pool.Add(file)
    return data, pool


@pytest.fixture
async def echo(echo_descriptors: tuple[bytes, descriptor_pool.DescriptorPool]) -> AsyncIterator[str]:
    data, pool = echo_descriptors
    classes = {
        name: message_factory.GetMessageClass(pool.FindMessageTypeByName(f"gwtest.v1.{name}"))
        for name in ("EchoRequest", "EchoResponse")
    }
    classes["HttpBody"] = message_factory.GetMessageClass(pool.FindMessageTypeByName("google.api.HttpBody"))
    gateway = RestGateway(
        {"gwtest.v1.Echo": EchoServicer(classes)}, max_body_bytes=1024, descriptor_set=data, pool=pool
    )
    port = await gateway.start("127.0.0.1", 0)
    yield f"http://127.0.0.1:{port}"
    await gateway.stop()


async def fetch(method: str, url: str, **kwargs: Any) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as session, session.request(method, url, **kwargs) as reply:
        text = await reply.text()
        return reply.status, json.loads(text) if reply.content_type == "application/json" else text


async def test_path_and_query_fill_the_request(echo: str) -> None:
    query = "numbers=1&numbers=2&color=BLUE&flag=true&displayName=x&inner.count=7&big=18446744073709551615"
    status, body = await fetch("GET", f"{echo}/v1/echo/a%20b?{query}&unknown=1")
    assert status == 200
    assert body["echoed"] == {
        "id": "a b",
        "inner": {"name": "", "count": "7"},
        "numbers": [1, 2],
        "color": "BLUE",
        "flag": True,
        "display_name": "x",
        "big": "18446744073709551615",
    }


async def test_enum_by_number_and_bool_forms(echo: str) -> None:
    _, body = await fetch("GET", f"{echo}/v1/echo/x?color=1&flag=0")
    assert (body["echoed"]["color"], body["echoed"]["flag"]) == ("RED", False)


async def test_additional_binding_sets_a_nested_field_from_a_path_pattern(echo: str) -> None:
    status, body = await fetch("GET", f"{echo}/v1/things/t1/echo?id=q")
    assert status == 200
    assert (body["echoed"]["id"], body["echoed"]["inner"]["name"]) == ("q", "things/t1")


async def test_body_field_and_response_body(echo: str) -> None:
    status, body = await fetch(
        "PUT", f"{echo}/v1/echo/i1:inner?display_name=d", json={"name": "n", "count": "3"}
    )
    assert status == 200
    # response_body "echoed": the body is that field only; query fills what body and path do not.
    assert body["id"] == "i1"
    assert body["inner"] == {"name": "n", "count": "3"}
    assert body["display_name"] == "d"


@pytest.mark.parametrize(
    ("query", "message"),
    [("numbers=x", "numbers"), ("flag=maybe", "flag"), ("color=GREEN", "color"), ("inner=1", "inner")],
)
async def test_bad_query_values_are_invalid_argument(echo: str, query: str, message: str) -> None:
    status, body = await fetch("GET", f"{echo}/v1/echo/x?{query}")
    assert status == 400
    assert body["code"] == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    assert message in body["message"]


@pytest.mark.parametrize(
    ("code", "http_status"),
    [
        ("INVALID_ARGUMENT", 400),
        ("FAILED_PRECONDITION", 400),
        ("OUT_OF_RANGE", 400),
        ("UNAUTHENTICATED", 401),
        ("PERMISSION_DENIED", 403),
        ("NOT_FOUND", 404),
        ("ALREADY_EXISTS", 409),
        ("ABORTED", 409),
        ("RESOURCE_EXHAUSTED", 429),
        ("CANCELLED", 499),
        ("UNKNOWN", 500),
        ("INTERNAL", 500),
        ("DATA_LOSS", 500),
        ("UNIMPLEMENTED", 501),
        ("UNAVAILABLE", 503),
        ("DEADLINE_EXCEEDED", 504),
    ],
)
async def test_grpc_codes_map_to_grpc_gateways_http_statuses(echo: str, code: str, http_status: int) -> None:
    status, body = await fetch("POST", f"{echo}/v1/fail", json={"id": code})
    assert status == http_status
    assert body == {"code": grpc.StatusCode[code].value[0], "message": f"failed with {code}", "details": []}


async def test_metadata_headers_pass_through(echo: str) -> None:
    headers = {"Authorization": "Bearer t0k", "Grpc-Metadata-Trace-Id": "abc", "X-Other": "dropped"}
    _, body = await fetch("GET", f"{echo}/v1/echo/x", headers=headers)
    assert body["metadata"] == ["authorization=Bearer t0k", "trace-id=abc", "x-forwarded-for=127.0.0.1"]


async def test_stream_lines_then_the_error_line(echo: str) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{echo}/v1/stream?numbers=1&numbers=2&flag=true") as reply,
    ):
        assert reply.status == 200
        assert reply.headers["Transfer-Encoding"] == "chunked"
        assert reply.headers["Grpc-Metadata-stream-of"] == "2"
        lines = [json.loads(line) async for line in reply.content if line.strip()]
    assert [line.get("result", {}).get("echoed", {}).get("numbers") for line in lines[:2]] == [[1], [2]]
    assert lines[2] == {"error": {"code": 15, "message": "the stream broke", "details": []}}


async def test_an_http_body_stream_is_the_file_itself(echo: str) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.get(
            f"{echo}/v1/download/d1?display_name=text/csv&numbers=3&numbers=70000&numbers=1"
        ) as reply:
            assert reply.status == 200
            assert reply.headers["Content-Type"] == "text/csv"
            # The entity header as Envoy passes it through; other metadata as grpc-gateway names it.
            assert reply.headers["Content-Disposition"] == 'attachment; filename="f.bin"'
            assert reply.headers["Grpc-Metadata-echo-id"] == "d1"
            assert await reply.read() == b"\0" * 3 + b"\1" * 70000 + b"\2"
        async with session.get(f"{echo}/v1/download/d2?numbers=0") as reply:
            assert (reply.status, reply.headers["Content-Type"], await reply.read()) == (
                200,
                "application/octet-stream",
                b"",
            )


async def test_an_http_body_stream_failing_first_is_an_error_answer(echo: str) -> None:
    status, body = await fetch("GET", f"{echo}/v1/download/x?flag=true")
    assert (status, body) == (404, {"code": 5, "message": "no such file", "details": []})


async def test_an_http_body_stream_failing_midway_is_a_cut_off_transfer(echo: str) -> None:
    # Never a complete-looking file with an error inside: the client sees the transfer cut off.
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{echo}/v1/download/x?numbers=5&flag=true") as reply,
    ):
        assert reply.status == 200
        with pytest.raises(aiohttp.ClientPayloadError):
            await reply.read()


async def test_stream_as_server_sent_events(echo: str) -> None:
    headers = {"Accept": "text/event-stream"}
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{echo}/v1/stream?numbers=5", headers=headers) as reply,
    ):
        assert reply.content_type == "text/event-stream"
        text = await reply.text()
    assert text.startswith("data: ")
    assert text.endswith("\n\n")
    assert json.loads(text.removeprefix("data: "))["result"]["echoed"]["numbers"] == [5]


async def test_body_larger_than_the_limit(echo: str) -> None:
    status, body = await fetch("POST", f"{echo}/v1/fail", data=json.dumps({"id": "x" * 2000}))
    assert status == 413
    assert body["code"] == grpc.StatusCode.RESOURCE_EXHAUSTED.value[0]


async def test_openapi_describes_every_binding(echo: str) -> None:
    status, document = await fetch("GET", f"{echo}/openapi.json")
    assert status == 200
    assert set(document["paths"]) == {
        "/v1/echo/{id}",
        "/v1/{inner.name}/echo",
        "/v1/echo/{id}:inner",
        "/v1/fail",
        "/v1/stream",
        "/v1/download/{id}",
    }
    download = document["paths"]["/v1/download/{id}"]["get"]["responses"]["200"]["content"]
    assert download == {"*/*": {"schema": {"type": "string", "format": "binary"}}}
    get = document["paths"]["/v1/echo/{id}"]["get"]
    names = {p["name"] for p in get["parameters"]}
    assert names == {"id", "inner.name", "inner.count", "numbers", "color", "flag", "display_name", "big"}
    put = document["paths"]["/v1/echo/{id}:inner"]["put"]
    assert put["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/gwtest.v1.Inner"
    }


async def test_control_characters_in_a_path_variable(echo: str) -> None:
    # Found by schemathesis: a newline once fell through to aiohttp's own text/plain 404.
    status, body = await fetch("GET", f"{echo}/v1/echo/a%0Ab%00")
    assert (status, body["echoed"]["id"]) == (200, "a\nb\x00")
    status, body = await fetch("GET", f"{echo}/v1/nothing%0A")
    assert (status, body) == (404, {"code": 5, "message": "Not Found", "details": []})


async def test_response_metadata_and_the_deadline_header(echo: str) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{echo}/v1/echo/e1", headers={"Grpc-Timeout": "5S"}) as reply:
            assert reply.headers["Grpc-Metadata-echo-id"] == "e1"
            assert reply.headers["Grpc-Trailer-deadline-set"] == "True"
        async with session.get(f"{echo}/v1/echo/e1") as reply:
            assert reply.headers["Grpc-Trailer-deadline-set"] == "False"
        async with session.get(f"{echo}/v1/echo/e1", headers={"Grpc-Timeout": "soon"}) as reply:
            assert (reply.status, (await reply.json())["code"]) == (400, 3)


async def test_json_nested_past_the_parsers_stack_is_a_400(echo: str) -> None:
    # Found probing: "[[[[..." raised RecursionError in json.loads, which reached aiohttp as a 500.
    status, body = await fetch("POST", f"{echo}/v1/fail", data="[" * 1020)
    assert (status, body["code"], body["message"]) == (400, 3, "invalid JSON body: nested too deeply")


async def test_a_crashing_servicer_leaks_nothing(echo: str) -> None:
    # Fail looks the code up by name: an unknown name raises KeyError inside the servicer.
    status, body = await fetch("POST", f"{echo}/v1/fail", json={"id": "NO_SUCH_CODE"})
    assert (status, body) == (
        500,
        {"code": 2, "message": "unexpected server error (see the server log)", "details": []},
    )


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ('{"id": "INTERNAL", "id": "NOT_FOUND"}', "duplicate key 'id'"),
        ('{"inner": {"count": NaN}}', "NaN is not JSON"),
        ('{"inner": {"count": -Infinity}}', "-Infinity is not JSON"),
        ('{"inner": {"count": 1e400}}', "out of the range of a double"),
    ],
)
async def test_bodies_are_strict_json_as_protojson_reads_them(echo: str, body: str, says: str) -> None:
    # Found by sending the same bodies through Envoy: NaN and 1e400 reached a servicer and crashed it.
    status, reply = await fetch("POST", f"{echo}/v1/fail", data=body)
    assert (status, reply["code"]) == (400, 3)
    assert says in reply["message"]


@pytest.mark.parametrize(
    ("value", "ok"), [("%2B7", True), ("-7", True), ("1e2", False), ("7.0", False), ("+7", False)]
)
async def test_query_integers_take_digits_and_a_sign_only(echo: str, value: str, ok: bool) -> None:
    # "+" in a query is a space (Go's url.ParseQuery, as grpc-gateway reads it).
    status, _ = await fetch("GET", f"{echo}/v1/echo/x?inner.count={value}")
    assert status == (200 if ok else 400)
