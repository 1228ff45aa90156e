"""The ``--config`` file of ``k12ai <kind> start``: a seed request, or only its service_params."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from k12ai_client._errors import K12AIError

_JSON_KINDS = {list: "an array", str: "a string", int: "a number", float: "a number", bool: "a boolean"}


class RequestFileError(K12AIError):
    """The config file cannot be read or is not a request; the message names the file (and line)."""


def load_request(path: Path) -> dict[str, Any]:
    """The request the file holds: a whole seed request, or a bare service_params object."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RequestFileError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RequestFileError(f"{path}: cannot read it: {exc}") from None
    try:
        loaded = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RequestFileError(
            f"{path}, line {exc.lineno}, column {exc.colno}: not JSON: {exc.msg}"
        ) from None
    if not isinstance(loaded, dict):
        raise RequestFileError(
            f"{path}: expected a JSON object (a seed request, or its service_params), "
            f"found {_JSON_KINDS.get(type(loaded), 'null')}"
        )
    return loaded if "service_params" in loaded else {"service_params": loaded}
