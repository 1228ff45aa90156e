"""Start-up rules: who may connect under which configuration."""

from __future__ import annotations

import ipaddress
import logging

from k12ai_server.config import ServerConfig
from k12ai_server.security.tokens import TokenStore
from k12ai_server.start_errors import StartRefusedError

log = logging.getLogger(__name__)


class InsecureConfigError(StartRefusedError):
    pass


def load_tokens(config: ServerConfig) -> TokenStore:
    """The tokens, or an empty store (open) if none: allowed on loopback or with allow_open."""
    if config.tokens_file is not None:
        try:
            tokens = TokenStore.load(config.tokens_file)
        except ValueError as exc:  # JSONDecodeError included
            raise InsecureConfigError(f"tokens file {config.tokens_file}: {exc}") from None
        if tokens:
            return tokens
        raise InsecureConfigError(f"{config.tokens_file} holds no tokens")
    if not is_loopback(config.host) and not config.allow_open:
        raise InsecureConfigError(
            f"refusing to serve {config.host} without tokens: set --tokens-file, or --allow-open "
            "if another proxy authenticates every caller"
        )
    log.warning("no API tokens configured: every caller on %s acts as admin (embedded default)", config.host)
    return TokenStore(())


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
