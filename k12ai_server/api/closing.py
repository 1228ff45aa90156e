"""Server streams end when the server shuts down, so that a shutdown never waits on a client.

A Watch follows events for as long as its client stays; a server asked to stop (SIGTERM)
must not wait for that. ``ServerClosing.close()`` ends every stream that runs through
``until_closed``: the servicer then ends the call with UNAVAILABLE and the seq to resume
from, which the REST gateway sends as the stream's last (error) line.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import TypeVar

T = TypeVar("T")


class ServerClosedError(Exception):
    pass


class ServerClosing:
    def __init__(self) -> None:
        self._closed = asyncio.Event()

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    def close(self) -> None:
        self._closed.set()

    async def until_closed(self, items: AsyncIterator[T]) -> AsyncIterator[T]:
        """``items`` until they end, or ServerClosedError once the server closes."""
        closed = asyncio.ensure_future(self._closed.wait())
        following: asyncio.Future[T] | None = None
        try:
            while True:
                following = asyncio.ensure_future(anext(items))
                await asyncio.wait({following, closed}, return_when=asyncio.FIRST_COMPLETED)
                if not following.done():
                    raise ServerClosedError
                try:
                    item = following.result()
                except StopAsyncIteration:
                    return
                yield item
        finally:
            closed.cancel()
            if following is not None and not following.done():
                following.cancel()
                with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
                    await following
            aclose = getattr(items, "aclose", None)
            if aclose is not None:
                await aclose()
