"""Which files a user's job may read: the rule the server applies at the request and the
worker again at each open.

A job reads under the data roots only, and under a root, ``users/<user>/`` belongs to that
user: another user's area (and ``users/`` itself, which holds them all) is refused like a
path outside the roots. Everything else under a root is shared data. Paths are compared
once resolved (symlinks followed), so a link cannot lead out of a root or into another
user's area.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

# {root}/users/<user>/ is <user>'s own; the project cache directories live there.
USERS_DIR = "users"


@dataclass(frozen=True)
class DataAccess:
    """What ``user``'s jobs may read under ``roots``."""

    roots: tuple[Path, ...]
    user: str

    @classmethod
    def of(cls, roots: Iterable[Path], user: str) -> DataAccess:
        # Resolved once, so that resolved paths compare equal to symlinked roots.
        return cls(tuple(Path(os.path.realpath(r)) for r in roots), user)

    def refusal(self, resolved: Path) -> str | None:
        """Why this user may not read ``resolved`` (a path with its symlinks resolved), or None."""
        inside = [root for root in self.roots if resolved.is_relative_to(root)]
        if not inside:
            return f"is outside the data roots ({', '.join(str(r) for r in self.roots)})"
        for root in inside:
            parts = resolved.relative_to(root).parts
            if parts[:1] == (USERS_DIR,) and parts[1:2] != (self.user,):
                return (
                    f"is in another user's data under {root / USERS_DIR}; user {self.user}'s jobs read "
                    f"shared data and {root / USERS_DIR / self.user} only"
                )
        return None
