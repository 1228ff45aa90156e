"""What ``k12ai`` says, instead of a traceback, when a call fails for an ordinary reason.

Each message names what was tried and how to set it right; the exit status tells a script
which kind of failure it was.
"""

from __future__ import annotations

import grpc

from k12ai_client._config import ClientConfig
from k12ai_client._errors import K12AIError, ReplyError, RPCError

# Exit statuses: 1 is a job that ended otherwise than finished (the follower's).
EXIT_REFUSED = 2  # the server answered with a refusal code, or the input file is wrong
EXIT_FAILED = 3  # the call failed: no server, wrong port, not authorised, ...
EXIT_INTERRUPTED = 130  # Ctrl-C, as a shell reports SIGINT

TARGET_HOW = "--target HOST:PORT or K12AI_TARGET"


def describe(error: K12AIError, config: ClientConfig) -> str:
    if isinstance(error, ReplyError):
        return f"{error.code} {error.descr}: {error.message}"
    if isinstance(error, RPCError):
        return _rpc_failure(error, config)
    return str(error)


def exit_status(error: K12AIError) -> int:
    return EXIT_FAILED if isinstance(error, RPCError) else EXIT_REFUSED


def _rpc_failure(error: RPCError, config: ClientConfig) -> str:
    details = error.details
    target = config.target
    if error.status == grpc.StatusCode.UNAVAILABLE:
        if "http1.x server" in details:
            return (
                f"{target} answers HTTP/1.1, not gRPC: that looks like k12ai's REST port (--http-port, "
                f"8119 by default). The CLI speaks gRPC: point it at the gRPC port (--grpc-port, 8118 "
                f"by default) with {TARGET_HOW}."
            )
        if "ssl" in details.lower() or "handshake" in details.lower() or "socket closed" in details.lower():
            return (
                f"no TLS agreement with {target} ({_last_error(details)}). A server started with "
                f"--tls-cert needs --ca-cert or K12AI_CA_CERT (and --client-cert/--client-key for "
                f"mutual TLS); a server without TLS needs neither."
            )
        return (
            f"no k12ai server answers at {target} ({_last_error(details)}). Start one "
            f"(k12ai-server, or ./scripts/serve), or point the CLI at yours with {TARGET_HOW}."
        )
    if error.status == grpc.StatusCode.UNAUTHENTICATED:
        return (
            f"{target} wants a valid API token ({details}): set K12AI_TOKEN (or --token) to one "
            f"that `k12ai-server token create` made."
        )
    if error.status == grpc.StatusCode.DEADLINE_EXCEEDED:
        return f"{target} did not answer in {config.timeout_s:g} s ({details})"
    return f"{error.status.name.lower().replace('_', ' ')}: {details}"


def _last_error(details: str) -> str:
    # gRPC's "failed to connect to all addresses; last error: UNKNOWN: ipv4:...: Connection refused"
    return details.rsplit(": ", 1)[-1] if "last error" in details else details
