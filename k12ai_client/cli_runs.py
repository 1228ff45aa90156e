"""The ``k12ai`` commands about a run's outcome: ``download`` (and, with the log events, ``logs``)."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console

from k12ai_client._sync import K12AIClient

console = Console(stderr=True)


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
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


def _download(client: K12AIClient, args: argparse.Namespace) -> int:
    path = client.download_artefact(args.job_id, args.output)
    console.print(f"saved {path} ({path.stat().st_size} bytes)")
    return 0
