"""The ``k12ai`` commands about what a run left: ``logs``, ``download``, and a job's result line."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from google.protobuf import json_format
from rich.console import Console

from k12ai_api.v1 import common_pb2, framework_pb2
from k12ai_client._sync import K12AIClient
from k12ai_contract.json_numbers import whole_numbers_as_ints
from k12ai_contract.logs import STDERR

console = Console(stderr=True)


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    logs = sub.add_parser("logs", help="a job's stdout and stderr, line by line")
    logs.add_argument("job_id")
    logs.add_argument(
        "-f", "--follow", action="store_true", help="keep printing new lines until the job ends"
    )
    logs.set_defaults(handler=_logs)
    download = sub.add_parser(
        "download", help="save a job's file: a training's model.tar.gz, an evaluate/predict output_file"
    )
    download.add_argument("job_id")
    download.add_argument(
        "-o",
        "--output",
        type=Path,
        default=None,
        help="file or folder (default: the server's file name, here)",
    )
    download.set_defaults(handler=_download)


def result_line(job: framework_pb2.Job) -> str:
    """A job's end in one line: state, duration and what it gave."""
    duration = (job.ended_at - (job.started_at or job.created_at)) / 1000 if job.ended_at else 0.0
    parts = [f"job {job.state} in {duration:.1f} s"]
    if job.HasField("result"):
        result = whole_numbers_as_ints(json_format.MessageToDict(job.result))
        parts += [f"{key}={_shown(value)}" for key, value in result.items()]
    return ", ".join(parts)


def _shown(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _logs(client: K12AIClient, args: argparse.Namespace) -> int:
    if args.follow:
        for item in client.watch(job_id=args.job_id, types=["log"]):
            if isinstance(item, common_pb2.Event):
                _print_line(item)
        return 0
    # What is stored now: the job's latest event marks where its history ends.
    last_seq = client.get_job(args.job_id).last_seq
    if last_seq == 0:
        return 0
    for item in client.watch(job_id=args.job_id):
        if not isinstance(item, common_pb2.Event):
            break
        if item.type == "log":
            _print_line(item)
        if item.seq >= last_seq:
            break
    return 0


def _print_line(event: common_pb2.Event) -> None:
    payload = event.payload.struct_value.fields
    stream = sys.stderr if payload["stream"].string_value == STDERR else sys.stdout
    print(payload["line"].string_value, file=stream, flush=True)


def _download(client: K12AIClient, args: argparse.Namespace) -> int:
    path = client.download_artefact(args.job_id, args.output)
    console.print(f"saved {path} ({path.stat().st_size} bytes)")
    return 0
