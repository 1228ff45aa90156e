"""``k12ai jobs list`` (a table, or ``--json`` for scripts) and ``k12ai jobs show JOB_ID``.

A job's key metrics are those of its last ``metrics`` event (in the list, without its epoch, batch
and progress, for which a row has no room). The list reads them for ended
jobs only, from the events just before each job's last one (a bounded read per job); ``show``
reads the job's whole metrics history.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from google.protobuf import json_format
from rich.console import Console
from rich.table import Table

from k12ai_api.v1 import common_pb2, framework_pb2
from k12ai_client._calls import to_envelope
from k12ai_client._errors import K12AIError
from k12ai_client._sync import K12AIClient
from k12ai_client.cli.follow import duration_text, job_duration_s, metrics_text, result_text
from k12ai_contract.events import METRIC_POSITION_KEYS, EventType
from k12ai_contract.jobs import JobState

SHORT_ID = 12
# The list looks for a job's last metrics event among this many seqs before its last event.
METRICS_WINDOW = 64
# Enough jobs to find the one a short id names.
PREFIX_SEARCH_LIMIT = 1000
TERMINAL = frozenset(s.value for s in JobState if s.is_terminal())


def list_jobs(client: K12AIClient, args: argparse.Namespace, console: Console) -> int:
    jobs = client.list_jobs(
        user=client.config.user, service_uuid=args.service_uuid, states=args.states, limit=args.limit
    )
    if args.json:
        for job in jobs:
            print(json.dumps(_job_dict(job)), flush=True)
        return 0
    headers = ("JOB ID", "FRAMEWORK", "KIND", "STATE", "STARTED", "DURATION", "METRICS")
    rows = [_row(client, job) for job in jobs]
    widths = [max([len(header), *(len(row[i]) for row in rows)]) for i, header in enumerate(headers)]
    console = Console(highlight=False)
    # The other columns never shrink; the metrics get what the terminal has left, cut with an ellipsis.
    metrics_width = max(len(headers[-1]), console.width - sum(widths[:-1]) - 2 * (len(headers) - 1))
    table = Table(box=None, pad_edge=False, header_style="bold")
    for header, width in zip(headers, widths, strict=True):
        table.add_column(header, no_wrap=True, min_width=min(width, metrics_width), overflow="ellipsis")
    table.columns[-1].max_width = metrics_width
    for row in rows:
        table.add_row(*row)
    console.print(table)
    return 0


def _row(client: K12AIClient, job: framework_pb2.Job) -> tuple[str, ...]:
    metrics = last_metrics(client, job, window=METRICS_WINDOW) if job.state in TERMINAL else {}
    duration = job_duration_s(job)
    return (
        job.job_id[:SHORT_ID],
        job.service_name,
        job.kind,
        job.state,
        _short_time(job.started_at or job.created_at),
        duration_text(duration) if duration is not None else "",
        metrics_text(_figures(metrics)),
    )


def _figures(metrics: dict[str, Any]) -> dict[str, Any]:
    """What a row has room for: the figures and their phase, not where in the run they were taken."""
    return {k: v for k, v in metrics.items() if k == "phase" or k not in METRIC_POSITION_KEYS}


def show_job(client: K12AIClient, args: argparse.Namespace, console: Console) -> int:
    job = client.get_job(resolve_job_id(client, args.job_id))
    metrics = last_metrics(client, job, window=None) if job.state in TERMINAL else {}
    if args.json:
        print(json.dumps({**_job_dict(job), "metrics": metrics}, indent=2))
        return 0
    duration = job_duration_s(job)
    rows: list[tuple[str, Any]] = [
        ("job", job.job_id),
        ("project", f"{job.user}/{job.service_uuid} ({job.service_name})"),
        ("kind", job.kind),
        ("state", job.state),
        ("reason", job.reason),
        ("exit code", job.exit_code if job.HasField("exit_code") else ""),
        ("created", _local_time(job.created_at)),
        ("started", _local_time(job.started_at)),
        ("ended", _local_time(job.ended_at)),
        ("duration", duration_text(duration) if duration is not None else ""),
        ("metrics", metrics_text(metrics)),
        ("result", result_text(job)),
        ("cache dir", job.cache_dir),
    ]
    for name, value in rows:
        if value != "":
            print(f"{name + ':':<11}{value}")
    return 0


def resolve_job_id(client: K12AIClient, given: str) -> str:
    """The full id of a job named by its id or a unique beginning of it (the 12 the list shows)."""
    if len(given) >= 32:
        return given
    found = [j.job_id for j in client.list_jobs(user=client.config.user, limit=PREFIX_SEARCH_LIMIT)]
    matching = [job_id for job_id in found if job_id.startswith(given)]
    if len(matching) == 1:
        return matching[0]
    if not matching:
        raise K12AIError(f"no job id begins with {given!r} (k12ai jobs list shows them)")
    raise K12AIError(f"{len(matching)} job ids begin with {given!r}: give more of it")


def last_metrics(client: K12AIClient, job: framework_pb2.Job, *, window: int | None) -> dict[str, Any]:
    """The payload of the job's last metrics event (of an ended job: its watch ends by itself)."""
    after = max(0, job.last_seq - window) if window is not None else 0
    latest: dict[str, Any] = {}
    for item in client.watch(job_id=job.job_id, types=[EventType.METRICS], last_seq=after):
        if isinstance(item, common_pb2.Event):
            latest = to_envelope(item)["metrics"]
    return latest


def _job_dict(job: framework_pb2.Job) -> dict[str, Any]:
    return json_format.MessageToDict(job, preserving_proto_field_name=True)


def _short_time(ms: int) -> str:
    """Today's times as HH:MM:SS, older ones as their date."""
    if not ms:
        return ""
    moment = time.localtime(ms / 1000)
    today = time.localtime()[:3] == moment[:3]
    return time.strftime("%H:%M:%S" if today else "%Y-%m-%d", moment)


def _local_time(ms: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ms / 1000)) if ms else ""
