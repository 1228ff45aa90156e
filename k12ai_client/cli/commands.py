"""The job and platform commands: start, stop, watch, stats, container stop."""

from __future__ import annotations

import argparse
import json
from typing import Any

from google.protobuf import json_format
from rich.console import Console

from k12ai_api.v1 import common_pb2
from k12ai_client._calls import reply_message, to_envelope
from k12ai_client._sync import K12AIClient
from k12ai_client.cli.follow import follow
from k12ai_client.cli.jobs import resolve_job_id
from k12ai_client.cli.mistakes import EXIT_INTERRUPTED, UsageError
from k12ai_client.cli.request_file import load_request

PLATFORM_SERVICE = "k12platform"
# The user of a platform request when neither --user nor K12AI_USER names one.
PLATFORM_USER = "cli"


def start(client: K12AIClient, args: argparse.Namespace, console: Console) -> int:
    body = {**load_request(args.config), **_identity(client, args, f"{args.kind}.start")}
    reply = getattr(client, args.kind)(body)
    console.print(f"{reply.code} {reply.descr}: {reply.message}  (job {reply.job_id})", soft_wrap=True)
    return follow(client, reply.job_id, console) if args.watch else 0


def stop(client: K12AIClient, args: argparse.Namespace, console: Console) -> int:
    if not client.config.user:
        # No config file here to name the user, as a start's has: the server would answer 100100.
        raise UsageError(
            f"{args.kind} stop needs the user whose job it is: give --user USER or set K12AI_USER "
            f"(the user its start request named)"
        )
    reply = getattr(client, args.kind)(_identity(client, args, f"{args.kind}.stop"))
    console.print(f"{reply.code} {reply.descr}: {reply.message}", soft_wrap=True)
    return 0


def watch(client: K12AIClient, args: argparse.Namespace, console: Console) -> int:
    """One job: as ``start --watch`` shows it (or JSON lines with --json); a filter: JSON lines."""
    if args.job_id and not args.json:
        job_id = resolve_job_id(client, args.job_id)
        client.get_job(job_id)  # a wrong id or an absent server is said at once, not after retries
        return follow(client, job_id, console)
    filters = {"job_id": args.job_id, "service_uuid": args.service_uuid, "op": args.op, "types": args.types}
    try:
        for item in client.watch(user=client.config.user, last_seq=args.after_seq, **filters):
            if isinstance(item, common_pb2.Event):
                print(json.dumps({"seq": item.seq, **to_envelope(item)}), flush=True)
            else:
                print(json.dumps({"end": json_format.MessageToDict(item)}), flush=True)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    return 0


def stats(client: K12AIClient, args: argparse.Namespace, console: Console) -> int:
    reply = client.stats(_platform_request(client, "query", args.service_uuid))
    print(json.dumps(reply_message(reply), indent=2))
    return 0


def container_stop(client: K12AIClient, args: argparse.Namespace, console: Console) -> int:
    reply = client.control(_platform_request(client, "container.stop", args.service_uuid, {"id": args.id}))
    print(json.dumps(reply_message(reply)))
    return 0


def _identity(client: K12AIClient, args: argparse.Namespace, op: str) -> dict[str, Any]:
    """The op, and what the line (or K12AI_USER) gives: these win over the config file's."""
    body: dict[str, Any] = {"op": op}
    for key in ("service_name", "service_uuid"):
        if getattr(args, key, None):
            body[key] = getattr(args, key)
    if client.config.user:
        body["user"] = client.config.user
    return body


def _platform_request(
    client: K12AIClient, op: str, service_uuid: str, params: dict[str, Any] | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "op": op,
        "user": client.config.user or PLATFORM_USER,
        "service_name": PLATFORM_SERVICE,
        "service_uuid": service_uuid,
    }
    if params is not None:
        body["service_params"] = params
    return body
