"""``k12ai``: the command line over the client, e.g. ``k12ai train start --config cfg.json --watch``."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from google.protobuf import json_format
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from k12ai_api.v1 import common_pb2, framework_pb2
from k12ai_client import cli_runs, examples_data
from k12ai_client._calls import ClientConfig, reply_message, to_envelope
from k12ai_client._errors import K12AIError, ReplyError
from k12ai_client._sync import K12AIClient
from k12ai_contract.jobs import JobKind

console = Console(stderr=True)


def main(argv: Sequence[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    config = ClientConfig(target=args.target, user=args.user)
    try:
        with K12AIClient(config) as client:
            code = args.handler(client, args)
    except ReplyError as err:
        console.print(f"[red]{err.code} {err.descr}[/red]: {err.message}")
        code = 2
    except K12AIError as err:
        console.print(f"[red]error[/red]: {err}")
        code = 3
    sys.exit(code)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="k12ai", description=__doc__)
    p.add_argument("--target", default="127.0.0.1:8118", help="gRPC address of k12ai-server")
    p.add_argument("--user", default="", help="user for requests whose config names none")
    sub = p.add_subparsers(required=True, dest="command")
    for kind in JobKind:
        kp = sub.add_parser(kind, help=f"{kind} jobs").add_subparsers(required=True, dest="action")
        start = kp.add_parser("start", help=f"start a {kind} job")
        start.add_argument(
            "--config", type=Path, required=True, help="a seed-style request JSON, or bare service_params"
        )
        _identity_args(start, required=False)
        start.add_argument("--watch", action="store_true", help="follow the job until it ends")
        start.set_defaults(handler=_start, kind=kind)
        stop = kp.add_parser("stop", help=f"stop the running {kind} job")
        _identity_args(stop, required=True)
        stop.set_defaults(handler=_stop, kind=kind)
    w = sub.add_parser("watch", help="print events as JSON lines, following live")
    w.add_argument("--job-id", default="")
    w.add_argument("--uuid", dest="service_uuid", default="")
    w.add_argument("--op", default="")
    w.add_argument("--type", dest="types", action="append", default=[])
    w.add_argument("--after-seq", type=int, default=0)
    w.set_defaults(handler=_watch)
    jobs = sub.add_parser("jobs", help="query jobs").add_subparsers(required=True, dest="action")
    jl = jobs.add_parser("list")
    jl.add_argument("--uuid", dest="service_uuid", default="")
    jl.add_argument("--state", dest="states", action="append", default=[])
    jl.set_defaults(handler=_list_jobs)
    jg = jobs.add_parser("get")
    jg.add_argument("job_id")
    jg.set_defaults(handler=_get_job)
    st = sub.add_parser("stats", help="host and job statistics (Platform.Stats)")
    st.add_argument("--uuid", dest="service_uuid", default="cli")
    st.set_defaults(handler=_stats)
    cs = sub.add_parser("container", help="control job containers").add_subparsers(
        required=True, dest="action"
    )
    cstop = cs.add_parser("stop")
    cstop.add_argument("id")
    cstop.add_argument("--uuid", dest="service_uuid", default="cli")
    cstop.set_defaults(handler=_container_stop)
    cli_runs.add_commands(sub)
    examples_data.add_commands(sub)
    return p


def _identity_args(p: argparse.ArgumentParser, *, required: bool) -> None:
    p.add_argument("--service-name", required=required, help="k12ml, k12nlp or k12cv")
    p.add_argument("--uuid", dest="service_uuid", required=required, help="the project id (service_uuid)")


def _request(args: argparse.Namespace, op: str, params: dict[str, Any] | None) -> dict[str, Any]:
    body: dict[str, Any] = {"op": op}
    if params is not None:
        body["service_params"] = params
    for key in ("service_name", "service_uuid"):
        if getattr(args, key, None):
            body[key] = getattr(args, key)
    if args.user:
        body["user"] = args.user
    return body


def _start(client: K12AIClient, args: argparse.Namespace) -> int:
    loaded = json.loads(args.config.read_text(encoding="utf-8"))
    body = loaded if "service_params" in loaded else {"service_params": loaded}
    body = {**body, **_request(args, f"{args.kind}.start", None)}
    reply = getattr(client, args.kind)(body)
    console.print(f"{reply.code} {reply.descr}: {reply.message}  (job {reply.job_id})")
    return _follow(client, reply.job_id) if args.watch else 0


def _stop(client: K12AIClient, args: argparse.Namespace) -> int:
    reply = getattr(client, args.kind)(_request(args, f"{args.kind}.stop", None))
    console.print(f"{reply.code} {reply.descr}: {reply.message}")
    return 0


def _follow(client: K12AIClient, job_id: str) -> int:
    """A progress bar with the latest metrics until the job ends; exit 0 only if it finished."""
    columns = (TextColumn("{task.description}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"))
    with Progress(*columns, TimeElapsedColumn(), console=console) as progress:
        bar = progress.add_task("queued", total=1.0)
        for item in client.watch(job_id=job_id):
            if isinstance(item, framework_pb2.JobEnd):
                progress.update(bar, description=f"job {item.state}")
                state = item.state
                break
            assert isinstance(item, common_pb2.Event)
            _show(progress, bar, item)
    job = client.get_job(job_id)
    console.print(cli_runs.result_line(job))
    if job.reason:
        console.print(f"reason: {job.reason}")
    return 0 if state == "finished" else 1


def _show(progress: Progress, bar: Any, event: common_pb2.Event) -> None:
    payload = json_format.MessageToDict(event.payload)
    if event.type == "status":
        progress.update(bar, description=str(payload.get("state")))
    elif event.type == "metrics":
        shown = ", ".join(
            f"{k}={v:.4g}" for k, v in payload.items() if isinstance(v, float) and k != "progress"
        )
        progress.update(bar, description=shown, completed=float(payload.get("progress", 0.0)))
    elif event.type in ("predict", "error", "info", "result"):
        progress.console.print(json.dumps(to_envelope(event)))


def _watch(client: K12AIClient, args: argparse.Namespace) -> int:
    filters = {"job_id": args.job_id, "service_uuid": args.service_uuid, "op": args.op, "types": args.types}
    for item in client.watch(user=args.user, last_seq=args.after_seq, **filters):
        if isinstance(item, common_pb2.Event):
            print(json.dumps({"seq": item.seq, **to_envelope(item)}), flush=True)
        else:
            print(json.dumps({"end": json_format.MessageToDict(item)}), flush=True)
    return 0


def _list_jobs(client: K12AIClient, args: argparse.Namespace) -> int:
    for job in client.list_jobs(user=args.user, service_uuid=args.service_uuid, states=args.states):
        print(json.dumps(json_format.MessageToDict(job, preserving_proto_field_name=True)))
    return 0


def _get_job(client: K12AIClient, args: argparse.Namespace) -> int:
    job = client.get_job(args.job_id)
    print(json.dumps(json_format.MessageToDict(job, preserving_proto_field_name=True), indent=2))
    return 0


def _stats(client: K12AIClient, args: argparse.Namespace) -> int:
    reply = client.stats(
        {
            "op": "query",
            "user": args.user or "cli",
            "service_name": "k12platform",
            "service_uuid": args.service_uuid,
        }
    )
    print(json.dumps(reply_message(reply), indent=2))
    return 0


def _container_stop(client: K12AIClient, args: argparse.Namespace) -> int:
    reply = client.control(
        {
            "op": "container.stop",
            "user": args.user or "cli",
            "service_name": "k12platform",
            "service_uuid": args.service_uuid,
            "service_params": {"id": args.id},
        }
    )
    print(json.dumps(reply_message(reply)))
    return 0
