"""What a Ray job's status says in k12ai's words: why it waits, where it runs, how it ended."""

from __future__ import annotations

import signal
from dataclasses import replace
from typing import Any
from urllib.parse import urlparse

from k12ai_server.runners.base import STDERR_TAIL_LINES, ExitStatus

# Ray's JobStatus values (ray.job_submission.JobStatus), as its API reports them.
PENDING = "PENDING"
RUNNING = "RUNNING"
STOPPED = "STOPPED"
SUCCEEDED = "SUCCEEDED"
FAILED = "FAILED"
TERMINAL = frozenset({STOPPED, SUCCEEDED, FAILED})
SIGNAL_NUMBERS = frozenset(s.value for s in signal.Signals)
STOPPED_PENDING_REASON = (
    "stopped while the Ray cluster held it pending (no worker of it ran; "
    "Ray ends its submission should it ever place it)"
)


def status_of(info: Any) -> str:
    return str(getattr(info.status, "value", info.status))


def node_of(info: Any) -> str:
    """The address of the node the job's entrypoint runs on, else Ray's node id."""
    address = info.driver_agent_http_address or ""
    return urlparse(address).hostname or info.driver_node_id or ""


def waiting_reason(*, gpus: int, cpus: float) -> str:
    wants = [f"{gpus} GPU"] if gpus else []
    if cpus:
        wants.append(f"{cpus:g} CPU")
    return f"waiting in the Ray cluster for a node with {' and '.join(wants) or 'room'} free"


def exit_of(info: Any, node_alive: bool | None) -> ExitStatus:
    """How and when a terminal Ray job ended. ``node_alive`` False: its node is gone (None: unknown)."""
    # Ray's end_time: when the job became terminal, in ms since the epoch.
    return replace(_how_it_ended(info, node_alive), ended_at=info.end_time or None)


def _how_it_ended(info: Any, node_alive: bool | None) -> ExitStatus:
    status = status_of(info)
    if status == SUCCEEDED:
        return ExitStatus(exit_code=0)
    message = (info.message or "").strip()
    if status == STOPPED:
        return ExitStatus(exit_code=None, reason=f"the Ray job was stopped: {message}".rstrip(": "))
    code = info.driver_exit_code
    if code is None:
        node = node_of(info) or "?"
        if node_alive is False:
            return ExitStatus(
                exit_code=None, reason=f"Ray node {node} was lost while it ran the job: {message}"
            )
        return ExitStatus(exit_code=None, reason=f"the Ray job failed: {message}")
    return ExitStatus(exit_code=code, reason=_code_reason(code, message))


def _code_reason(code: int, message: str) -> str:
    if code < 0 and -code in SIGNAL_NUMBERS:
        reason = f"killed by {signal.Signals(-code).name}"
    elif code > 128 and code - 128 in SIGNAL_NUMBERS:
        reason = f"killed by {signal.Signals(code - 128).name} (exit code {code})"
    else:
        reason = f"exit code {code}"
    # Ray's message ends with the log's last lines: the same tail a local job's reason has.
    lines = message.splitlines()[1:]
    tail = "\n".join(lines[-STDERR_TAIL_LINES:])
    return f"{reason}; stderr: {tail}" if tail else reason
