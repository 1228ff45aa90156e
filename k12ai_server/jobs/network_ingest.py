"""Shipped bytes of a job's events file into the job's store: the network channel's side of ingest.

``ingest(job_id, offset, data) -> acked_offset`` is the one ingest path's interface:
what lies at or below the job's stored offset is ignored, only complete lines are
parsed, and the events are stored with the new offset in one transaction
(``JobService.store_events``), so a resend after a lost answer or a restart neither
loses nor repeats an event. A slice that starts beyond the stored offset leaves a
gap: it is ignored, and the answer (the stored offset) tells the shipper where to
resume.
"""

from __future__ import annotations

import asyncio
import weakref
from typing import NoReturn

from k12ai_contract.events import MAX_LINE_BYTES, InvalidEventLineError, parse_event_line
from k12ai_server.jobs.service import JobService


class UnknownJobError(Exception):
    pass


class JobSettledError(Exception):
    """The job has ended; its last event is stored and nothing may follow it."""


class NetworkIngest:
    def __init__(self, jobs: JobService) -> None:
        self._jobs = jobs
        # One shipper call at a time per job: a retry may overtake its own lost original.
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    async def ingest(self, job_id: str, offset: int, data: bytes) -> int:
        lock = self._locks.get(job_id)
        if lock is None:
            lock = self._locks[job_id] = asyncio.Lock()
        async with lock:
            return self._ingest(job_id, offset, data)

    def _ingest(self, job_id: str, offset: int, data: bytes) -> int:
        job = self._jobs.jobs.get(job_id)
        if job is None:
            raise UnknownJobError(f"no job {job_id}")
        if job.state.is_terminal():
            raise JobSettledError(f"job {job_id} is {job.state.value}")
        stored = job.events_offset
        if offset > stored or offset + len(data) <= stored:
            return stored
        new = data[stored - offset :]
        end = new.rfind(b"\n")
        if end < 0:
            if len(new) > MAX_LINE_BYTES:
                self._refuse(job_id, f"event line longer than {MAX_LINE_BYTES} bytes")
            return stored
        try:
            events = [parse_event_line(line) for line in new[:end].split(b"\n") if line.strip()]
        except InvalidEventLineError as exc:
            self._refuse(job_id, str(exc))
        self._jobs.store_events(job, events, stored + end + 1)
        return stored + end + 1

    def _refuse(self, job_id: str, reason: str) -> NoReturn:
        job = self._jobs.jobs.get(job_id)
        assert job is not None
        self._jobs.refuse_events(job, reason)
        raise InvalidEventLineError(reason)
