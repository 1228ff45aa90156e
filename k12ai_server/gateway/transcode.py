"""JSON <-> protobuf for one route, with ``json_format`` as grpc-gateway's protojson would.

Requests: the body (``body: "*"`` or ``body: "<field>"``), then path variables, then query
parameters for the fields neither binds (proto or JSON names, dotted paths, a key repeated
for a repeated field). Unknown body fields and unknown query parameters are ignored, as
grpc-gateway does. Replies: proto field names, fields without presence always printed,
int64 as strings, enums by name, and a whole double (every number in a ``Struct`` is one)
without a fraction, as protojson and Envoy print it: ``"epoch": 1``, not ``1.0``.
"""

from __future__ import annotations

import json
import math
import re
import sys
from collections.abc import Iterable, Mapping
from typing import Any

import grpc
from google.protobuf import descriptor, json_format, message

from k12ai_contract.json_numbers import whole_numbers_as_ints_in_place
from k12ai_server.gateway.routes import Route
from k12ai_server.gateway.status import GatewayError

_INTEGER = re.compile(r"[+-]?[0-9]+")
# Integers with fewer digits than the largest double (about 1.8e308) are always in its range.
_DOUBLE_MAX_DIGITS = 308
_INTEGER_TYPES = frozenset(
    {
        descriptor.FieldDescriptor.CPPTYPE_INT32,
        descriptor.FieldDescriptor.CPPTYPE_INT64,
        descriptor.FieldDescriptor.CPPTYPE_UINT32,
        descriptor.FieldDescriptor.CPPTYPE_UINT64,
    }
)
_TRUE = frozenset({"1", "t", "T", "true", "TRUE", "True"})
_FALSE = frozenset({"0", "f", "F", "false", "FALSE", "False"})
# Message fields a query value can still set: json_format parses their string forms.
_WELL_KNOWN_SCALARS = frozenset(
    {
        "google.protobuf.Timestamp",
        "google.protobuf.Duration",
        "google.protobuf.FieldMask",
        "google.protobuf.DoubleValue",
        "google.protobuf.FloatValue",
        "google.protobuf.Int64Value",
        "google.protobuf.UInt64Value",
        "google.protobuf.Int32Value",
        "google.protobuf.UInt32Value",
        "google.protobuf.BoolValue",
        "google.protobuf.StringValue",
        "google.protobuf.BytesValue",
    }
)


def build_request(
    route: Route, path_values: Mapping[str, str], query: Iterable[tuple[str, str]], body: bytes
) -> message.Message:
    request = route.new_request()
    if route.body:
        _merge_body(request, route.body, body)
    for field_path, value in path_values.items():
        _set_path(request, field_path, [value], strict=True)
    if route.body != "*":
        _merge_query(request, route, path_values, query)
    return request


def set_field(request: message.Message, field_path: str, value: str) -> None:
    """Set one field from a string, as a path variable would; INVALID_ARGUMENT if it does not parse."""
    _set_path(request, field_path, [value], strict=True)


def render(route: Route, reply: message.Message) -> dict[str, Any]:
    document = to_dict(reply)
    if route.response_body:
        return document.get(route.response_body)  # type: ignore[return-value]
    return document


def to_dict(reply: message.Message) -> dict[str, Any]:
    document = json_format.MessageToDict(
        reply, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
    )
    whole_numbers_as_ints_in_place(document)
    return document


def dumps(document: Any) -> bytes:
    # A lone surrogate (a request's "\ud800" quoted back in an error) goes out as its JSON escape.
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "backslashreplace")


def _merge_body(request: message.Message, body_field: str, body: bytes) -> None:
    if not body.strip():
        return  # grpc-gateway takes an empty body as an empty message.
    try:
        document = json.loads(
            body,
            object_pairs_hook=_unique_keys,
            parse_constant=_no_constant,
            parse_float=_finite_float,
            parse_int=_double_range_int,
        )
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError and the hooks' refusals
        raise GatewayError(grpc.StatusCode.INVALID_ARGUMENT, f"invalid JSON body: {exc}") from None
    except RecursionError:
        # Nesting deeper than the parser's stack, e.g. "[[[[...": no message is that deep.
        raise GatewayError(grpc.StatusCode.INVALID_ARGUMENT, "invalid JSON body: nested too deeply") from None
    if body_field == "*":
        if not isinstance(document, dict):
            raise GatewayError(grpc.StatusCode.INVALID_ARGUMENT, "the body must be a JSON object")
    else:
        field = _field(request.DESCRIPTOR, body_field)
        if field is None:
            raise GatewayError(grpc.StatusCode.INTERNAL, f"body field {body_field!r} is not in the request")
        document = {field.name: document}
    _parse(document, request)


# protojson, as grpc-gateway parses bodies: strict JSON, so no NaN / Infinity tokens, no number
# beyond a double, and a key at most once per object.
def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    document: dict[str, Any] = {}
    for key, value in pairs:
        if key in document:
            raise ValueError(f"duplicate key {key!r}")
        document[key] = value
    return document


def _no_constant(token: str) -> Any:
    raise ValueError(f"{token} is not JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is out of the range of a double")
    return value


def _double_range_int(text: str) -> int:
    # protojson reads every JSON number as a double first; one past a double's range is an error.
    if len(text) > _DOUBLE_MAX_DIGITS and abs(int(text)) > sys.float_info.max:
        raise ValueError(f"an integer of {len(text.lstrip('-'))} digits is out of the range of a double")
    return int(text)


def _merge_query(
    request: message.Message, route: Route, path_values: Mapping[str, str], query: Iterable[tuple[str, str]]
) -> None:
    grouped: dict[str, list[str]] = {}
    for key, value in query:
        grouped.setdefault(key, []).append(value)
    bound = {route.body, *path_values}
    for key, values in grouped.items():
        if key.split(".")[0] in bound:
            continue
        _set_path(request, key, values, strict=False)


def _set_path(request: message.Message, field_path: str, values: list[str], *, strict: bool) -> None:
    """Set a dotted field path from strings; ``strict`` refuses paths the message lacks."""
    target = request
    names = field_path.split(".")
    for depth, name in enumerate(names):
        field = _field(target.DESCRIPTOR, name)
        is_leaf = depth == len(names) - 1
        if field is None or (not is_leaf and not _is_singular_message(field)):
            if strict:
                raise GatewayError(grpc.StatusCode.INVALID_ARGUMENT, f"no field {field_path!r}")
            return  # grpc-gateway ignores query parameters that name no field.
        if is_leaf:
            _set_leaf(target, field, field_path, values)
        else:
            target = getattr(target, field.name)


def _set_leaf(
    target: message.Message, field: descriptor.FieldDescriptor, field_path: str, values: list[str]
) -> None:
    if field.message_type is not None and field.message_type.full_name not in _WELL_KNOWN_SCALARS:
        raise GatewayError(
            grpc.StatusCode.INVALID_ARGUMENT, f"{field_path}: a message field cannot be set from the query"
        )
    converted = [_scalar(field, field_path, v) for v in values]
    if _is_repeated(field):
        _parse({field.name: converted}, target)
    else:
        # A singular field given twice keeps the last value, as grpc-gateway does.
        _parse({field.name: converted[-1]}, target)


def _scalar(field: descriptor.FieldDescriptor, field_path: str, value: str) -> Any:
    if field.type == descriptor.FieldDescriptor.TYPE_BOOL:
        if value in _TRUE:
            return True
        if value in _FALSE:
            return False
        raise GatewayError(grpc.StatusCode.INVALID_ARGUMENT, f"{field_path}: {value!r} is not a boolean")
    if field.cpp_type in _INTEGER_TYPES:
        # strconv.ParseInt / ParseUint, as grpc-gateway reads query integers: digits and a sign only.
        if not _INTEGER.fullmatch(value):
            raise GatewayError(grpc.StatusCode.INVALID_ARGUMENT, f"{field_path}: {value!r} is not an integer")
        return int(value)
    if field.enum_type is not None:
        if value.lstrip("-").isdigit():
            return int(value)
        # The body ignores unknown enum names (protojson's DiscardUnknown); the query does not.
        if value not in field.enum_type.values_by_name:
            raise GatewayError(grpc.StatusCode.INVALID_ARGUMENT, f"{field_path}: unknown value {value!r}")
    return value


def _parse(document: dict[str, Any], target: message.Message) -> None:
    try:
        json_format.ParseDict(document, target, ignore_unknown_fields=True)
    except json_format.ParseError as exc:
        raise GatewayError(grpc.StatusCode.INVALID_ARGUMENT, str(exc)) from None


def _field(desc: Any, name: str) -> descriptor.FieldDescriptor | None:
    field: descriptor.FieldDescriptor | None = desc.fields_by_name.get(name)
    if field is None:
        field = next((f for f in desc.fields if f.json_name == name), None)
    return field


def _is_repeated(field: descriptor.FieldDescriptor) -> bool:
    return bool(field.is_repeated)


def _is_singular_message(field: descriptor.FieldDescriptor) -> bool:
    return field.message_type is not None and not _is_repeated(field)
