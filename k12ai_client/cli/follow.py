"""Following one job in a terminal: a progress bar while it runs, then the line that stays.

The bar fits 80 columns (state, bar, percentage, elapsed time, the latest metrics in a fixed
order, cut with an ellipsis); when the job ends it gives way to one line with the final
state, how long the job ran and the metrics of its last ``metrics`` event, so the outcome
stays on the screen. Predictions are printed as they come (as JSON envelopes), info and error
events as their message.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import grpc
from google.protobuf import json_format
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Column

from k12ai_api.v1 import common_pb2, framework_pb2
from k12ai_client._calls import to_envelope
from k12ai_client._config import DEFAULT_TARGET
from k12ai_client._errors import WatchError
from k12ai_client._sync import K12AIClient
from k12ai_client.cli.mistakes import EXIT_INTERRUPTED
from k12ai_contract.events import EventType
from k12ai_contract.jobs import JobState
from k12ai_contract.json_numbers import whole_numbers_as_ints

WIDTH = 80
# Shown in this order, then any others alphabetically.
METRIC_ORDER = ("epoch", "phase", "batch", "loss", "accuracy", "accuracy3")
# `progress` is the bar itself; the counts show as "of" (epoch 3/10, batch 40/50); the time is the bar's.
NOT_SHOWN = frozenset({"progress", "num_batches", "num_epochs", "elapsed_s"})
OF = {"epoch": "num_epochs", "batch": "num_batches"}


def metrics_text(payload: Mapping[str, Any]) -> str:
    """``epoch 3/10 · train · batch 40/50 · loss 0.2345 · accuracy 0.9123``: the same order every time."""
    known = [k for k in METRIC_ORDER if k in payload]
    others = sorted(k for k in payload if k not in METRIC_ORDER and k not in NOT_SHOWN)
    parts = []
    for key in known + others:
        value = payload[key]
        if key == "phase":
            parts.append(str(value))
        elif OF.get(key) in payload:
            parts.append(f"{key} {_number(value)}/{_number(payload[OF[key]])}")
        else:
            parts.append(f"{key} {_number(value)}")
    return " · ".join(parts)


def duration_text(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def job_duration_s(job: framework_pb2.Job) -> float | None:
    """How long the job has run (or ran): from its start, or its admission when it never started."""
    begin = job.started_at or job.created_at
    end = job.ended_at or time.time_ns() // 1_000_000
    return (end - begin) / 1000 if begin else None


@dataclass
class FollowedJob:
    """What the events of one job said so far."""

    state: str = JobState.QUEUED.value
    progress: float = 0.0
    metrics: dict[str, Any] = field(default_factory=dict)


# How an event type is shown while following (a `result` is shown at the end, from the job).
EventPrinter = Callable[[Console, common_pb2.Event], None]


def print_envelope(console: Console, event: common_pb2.Event) -> None:
    """Predictions as the seed's JSON envelopes, one a line, for a script reading the output."""
    console.print(json.dumps(to_envelope(event)), soft_wrap=True, markup=False, highlight=False, emoji=False)


def print_message(console: Console, event: common_pb2.Event) -> None:
    """``info: CPU share 1 thread(s) ...``, ``error 100103: ...``, for a person; else the envelope."""
    payload = to_envelope(event)[event.type]
    if not (isinstance(payload, dict) and isinstance(payload.get("message"), str)):
        print_envelope(console, event)
        return
    label = f"{event.type} {payload['code']}" if "code" in payload else event.type
    text = f"{label}: {payload['message']}"
    console.print(text, soft_wrap=True, markup=False, highlight=False, emoji=False)


PRINTED: dict[str, EventPrinter] = {
    EventType.PREDICT: print_envelope,
    EventType.INFO: print_message,
    EventType.ERROR: print_message,
}


def follow(client: K12AIClient, job_id: str, console: Console) -> int:
    """Follows the job to its end; 0 if it finished, 1 if not, 130 if the user stopped watching."""
    seen = FollowedJob()
    try:
        end = _progress_until_end(client, job_id, console, seen)
    except KeyboardInterrupt:
        console.print(
            f"stopped watching: job {job_id} keeps running on the server. Re-attach with: "
            f"k12ai watch --job-id {job_id}{_target_option(client)}",
            soft_wrap=True,
        )
        return EXIT_INTERRUPTED
    job = client.get_job(job_id)
    console.print(final_line(end.state, job, seen.metrics), soft_wrap=True, markup=False, highlight=False)
    if job.HasField("result"):
        console.print(f"result: {result_text(job)}", soft_wrap=True, markup=False, highlight=False)
    if job.reason:
        console.print(f"reason: {job.reason}", soft_wrap=True, markup=False, highlight=False)
    return 0 if end.state == JobState.FINISHED else 1


# Result keys that name a file: shown after the figures.
FILE_KEYS = ("archive", "output_file")


def result_text(job: framework_pb2.Job) -> str:
    """The job's result (its ``result`` event, kept on the job): figures in the fixed order, then files."""
    if not job.HasField("result"):
        return ""
    result: dict[str, Any] = whole_numbers_as_ints(json_format.MessageToDict(job.result))
    figures = metrics_text({k: v for k, v in result.items() if k not in FILE_KEYS})
    files = [str(result[key]) for key in FILE_KEYS if key in result]
    return " · ".join(part for part in (figures, *files) if part)


def final_line(state: str, job: framework_pb2.Job, metrics: Mapping[str, Any]) -> str:
    line = f"job {state}"
    duration = job_duration_s(job)
    if duration is not None:
        line += f" in {duration_text(duration)}"
    shown = metrics_text(metrics)
    return f"{line}: {shown}" if shown else line


def _progress_until_end(
    client: K12AIClient, job_id: str, console: Console, seen: FollowedJob
) -> framework_pb2.JobEnd:
    columns = (
        TextColumn("{task.description}", table_column=Column(width=8, no_wrap=True)),
        BarColumn(bar_width=20),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        TextColumn("{task.fields[metrics]}", table_column=Column(no_wrap=True, overflow="ellipsis", ratio=1)),
    )
    bar_console = Console(file=console.file, width=min(console.width, WIDTH), stderr=console.stderr)
    # Without a terminal (a pipe, a log file) there is no bar: the events printed and the final line.
    no_terminal = not bar_console.is_terminal
    with Progress(
        *columns, console=bar_console, transient=True, expand=True, disable=no_terminal
    ) as progress:
        bar = progress.add_task(seen.state, total=1.0, metrics="")
        for item in client.watch(job_id=job_id):
            if isinstance(item, framework_pb2.JobEnd):
                return item
            if isinstance(item, common_pb2.Event):
                _take(progress, bar, item, seen)
    raise WatchError(grpc.StatusCode.UNAVAILABLE, f"the watch of job {job_id} ended before the job did")


def _take(progress: Progress, bar: TaskID, event: common_pb2.Event, seen: FollowedJob) -> None:
    if event.type == EventType.STATUS:
        seen.state = str(json_format.MessageToDict(event.payload).get("state", seen.state))
    elif event.type == EventType.METRICS:
        seen.metrics = to_envelope(event)["metrics"]
        if isinstance(seen.metrics.get("progress"), int | float):
            seen.progress = float(seen.metrics["progress"])
    elif event.type in PRINTED:
        PRINTED[event.type](progress.console, event)
    progress.update(bar, description=seen.state, completed=seen.progress, metrics=metrics_text(seen.metrics))


def _target_option(client: K12AIClient) -> str:
    target = client.config.target
    return "" if target == DEFAULT_TARGET else f" --target {target}"


def _number(value: Any) -> str:
    if isinstance(value, bool):
        return json.dumps(value)  # stopped_early false, as the JSON of --json says it
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)
