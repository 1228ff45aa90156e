"""How far the mirror got, kept in the server's SQLite database so a restart resumes from there."""

from __future__ import annotations

import sqlite3

from k12ai_server.state.db import Database

SCHEMA = """
CREATE TABLE IF NOT EXISTS mirror_cursors (
    name TEXT PRIMARY KEY,
    -- every event with seq <= this is in the mirror's target (or superseded there by a later one)
    seq  INTEGER NOT NULL
)
"""


class MirrorCursor:
    def __init__(self, db: Database, name: str) -> None:
        self._db = db
        self._name = name

    def load(self) -> int:
        try:
            row = self._db.reader.execute(
                "SELECT seq FROM mirror_cursors WHERE name = ?", (self._name,)
            ).fetchone()
        except sqlite3.OperationalError:
            return 0  # no cursor saved yet: the table is made by the first save
        return int(row[0]) if row else 0

    async def save(self, seq: int) -> None:
        def upsert(conn: sqlite3.Connection) -> None:
            conn.execute(SCHEMA)
            conn.execute(
                "INSERT INTO mirror_cursors (name, seq) VALUES (?, ?)"
                " ON CONFLICT (name) DO UPDATE SET seq = excluded.seq",
                (self._name, seq),
            )

        await self._db.write(upsert)
