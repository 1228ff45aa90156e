"""A job's stdout and stderr as ``log`` events: lines cut to a bound, a flood thinned out.

Bytes come in as the pipes give them. A line ends at ``\\n`` or ``\\r`` (so a progress bar
that redraws itself with ``\\r`` shows each redraw); of a line, at most
``MAX_LOG_LINE_BYTES`` are held and the rest only counted, so memory stays bounded whatever
the job writes. A token bucket lets ``LOG_LINES_PER_S`` lines a second through
(``LOG_BURST_LINES`` at once); lines beyond it are counted, and the count goes out as a
notice at most once a second while the flood lasts, and at the end.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable

from k12ai_contract.events import EventType
from k12ai_contract.logs import (
    LOG_BURST_LINES,
    LOG_LINES_PER_S,
    MAX_LOG_LINE_BYTES,
    STDERR,
    STDOUT,
    dropped_lines,
    log_line,
)
from k12ai_worker.events import EventWriter

# How often, at most, the count of dropped lines is reported while a flood lasts.
DROPPED_NOTICE_S = 1.0
_PIECE = re.compile(rb"([^\r\n]*)(\r\n|\r|\n)?")


class _Lines:
    """One stream's bytes as lines: (text, bytes cut off its end)."""

    def __init__(self) -> None:
        self._kept = bytearray()
        self._cut = 0
        self._last_end = b""

    def feed(self, data: bytes) -> list[tuple[str, int]]:
        lines: list[tuple[str, int]] = []
        for match in _PIECE.finditer(data):
            text, end = match.group(1), match.group(2)
            room = MAX_LOG_LINE_BYTES - len(self._kept)
            self._kept += text[:room]
            self._cut += max(0, len(text) - room)
            if not end:
                continue
            # "\r" then "\n" in the next read is one line end, not an empty line after it.
            if not (end == b"\n" and self._last_end == b"\r" and not text):
                lines.append(self._line())
            self._last_end = end
        return lines

    def close(self) -> list[tuple[str, int]]:
        return [self._line()] if self._kept or self._cut else []

    def _line(self) -> tuple[str, int]:
        line = (bytes(self._kept).decode("utf-8", errors="replace"), self._cut)
        self._kept.clear()
        self._cut = 0
        return line


class LogCapture:
    def __init__(self, events: EventWriter, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._events = events
        self._clock = clock
        self._streams = {STDOUT: _Lines(), STDERR: _Lines()}
        self._tokens = float(LOG_BURST_LINES)
        self._refilled = clock()
        self._dropped = dict.fromkeys(self._streams, 0)
        self._noticed = clock()

    def feed(self, stream: str, data: bytes) -> None:
        for text, cut in self._streams[stream].feed(data):
            self._line(stream, text, cut)

    def tick(self) -> None:
        """Call now and then: reports the lines dropped since the last notice, once a second at most."""
        if any(self._dropped.values()) and self._clock() - self._noticed >= DROPPED_NOTICE_S:
            self._notice()

    def close(self) -> None:
        """The streams ended: their last partial lines, and what was dropped."""
        for stream, lines in self._streams.items():
            for text, cut in lines.close():
                self._line(stream, text, cut)
        self._notice()

    def _line(self, stream: str, text: str, cut: int) -> None:
        self.tick()
        if self._take_token():
            self._events.emit(EventType.LOG, log_line(stream, text, cut_bytes=cut))
        else:
            self._dropped[stream] += 1

    def _take_token(self) -> bool:
        now = self._clock()
        self._tokens = min(float(LOG_BURST_LINES), self._tokens + (now - self._refilled) * LOG_LINES_PER_S)
        self._refilled = now
        if self._tokens < 1:
            return False
        self._tokens -= 1
        return True

    def _notice(self) -> None:
        for stream, count in self._dropped.items():
            if count:
                self._events.emit(EventType.LOG, dropped_lines(stream, count))
                self._dropped[stream] = 0
        self._noticed = self._clock()
