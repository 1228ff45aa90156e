"""API tokens mapped to users, stored hashed.

Tokens are random 256-bit strings made by ``k12ai-server token create``, so a
plain SHA-256 is the right hash (as for GitHub or Stripe keys): there is no
low-entropy secret to stretch. Only the hash is written to the tokens file.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from k12ai_server.security import identifiers
from k12ai_server.security.identifiers import is_identifier

TOKEN_PREFIX = "k12ai_"


@dataclass(frozen=True, kw_only=True)
class Principal:
    """Who a call acts as. Never nameless: an empty user would match every user's filter."""

    user: str
    admin: bool = False

    def __post_init__(self) -> None:
        if not self.user:
            raise ValueError("a principal needs a user name")

    def may_act_as(self, user: str) -> bool:
        return self.admin or self.user == user


# With no tokens configured (loopback only), every caller acts as this admin. Its name
# cannot be a token's user (those are identifiers), so no token can pass for it.
OPEN = Principal(user="(open)", admin=True)


@dataclass(frozen=True, kw_only=True)
class TokenEntry:
    user: str
    sha256: str
    admin: bool = False


class TokenStore:
    def __init__(self, entries: Iterable[TokenEntry]) -> None:
        self._entries = tuple(entries)

    def __bool__(self) -> bool:
        return bool(self._entries)

    @classmethod
    def load(cls, path: Path) -> TokenStore:
        """``{"tokens": [{"user": "alice", "sha256": "<hex>", "admin": false}, ...]}``."""
        raw = json.loads(path.read_text(encoding="utf-8"))
        entries = []
        for i, item in enumerate(raw.get("tokens", [])):
            if not isinstance(item.get("user"), str) or not _is_sha256(item.get("sha256")):
                raise ValueError(f"{path}: tokens[{i}] needs a string 'user' and a hex 'sha256'")
            if not is_identifier(item["user"]):
                raise ValueError(f"{path}: tokens[{i}]: user {item['user']!r} {identifiers.RULE}")
            entries.append(
                TokenEntry(user=item["user"], sha256=item["sha256"], admin=bool(item.get("admin")))
            )
        return cls(entries)

    def authenticate(self, token: str) -> Principal | None:
        digest = hash_token(token)
        found = None
        # Compare against every entry so the time taken says nothing about which matched.
        for entry in self._entries:
            if hmac.compare_digest(entry.sha256, digest):
                found = Principal(user=entry.user, admin=entry.admin)
        return found


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def _is_sha256(value: object) -> bool:
    return isinstance(value, str) and len(value) == 64 and all(c in "0123456789abcdef" for c in value)
