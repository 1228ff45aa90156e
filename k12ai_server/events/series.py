"""Metric series: every numeric field of a job's ``metrics`` events, kept ready to draw.

Reading a million events back and parsing their JSON takes seconds (4.5 s for 1,000,000
rows here; SQLite's ``json_extract`` with ``GROUP BY`` 2.9 s per metric; even a numeric
points table takes 0.3 s per 500,000 rows to group). So the points are summarised when
they are stored, in the same transaction as their events: a pyramid of buckets of 1, 16,
256, 4096 and 65,536 points per series, each bucket holding its first and last point's
x values and its minimum and maximum with where they fell. A read picks the coarsest level
that still has enough buckets for the chart and merges neighbours down to the width asked
for: it touches at most 16 rows per output bucket, whatever the run's length.
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from k12ai_contract.events import METRIC_POSITION_KEYS, EventType
from k12ai_server.events.record import EventRecord

# Bucket sizes 16**level: a read touches at most FANOUT rows per output bucket.
FANOUT = 16
LEVELS = 5
DEFAULT_MAX_POINTS = 1000
MAX_POINTS_LIMIT = 20_000

_UPSERT = """
INSERT INTO metric_buckets VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT DO UPDATE SET
    n = n + excluded.n,
    last_epoch = excluded.last_epoch, last_progress = excluded.last_progress, last_time = excluded.last_time,
    min_index = CASE WHEN excluded.min_value < min_value THEN excluded.min_index ELSE min_index END,
    min_value = min(min_value, excluded.min_value),
    max_index = CASE WHEN excluded.max_value > max_value THEN excluded.max_index ELSE max_index END,
    max_value = max(max_value, excluded.max_value)
"""


@dataclass(frozen=True)
class Point:
    epoch: float
    progress: float
    time: float
    value: float


@dataclass
class Series:
    name: str
    phase: str
    count: int
    latest: float
    points: list[Point] = field(default_factory=list)


@dataclass
class _Known:
    series_id: int
    count: int
    latest: float


class MetricSeriesIndex:
    """Fills the pyramid as events are stored, and reads it back downsampled.

    ``add`` runs on the database's writer connection inside the transaction that stores the
    events (``EventLog.append`` calls it), so the series hold exactly the stored events, no
    more and no fewer, after a crash too; ``read`` runs on a reader connection. The tables
    are in the database's schema (``k12ai_server.state.db``).
    """

    def __init__(self) -> None:
        # Only the writer touches it: the series' ids and counts, so a batch reads no row back.
        self._known: dict[tuple[str, str, str], _Known] = {}

    def add(self, conn: sqlite3.Connection, events: Iterable[EventRecord]) -> None:
        # A batch's points are merged per bucket first: one write per bucket touched, so a
        # batch of 20 points costs about 20 rows rather than 100.
        rows: dict[tuple[int, int, int], list[Any]] = {}
        touched: dict[tuple[str, str, str], _Known] = {}
        try:
            for event in events:
                if event.type == EventType.METRICS and event.job_id and isinstance(event.payload, dict):
                    self._add_event(conn, event, rows, touched)
            conn.executemany(_UPSERT, [(*key, *row) for key, row in rows.items()])
            conn.executemany(
                "UPDATE metric_series SET count = ?, latest = ? WHERE series_id = ?",
                [(k.count, k.latest, k.series_id) for k in touched.values()],
            )
        except BaseException:
            # The caller rolls the transaction back: forget counts that were never stored.
            self._known.clear()
            raise

    def _add_event(
        self,
        conn: sqlite3.Connection,
        event: EventRecord,
        rows: dict[tuple[int, int, int], list[Any]],
        touched: dict[tuple[str, str, str], _Known],
    ) -> None:
        payload: dict[str, Any] = event.payload
        phase = payload.get("phase")
        phase = phase if isinstance(phase, str) else ""
        for name, value in payload.items():
            if name in METRIC_POSITION_KEYS or not _is_number(value) or not math.isfinite(value):
                continue
            key = (event.job_id, name, phase)
            known = self._series(conn, key)
            index = known.count
            epoch, progress = _position(payload, index)
            x = (epoch, progress, float(event.timestamp))
            for level in range(LEVELS):
                _merge(rows, (known.series_id, level, index // FANOUT**level), x, float(value), index)
            known.count += 1
            known.latest = float(value)
            touched[key] = known

    def _series(self, conn: sqlite3.Connection, key: tuple[str, str, str]) -> _Known:
        known = self._known.get(key)
        if known is None:
            row = conn.execute(
                "SELECT series_id, count, latest FROM metric_series"
                " WHERE job_id = ? AND name = ? AND phase = ?",
                key,
            ).fetchone()
            if row is None:
                cursor = conn.execute("INSERT INTO metric_series (job_id, name, phase) VALUES (?, ?, ?)", key)
                assert cursor.lastrowid is not None
                known = _Known(cursor.lastrowid, 0, 0.0)
            else:
                known = _Known(row[0], row[1], row[2])
            self._known[key] = known
        return known

    def read(
        self, conn: sqlite3.Connection, job_id: str, *, max_points: int, latest_only: bool = False
    ) -> list[Series]:
        """Each series of the job with at most ``max_points`` points (two per bucket: its extremes)."""
        found = conn.execute(
            "SELECT series_id, name, phase, count, latest FROM metric_series WHERE job_id = ?"
            " ORDER BY phase, name",
            (job_id,),
        ).fetchall()
        out: list[Series] = []
        for series_id, name, phase, count, latest in found:
            series = Series(name, phase, count, latest)
            if not latest_only:
                series.points = _points(conn, series_id, count, max_points)
            out.append(series)
        return out


def _points(conn: sqlite3.Connection, series_id: int, count: int, max_points: int) -> list[Point]:
    if count <= max_points:
        rows = _level_rows(conn, series_id, 0)
        return [Point(r[1], r[2], r[3], r[7]) for r in rows]
    buckets = max(max_points // 2, 1)
    level = 0
    while level + 1 < LEVELS and math.ceil(count / FANOUT ** (level + 1)) >= buckets:
        level += 1
    rows = _level_rows(conn, series_id, level)
    group = math.ceil(len(rows) / buckets)
    points: list[Point] = []
    for start in range(0, len(rows), group):
        points.extend(_extremes(rows[start : start + group]))
    return points


def _level_rows(conn: sqlite3.Connection, series_id: int, level: int) -> list[sqlite3.Row]:
    return conn.execute(
        "SELECT n, first_epoch, first_progress, first_time, last_epoch, last_progress, last_time,"
        " min_value, min_index, max_value, max_index FROM metric_buckets"
        " WHERE series_id = ? AND level = ? ORDER BY bucket",
        (series_id, level),
    ).fetchall()


def _merge(
    rows: dict[tuple[int, int, int], list[Any]],
    key: tuple[int, int, int],
    x: tuple[float, float, float],
    value: float,
    index: int,
) -> None:
    row = rows.get(key)
    if row is None:
        rows[key] = [1, *x, *x, value, index, value, index]
        return
    row[0] += 1
    row[4:7] = x
    if value < row[7]:
        row[7:9] = value, index
    if value > row[9]:
        row[9:11] = value, index


def _extremes(rows: Sequence[Any]) -> list[Point]:
    """Two points for a run of buckets: its minimum and maximum, in the order they happened.

    They are drawn at the run's first and last x, which is within the run's width (one
    output bucket, about a pixel) of where they happened.
    """
    low = min(rows, key=lambda r: r[7])
    high = max(rows, key=lambda r: r[9])
    first, last = rows[0], rows[-1]
    if first[0] == 1 and len(rows) == 1:
        return [Point(first[1], first[2], first[3], first[7])]
    a, b = (low[7], high[9]) if low[8] <= high[10] else (high[9], low[7])
    return [Point(first[1], first[2], first[3], a), Point(last[4], last[5], last[6], b)]


def _position(payload: dict[str, Any], index: int) -> tuple[float, float]:
    epoch: Any = payload.get("epoch")
    batch: Any = payload.get("batch")
    num_batches: Any = payload.get("num_batches")
    if not _is_number(epoch):
        x_epoch = float(index + 1)
    elif payload.get("phase") == "train" and _is_number(batch) and _is_number(num_batches) and num_batches:
        x_epoch = epoch - 1 + batch / num_batches
    else:
        x_epoch = float(epoch)
    progress: Any = payload.get("progress")
    if _is_number(progress):
        return x_epoch, float(progress)
    num_epochs: Any = payload.get("num_epochs")
    if _is_number(epoch) and _is_number(num_epochs) and num_epochs:
        return x_epoch, epoch / num_epochs
    return x_epoch, 1.0


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
