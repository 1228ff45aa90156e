#!/usr/bin/env python3
"""The framework-free job that bench_ray runs on the cluster: the real shipper, a fixed-rate worker.

``bench_ray`` points the server's ``--ray-python`` at a two-line wrapper that runs
``ray_bench_job.py ship --rate R --seconds S -m k12ai_worker.shipping -``, so Ray starts
exactly the entrypoint it starts for any k12ai job, and the shipper's own ``main`` runs
it (spec from the environment, stop signals forwarded, drain at the end). The one
difference: the shipper's child is ``write`` below instead of a framework's training. It
appends events through the worker's own ``EventWriter`` at a fixed rate, each stamped
with the microsecond it was written (and prints the same stamp, for Ray's log tail).
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from k12ai_contract.events import EventType
from k12ai_contract.jobs import JobState
from k12ai_contract.spec import JobSpec
from k12ai_worker.events import EventWriter

# Marks the stamp in the job's stdout, which Ray's log tail returns.
LOG_MARK = "k12ai-bench-sent-us"


def ship(rate: float, seconds: float, spec_arg: str) -> int:
    """The production shipper, whose child is ``write`` (same Python, same spec)."""
    # Imported here: the writer, one process per job beside its shipper, needs no gRPC.
    from k12ai_worker import shipping

    def command(spec_path: Path) -> list[str]:
        rate_args = ["--rate", str(rate), "--seconds", str(seconds)]
        return [sys.executable, __file__, "write", *rate_args, str(spec_path)]

    return shipping.run(spec_arg, command)


def write(rate: float, seconds: float, spec_path: Path) -> int:
    """As the worker does: `running`, then ``rate`` info events a second for ``seconds`` (or a stop)."""
    spec = JobSpec.load(spec_path)
    stopped = False

    def stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopped
        stopped = True

    signal.signal(signal.SIGTERM, stop)
    events = EventWriter(spec.events_path)
    events.emit(EventType.STATUS, {"state": JobState.RUNNING, "job_id": spec.job_id})
    start = time.perf_counter()
    sent = 0
    while not stopped and (elapsed := time.perf_counter() - start) < seconds:
        for _ in range(int(elapsed * rate) + 1 - sent):
            # Microseconds: an event's whole numbers stay exact as doubles (below 2**53).
            sent_us = time.time_ns() // 1000
            events.emit(EventType.INFO, {"message": "bench", "sent_us": sent_us})
            print(LOG_MARK, sent_us, flush=True)
            sent += 1
        time.sleep(max(0.0, sent / rate - (time.perf_counter() - start)))
    events.close()
    return 0


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("what", choices=["ship", "write"])
    parser.add_argument("--rate", type=float, required=True)
    parser.add_argument("--seconds", type=float, required=True)
    # The last argument is the spec: ship gets Ray's ``-m k12ai_worker.shipping -``, write a path.
    args, _ = parser.parse_known_args(argv[:-1])
    if args.what == "ship":
        return ship(args.rate, args.seconds, argv[-1])
    return write(args.rate, args.seconds, Path(argv[-1]))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
