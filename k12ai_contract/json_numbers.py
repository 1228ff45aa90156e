"""Whole numbers back to integers after a trip through ``google.protobuf.Struct``.

A Struct keeps every number as a double, so the worker's ``"epoch": 1`` reads back as
``1.0``. grpc-gateway's protojson and Envoy's transcoder print a whole double without a
fraction (``1``); every place that turns a Struct or Value back into JSON uses this to
do the same.
"""

from __future__ import annotations

from typing import Any

# Beyond 2**53 a double no longer holds every integer, so it is not taken for one.
_EXACT_LIMIT = 2**53


def whole_numbers_as_ints(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer() and abs(value) < _EXACT_LIMIT:
        return int(value)
    if isinstance(value, dict):
        return {k: whole_numbers_as_ints(v) for k, v in value.items()}
    if isinstance(value, list):
        return [whole_numbers_as_ints(v) for v in value]
    return value
