"""Reading a JSON config into frozen dataclasses, naming the key path of any error.

A config class is a ``dataclass`` whose fields are the keys it accepts, typed
with ``int``, ``float``, ``bool``, ``str``, ``Literal``, ``list``/``tuple``,
``dict[str, ...]``, unions and other config classes. A class that declares a
``registry`` class attribute is a *registrable* base: its ``type`` key picks
the subclass that reads the rest. A field made with ``limits.limited`` is held to
its limit (per-job model-size limits). After a class is built, its ``check(path)``
method (if any) runs the checks that span several keys. Unknown keys are
errors, as AllenNLP's ``Params.assert_empty`` made them.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import types
from collections.abc import Mapping
from typing import Any, Literal, Protocol, TypeVar, Union, cast, get_args, get_origin, get_type_hints

from k12ai_contract.errors import ConfigError
from k12ai_worker import json_text
from k12ai_worker.limits import LIMIT_KEY, Limit
from k12ai_worker.training.registry import Registry

T = TypeVar("T")


class Checked(Protocol):
    def check(self, path: str) -> None: ...


def join(path: str, key: str | int) -> str:
    return f"{path}.{key}" if path else str(key)


def parse(cls: type[T], raw: Any, path: str = "") -> T:
    """``raw`` read as ``cls``; ``ConfigError`` names the first offending key."""
    return cast(T, _convert(cls, raw, path))


def apply_overrides(config: Mapping[str, Any], overrides: Any, key: str = "overrides") -> dict[str, Any]:
    """``config`` with ``overrides`` merged in, as AllenNLP's ``--overrides`` did.

    ``overrides`` is an object (or its JSON text) whose keys may be dotted
    paths: ``{"iterator.batch_size": 32, "trainer": {"num_epochs": 1}}``.
    Objects merge key by key; any other value (lists included) replaces.
    """
    if isinstance(overrides, str):
        try:
            overrides = json_text.loads(key, overrides)
        except json.JSONDecodeError as exc:
            raise ConfigError(key, f"is not valid JSON: {exc}") from None
    if not isinstance(overrides, Mapping):
        raise ConfigError(key, f"expected an object, got {describe(overrides)}")
    nested: dict[str, Any] = {}
    for dotted, value in overrides.items():
        *parents, last = str(dotted).split(".")
        node = nested
        for part in parents:
            child = node.get(part)
            if not isinstance(child, dict):
                child = node[part] = {}
            node = child
        node[last] = _merged(node.get(last), value)
    merged = _merged(config, nested)
    assert isinstance(merged, dict)
    return merged


def _merged(base: Any, override: Any) -> Any:
    if isinstance(base, Mapping) and isinstance(override, Mapping):
        result = {k: copy.deepcopy(v) for k, v in base.items()}
        for k, v in override.items():
            result[k] = _merged(result.get(k), v)
        return result
    return copy.deepcopy(override)


def describe(raw: Any) -> str:
    text = json.dumps(raw, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


def _convert(tp: Any, raw: Any, path: str) -> Any:
    if tp is Any:
        return raw
    origin = get_origin(tp)
    if origin is Literal:
        if raw not in get_args(tp) or isinstance(raw, bool) != any(isinstance(a, bool) for a in get_args(tp)):
            raise ConfigError(path, f"expected {_describe_type(tp)}, got {describe(raw)}")
        return raw
    if origin in (Union, types.UnionType):
        return _convert_union(tp, raw, path)
    if origin in (list, tuple):
        args = get_args(tp)
        if origin is tuple and (len(args) != 2 or args[1] is not Ellipsis):
            raise TypeError(f"only tuple[X, ...] is supported, not {tp!r}")
        if not isinstance(raw, list | tuple):
            raise ConfigError(path, f"expected a list, got {describe(raw)}")
        items = [_convert(args[0], item, join(path, i)) for i, item in enumerate(raw)]
        return items if origin is list else tuple(items)
    if origin is dict:
        key_type, value_type = get_args(tp)
        if key_type is not str:
            raise TypeError(f"only dict[str, X] is supported, not {tp!r}")
        if not isinstance(raw, Mapping):
            raise ConfigError(path, f"expected an object, got {describe(raw)}")
        return {str(k): _convert(value_type, v, join(path, str(k))) for k, v in raw.items()}
    if tp in (bool, int, float, str, type(None)):
        if not _accepts(tp, raw):
            raise ConfigError(path, f"expected {_describe_type(tp)}, got {describe(raw)}")
        return float(raw) if tp is float else raw
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return _parse_dataclass(tp, raw, path)
    raise TypeError(f"config type {tp!r} is not supported")


def _accepts(tp: Any, raw: Any) -> bool:
    """Whether ``raw`` has the JSON shape of ``tp`` (its content is checked later)."""
    origin = get_origin(tp)
    if origin is Literal:
        return raw in get_args(tp)
    if origin in (list, tuple):
        return isinstance(raw, list | tuple)
    if origin is dict or (isinstance(tp, type) and dataclasses.is_dataclass(tp)):
        return isinstance(raw, Mapping)
    if tp is type(None):
        return raw is None
    if tp is bool:
        return isinstance(raw, bool)
    if tp is int:
        return isinstance(raw, int) and not isinstance(raw, bool)
    if tp is float:
        return isinstance(raw, int | float) and not isinstance(raw, bool)
    if tp is str:
        return isinstance(raw, str)
    return tp is Any


def _convert_union(tp: Any, raw: Any, path: str) -> Any:
    arms = [arm for arm in get_args(tp) if _accepts(arm, raw)]
    if not arms:
        raise ConfigError(path, f"expected {_describe_type(tp)}, got {describe(raw)}")
    if len(arms) > 1 and isinstance(raw, Mapping):
        # Several config classes could read this object (BCN's output_layer is a
        # FeedForward or a Maxout): take the one whose required keys it has.
        arms.sort(key=lambda arm: -_required_keys_present(arm, raw))
    return _convert(arms[0], raw, path)


def _required_keys_present(tp: Any, raw: Mapping[str, Any]) -> int:
    if not (isinstance(tp, type) and dataclasses.is_dataclass(tp)):
        return 0
    required = [f.name for f in dataclasses.fields(tp) if _is_required(f)]
    present = sum(1 for name in required if name in raw)
    return present * 2 if present == len(required) else present


def _is_required(f: dataclasses.Field[Any]) -> bool:
    return f.init and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING


def _describe_type(tp: Any) -> str:
    origin = get_origin(tp)
    if origin is Literal:
        return "one of " + ", ".join(json.dumps(a) for a in get_args(tp))
    if origin in (Union, types.UnionType):
        return " or ".join(_describe_type(arm) for arm in get_args(tp))
    if origin in (list, tuple):
        return "a list"
    if origin is dict or (isinstance(tp, type) and dataclasses.is_dataclass(tp)):
        return "an object"
    names = {bool: "true or false", int: "an integer", float: "a number", str: "a string", type(None): "null"}
    return names.get(tp, str(tp))


def _parse_dataclass(cls: type[Any], raw: Any, path: str) -> Any:
    if not isinstance(raw, Mapping):
        raise ConfigError(path, f"expected an object, got {describe(raw)}")
    values = dict(raw)
    registry = cls.__dict__.get("registry")
    if isinstance(registry, Registry):
        type_name = values.pop("type", None)
        if type_name is not None and not isinstance(type_name, str):
            raise ConfigError(join(path, "type"), f"expected a string, got {describe(type_name)}")
        cls = registry.resolve(type_name, join(path, "type"))
    fields = [f for f in dataclasses.fields(cls) if f.init]
    names = {f.name for f in fields}
    for key in values:
        if key not in names:
            expected = ", ".join(sorted(names)) or "no keys"
            raise ConfigError(join(path, key), f"unknown key; expected one of {expected}")
    hints = get_type_hints(cls)
    kwargs: dict[str, Any] = {}
    for f in fields:
        if f.name in values:
            kwargs[f.name] = _convert(hints[f.name], values[f.name], join(path, f.name))
            limit = f.metadata.get(LIMIT_KEY)
            if isinstance(limit, Limit):
                limit.check(join(path, f.name), kwargs[f.name])
        elif _is_required(f):
            raise ConfigError(join(path, f.name), "is required")
    obj = cls(**kwargs)
    check = getattr(obj, "check", None)
    if callable(check):
        cast(Checked, obj).check(path)
    return obj
