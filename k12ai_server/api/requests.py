"""Checks every seed-shaped request gets before anything acts on it."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from google.protobuf import json_format, struct_pb2

from k12ai_contract.data_access import DataAccess
from k12ai_contract.json_numbers import whole_numbers_as_ints
from k12ai_contract.rundir import ProjectDir, server_owned
from k12ai_contract.spec import MAX_PARAMS_DEPTH
from k12ai_server.api import replies
from k12ai_server.api.replies import ApiError
from k12ai_server.security import identifiers
from k12ai_server.security.identifiers import is_identifier
from k12ai_server.security.tokens import Principal


class SeedRequest(Protocol):
    """The fields every seed endpoint shares."""

    @property
    def op(self) -> str: ...
    @property
    def user(self) -> str: ...
    @property
    def service_name(self) -> str: ...
    @property
    def service_uuid(self) -> str: ...
    @property
    def service_params(self) -> struct_pb2.Struct: ...


def require(request: SeedRequest, *fields: str) -> None:
    for name in fields:
        if not getattr(request, name):
            raise ApiError(replies.MISSING_FIELD, f"missing mandatory field '{name}'")
    for name in ("user", "service_uuid", "service_name"):
        value = getattr(request, name)
        if value and not is_identifier(value):
            raise ApiError(replies.INVALID_IDENTIFIER, f"{name} {value!r} {identifiers.RULE}")


def require_caller(principal: Principal, user: str) -> None:
    if not principal.may_act_as(user):
        raise ApiError(replies.PERMISSION_DENIED, f"caller {principal.user!r} may not act for user {user!r}")


def require_op(request: SeedRequest, allowed: Sequence[str], endpoint: str) -> str:
    if request.op not in allowed:
        raise ApiError(
            replies.UNKNOWN_OP,
            f"unknown op {request.op!r} for {endpoint}; expected one of {', '.join(allowed)}",
        )
    return request.op


# Configs are small documents; these bound what a request can make the server hold.
MAX_PARAMS_BYTES = 256 * 1024


def params_dict(request: SeedRequest) -> dict[str, Any]:
    """service_params as plain JSON, integral numbers back to int, within the size limits.

    ``Struct`` keeps every number as a double, so the seed's ``"batch_size": 2``
    would reach a framework as 2.0; JSON users mean an int there.
    """
    size = request.service_params.ByteSize()
    if size > MAX_PARAMS_BYTES:
        raise ApiError(replies.INVALID_PARAMS, f"service_params: {size} bytes, more than {MAX_PARAMS_BYTES}")
    bad = _non_finite(request.service_params, "service_params")
    if bad:
        # JSON has no NaN or Infinity; over gRPC a Struct can still carry them.
        raise ApiError(replies.INVALID_PARAMS, f"{bad}: NaN and Infinity are not JSON numbers")
    params = whole_numbers_as_ints(json_format.MessageToDict(request.service_params))
    _check_depth(params, "service_params", 0)
    return params  # type: ignore[no-any-return]


def _non_finite(struct: struct_pb2.Struct, path: str) -> str | None:
    """The key path of the first NaN or infinite number in ``struct``, if any."""
    pending: list[tuple[str, struct_pb2.Value]] = [(f"{path}.{k}", v) for k, v in struct.fields.items()]
    while pending:
        where, value = pending.pop()
        kind = value.WhichOneof("kind")
        if kind == "number_value" and not math.isfinite(value.number_value):
            return where
        if kind == "struct_value":
            pending += [(f"{where}.{k}", v) for k, v in value.struct_value.fields.items()]
        elif kind == "list_value":
            pending += [(f"{where}[{i}]", v) for i, v in enumerate(value.list_value.values)]
    return None


def _check_depth(value: Any, path: str, depth: int) -> None:
    if depth > MAX_PARAMS_DEPTH:
        raise ApiError(replies.INVALID_PARAMS, f"{path}: nested deeper than {MAX_PARAMS_DEPTH} levels")
    children = (
        value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    )
    for key, child in children:
        _check_depth(child, f"{path}.{key}" if isinstance(key, str) else f"{path}[{key}]", depth + 1)


def check_input_path(key: str, path: str, access: DataAccess) -> Path:
    """The resolved path (symlinks followed), which must be one ``access`` lets its user read.

    The worker checks again what it really opens (k12ai_worker.inputs): this check answers
    the caller at once, that one holds when the path changed in between.
    """
    _check_path_text(key, path)
    if not Path(path).is_absolute():
        raise ApiError(
            replies.PATH_OUTSIDE_DATA_ROOT, f"service_params.{key}: {path!r} is not an absolute path"
        )
    resolved = Path(os.path.realpath(path))
    refusal = access.refusal(resolved)
    if refusal is not None:
        raise ApiError(replies.PATH_OUTSIDE_DATA_ROOT, f"service_params.{key}: {path!r} {refusal}")
    return resolved


def _check_path_text(key: str, path: str) -> None:
    # The OS takes no NUL inside a path: it would end the name where the caller did not.
    if "\0" in path:
        raise ApiError(replies.INVALID_PARAMS, f"service_params.{key}: a path cannot contain a NUL character")


def check_output_file(params: dict[str, Any], cache_dir: Path) -> None:
    """The seed's `output_file`: relative (to the cache dir) or inside it, never elsewhere."""
    output = params.get("output_file")
    if output is None or output == "":
        return  # the seed's templates send "" for "no output file"
    if not isinstance(output, str):
        raise ApiError(replies.INVALID_PARAMS, "service_params.output_file: expected a file name")
    _check_path_text("output_file", output)
    resolved = ProjectDir(cache_dir).resolved_output_file(output)
    if resolved is None:
        raise ApiError(
            replies.PATH_OUTSIDE_DATA_ROOT,
            f"service_params.output_file: {output!r} must stay inside the cache directory {cache_dir}",
        )
    owned = server_owned(resolved.relative_to(os.path.realpath(cache_dir)))
    if owned is not None:
        raise ApiError(
            replies.INVALID_PARAMS,
            f"service_params.output_file: {output!r} would overwrite {owned}, which the server keeps "
            "in the cache directory; choose another name",
        )
