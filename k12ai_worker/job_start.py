"""The job's child process, started first thing: the worker imports the rest while it starts.

The child is in this process's group (a runner's stop reaches both) and is killed should
this process die before it (Linux's parent-death signal).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys

JOB_MODULE = "k12ai_worker.job"
_PR_SET_PDEATHSIG = 1


def start_job(spec_path: str) -> subprocess.Popen[bytes]:
    """``python -m k12ai_worker.job <spec>``, its stdout and stderr piped to this process."""
    parent = os.getpid()
    return subprocess.Popen(
        [sys.executable, "-m", JOB_MODULE, spec_path],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        preexec_fn=lambda: _die_with(parent),
    )


def _die_with(parent: int) -> None:
    """In the child, before the job starts: be killed when the supervisor dies (Linux)."""
    with contextlib.suppress(OSError, AttributeError):
        # The running program's symbols: libc's prctl among them, no library search needed.
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # it died before the line above
        os._exit(1)
