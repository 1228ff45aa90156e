"""Server records to protobuf messages."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from google.protobuf import struct_pb2

from k12ai_api.v1 import common_pb2, framework_pb2
from k12ai_contract.events import ENVELOPE_VERSION, datetime_text
from k12ai_server.events.record import EventRecord
from k12ai_server.events.series import Series
from k12ai_server.jobs.model import Job


def event_message(event: EventRecord) -> common_pb2.Event:
    return common_pb2.Event(
        seq=event.seq,
        job_id=event.job_id,
        version=ENVELOPE_VERSION,
        type=event.type,
        tag=event.tag,
        op=event.op,
        user=event.user,
        service_uuid=event.service_uuid,
        timestamp=event.timestamp,
        datetime=datetime_text(event.timestamp),
        payload=value_message(event.payload),
    )


def job_message(job: Job, last_seq: int, result: Any = None) -> framework_pb2.Job:
    message = framework_pb2.Job(
        job_id=job.job_id,
        user=job.identity.user,
        service_name=job.identity.service_name,
        service_uuid=job.identity.service_uuid,
        kind=job.identity.kind.value,
        state=job.state.value,
        reason=job.reason,
        cache_dir=str(job.cache_dir),
        created_at=job.created_at,
        started_at=job.started_at,
        ended_at=job.ended_at,
        last_seq=last_seq,
    )
    if job.exit_code is not None:
        message.exit_code = job.exit_code
    message.service_params.update(job.params)
    if isinstance(result, dict):
        message.result.update(result)
    return message


def series_message(series: Series) -> framework_pb2.MetricSeries:
    points = series.points
    return framework_pb2.MetricSeries(
        name=series.name,
        phase=series.phase,
        count=series.count,
        latest=series.latest,
        values=[p.value for p in points],
        epochs=[p.epoch for p in points],
        progress=[p.progress for p in points],
        times=[p.time for p in points],
    )


def value_message(value: Any) -> struct_pb2.Value:
    # Struct.update is protobuf's converter for nested Python JSON values.
    holder = struct_pb2.Struct()
    holder.update({"v": value})
    return holder.fields["v"]


class EventMessages:
    """Converts each event once, however many watchers send it."""

    def __init__(self, size: int = 8192) -> None:
        self._size = size
        self._cache: OrderedDict[int, common_pb2.Event] = OrderedDict()

    def get(self, event: EventRecord) -> common_pb2.Event:
        message = self._cache.get(event.seq)
        if message is None:
            message = self._cache[event.seq] = event_message(event)
            if len(self._cache) > self._size:
                self._cache.popitem(last=False)
        return message
