"""The options every ``k12ai`` command takes, anywhere on the line, and the client config they make.

``k12ai --target h:p train start ...`` and ``k12ai train start ... --target h:p`` mean the same:
each sub-command's parser knows the global options too, with defaults that leave a value
given earlier alone. What no option gives comes from the environment (``K12AI_TARGET``,
``K12AI_USER``, ``K12AI_TOKEN``, ``K12AI_CA_CERT``, ``K12AI_CLIENT_CERT``, ``K12AI_CLIENT_KEY``),
read by ``ClientConfig.from_env`` as the notebook helpers read it.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from k12ai_client._config import DEFAULT_TARGET, ENVIRONMENT, ClientConfig

# option, ClientConfig field, type, help
_GLOBAL = (
    ("--target", "target", str, f"gRPC address of k12ai-server, host:port (default {DEFAULT_TARGET})"),
    ("--user", "user", str, "the user requests act for (over a config file's)"),
    ("--token", "token", str, "API token of a secured server (better: the environment variable)"),
    ("--ca-cert", "ca_cert", Path, "CA certificate that signed the server's (turns TLS on)"),
    ("--client-cert", "client_cert", Path, "client certificate, for mutual TLS"),
    ("--client-key", "client_key", Path, "client certificate's key, for mutual TLS"),
)


def add_global_options(parser: argparse.ArgumentParser, *, top_level: bool) -> None:
    """The global options; a sub-command's copy sets a value only when given there."""
    group = parser.add_argument_group("connection (anywhere on the line; or from the environment)")
    for flag, field, kind, text in _GLOBAL:
        group.add_argument(
            flag,
            dest=field,
            type=kind,
            default=None if top_level else argparse.SUPPRESS,
            help=f"{text}; {ENVIRONMENT[field]}",
        )


def client_config(args: argparse.Namespace) -> ClientConfig:
    return ClientConfig.from_env(**{field: getattr(args, field) for _, field, _, _ in _GLOBAL})
