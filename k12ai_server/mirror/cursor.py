"""How far the mirror got, kept in the server's SQLite database so a restart resumes from there."""

from __future__ import annotations

import sqlite3

SCHEMA = """
CREATE TABLE IF NOT EXISTS mirror_cursors (
    name TEXT PRIMARY KEY,
    -- every event with seq <= this is in the mirror's target (or superseded there by a later one)
    seq  INTEGER NOT NULL
);
"""


class MirrorCursor:
    def __init__(self, conn: sqlite3.Connection, name: str) -> None:
        self._conn = conn
        self._name = name
        conn.executescript(SCHEMA)

    def load(self) -> int:
        row = self._conn.execute("SELECT seq FROM mirror_cursors WHERE name = ?", (self._name,)).fetchone()
        return int(row[0]) if row else 0

    def save(self, seq: int) -> None:
        self._conn.execute(
            "INSERT INTO mirror_cursors (name, seq) VALUES (?, ?)"
            " ON CONFLICT (name) DO UPDATE SET seq = excluded.seq",
            (self._name, seq),
        )
