"""A process that ran a job ends as the job did, so whoever waits on it sees how the job ended."""

from __future__ import annotations

import os
import signal
import sys
from typing import NoReturn


def exit_as(code: int) -> NoReturn:
    """Exit with ``code`` as ``subprocess`` reports it: -N (killed by signal N) dies of signal N."""
    if code < 0:
        signal.signal(-code, signal.SIG_DFL)
        os.kill(os.getpid(), -code)
    sys.exit(code)
