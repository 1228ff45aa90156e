"""Crash points on the start path, for the tests that kill the server there.

``K12AI_FAULT=<point>`` makes the server end itself with ``os._exit`` (as a ``kill -9``
would: no cleanup, no reply) when a job reaches that point. Unset, a point costs one
environment lookup per job start.
"""

from __future__ import annotations

import logging
import os
from typing import Literal

log = logging.getLogger(__name__)

FAULT_ENV = "K12AI_FAULT"
FAULT_EXIT_CODE = 97
# In the order a job passes them.
FaultPoint = Literal["after-admit", "after-starting", "after-spawn", "after-ref"]
FAULT_POINTS: tuple[FaultPoint, ...] = ("after-admit", "after-starting", "after-spawn", "after-ref")


def fault_point(point: FaultPoint) -> None:
    if os.environ.get(FAULT_ENV) == point:
        log.critical("%s=%s: the server ends here", FAULT_ENV, point)
        logging.shutdown()
        os._exit(FAULT_EXIT_CODE)
