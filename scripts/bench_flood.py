#!/usr/bin/env python3
"""A job floods the server with 100,000 events: how long do another user's calls take meanwhile?

One server (a child process), one k12ml training of user ``flood`` (its worker paused, so the
flood is alone in its events file). User ``other`` makes sequential calls (ListJobs of its own
jobs, then a Platform Stats), first while nothing happens (the baseline), then while the
100,000 events, appended to the job's events file in one write, are ingested. Prints both
latencies side by side, their ratio, and how fast the flood was stored.
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
from benchkit import k12ai_server_process, pct, row

from k12ai_client import AsyncK12AIClient, ClientConfig
from k12ai_contract.events import encode_event_line

ROOT = Path(__file__).resolve().parent.parent
TRAIN_IRIS = ROOT / "examples" / "k12ml" / "train_iris.json"
STATS = {"op": "query", "user": "other", "service_name": "k12platform", "service_uuid": "o"}


def slow_training() -> dict[str, Any]:
    body: dict[str, Any] = json.loads(TRAIN_IRIS.read_text())
    body["user"] = "flood"
    body["service_uuid"] = "flood"
    body["service_params"] = {
        "dataset": {"type": "builtin", "name": "digits"},
        "model": {"type": "gradient_boosting", "params": {"n_estimators": 3000}},
    }
    return body


def worker_of(job_id: str) -> psutil.Process:
    for proc in psutil.process_iter(["cmdline"]):
        cmdline = proc.info["cmdline"] or []
        if "k12ai_worker" in cmdline and any(job_id in part for part in cmdline):
            return proc
    raise RuntimeError(f"no worker for job {job_id}")


async def other_user_call(other: AsyncK12AIClient) -> float:
    start = time.perf_counter()
    await other.list_jobs(user="other")
    await other.stats(STATS)
    return (time.perf_counter() - start) * 1000


async def run(target: str, state: Path, events: int, baseline_calls: int) -> None:
    async with (
        AsyncK12AIClient(ClientConfig(target=target, user="flood")) as owner,
        AsyncK12AIClient(ClientConfig(target=target, user="other")) as other,
    ):
        body = slow_training()
        reply = await owner.train(body)
        while (await owner.get_job(reply.job_id)).state != "running":  # noqa: ASYNC110 (another process)
            await asyncio.sleep(0.1)
        worker = worker_of(reply.job_id)
        worker.suspend()
        for _ in range(20):
            await other_user_call(other)  # warm-up
        quiet = [await other_user_call(other) for _ in range(baseline_calls)]

        flood = b"".join(encode_event_line("info", {"flood": i}).encode() for i in range(events))
        target_seq = (await owner.get_job(reply.job_id)).last_seq + events
        with (state / "jobs" / reply.job_id / "events.jsonl").open("ab") as channel:
            channel.write(flood)
        started = time.perf_counter()
        during: list[float] = []
        stored_s = 0.0
        while not stored_s:
            during.append(await other_user_call(other))
            if len(during) % 10 == 0 and (await owner.get_job(reply.job_id)).last_seq >= target_seq:
                stored_s = time.perf_counter() - started
        worker.resume()
        await owner.train({**body, "op": "train.stop", "service_params": {}})

    print(f"flood: {events} events appended at once to one job's events file, while user `other` calls")
    print(row("other user's ListJobs + Stats, no flood (baseline)", quiet))
    print(row("the same while the flood is ingested", during, pct(quiet, 50)))
    ratio = pct(during, 99) / pct(quiet, 99)
    print(f"  p99 ratio x{ratio:.2f}; the slowest call during the flood took {max(during):.1f} ms")
    print(f"  {events} events stored in {stored_s:.1f} s ({events / stored_s:,.0f} events/s)")


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--events", type=int, default=100_000)
    p.add_argument("--baseline-calls", type=int, default=300)
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp, k12ai_server_process(Path(tmp)) as server:
        asyncio.run(run(server.target, Path(tmp) / "state", args.events, args.baseline_calls))


if __name__ == "__main__":
    main()
