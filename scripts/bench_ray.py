#!/usr/bin/env python3
"""The Ray runner's figures, on the test cluster (tests/ray/cluster.py: a head, two worker nodes in
their own network namespaces), each beside its baseline in one run:

1. train.start (k12ml) -> `running` with ``--runner ray`` vs Ray's own submit -> RUNNING of the
   same entrypoint with the same resources (``JobSubmissionClient``, status polled every 10 ms);
2. event latency, worker -> Watch subscriber, across the network channel at 100 and 1000 events/s,
   vs Ray's own log tail of the same lines on the job's node (``ray_log_tail``): a real k12ai
   job that Ray places on a worker node and starts with k12ai's entrypoint, whose shipper is
   the production one and whose worker is the framework-free fixed-rate writer of
   ``ray_bench_job.py`` (each event stamped with the microsecond it was written);
3. server RSS with 100 live Ray jobs whose shippers send events, against the idle server.

For 3 the server asks Ray for more CPUs per job than any node has, so Ray holds the 100 jobs
PENDING (live in Ray, tracked by the server as any job is) instead of starting 100 job
supervisors on a 2-core machine; the bench runs each job's entrypoint itself, the command and
environment Ray holds for it, inside a worker node's namespace: 100 real shipper processes,
each with its fixed-rate writer child.

Needs root (network namespaces).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shlex
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import psutil
from bench_docker import slow_body, wait_for_state
from benchkit import k12ai_server_process, row
from ray_bench_job import LOG_MARK

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from k12ai_client import ClientConfig, Event, K12AIClient, to_envelope  # noqa: E402
from k12ai_server.config import RayConfig  # noqa: E402
from tests.ray.cluster import RayCluster, start_cluster  # noqa: E402

INGEST_PORT = 8121
HELD_CPUS = "1000"
JOB_SCRIPT = Path(__file__).resolve().parent / "ray_bench_job.py"


def server_args(cluster: RayCluster, work: Path, *extra: str, python: str = sys.executable) -> list[str]:
    return [
        "--runner", "ray", "--ray-address", cluster.dashboard_url, "--ray-python", python,
        "--ray-spool-dir", str(work / "spool"), "--ingest-host", cluster.head_address,
        "--ingest-port", str(INGEST_PORT), "--max-running-jobs", "1000", "--stop-grace-s", "3", *extra,
    ]  # fmt: skip


def job_python(work: Path, *, rate: float, seconds: float) -> str:
    """The ``--ray-python`` that runs ray_bench_job.py's shipper in place of ``python``."""
    wrapper = work / f"python-{rate:g}-per-s"
    wrapper.parent.mkdir(parents=True, exist_ok=True)
    wrapper.write_text(
        f'#!/bin/sh\nexec {sys.executable} {JOB_SCRIPT} ship --rate {rate:g} --seconds {seconds:g} "$@"\n'
    )
    wrapper.chmod(0o755)
    return str(wrapper)


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.1f} (1 min), {five:.1f} (5 min)"


def bench_start(cluster: RayCluster, work: Path, repeats: int) -> None:
    from ray.job_submission import JobStatus, JobSubmissionClient

    ray = JobSubmissionClient(cluster.dashboard_url)
    ours: list[float] = []
    alone: list[float] = []
    with k12ai_server_process(work, *server_args(cluster, work)) as server:
        client = K12AIClient(ClientConfig(target=server.target, user="bench"))
        for i in range(repeats):
            body = slow_body(f"start{i}")
            began = time.perf_counter()
            reply = client.train(body)
            wait_for_state(client, reply.job_id, "running")
            ours.append((time.perf_counter() - began) * 1000)
            info = ray.get_job_info(reply.job_id)
            client.train({**body, "op": "train.stop", "service_params": {}})
            # Ray alone: the same entrypoint, environment and resources.
            began = time.perf_counter()
            job = ray.submit_job(
                entrypoint=info.entrypoint,
                runtime_env=info.runtime_env,
                entrypoint_num_cpus=RayConfig().cpus_per_job,
            )
            while ray.get_job_status(job) != JobStatus.RUNNING:
                time.sleep(0.01)
            alone.append((time.perf_counter() - began) * 1000)
            ray.stop_job(job)
        client.close()
    print("train.start -> running (k12ml, one job at a time, alternating)")
    print(row("Ray alone: submit -> RUNNING", alone))
    print(row("k12ai --runner ray: train.start -> running", ours, statistics.median(alone)))


def bench_latency(cluster: RayCluster, work: Path, seconds: float) -> None:
    print(f"event latency, worker node -> subscriber, one job writing for {seconds:g} s")
    for rate in (100.0, 1000.0):
        python = job_python(work, rate=rate, seconds=seconds)
        with k12ai_server_process(work / f"{rate:g}", *server_args(cluster, work, python=python)) as s:
            client = K12AIClient(ClientConfig(target=s.target, user="bench"))
            job_id = client.train(slow_body(f"lat{rate:g}")).job_id
            tailed: list[float] = []
            written_all = threading.Event()
            tail = threading.Thread(target=ray_log_tail, args=(cluster, job_id, tailed, written_all))
            tail.start()
            watched: list[float] = []
            stamps: list[int] = []
            # A job watch ends with the job: its shipper has handed over every line by then.
            for item in client.watch(job_id=job_id, types=["info"]):
                if isinstance(item, Event):
                    received_us = time.time_ns() // 1000
                    stamps.append(int(to_envelope(item)["info"]["sent_us"]))
                    watched.append((received_us - stamps[-1]) / 1e3)
            load_after = load()
            written_all.set()
            tail.join()
            job = client.get_job(job_id)
            client.close()
        written = spool_stamps(work / "spool" / job_id / "events.jsonl")
        if stamps != written or job.state != "finished" or len(tailed) != len(written):
            raise RuntimeError(
                f"job {job_id} ended {job.state}; {len(stamps)} events watched, {len(written)} written "
                f"({'the same' if stamps == written else 'not the same'}), {len(tailed)} lines tailed"
            )
        print(f"  {rate:g} events/s: all {len(written)} events arrived once, in order; {load_after}")
        print(row("Ray's log tail on the node (baseline)", tailed))
        print(row("k12ai Watch, network channel", watched, statistics.median(tailed)))


def ray_log_tail(
    cluster: RayCluster, job_id: str, latencies: list[float], written_all: threading.Event
) -> None:
    """Ray's own log tail of the job's output on its node: each stamped line's delay.

    This is the loop Ray's job agent runs for ``tail_job_logs`` (``file_tail_iterator``:
    batches of up to 10 lines, a 1 s sleep at the end of the file), minus the hops from the
    agent through the dashboard to the client, so a lower bound of Ray's end to end tail.
    That end to end tail cannot be measured on this test cluster: with its nodes on one
    host, each with its own ``--temp-dir``, the node's agent reads the head's copy of the
    driver log, which holds only Ray's own first line.
    """
    asyncio.run(_tail(driver_log(cluster, job_id), latencies, written_all))


def driver_log(cluster: RayCluster, job_id: str) -> Path:
    """The job's driver log on the worker node running it (Ray writes it before the entrypoint starts)."""
    while True:
        found = list(cluster.temp_root.glob(f"worker*/session_*/logs/job-driver-{job_id}.log"))
        if found:
            return found[0]
        time.sleep(0.02)


async def _tail(log: Path, latencies: list[float], written_all: threading.Event) -> None:
    from ray.dashboard.modules.job.utils import file_tail_iterator

    partial, last_pass = "", False
    async for lines in file_tail_iterator(str(log)):
        received_us = time.time_ns() // 1000
        if lines is None:  # at the end of the file
            if last_pass:
                return
            # One more pass once all is written: this end may have been reached just before.
            last_pass = written_all.is_set()
            continue
        # A line read while being written comes in pieces: it has arrived with its last one.
        *whole, partial = (partial + "".join(lines)).split("\n")
        for line in whole:
            if line.startswith(LOG_MARK):
                latencies.append((received_us - int(line.split()[1])) / 1e3)


def spool_stamps(spool: Path) -> list[int]:
    with spool.open("rb") as f:
        infos = [json.loads(line)["payload"] for line in f if b'"type":"info"' in line]
    return [int(p["sent_us"]) for p in infos if "sent_us" in p]


def bench_rss(cluster: RayCluster, work: Path, jobs: int, window_s: float) -> None:
    rate = 10.0
    print(f"server RSS with {jobs} live Ray jobs shipping events ({rate:g} events/s each)")
    python = job_python(work, rate=rate, seconds=600)
    with k12ai_server_process(
        work,
        *server_args(cluster, work, "--ray-cpus-per-job", HELD_CPUS, "--heartbeat-s", "0.5", python=python),
    ) as s:
        server = psutil.Process(s.pid)
        client = K12AIClient(ClientConfig(target=s.target, user="bench"))
        time.sleep(2)
        idle = server.memory_info().rss
        bodies = [slow_body(f"rss{i}") for i in range(jobs)]
        ids = [client.train(body).job_id for body in bodies]
        entrypoints = held_entrypoints(cluster, ids)
        held = server.memory_info().rss
        logs = [work / "shippers" / f"{job_id}.err" for job_id in ids]
        shippers = [
            start_entrypoint(cluster, i, command, env, logs[i])
            for i, (command, env) in enumerate(entrypoints)
        ]
        try:
            wait_until_all_write(work, ids, shippers)
            peak, seq_before = 0, last_seq(client, ids)
            window_end = time.monotonic() + window_s
            while time.monotonic() < window_end:
                peak = max(peak, server.memory_info().rss)
                time.sleep(0.2)
            stored = last_seq(client, ids) - seq_before
            load_during = load()
        finally:
            for proc in shippers:
                proc.send_signal(signal.SIGTERM)  # forwarded to its writer; it hands over the rest
            codes = [proc.wait(120) for proc in shippers]
        # The jobs are left live: Ray cannot stop a job whose supervisor it has not placed
        # (its stop is a call on that actor), and the cluster goes with the bench anyway.
        lost = missing_events(client, work, ids)
        client.close()
    if lost or any(codes):
        raise RuntimeError(f"shipper exit codes {sorted(set(codes))}; jobs missing events: {lost}")
    print(f"  every event of the {jobs} jobs arrived once, in order; {load_during}; {retried(logs)}")
    print(f"  {'idle server':<44} RSS {idle / 2**20:7.1f} MiB")
    print(f"  {f'{jobs} jobs held PENDING in Ray, no shipper yet':<44} RSS {held / 2**20:7.1f} MiB")
    print(
        f"  {f'{jobs} jobs shipping, peak over {window_s:g} s':<44} RSS {peak / 2**20:7.1f} MiB "
        f"(x{peak / idle:.2f} of idle; {(peak - idle) / jobs / 1024:.0f} KiB a job; "
        f"{stored / window_s:.0f} events/s stored meanwhile)"
    )


def held_entrypoints(cluster: RayCluster, ids: list[str]) -> list[tuple[str, dict[str, str]]]:
    """Each job's entrypoint and environment as Ray holds them (the server submits them a moment later)."""
    from ray.job_submission import JobSubmissionClient

    ray = JobSubmissionClient(cluster.dashboard_url)
    found: list[tuple[str, dict[str, str]]] = []
    for job_id in ids:
        while True:
            try:
                info: Any = ray.get_job_info(job_id)
                break
            except RuntimeError:
                time.sleep(0.1)
        found.append((info.entrypoint, info.runtime_env["env_vars"]))
    return found


def start_entrypoint(
    cluster: RayCluster, index: int, command: str, env: dict[str, str], log: Path
) -> subprocess.Popen[bytes]:
    """Run a held job's entrypoint as Ray would, on worker node ``index`` mod the nodes."""
    node = cluster.nodes[index % len(cluster.nodes)]
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as err:
        return subprocess.Popen(
            ["ip", "netns", "exec", node.namespace, *shlex.split(command)],
            env={**os.environ, **env},
            stdout=subprocess.DEVNULL,
            stderr=err,
        )


def retried(logs: list[Path]) -> str:
    """How many shippers lost the server for a while (each time they say so on stderr), and why."""
    reasons = {
        log: [line.rsplit(": ", 1)[-1] for line in log.read_text().splitlines() if "cannot reach" in line]
        for log in logs
    }
    every = [reason for found in reasons.values() for reason in found]
    codes = ", ".join(f"{every.count(r)} {r}" for r in sorted(set(every)))
    shippers = sum(1 for found in reasons.values() if found)
    return f"{shippers} of {len(logs)} shippers retried after a failed call ({codes or 'none'})"


def wait_until_all_write(work: Path, ids: list[str], shippers: list[subprocess.Popen[bytes]]) -> None:
    pending = set(ids)
    while pending:
        if any(proc.poll() is not None for proc in shippers):
            raise RuntimeError("a shipper ended before the measurement")
        pending = {j for j in pending if len(spool_stamps_so_far(work, j)) < 2}
        time.sleep(0.5)


def spool_stamps_so_far(work: Path, job_id: str) -> list[int]:
    spool = work / "spool" / job_id / "events.jsonl"
    return spool_stamps(spool) if spool.exists() else []


def last_seq(client: K12AIClient, ids: list[str]) -> int:
    """The seq of the latest event stored (seqs count every event the server stores)."""
    return max(client.get_job(job_id).last_seq for job_id in ids)


def missing_events(client: K12AIClient, work: Path, ids: list[str]) -> list[str]:
    """The jobs whose stored events are not exactly their spool's, once each, in order."""
    lost = []
    for job_id in ids:
        stamps = []
        # The jobs are still live: the first heartbeat comes once every stored event was sent.
        for item in client.watch(job_id=job_id, types=["info"], heartbeats=True):
            if not isinstance(item, Event):
                break
            stamps.append(int(to_envelope(item)["info"]["sent_us"]))
        if stamps != spool_stamps(work / "spool" / job_id / "events.jsonl"):
            lost.append(job_id)
    return lost


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("what", nargs="?", default="all", choices=["all", "start", "latency", "rss"])
    parser.add_argument("--repeats", type=int, default=10, help="start: jobs each way")
    parser.add_argument("--seconds", type=float, default=10.0, help="latency: how long the job writes")
    parser.add_argument("--jobs", type=int, default=100, help="rss: live jobs shipping")
    parser.add_argument("--window", type=float, default=20.0, help="rss: seconds RSS is sampled")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("bench_ray needs root (network namespaces for the cluster's worker nodes)", file=sys.stderr)
        return 1
    # A terminated bench still ends its cluster, servers and shippers (the `finally`s).
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    cluster = start_cluster()
    print(f"Ray test cluster of {len(cluster.nodes) + 1} nodes up in {cluster.start_s:.1f} s; {load()}")
    try:
        with tempfile.TemporaryDirectory(prefix="k12ai-bench-ray-") as tmp:
            if args.what in ("all", "start"):
                bench_start(cluster, Path(tmp) / "start", args.repeats)
            if args.what in ("all", "latency"):
                bench_latency(cluster, Path(tmp) / "latency", args.seconds)
            if args.what in ("all", "rss"):
                bench_rss(cluster, Path(tmp) / "rss", args.jobs, args.window)
    finally:
        cluster.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
