"""``k12ai``: the command line over the client, e.g. ``k12ai train start --config cfg.json --watch``.

Connection options (--target, --user, --token, --ca-cert, --client-cert, --client-key) go
anywhere on the line, or come from K12AI_TARGET, K12AI_USER, K12AI_TOKEN, K12AI_CA_CERT,
K12AI_CLIENT_CERT and K12AI_CLIENT_KEY.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from rich.console import Console

from k12ai_client import examples_data
from k12ai_client._errors import K12AIError
from k12ai_client._sync import K12AIClient
from k12ai_client.cli import commands, jobs, runs
from k12ai_client.cli.mistakes import EXIT_BROKEN_PIPE, EXIT_INTERRUPTED, describe, exit_status
from k12ai_client.cli.options import add_global_options, client_config
from k12ai_contract.jobs import JobKind

Handler = Callable[[K12AIClient, argparse.Namespace, Console], int]


def main(argv: Sequence[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    config = client_config(args)
    console = Console(stderr=True, highlight=False)
    try:
        with K12AIClient(config) as client:
            code = args.handler(client, args, console)
    except K12AIError as err:
        console.print(f"[red]error[/red]: {describe(err, config)}", soft_wrap=True)
        code = exit_status(err)
    except KeyboardInterrupt:
        code = EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`k12ai jobs list --json | head -1`): what is left has nowhere to go,
        # and Python's flush of stdout at exit must not fail again (the recipe of its signal docs).
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = EXIT_BROKEN_PIPE
    sys.exit(code)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="k12ai", description=__doc__)
    add_global_options(parser, top_level=True)
    sub = parser.add_subparsers(required=True, dest="command", metavar="COMMAND")

    for kind in JobKind:
        actions = _command(sub, kind, f"{kind} jobs").add_subparsers(required=True, dest="action")
        start = _command(actions, "start", f"start a {kind} job", commands.start)
        start.add_argument(
            "--config", type=Path, required=True, help="a seed-style request JSON, or bare service_params"
        )
        _identity_options(start, required=False)
        start.add_argument("--watch", action="store_true", help="follow the job until it ends")
        start.set_defaults(kind=kind)
        stop = _command(actions, "stop", f"stop the running {kind} job", commands.stop)
        _identity_options(stop, required=True)
        stop.set_defaults(kind=kind)

    w = _command(
        sub, "watch", "follow a job (--job-id) to its end, or print events as JSON lines", commands.watch
    )
    w.add_argument("--job-id", default="", help="the job (its id, or the 12 characters `jobs list` shows)")
    w.add_argument("--uuid", dest="service_uuid", default="")
    w.add_argument("--op", default="")
    w.add_argument("--type", dest="types", action="append", default=[])
    w.add_argument("--after-seq", type=int, default=0)
    w.add_argument("--json", action="store_true", help="events as JSON lines, for scripts")

    job_actions = _command(sub, "jobs", "query jobs").add_subparsers(required=True, dest="action")
    jl = _command(job_actions, "list", "a table of jobs, newest first", jobs.list_jobs)
    jl.add_argument("--uuid", dest="service_uuid", default="")
    jl.add_argument("--state", dest="states", action="append", default=[])
    jl.add_argument("--limit", type=int, default=0, help="at most this many (default 100)")
    jl.add_argument("--json", action="store_true", help="one JSON object a line, for scripts")
    js = _command(job_actions, "show", "one job in full", jobs.show_job, aliases=["get"])
    js.add_argument("job_id", help="the job's id, or the 12 characters `jobs list` shows")
    js.add_argument("--json", action="store_true")

    st = _command(sub, "stats", "host and job statistics (Platform.Stats)", commands.stats)
    st.add_argument("--uuid", dest="service_uuid", default="cli")
    cs = _command(sub, "container", "control job containers").add_subparsers(required=True, dest="action")
    cstop = _command(cs, "stop", "stop a job's container by its id", commands.container_stop)
    cstop.add_argument("id")
    cstop.add_argument("--uuid", dest="service_uuid", default="cli")

    lg = _command(sub, "logs", "a job's stdout and stderr, line by line", runs.logs)
    lg.add_argument("job_id", help="the job's id, or the 12 characters `jobs list` shows")
    lg.add_argument("-f", "--follow", action="store_true", help="keep printing new lines until the job ends")
    dl = _command(
        sub,
        "download",
        "save a job's file: a training's model.tar.gz, an evaluate/predict output_file",
        runs.download,
    )
    dl.add_argument("job_id", help="the job's id, or the 12 characters `jobs list` shows")
    dl.add_argument(
        "-o",
        "--output",
        default=None,
        help="a file, or a folder (an existing one, or any ending in /) for the server's file name "
        "(default: that name, here)",
    )
    examples_data.add_commands(sub)
    return parser


def _command(
    group: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    text: str,
    handler: Handler | None = None,
    aliases: Sequence[str] = (),
) -> argparse.ArgumentParser:
    """A sub-command that takes the global options too."""
    parser = group.add_parser(name, help=text, description=text, aliases=aliases)
    add_global_options(parser, top_level=False)
    if handler is not None:
        parser.set_defaults(handler=handler)
    return parser


def _identity_options(p: argparse.ArgumentParser, *, required: bool) -> None:
    p.add_argument("--service-name", required=required, help="k12ml, k12nlp or k12cv")
    p.add_argument("--uuid", dest="service_uuid", required=required, help="the project id (service_uuid)")
