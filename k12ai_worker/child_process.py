"""A process whose child runs the job: it passes stop signals on, and ends as the child ended."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from types import FrameType
from typing import NoReturn

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def forward_stop_signals(child: subprocess.Popen[bytes]) -> dict[int, signal.Handlers | None]:
    """SIGTERM and SIGINT to this process go to ``child`` too (a container's init, or a runner's
    stop, signals only its direct child); returns the handlers they replace."""

    def forward(signum: int, frame: FrameType | None) -> None:
        # Popen skips a child already waited for, and one already gone.
        child.send_signal(signum)

    return {signum: signal.signal(signum, forward) for signum in STOP_SIGNALS}  # type: ignore[misc]


def exit_as(code: int) -> NoReturn:
    """Exit with ``code`` as ``subprocess`` reports it: -N (killed by signal N) dies of signal N."""
    if code < 0:
        signal.signal(-code, signal.SIG_DFL)
        os.kill(os.getpid(), -code)
    sys.exit(code)
