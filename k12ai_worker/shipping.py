"""The network event channel's worker side: ``python -m k12ai_worker.shipping <spec.json | ->``.

Runs the job (``python -m k12ai_worker``) as its child, and while it runs, and
after it ends, sends the lines the job appends to its events file (its durable
spool) to the server (``k12ai_worker.event_shipper``). A finished job waits, up
to DRAIN_TIMEOUT_S, until the server has acknowledged its last line.

``-`` reads the spec from the ``K12AI_JOB_SPEC`` variable (a job on a cluster
node, where no file of the server's can be read); the spec is then written next
to the events file, owner-only, for the child.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from k12ai_contract.rundir import RunDir
from k12ai_contract.spec import JobSpec
from k12ai_contract.worker import EXIT_BAD_INPUT, SPEC_ENV, SPEC_FROM_ENV, worker_command
from k12ai_worker.child_process import exit_as, forward_stop_signals

JobCommand = Callable[[Path], Sequence[str]]


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m k12ai_worker.shipping <spec.json | ->", file=sys.stderr)
        return EXIT_BAD_INPUT
    return run(argv[0])


def run(spec_arg: str, command: JobCommand | None = None) -> int:
    """The job of ``spec_arg`` under its shipper; its exit status. ``command``: the job's command line."""
    spec, spec_path = _spec(spec_arg)
    job_command = command(spec_path) if command else worker_command(spec_path, python=sys.executable)
    child = subprocess.Popen(job_command, env={k: v for k, v in os.environ.items() if k != SPEC_ENV})
    # The shipper outlives a stop until the child is gone, to hand over its last events.
    forward_stop_signals(child)
    # gRPC takes a tenth of a second to import: the job, started first, starts meanwhile.
    from k12ai_worker.event_shipper import EventShipper, follow

    shipper = EventShipper(
        spool=spec.events_path,
        target=spec.ship_to,
        job_id=spec.job_id,
        secret=spec.ship_secret,
        ca_pem=spec.ship_ca,
    )
    try:
        follow(shipper, child)
    finally:
        shipper.close()
    return child.wait()


def _spec(arg: str) -> tuple[JobSpec, Path]:
    if arg != SPEC_FROM_ENV:
        return JobSpec.load(Path(arg)), Path(arg)
    spec = JobSpec.from_json(os.environ[SPEC_ENV])
    files = RunDir(spec.events_path.parent)
    files.path.mkdir(parents=True, exist_ok=True)
    spec.dump(files.spec)
    return spec, files.spec


if __name__ == "__main__":
    exit_as(main(sys.argv[1:]))
