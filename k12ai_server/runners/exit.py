"""Turning how a worker ended into the words of a `failed` status."""

from __future__ import annotations

import contextlib
import signal
from collections import deque
from dataclasses import replace
from pathlib import Path

from k12ai_server.jobs.model import Job
from k12ai_server.runners.base import STDERR_TAIL_LINES, ExitStatus


def read_exit_file(path: Path) -> int | None:
    """The code the worker wrote as it exited; None if it never got to."""
    try:
        return int(path.read_text())
    except (OSError, ValueError):
        return None


def exit_from_files(job: Job) -> ExitStatus:
    """How a worker the server did not wait for ended: its exit file, written as it exited, says
    how and (by its modification time) when; with no exit file, neither is known."""
    status = exit_status(read_exit_file(job.exit_path), job.stderr_path)
    if status.exit_code is None:
        return status
    with contextlib.suppress(OSError):
        return replace(status, ended_at=job.exit_path.stat().st_mtime_ns // 1_000_000)
    return status


def exit_status(code: int | None, stderr_path: Path) -> ExitStatus:
    if code == 0:
        return ExitStatus(exit_code=0)
    if code is None:
        return ExitStatus(
            exit_code=None, reason="the worker exited while the server was down; its exit status is unknown"
        )
    if code < 0:
        name = signal.Signals(-code).name
        reason = f"killed by {name}"
    else:
        reason = f"exit code {code}"
    tail = stderr_tail(stderr_path)
    return ExitStatus(exit_code=code, reason=f"{reason}; stderr: {tail}" if tail else reason)


def stderr_tail(path: Path, lines: int = STDERR_TAIL_LINES) -> str:
    try:
        with path.open(encoding="utf-8", errors="replace") as f:
            return "\n".join(line.rstrip("\n") for line in deque(f, maxlen=lines))
    except OSError:
        return ""


class GoneHandle:
    """A job whose worker ended while no server watched it: its exit file says how."""

    def __init__(self, job: Job) -> None:
        self._job = job

    @property
    def ref(self) -> str:
        return self._job.runner_ref

    async def wait(self) -> ExitStatus:
        return exit_from_files(self._job)

    async def stop(self, grace_s: float) -> None:
        return None
