"""Mirror every stored event into a key/value store (Consul KV), off the event path.

The mirror follows the event log like any watcher (stored history from its cursor, then live),
so an event reaches it only after it is stored and publishing never waits for it: a mirror
that falls behind overflows its bus queue and re-reads the SQLite log by seq. Events are
coalesced by key into a bounded buffer, since a key holds only the latest event of its type;
a writer drains the buffer with a few concurrent PUTs and, when the store fails or times out,
puts the entries back (unless a newer value for the key arrived meanwhile) and retries with
exponential backoff. When the buffer is full the reader waits, and the log is re-read once
room frees up, so an outage of any length loses nothing and ends with the latest values.

The cursor (every event up to it written or superseded) is saved in SQLite, so a restart
resumes where the mirror stopped rather than where the server stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from k12ai_contract.events import now_ms
from k12ai_server.events.filter import EventFilter
from k12ai_server.events.log import EventLog
from k12ai_server.events.record import EventRecord
from k12ai_server.events.watch import WatchRequest
from k12ai_server.mirror.cursor import MirrorCursor
from k12ai_server.mirror.keys import kv_key, kv_value
from k12ai_server.state.db import DatabaseLostError

log = logging.getLogger(__name__)


class RejectedWriteError(Exception):
    """The store refused this value for good (too large, malformed): retrying cannot help."""


class KvWriter(Protocol):
    async def put(self, key: str, value: bytes) -> None:
        """Store value under key; raise RejectedWriteError when retrying cannot help, else any error."""


@dataclass(frozen=True, kw_only=True)
class MirrorSettings:
    max_buffered_keys: int = 10_000
    # PUTs in flight at once.
    max_in_flight: int = 8
    # A key is written at most once per interval; its events in between are coalesced. The
    # seeds' readers poll once a second, and each PUT costs the event loop about a millisecond.
    write_interval_s: float = 0.1
    write_timeout_s: float = 5.0
    backoff_min_s: float = 0.1
    # Also how soon, at most, writes resume after Consul comes back.
    backoff_max_s: float = 5.0
    cursor_save_interval_s: float = 1.0
    # How often a lagging or failing mirror says so in the log.
    report_interval_s: float = 10.0


@dataclass(frozen=True, kw_only=True)
class MirrorHealth:
    # False from a failed write until the next successful one.
    connected: bool
    # Every event up to this seq is mirrored (or superseded by a later one that is).
    mirrored_seq: int
    stored_seq: int
    # Events stored but not yet mirrored, and how long the oldest of them has waited.
    lag_events: int
    lag_s: float
    buffered_keys: int
    writes: int
    failed_writes: int
    # Values the store refused for good (logged as errors); the key keeps its previous value.
    dropped_writes: int
    last_error: str
    # Milliseconds since the epoch; 0 when no write ever failed.
    last_error_at: int

    def describe(self) -> str:
        text = (
            f"lag {self.lag_events} events ({self.lag_s:.1f} s), {self.buffered_keys} keys buffered, "
            f"{self.writes} writes, {self.failed_writes} failed, {self.dropped_writes} dropped"
        )
        return f"{text}, last error: {self.last_error}" if self.last_error else text


@dataclass(frozen=True)
class _Entry:
    event: EventRecord

    @property
    def seq(self) -> int:
        return self.event.seq

    @property
    def timestamp(self) -> int:
        return self.event.timestamp


HealthListener = Callable[[MirrorHealth], None]


class ConsulMirror:
    def __init__(
        self,
        *,
        kv: KvWriter,
        events: EventLog,
        cursor: MirrorCursor,
        settings: MirrorSettings | None = None,
        on_connected_change: HealthListener | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._kv = kv
        self._events = events
        self._cursor = cursor
        self._settings = settings or MirrorSettings()
        self._on_connected_change = on_connected_change
        self._clock = clock
        self._pending: dict[str, _Entry] = {}
        self._in_flight: dict[str, _Entry] = {}
        self._read_seq = 0
        self._saved_seq = 0
        self._last_save = 0.0
        self._wake = asyncio.Event()
        self._room = asyncio.Event()
        self._room.set()
        self._connected = True
        self._writes = 0
        self._failed_writes = 0
        self._dropped_writes = 0
        self._last_error = ""
        self._last_error_at = 0
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        self._read_seq = self._saved_seq = self._cursor.load()
        self._tasks = [
            asyncio.create_task(self._read(), name="consul-mirror-read"),
            asyncio.create_task(self._write(), name="consul-mirror-write"),
            asyncio.create_task(self._report(), name="consul-mirror-report"),
        ]
        log.info("consul mirror started after seq %d", self._read_seq)

    async def close(self, flush_timeout_s: float = 2.0) -> None:
        """Give buffered writes a moment to land, then stop; the rest waits for the next start."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._drained(), flush_timeout_s)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._save_cursor(force=True)
        log.info("consul mirror stopped: %s", self.health().describe())

    def health(self) -> MirrorHealth:
        mirrored = self.mirrored_seq()
        stored = self._events.last_seq()
        waiting = [*self._pending.values(), *self._in_flight.values()]
        oldest = min((e.timestamp for e in waiting), default=0)
        if not oldest and stored > mirrored:
            # Behind without a buffered entry: the reader is between the log and the buffer.
            unread = self._events.read(after_seq=mirrored, where=EventFilter(), limit=1)
            oldest = unread[0].timestamp if unread else 0
        return MirrorHealth(
            connected=self._connected,
            mirrored_seq=mirrored,
            stored_seq=stored,
            lag_events=max(0, stored - mirrored),
            lag_s=max(0.0, (now_ms() - oldest) / 1000) if oldest else 0.0,
            buffered_keys=len(waiting),
            writes=self._writes,
            failed_writes=self._failed_writes,
            dropped_writes=self._dropped_writes,
            last_error=self._last_error,
            last_error_at=self._last_error_at,
        )

    def mirrored_seq(self) -> int:
        waiting = [*self._pending.values(), *self._in_flight.values()]
        return min((e.seq for e in waiting), default=self._read_seq + 1) - 1

    async def _drained(self) -> None:
        # Polled: "drained" spans the reader, the writer and the store, and is only asked at close.
        while self._pending or self._in_flight or self._read_seq < self._events.last_seq():  # noqa: ASYNC110
            await asyncio.sleep(0.02)

    async def _read(self) -> None:
        while True:
            try:
                await self._follow()
            except asyncio.CancelledError:
                raise
            except Exception:
                # The log itself failed (SQLite busy past its timeout, ...): retry from the cursor.
                log.exception("consul mirror could not read the event log; retrying")
                await asyncio.sleep(self._settings.backoff_max_s)

    async def _follow(self) -> None:
        request = WatchRequest(
            where=EventFilter(), after_seq=self._read_seq, heartbeat_s=60.0, write_interval_s=0
        )
        async for batch in self._events.follow(request, lambda _job_id: None):
            for event in batch.events:
                await self._room.wait()
                self._buffer(event)

    def _buffer(self, event: EventRecord) -> None:
        self._read_seq = event.seq
        key = kv_key(event)
        if key is None:
            log.debug("event %d has no Consul key (an empty part); not mirrored", event.seq)
            return
        # Serialised only when written: most events of a busy key are superseded before that.
        self._pending[key] = _Entry(event)
        if len(self._pending) + len(self._in_flight) >= self._settings.max_buffered_keys:
            self._room.clear()
        self._wake.set()

    async def _write(self) -> None:
        backoff_s = self._settings.backoff_min_s
        while True:
            await self._wake.wait()
            self._wake.clear()
            started = self._clock()
            failed = await self._write_round()
            await self._save_cursor()
            if failed:
                self._wake.set()
                await asyncio.sleep(backoff_s * random.uniform(0.5, 1.0))
                backoff_s = min(backoff_s * 2, self._settings.backoff_max_s)
                continue
            backoff_s = self._settings.backoff_min_s
            # Let a busy key's next events coalesce: one PUT per key per interval at most.
            rest_s = started + self._settings.write_interval_s - self._clock()
            if rest_s > 0:
                await asyncio.sleep(rest_s)

    async def _write_round(self) -> bool:
        """Write what is buffered now, a chunk at a time; True when a chunk failed (the rest waits)."""
        round_keys = len(self._pending)
        while round_keys > 0 and self._pending:
            if await self._write_chunk():
                return True
            round_keys -= self._settings.max_in_flight
        return False

    async def _write_chunk(self) -> bool:
        """Write the oldest buffered keys; True when any write failed (they are buffered again)."""
        keys = list(self._pending)[: self._settings.max_in_flight]
        for key in keys:
            self._in_flight[key] = self._pending.pop(key)
        dropped_before = self._dropped_writes
        results = await asyncio.gather(*(self._put(key, self._in_flight[key]) for key in keys))
        errors = [error for error in results if error is not None]
        for key, error in zip(keys, results, strict=True):
            entry = self._in_flight.pop(key)
            if error is not None and key not in self._pending:
                self._pending[key] = entry  # a newer value that arrived meanwhile wins
        if len(self._pending) + len(self._in_flight) < self._settings.max_buffered_keys:
            self._room.set()
        self._writes += len(keys) - len(errors) - (self._dropped_writes - dropped_before)
        self._failed_writes += len(errors)
        self._set_connected(not errors, errors[0] if errors else "")
        return bool(errors)

    async def _put(self, key: str, entry: _Entry) -> str | None:
        try:
            await asyncio.wait_for(self._kv.put(key, kv_value(entry.event)), self._settings.write_timeout_s)
        except asyncio.CancelledError:
            raise
        except TimeoutError:
            return f"PUT {key} timed out after {self._settings.write_timeout_s} s"
        except RejectedWriteError as exc:
            self._dropped_writes += 1
            log.error("consul mirror dropped event %d (%s): %s", entry.seq, key, exc)
        except Exception as exc:
            return f"PUT {key}: {type(exc).__name__}: {exc}"
        return None

    def _set_connected(self, connected: bool, error: str) -> None:
        if error:
            self._last_error, self._last_error_at = error, now_ms()
        if connected == self._connected:
            return
        self._connected = connected
        if connected:
            log.info("consul mirror writing again: %s", self.health().describe())
        else:
            log.warning("consul mirror cannot write, buffering and retrying: %s", error)
        if self._on_connected_change is not None:
            self._on_connected_change(self.health())

    async def _save_cursor(self, *, force: bool = False) -> None:
        seq = self.mirrored_seq()
        now = self._clock()
        if seq == self._saved_seq or (
            not force and now - self._last_save < self._settings.cursor_save_interval_s
        ):
            return
        try:
            await self._cursor.save(seq)
        except (sqlite3.Error, DatabaseLostError) as exc:
            # Only a restart needs the cursor, and an older one costs rewrites, never values.
            log.warning("consul mirror could not save its cursor: %s", exc)
            return
        self._saved_seq, self._last_save = seq, now

    async def _report(self) -> None:
        while True:
            await asyncio.sleep(self._settings.report_interval_s)
            await self._save_cursor(force=True)
            health = self.health()
            if not health.connected or health.lag_s > self._settings.report_interval_s:
                log.warning("consul mirror behind: %s", health.describe())
