"""JSON that a user wrote as text (in a param, or a line of a data file), read with bounded nesting.

Python's parser recurses once per level: a few thousand ``[`` exhaust its stack with a
RecursionError, which no caller expects, and even a value just under that limit would
exhaust the stack of the code that walks it next. Configs and data lines nest a few
levels, so anything deeper than the params' own limit is refused, naming the key.
"""

from __future__ import annotations

import json
from typing import Any

from k12ai_contract.errors import ConfigError
from k12ai_contract.spec import MAX_PARAMS_DEPTH


def loads(key: str, text: str | bytes) -> Any:
    """``json.loads(text)`` (JSONDecodeError as usual), or ConfigError naming ``key`` if it nests too deep."""
    try:
        value = json.loads(text)
    except RecursionError:
        value = None
        too_deep = True
    else:
        too_deep = _deeper_than(value, MAX_PARAMS_DEPTH)
    if too_deep:
        raise ConfigError(key, f"JSON nested deeper than {MAX_PARAMS_DEPTH} levels")
    return value


def _deeper_than(value: Any, limit: int) -> bool:
    pending = [(value, 0)]
    while pending:
        item, depth = pending.pop()
        if depth > limit:
            return True
        if isinstance(item, dict):
            pending += [(child, depth + 1) for child in item.values()]
        elif isinstance(item, list):
            pending += [(child, depth + 1) for child in item]
    return False
