"""What a name of a user, project or service may be.

These strings become container names, directory names (``users/<user>/``) and Consul keys,
so each is one path segment of safe characters, never ``..``, never empty.
"""

from __future__ import annotations

import re

IDENTIFIER = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
RULE = f"must match {IDENTIFIER.pattern} and not contain '..'"


def is_identifier(value: str) -> bool:
    return IDENTIFIER.fullmatch(value) is not None and ".." not in value
