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


def _is_whole(value: float) -> bool:
    return value.is_integer() and -_EXACT_LIMIT < value < _EXACT_LIMIT


def whole_numbers_as_ints(value: Any) -> Any:
    """A copy of ``value`` with every whole float an int."""
    if isinstance(value, float) and _is_whole(value):
        return int(value)
    if isinstance(value, dict):
        return {k: whole_numbers_as_ints(v) for k, v in value.items()}
    if isinstance(value, list):
        return [whole_numbers_as_ints(v) for v in value]
    return value


def whole_numbers_as_ints_in_place(document: dict[str, Any] | list[Any]) -> None:
    """The same, changing a document nobody else holds (a fresh ``MessageToDict``) where it is.

    Half the cost of the copy: the REST gateway does this for every reply it prints.
    """
    items = document.items() if type(document) is dict else enumerate(document)
    for key, value in items:
        kind = type(value)
        if kind is float:
            if _is_whole(value):
                document[key] = int(value)  # type: ignore[index]
        elif kind is dict or kind is list:
            whole_numbers_as_ints_in_place(value)
