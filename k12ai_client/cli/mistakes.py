"""What ``k12ai`` says, instead of a traceback, when a call fails for an ordinary reason.

Each message names what was tried and how to set it right; the exit status tells a script
which kind of failure it was.
"""

from __future__ import annotations

import re

import grpc

from k12ai_client._config import ClientConfig
from k12ai_client._errors import K12AIError, ReplyError, RPCError

# Exit statuses: 1 is a job that ended otherwise than finished (the follower's).
EXIT_REFUSED = 2  # the server answered with a refusal code, or the input file is wrong
EXIT_FAILED = 3  # the call failed: no server, wrong port, not authorised, ...
EXIT_INTERRUPTED = 130  # Ctrl-C, as a shell reports SIGINT
EXIT_BROKEN_PIPE = 141  # the reader of stdout went away, as a shell reports SIGPIPE

TARGET_HOW = "--target HOST:PORT or K12AI_TARGET"


class UsageError(K12AIError):
    """The command line lacks what the command needs; the message says which option gives it."""


_LAST_ERROR = re.compile(r"last error: [A-Z_]+: (?:ipv[46]:\S+?:\d+: )?(.*)")


def describe(error: K12AIError, config: ClientConfig) -> str:
    if isinstance(error, ReplyError):
        return f"{error.code} {error.descr}: {error.message}"
    if isinstance(error, RPCError):
        return _rpc_failure(error, config)
    return str(error)


def exit_status(error: K12AIError) -> int:
    return EXIT_FAILED if isinstance(error, RPCError) else EXIT_REFUSED


def _rpc_failure(error: RPCError, config: ClientConfig) -> str:
    target, details = config.target, error.details
    if error.status == grpc.StatusCode.UNAVAILABLE:
        return _not_connected(target, details, config.tls)
    if error.status == grpc.StatusCode.UNAUTHENTICATED:
        return (
            f"{target} wants a valid API token ({details}): set K12AI_TOKEN (or --token) to one "
            f"that `k12ai-server token create` made."
        )
    if error.status == grpc.StatusCode.DEADLINE_EXCEEDED:
        return f"{target} did not answer in {config.timeout_s:g} s ({details})"
    return f"{error.status.name.lower().replace('_', ' ')}: {details}"


def _not_connected(target: str, details: str, tls: bool) -> str:
    """Why no call got through, from gRPC's words for it."""
    said, last = details.lower(), _last_error(details)
    if "http1.x server" in said:
        return (
            f"{target} answers HTTP/1.1, not gRPC: that looks like k12ai's REST port (--http-port, "
            f"8119 by default). The CLI speaks gRPC: point it at the gRPC port (--grpc-port, 8118 "
            f"by default) with {TARGET_HOW}."
        )
    if tls and "wrong_version_number" in said:
        return f"{target} does not speak TLS ({last}): leave --ca-cert and K12AI_CA_CERT unset for it."
    if tls and ("verification" in said or "certificate" in said):
        return (
            f"{target}'s certificate was not accepted ({last}): it must be signed by the CA of "
            f"--ca-cert / K12AI_CA_CERT and name the host given in --target."
        )
    if "socket closed" in said:
        return (
            f"{target} closed the connection ({last}). A server started with --tls-cert needs "
            f"--ca-cert or K12AI_CA_CERT, and with --tls-client-ca also --client-cert and --client-key "
            f"(K12AI_CLIENT_CERT, K12AI_CLIENT_KEY)."
        )
    return (
        f"no k12ai server answers at {target} ({last}). Start one "
        f"(k12ai-server, or ./scripts/serve), or point the CLI at yours with {TARGET_HOW}."
    )


def _last_error(details: str) -> str:
    """gRPC's reason, without its frame: "failed to connect to all addresses; last error: UNKNOWN:
    ipv4:127.0.0.1:1: Failed to connect to remote host: Connection refused" -> "Connection refused"."""
    found = _LAST_ERROR.search(details)
    reason = found.group(1) if found else details
    reason = reason.removesuffix(": OK")  # a TLS failure ends with the status it was wrapped in
    return reason.removeprefix("Failed to connect to remote host: ")
