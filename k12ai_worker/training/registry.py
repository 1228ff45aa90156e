"""Named registries of config classes, chosen in a config by their ``type`` key."""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

from k12ai_contract.errors import ConfigError

T = TypeVar("T")


class Registry(Generic[T]):
    """Maps a ``type`` name to the class that reads that part of a config.

    ``default`` is the type used when a config leaves ``type`` out, as
    AllenNLP does for e.g. ``text_field_embedder`` (``basic``).
    """

    def __init__(self, kind: str, *, default: str | None = None) -> None:
        self.kind = kind
        self.default = default
        self._classes: dict[str, type[T]] = {}

    def register(self, name: str) -> Callable[[type[T]], type[T]]:
        def add(cls: type[T]) -> type[T]:
            if name in self._classes:
                raise ValueError(f"{self.kind} type {name!r} is registered twice")
            self._classes[name] = cls
            return cls

        return add

    def names(self) -> list[str]:
        return sorted(self._classes)

    def resolve(self, name: str | None, key: str) -> type[T]:
        """The class for ``name``; ``key`` is the config path of the ``type`` key."""
        if name is None:
            if self.default is None:
                raise ConfigError(key, f"is required; one of {', '.join(self.names())}")
            name = self.default
        try:
            return self._classes[name]
        except KeyError:
            raise ConfigError(
                key, f"unknown {self.kind} type {name!r}; expected one of {', '.join(self.names())}"
            ) from None
