"""The job runs in a child process; this one turns its stdout and stderr into ``log`` events.

Why a child: capture then works the same under every runner (a local process, a
container, a cluster task), and it outlives the job: when the job dies hard (a segfault,
an OOM kill, ``SIGKILL``) every line it wrote up to that moment is already an event, and
the reason the job died is still reported. The child is in this process's group (a
runner's stop reaches both), is sent on any ``SIGTERM``/``SIGINT`` this process gets (a
container's init signals only its direct child), and is killed should this process die.
"""

from __future__ import annotations

import os
import selectors
import signal
import subprocess
from pathlib import Path

from k12ai_contract.logs import STDERR, STDOUT
from k12ai_worker.child_process import forward_stop_signals
from k12ai_worker.events import EventWriter
from k12ai_worker.log_capture import LogCapture

READ_BYTES = 64 * 1024
# How often a quiet job's capture is looked at (for the notice of dropped lines).
TICK_S = 0.5


def supervise(child: subprocess.Popen[bytes], events_path: Path) -> int:
    """Follows the job ``job_start.start_job`` started to its end.

    Returns its exit status as ``subprocess`` gives it (-N: killed by signal N).
    """
    forwarded = forward_stop_signals(child)
    events = EventWriter(events_path)
    capture = LogCapture(events)
    try:
        _pump(child, capture)
        capture.close()
        return child.wait()
    finally:
        events.close()
        for sig, previous in forwarded.items():
            signal.signal(sig, previous)


def _pump(child: subprocess.Popen[bytes], capture: LogCapture) -> None:
    assert child.stdout is not None and child.stderr is not None
    with selectors.DefaultSelector() as selector:
        selector.register(child.stdout, selectors.EVENT_READ, STDOUT)
        selector.register(child.stderr, selectors.EVENT_READ, STDERR)
        while selector.get_map():
            for key, _ in selector.select(TICK_S):
                data = os.read(key.fd, READ_BYTES)
                if data:
                    capture.feed(key.data, data)
                else:
                    selector.unregister(key.fileobj)
            capture.tick()
