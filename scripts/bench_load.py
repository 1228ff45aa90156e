#!/usr/bin/env python3
"""Load on one server: N concurrent k12ml `train.start` calls and M concurrent watchers.

Prints, from one run: how long the starts took to be answered (per call and all together),
how long until every watcher saw its job end, how late each watcher got its JobEnd after the
job ended (server clock), and the server's peak RSS (sampled every 100 ms).
The test suite checks the same scenario for correctness at a tenth of the scale
(tests/security/test_robustness.py); this script measures it. All jobs are one user's, so the
per-user cap is set to the slots (``--max-running-jobs-per-user``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil
from benchkit import k12ai_server_process, row

from k12ai_client import AsyncK12AIClient, ClientConfig, Event, JobEnd

ROOT = Path(__file__).resolve().parent.parent
TRAIN_IRIS = ROOT / "examples" / "k12ml" / "train_iris.json"


async def timed(call: Any) -> tuple[Any, float]:
    start = time.perf_counter()
    result = await call
    return result, (time.perf_counter() - start) * 1000


async def watch_to_end(client: AsyncK12AIClient, job_id: str) -> float:
    """Milliseconds from the job's end (as the server recorded it) to this watcher's JobEnd."""
    async for item in client.watch(job_id=job_id):
        if isinstance(item, JobEnd):
            received_ms = time.time() * 1000
            job = await client.get_job(job_id)
            return received_ms - job.ended_at
        assert isinstance(item, Event)
    raise RuntimeError(f"watch of {job_id} ended without JobEnd")


async def sample_rss(pid: int, peak: list[int], stop: asyncio.Event) -> None:
    proc = psutil.Process(pid)
    while not stop.is_set():
        peak[0] = max(peak[0], proc.memory_info().rss)
        await asyncio.sleep(0.1)


async def run(target: str, pid: int, jobs: int, watchers: int) -> None:
    base = json.loads(TRAIN_IRIS.read_text())
    base["service_params"]["model"] = {"type": "knn"}
    peak, stop = [0], asyncio.Event()
    sampler = asyncio.create_task(sample_rss(pid, peak, stop))
    async with AsyncK12AIClient(ClientConfig(target=target, user="load", timeout_s=300)) as client:
        started = time.perf_counter()
        calls = [client.train({**base, "user": "load", "service_uuid": f"p{i}"}) for i in range(jobs)]
        answered = await asyncio.gather(*(timed(c) for c in calls))
        answered_s = time.perf_counter() - started
        job_ids = [reply.job_id for reply, _ in answered]
        lags = await asyncio.gather(*(watch_to_end(client, job_ids[i % jobs]) for i in range(watchers)))
        ended_s = time.perf_counter() - started
    stop.set()
    await sampler
    print(f"load: {jobs} concurrent train.start (k12ml knn on iris), {watchers} concurrent watchers")
    print(row("train.start answered", [ms for _, ms in answered]))
    print(row("job end -> watcher's JobEnd", list(lags)))
    print(f"  all {jobs} starts answered in {answered_s:.2f} s; all {watchers} watchers saw their job end")
    print(f"  after {ended_s:.1f} s ({jobs / ended_s:.1f} jobs/s); server peak RSS {peak[0] / 2**20:.0f} MiB")


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--jobs", type=int, default=200)
    p.add_argument("--watchers", type=int, default=500)
    p.add_argument("--max-running-jobs", type=int, default=4)
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        slots = (
            *("--max-running-jobs", str(args.max_running_jobs)),
            *("--max-running-jobs-per-user", str(args.max_running_jobs)),
        )
        with k12ai_server_process(Path(tmp), *slots) as server:
            asyncio.run(run(server.target, server.pid, args.jobs, args.watchers))


if __name__ == "__main__":
    main()
