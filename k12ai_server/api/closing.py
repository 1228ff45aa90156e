"""Server streams end when the server shuts down, so that a shutdown never waits on a client.

A Watch follows events for as long as its client stays; a server asked to stop (SIGTERM)
must not wait for that. ``ServerClosing.close()`` ends every stream that runs through
``until_closed``: the servicer then ends the call with UNAVAILABLE and the seq to resume
from, which the REST gateway sends as the stream's last (error) line.

A stream waiting for its next item is interrupted the way ``asyncio.timeout`` interrupts a
block: its task is cancelled, and the cancellation, recognised as the close's, is taken back
(``uncancel``) and turned into ServerClosedError. A stream busy elsewhere (writing to its
client) sees the close before it waits again. Nothing runs per item but two set operations.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import TypeVar

T = TypeVar("T")


class ServerClosedError(Exception):
    pass


class ServerClosing:
    def __init__(self) -> None:
        self._closed = False
        # Tasks waiting for their stream's next item, and those the close cancelled.
        self._waiting: set[asyncio.Task[object]] = set()
        self._interrupted: set[asyncio.Task[object]] = set()

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        self._closed = True
        for task in self._waiting:
            self._interrupted.add(task)
            task.cancel()

    async def until_closed(self, items: AsyncIterator[T]) -> AsyncIterator[T]:
        """``items`` until they end, or ServerClosedError once the server closes."""
        task = asyncio.current_task()
        assert task is not None
        try:
            while not self._closed:
                self._waiting.add(task)
                try:
                    item = await anext(items)
                except StopAsyncIteration:
                    return
                except asyncio.CancelledError:
                    if task not in self._interrupted:
                        raise
                    self._interrupted.discard(task)
                    task.uncancel()
                    raise ServerClosedError from None
                finally:
                    self._waiting.discard(task)
                yield item
            raise ServerClosedError
        finally:
            aclose = getattr(items, "aclose", None)
            if aclose is not None:
                await aclose()
