"""What a run left: ``k12ai logs JOB_ID [-f]`` and ``k12ai download JOB_ID [-o FILE|DIR/]``."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from rich.console import Console

from k12ai_api.v1 import common_pb2
from k12ai_client._errors import LocalFileError
from k12ai_client._sync import K12AIClient
from k12ai_client.cli.jobs import resolve_job_id
from k12ai_contract.events import EventType
from k12ai_contract.logs import STDERR


def logs(client: K12AIClient, args: argparse.Namespace, console: Console) -> int:
    job_id = resolve_job_id(client, args.job_id)
    if args.follow:
        for item in client.watch(job_id=job_id, types=[EventType.LOG]):
            if isinstance(item, common_pb2.Event):
                _print_line(item)
        return 0
    # What is stored now: the job's latest event marks where its history ends.
    last_seq = client.get_job(job_id).last_seq
    if last_seq == 0:
        return 0
    for item in client.watch(job_id=job_id):
        if not isinstance(item, common_pb2.Event):
            break
        if item.type == EventType.LOG:
            _print_line(item)
        if item.seq >= last_seq:
            break
    return 0


def download(client: K12AIClient, args: argparse.Namespace, console: Console) -> int:
    path = client.download_artefact(resolve_job_id(client, args.job_id), _destination(args.output))
    console.print(
        f"saved {path} ({path.stat().st_size} bytes)", soft_wrap=True, markup=False, highlight=False
    )
    return 0


def _destination(output: str | None) -> Path | None:
    """``-o models/``: a folder, as the trailing slash says, made when it is not there yet."""
    if output is None:
        return None
    if output.endswith(("/", os.sep)):
        try:
            Path(output).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise LocalFileError(f"cannot make the folder {output}: {exc.strerror}") from None
    return Path(output)


def _print_line(event: common_pb2.Event) -> None:
    payload = event.payload.struct_value.fields
    stream = sys.stderr if payload["stream"].string_value == STDERR else sys.stdout
    print(payload["line"].string_value, file=stream, flush=True)
