"""Which frameworks exist, and the hooks each one offers.

A framework is a subpackage exposing three functions:

- ``validate(kind, params)``: raise ``ConfigError`` naming the key; must stay
  cheap and import no ML library, since the server calls it per request;
- ``input_paths(kind, params)``: ``[(key_path, path), ...]`` of the user data
  the job reads, so the server can hold them to the data roots (and the Docker
  runner can mount them read-only);
- ``gpus_wanted(kind, params)``: how many GPUs the job asks for (0 = CPU);
- ``run(spec, events)``: do the job in this process.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Mapping
from typing import Any, Protocol

from k12ai_contract.spec import JobSpec
from k12ai_worker.events import EventWriter

_MODULES = {
    "k12ml": "k12ai_worker.k12ml",
    "k12nlp": "k12ai_worker.k12nlp",
    "k12cv": "k12ai_worker.k12cv",
}


class Framework(Protocol):
    def validate(self, kind: str, params: Mapping[str, Any]) -> None: ...

    def input_paths(self, kind: str, params: Mapping[str, Any]) -> list[tuple[str, str]]: ...

    def gpus_wanted(self, kind: str, params: Mapping[str, Any]) -> int: ...

    def run(self, spec: JobSpec, events: EventWriter) -> None: ...


def names() -> list[str]:
    return sorted(name for name in _MODULES if _available(name))


def load(name: str) -> Framework:
    """The framework module; KeyError for a name that is not one."""
    module: Any = importlib.import_module(_MODULES[name])
    return module  # type: ignore[no-any-return]


def _available(name: str) -> bool:
    return importlib.util.find_spec(_MODULES[name]) is not None
