"""Writing checkpoints off the training path.

Compressing a model's archive takes seconds for a ResNet, longer than an
epoch on a GPU; done inline it leaves the GPU idle. A ``LatestWriter`` runs
writes in one background thread instead. Only the latest write submitted
matters (each one replaces the whole archive), so a write still waiting when a
newer one arrives is dropped; ``close`` waits for the last one and raises what
any write raised.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from types import TracebackType

Write = Callable[[], None]


class LatestWriter:
    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._pending: Write | None = None
        self._closed = False
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="checkpoint-writer", daemon=True)
        self._thread.start()

    def submit(self, write: Write) -> None:
        """Queues ``write``, replacing one not yet started; raises a failure of an earlier write."""
        with self._condition:
            self._raise_error()
            if self._closed:
                raise RuntimeError("the writer is closed")
            self._pending = write
            self._condition.notify_all()

    def close(self) -> None:
        """Waits until every queued write is done, stops the thread, raises a write's failure."""
        with self._condition:
            self._closed = True
            self._condition.notify_all()
        self._thread.join()
        with self._condition:
            self._raise_error()

    def __enter__(self) -> LatestWriter:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        if error is None:
            self.close()
            return
        # Training failed: still finish the best checkpoint so far, but let the
        # training error be the one reported.
        with contextlib.suppress(Exception):
            self.close()

    def _raise_error(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def _run(self) -> None:
        while True:
            with self._condition:
                while self._pending is None and not self._closed:
                    self._condition.wait()
                write, self._pending = self._pending, None
                if write is None:
                    return
            try:
                write()
            except BaseException as exc:  # handed to the training thread at its next submit/close
                with self._condition:
                    self._error = exc
