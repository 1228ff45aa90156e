"""The events of a job as the server stores them: a worker's lines and the server's status changes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from k12ai_contract.events import EventType, WorkerEvent, now_ms
from k12ai_contract.jobs import JobState
from k12ai_server.events.record import EventRecord
from k12ai_server.jobs.model import Job

TAG = "framework"


def worker_events(job: Job, events: Sequence[WorkerEvent]) -> list[EventRecord]:
    job_id, op, user, service_uuid = job.job_id, job.op, job.identity.user, job.identity.service_uuid
    return [
        EventRecord(
            job_id=job_id,
            type=event.type,
            tag=TAG,
            op=op,
            user=user,
            service_uuid=service_uuid,
            timestamp=event.timestamp,
            payload=event.payload,
            stored_payload=event.payload_json,
        )
        for event in events
    ]


def status_event(job: Job, state: JobState, *, timestamp: int | None = None, **extra: Any) -> EventRecord:
    return EventRecord(
        job_id=job.job_id,
        type=EventType.STATUS,
        tag=TAG,
        op=job.op,
        user=job.identity.user,
        service_uuid=job.identity.service_uuid,
        timestamp=timestamp or now_ms(),
        payload={"state": state.value, "job_id": job.job_id, **extra},
    )
