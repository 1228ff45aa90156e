#!/usr/bin/env python3
"""The Docker runner's figures, each beside its baseline in one run:

1. train.start (k12ml) -> `running` status with ``--runner docker`` vs a bare
   ``docker run --rm <worker image> true``;
2. Platform.Stats latency with 10 running job containers vs with none (the server answers
   from its background sample; Docker's own stats call takes a second or more per container).

Needs a Docker engine and the worker image (scripts/build_images --frameworks ml).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from benchkit import k12ai_server_process, pct, row

from k12ai_client import ClientConfig, Event, K12AIClient, ReplyError, reply_message, to_envelope

ROOT = Path(__file__).resolve().parent.parent
TRAIN_IRIS = ROOT / "examples" / "k12ml" / "train_iris.json"
STATS = {"op": "query", "user": "bench", "service_name": "k12platform", "service_uuid": "s"}


def slow_body(uuid: str) -> dict[str, Any]:
    body = {**json.loads(TRAIN_IRIS.read_text()), "user": "bench", "service_uuid": uuid}
    body["service_params"] = {
        "dataset": {"type": "builtin", "name": "digits"},
        "model": {"type": "gradient_boosting", "params": {"n_estimators": 3000}},
    }
    return body


def wait_for_state(client: K12AIClient, job_id: str, state: str) -> None:
    for item in client.watch(job_id=job_id):
        if isinstance(item, Event) and to_envelope(item).get("status", {}).get("state") == state:
            return
    raise RuntimeError(f"job {job_id} ended before {state}")


def bench_start(client: K12AIClient, image: str, repeats: int) -> None:
    bare = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(["docker", "run", "--rm", "--network", "none", image, "true"], check=True)
        bare.append((time.perf_counter() - start) * 1000)
    to_running = []
    for i in range(repeats):
        body = slow_body(f"start{i}")
        start = time.perf_counter()
        reply = client.train(body)
        wait_for_state(client, reply.job_id, "running")
        to_running.append((time.perf_counter() - start) * 1000)
        client.train({**body, "op": "train.stop"})
        for _ in client.watch(job_id=reply.job_id):
            pass
    print("1. job start latency")
    print(row(f"bare `docker run --rm {image} true` (baseline)", bare))
    print(row("train.start (k12ml) -> status running", to_running, pct(bare, 50)))


def time_stats(client: K12AIClient, calls: int) -> list[float]:
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        client.stats(STATS)
        times.append((time.perf_counter() - start) * 1000)
    return times


def bench_stats(client: K12AIClient, containers: int, calls: int) -> None:
    idle = time_stats(client, calls)
    bodies = [slow_body(f"stats{i}") for i in range(containers)]
    job_ids: list[str] = []
    try:
        job_ids.extend(client.train(body).job_id for body in bodies)
        for job_id in job_ids:
            wait_for_state(client, job_id, "running")
        time.sleep(3)  # let the sampler take its first readings of every container
        busy = time_stats(client, calls)
        listed = len(reply_message(client.stats(STATS))["containers"])
    finally:
        # Containers outlive the server on purpose: stop them and wait until the server has
        # settled (and removed) each, or they stay behind once the bench's server is gone.
        for body in bodies:
            with contextlib.suppress(ReplyError):
                client.train({**body, "op": "train.stop"})
        for job_id in job_ids:
            for _ in client.watch(job_id=job_id):
                pass
    print(f"2. Platform.Stats latency ({listed} containers listed while busy)")
    print(row("no job containers (baseline)", idle))
    print(row(f"{containers} running job containers", busy, pct(idle, 50)))


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--image", default="k12ai-worker:ml")
    p.add_argument("--starts", type=int, default=5)
    p.add_argument("--containers", type=int, default=10)
    p.add_argument("--calls", type=int, default=500)
    args = p.parse_args(argv)
    slots = ("--max-running-jobs", str(args.containers))
    with tempfile.TemporaryDirectory() as tmp:
        extra = ("--runner", "docker", "--docker-image", args.image, *slots)
        with (
            k12ai_server_process(Path(tmp), *extra) as server,
            K12AIClient(ClientConfig(target=server.target, user="bench", timeout_s=120)) as client,
        ):
            bench_start(client, args.image, args.starts)
            bench_stats(client, args.containers, args.calls)


if __name__ == "__main__":
    main()
