"""Reading typed values out of ``service_params`` JSON, naming the key on failure.

``service_params`` travels as a ``google.protobuf.Struct``, where every number
is a double; the server turns integral ones back into ints, but a framework
should not depend on it, so an integer key accepts ``50.0`` as well as ``50``.
``bool`` is a subclass of ``int`` in Python and is refused wherever a number is
expected: ``"n_estimators": true`` is a mistake, not 1.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from k12ai_contract.errors import ConfigError


def describe(value: object) -> str:
    """A value as the user wrote it in JSON, for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    return repr(value)


def is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def as_int(key: str, value: object) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise ConfigError(key, f"expected an integer, got {describe(value)}")


def as_float(key: str, value: object) -> float:
    if is_number(value):
        return float(value)  # type: ignore[arg-type]
    raise ConfigError(key, f"expected a number, got {describe(value)}")


def as_bool(key: str, value: object) -> bool:
    if isinstance(value, bool):
        return value
    raise ConfigError(key, f"expected true or false, got {describe(value)}")


def as_str(key: str, value: object) -> str:
    if isinstance(value, str):
        return value
    raise ConfigError(key, f"expected a string, got {describe(value)}")


def as_mapping(key: str, value: object) -> Mapping[str, Any]:
    if isinstance(value, Mapping):
        return value
    raise ConfigError(key, f"expected an object, got {describe(value)}")


def join(prefix: str, name: str) -> str:
    """The dotted key path of ``name`` inside the object at ``prefix``."""
    return f"{prefix}.{name}" if prefix else name


class Section:
    """One JSON object of the config, read key by key.

    Reading marks a key as known, so ``reject_unknown`` can name a typo
    (``validaton_split``) instead of silently training with the default.
    """

    def __init__(self, prefix: str, raw: Mapping[str, Any]) -> None:
        self.prefix = prefix
        self._raw = raw
        self._known: set[str] = set()

    def key(self, name: str) -> str:
        return join(self.prefix, name)

    def has(self, name: str) -> bool:
        self._known.add(name)
        return self._raw.get(name) is not None

    def required(self, name: str, why: str = "") -> object:
        self._known.add(name)
        value = self._raw.get(name)
        if value is None or value == "":
            raise ConfigError(self.key(name), f"is missing{why}")
        return value

    def optional(self, name: str) -> object:
        """The value, or None when absent, null or the empty string (the seed's "unset")."""
        self._known.add(name)
        value = self._raw.get(name)
        return None if value == "" else value

    def reject_unknown(self) -> None:
        unknown = sorted(set(self._raw) - self._known)
        if unknown:
            raise ConfigError(
                self.key(unknown[0]), f"unknown key; expected one of {', '.join(sorted(self._known))}"
            )
