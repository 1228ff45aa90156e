#!/usr/bin/env python3
"""The web console's figures, measured in headless Chromium (Debian's, driven by Playwright):

1. event -> drawn: a metrics event's timestamp to the uPlot draw that shows it (the page's own
   clock, read in the browser), p50/p99, while a job reports 100 and then 1000 events/s;
2. opening a finished run of 1,000,000 metrics events: time from navigation to the first
   complete chart and to all charts, and the bytes the page was sent; beside it what the page
   would have to read without GetMetricSeries (the run's metrics events replayed by Watch);
3. the compare view with 20 live runs overlaid, each reporting 50 events/s: the share of wall
   time the page's main thread was busy (Chrome's TaskDuration).

The events are synthesised: job records and their metrics events are written straight into the
server's event log (``EventLog.append``, the path every ingested event takes: stored, series
indexed, fanned out), in the server's own process, rather than by worker processes: a batch
every 20 ms, as the server's poll of a worker's events file stores them, each event stamped
with the time it was due, so the latency includes that wait.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp
from benchkit import pct
from playwright.async_api import Page, async_playwright

from k12ai_contract.events import now_ms
from k12ai_contract.jobs import JobKind, JobState
from k12ai_server.app import Server
from k12ai_server.config import ServerConfig
from k12ai_server.events.record import EventRecord
from k12ai_server.jobs.model import Job, JobIdentity
from k12ai_server.jobs.store import JobStore
from k12ai_server.jobs.supervisor import INGEST_POLL_S

NUM_BATCHES = 1000
ROOT = Path(__file__).resolve().parent.parent


def chromium() -> tuple[Path, list[str]]:
    """Chromium's path and switches, from their one home beside the browser tests."""
    sys.path.insert(0, str(ROOT))
    from tests.console.chromium import CHROMIUM, CHROMIUM_ARGS

    return CHROMIUM, CHROMIUM_ARGS


async def synthetic_job(server: Server, project: str, state: JobState) -> Job:
    """A job row with no worker behind it: its events come from this script."""
    job_id = uuid.uuid4().hex
    now = now_ms()
    job = Job(
        job_id=job_id,
        identity=JobIdentity(user="test", service_name="k12nlp", service_uuid=project, kind=JobKind.TRAIN),
        state=state,
        params={"synthetic": True},
        cache_dir=server.config.data_root / "users" / "test" / project,
        run_dir=server.config.state_dir / "bench" / job_id,
        created_at=now,
        started_at=now,
    )
    await server.events.append([status(job, state)], alongside=JobStore.inserting(job))
    return job


def metrics(job: Job, index: int, rng: random.Random) -> EventRecord:
    """The trainer's shape: a training point per report, a validation point per epoch."""
    epoch, batch = index // NUM_BATCHES + 1, index % NUM_BATCHES + 1
    validation = batch == NUM_BATCHES
    decay = 1.0 / (1 + index / 50_000)
    payload = {
        "accuracy": round(1 - 0.6 * decay + rng.gauss(0, 0.02), 5),
        "accuracy3": round(1 - 0.3 * decay + rng.gauss(0, 0.01), 5),
        "loss": round(1.6 * decay + abs(rng.gauss(0, 0.05)), 5),
        "phase": "validation" if validation else "train",
        "epoch": epoch,
        "num_epochs": 1000,
        "batch": batch,
        "num_batches": NUM_BATCHES,
        "progress": round((epoch - 1 + batch / NUM_BATCHES) / 1000, 6),
    }
    return job_event(job, "metrics", payload)


def status(job: Job, state: str) -> EventRecord:
    return job_event(job, "status", {"state": state, "job_id": job.job_id})


def job_event(job: Job, type: str, payload: dict[str, Any]) -> EventRecord:
    return EventRecord(
        type=type,
        tag="framework",
        op="train.start",
        user="test",
        service_uuid=job.identity.service_uuid,
        job_id=job.job_id,
        payload=payload,
    )


async def finish(server: Server, job: Job) -> None:
    ended = JobStore.updating(job.job_id, state=JobState.FINISHED, ended_at=now_ms())
    await server.events.append([status(job, "finished")], alongside=ended)


async def feed(server: Server, jobs: list[Job], rate_per_job: float, seconds: float, start: int) -> None:
    """Metrics events at a steady rate, each stamped when it is due, appended every INGEST_POLL_S.

    As a worker's events reach the server: written as they happen, read from the events file
    by a poll every 20 ms and stored a batch at a time. So the latency includes that wait.
    """
    rng = random.Random(1)
    interval_s = 1 / (rate_per_job * len(jobs))
    began = time.time()
    sent = 0
    while (now := time.time()) - began < seconds:
        batch = []
        while began + sent * interval_s <= now:
            job = jobs[sent % len(jobs)]
            event = metrics(job, start + sent // len(jobs), rng)
            batch.append(replace(event, timestamp=int((began + sent * interval_s) * 1000)))
            sent += 1
        await server.events.append(batch)
        await asyncio.sleep(INGEST_POLL_S)


async def draw_latency(server: Server, page: Page, base: str, rate: float, seconds: float) -> list[float]:
    job = await synthetic_job(server, f"latency{int(rate)}", JobState.RUNNING)
    await page.goto(f"{base}/#/job/{job.job_id}")
    await page.wait_for_selector(".muted:has-text('No metrics reported')")
    await feed(server, [job], rate, 1.0, 0)  # warm-up: charts created, JIT warm
    await page.evaluate("window.k12aiDrawStats.reset()")
    await feed(server, [job], rate, seconds, int(rate))
    await asyncio.sleep(0.5)
    values: list[float] = await page.evaluate("window.k12aiDrawStats.latenciesMs")
    await finish(server, job)
    return values


async def open_big_run(server: Server, page: Page, base: str, events: int) -> dict[str, Any]:
    job = await synthetic_job(server, "big", JobState.RUNNING)
    rng = random.Random(2)
    began = time.perf_counter()
    for start in range(0, events, 2000):
        await server.events.append([metrics(job, i, rng) for i in range(start, min(events, start + 2000))])
    stored_s = time.perf_counter() - began
    await finish(server, job)
    timings = []
    for _ in range(3):
        # A new context each time: an empty cache, so the page's own files count too.
        browser = page.context.browser
        assert browser is not None
        context = await browser.new_context(viewport={"width": 1400, "height": 1000})
        page = await context.new_page()
        await page.goto(f"{base}/#/job/{job.job_id}")
        await page.wait_for_function(
            "() => document.querySelectorAll('.chart[data-points]').length >= 3", timeout=60_000
        )
        timings.append(
            await page.evaluate(
                """() => ({
                first: window.k12aiDrawStats.firstDrawMs,
                all: window.k12aiDrawStats.lastFirstDrawMs,
                bytes: [...performance.getEntriesByType('navigation'),
                        ...performance.getEntriesByType('resource')].reduce((n, e) => n + e.transferSize, 0),
                series: performance.getEntriesByType('resource').filter(e => e.name.includes('/metrics'))
                    .reduce((n, e) => n + e.transferSize, 0),
            })"""
            )
        )
        await context.close()
    return {"stored_s": stored_s, "timings": timings, "job_id": job.job_id}


async def replay(base: str, job_id: str) -> tuple[int, float]:
    """What a page without GetMetricSeries would read: every metrics event of the run, by Watch."""
    began = time.perf_counter()
    size = 0
    url = f"{base}/k12ai/framework/events?job_id={job_id}&types=metrics"
    # No time limit: replaying a million events takes minutes, which is the point.
    timeout = aiohttp.ClientTimeout(total=None)
    async with aiohttp.ClientSession(timeout=timeout) as session, session.get(url) as response:
        async for chunk in response.content.iter_any():
            size += len(chunk)
    return size, time.perf_counter() - began


async def compare_busy(
    server: Server, page: Page, base: str, runs: int, rate: float, seconds: float
) -> float:
    jobs = [await synthetic_job(server, f"cmp{i}", JobState.RUNNING) for i in range(runs)]
    rng = random.Random(3)
    for job in jobs:
        await server.events.append([metrics(job, i, rng) for i in range(200)])
    ids = ",".join(j.job_id for j in jobs)
    await page.goto(f"{base}/#/compare?jobs={ids}")
    await page.wait_for_selector(".compare-chart .chart[data-points]")
    cdp = await page.context.new_cdp_session(page)
    await cdp.send("Performance.enable")
    await feed(server, jobs, rate, 1.0, 200)
    before = await task_seconds(cdp)
    began = time.perf_counter()
    await feed(server, jobs, rate, seconds, 200 + int(rate))
    busy = (await task_seconds(cdp) - before) / (time.perf_counter() - began)
    for job in jobs:
        await finish(server, job)
    return busy


async def task_seconds(cdp: Any) -> float:
    found = await cdp.send("Performance.getMetrics")
    return float(next(m["value"] for m in found["metrics"] if m["name"] == "TaskDuration"))


async def measure(server: Server, page: Page, base: str, args: argparse.Namespace) -> None:
    if 1 in args.parts:
        await measure_latency(server, page, base, args)
    if 2 in args.parts:
        await measure_big_run(server, page, base, args)
    if 3 in args.parts:
        print(f"3. compare view, {args.runs} live runs at {args.run_rate:.0f} events/s each")
        busy = await compare_busy(server, page, base, args.runs, args.run_rate, args.seconds)
        print(f"  main thread busy {busy * 100:.1f} % of wall time")


async def measure_latency(server: Server, page: Page, base: str, args: argparse.Namespace) -> None:
    print("1. event -> drawn on the job page (browser clock)")
    for rate in (100.0, 1000.0):
        values = await draw_latency(server, page, base, rate, args.seconds)
        p50, p99 = pct(values, 50), pct(values, 99)
        print(f"  {rate:6.0f} events/s  p50 {p50:6.1f} ms  p99 {p99:6.1f} ms  n={len(values)}")


async def measure_big_run(server: Server, page: Page, base: str, args: argparse.Namespace) -> None:
    print(f"2. opening a finished run of {args.events:,} metrics events")
    big = await open_big_run(server, page, base, args.events)
    stored_s = big["stored_s"]
    print(f"  stored in {stored_s:.1f} s ({stored_s / args.events * 1e6:.0f} us/event)")
    for t in big["timings"]:
        print(
            f"  first complete chart {t['first']:7.1f} ms  all charts {t['all']:7.1f} ms"
            f"  bytes {t['bytes']:,} (series {t['series']:,})"
        )
    replay_bytes, replay_s = await replay(base, big["job_id"])
    print(
        f"  Watch replay of every metrics event (no GetMetricSeries): {replay_bytes:,} bytes"
        f" in {replay_s:.1f} s"
    )


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        config = ServerConfig(
            grpc_port=0, http_port=0, data_root=Path(tmp) / "data", state_dir=Path(tmp) / "state"
        )
        server = await Server.start(config)
        base = f"http://127.0.0.1:{server.http_port}"
        try:
            async with async_playwright() as playwright:
                path, switches = chromium()
                browser = await playwright.chromium.launch(executable_path=str(path), args=switches)
                page = await browser.new_page(viewport={"width": 1400, "height": 1000})
                await measure(server, page, base, args)
                await browser.close()
        finally:
            await server.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=1_000_000, help="metrics events of the big run")
    parser.add_argument("--seconds", type=float, default=10.0, help="each live measurement's length")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--run-rate", type=float, default=50.0, help="events/s of each compared run")
    parser.add_argument(
        "--parts", type=lambda text: {int(p) for p in text.split(",")}, default={1, 2, 3}, help="e.g. 1,3"
    )
    if not chromium()[0].exists():
        sys.exit(f"{chromium()[0]} is missing: apt-get install chromium")
    asyncio.run(main(parser.parse_args()))
