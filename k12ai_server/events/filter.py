"""Which events a watcher wants."""

from __future__ import annotations

from dataclasses import dataclass

from k12ai_server.events.record import EventRecord


@dataclass(frozen=True, kw_only=True)
class EventFilter:
    job_id: str = ""
    user: str = ""
    service_uuid: str = ""
    op: str = ""

    def matches(self, event: EventRecord) -> bool:
        return (
            (not self.job_id or event.job_id == self.job_id)
            and (not self.user or event.user == self.user)
            and (not self.service_uuid or event.service_uuid == self.service_uuid)
            and (not self.op or event.op == self.op)
        )

    def sql(self) -> tuple[str, list[str]]:
        """A WHERE fragment (starting with AND) and its parameters."""
        clauses: list[str] = []
        args: list[str] = []
        for column in ("job_id", "user", "service_uuid", "op"):
            value = getattr(self, column)
            if value:
                clauses.append(f" AND {column} = ?")
                args.append(value)
        return "".join(clauses), args
