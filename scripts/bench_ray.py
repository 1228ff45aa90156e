#!/usr/bin/env python3
"""The Ray runner's figures, on the test cluster (tests/ray/cluster.py: a head, two worker nodes in
their own network namespaces), each beside its baseline in one run:

1. train.start (k12ml) -> `running` with ``--runner ray`` vs Ray's own submit -> RUNNING of the
   same entrypoint with the same resources (``JobSubmissionClient``, status polled every 10 ms);
2. event latency, worker -> Watch subscriber, across the network channel at 100 and 1000 events/s:
   an emitter on a worker node appends events (stamped with the time they were written) to a
   spool that the production shipper loop sends to the server; the subscriber takes its clock
   (the same host's) on arrival;
3. server RSS with 100 live Ray jobs whose shippers send events, against the idle server.

For 2 and 3 the server asks Ray for more CPUs per job than any node has, so Ray holds the jobs
PENDING (live, k12ai `queued`) and no real worker ships for them: the emitters are the only
shippers, and the figures are those of the channel, not of a training.

Needs root (network namespaces). ``emit`` is the emitter's own entry, run inside a namespace.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil
from bench_docker import slow_body, wait_for_state
from benchkit import k12ai_server_process, row

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from k12ai_client import ClientConfig, Event, K12AIClient, to_envelope  # noqa: E402
from k12ai_contract.events import encode_event_line  # noqa: E402
from k12ai_server.config import RayConfig  # noqa: E402
from k12ai_server.security.job_secrets import JobSecrets  # noqa: E402
from k12ai_worker import shipping  # noqa: E402
from tests.ray.cluster import RayCluster, start_cluster  # noqa: E402

INGEST_PORT = 8121
HELD_CPUS = "1000"


def server_args(cluster: RayCluster, spool: Path, *extra: str) -> list[str]:
    return [
        "--runner", "ray", "--ray-address", cluster.dashboard_url, "--ray-python", sys.executable,
        "--ray-spool-dir", str(spool), "--ingest-host", cluster.head_address,
        "--ingest-port", str(INGEST_PORT), "--max-running-jobs", "1000", "--stop-grace-s", "3", *extra,
    ]  # fmt: skip


def bench_start(cluster: RayCluster, work: Path, repeats: int) -> None:
    from ray.job_submission import JobStatus, JobSubmissionClient

    ray = JobSubmissionClient(cluster.dashboard_url)
    ours: list[float] = []
    alone: list[float] = []
    with k12ai_server_process(work, *server_args(cluster, work / "spool")) as server:
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


def held_jobs(client: K12AIClient, count: int, prefix: str) -> list[str]:
    return [client.train(slow_body(f"{prefix}{i}")).job_id for i in range(count)]


def emitters(
    cluster: RayCluster, work: Path, jobs: list[str], *, rate: float, seconds: float
) -> subprocess.Popen[bytes]:
    secrets = JobSecrets.load(work / "state")
    spec = [
        {"job_id": j, "secret": secrets.secret_for(j), "spool": str(work / "emit" / j / "events.jsonl")}
        for j in jobs
    ]
    plan = work / "emit.json"
    plan.write_text(json.dumps(spec))
    cmd = [
        "ip", "netns", "exec", cluster.nodes[0].namespace, sys.executable, __file__, "emit",
        "--plan", str(plan), "--target", f"{cluster.head_address}:{INGEST_PORT}",
        "--rate", str(rate), "--seconds", str(seconds),
    ]  # fmt: skip
    return subprocess.Popen(cmd)


def bench_latency(cluster: RayCluster, work: Path) -> None:
    print("event latency, worker node -> Watch subscriber, across the network channel")
    with k12ai_server_process(
        work, *server_args(cluster, work / "spool", "--ray-cpus-per-job", HELD_CPUS)
    ) as s:
        client = K12AIClient(ClientConfig(target=s.target, user="bench"))
        for rate in (100.0, 1000.0):
            (job_id,) = held_jobs(client, 1, f"lat{int(rate)}")
            latencies: list[float] = []
            proc = emitters(cluster, work, [job_id], rate=rate, seconds=5.0)
            spool = work / "emit" / job_id / "events.jsonl"
            # Heartbeats come while idle: the loop ends once every line the emitter wrote arrived.
            for item in client.watch(job_id=job_id, types=["info"], heartbeats=True):
                if isinstance(item, Event):
                    sent_us = to_envelope(item)["info"]["sent_us"]
                    latencies.append((time.time_ns() // 1000 - sent_us) / 1e3)
                if proc.poll() is not None and len(latencies) >= _lines(spool):
                    break
            proc.wait()
            client.train({**slow_body(f"lat{int(rate)}"), "op": "train.stop", "service_params": {}})
            print(row(f"{int(rate)} events/s for 5 s", latencies))
        client.close()


def _lines(path: Path) -> int:
    with path.open("rb") as f:
        return sum(1 for _ in f)


def bench_rss(cluster: RayCluster, work: Path, jobs: int) -> None:
    print(f"server RSS with {jobs} live Ray jobs shipping events (10 events/s each)")
    with k12ai_server_process(
        work, *server_args(cluster, work / "spool", "--ray-cpus-per-job", HELD_CPUS)
    ) as s:
        server = psutil.Process(s.pid)
        client = K12AIClient(ClientConfig(target=s.target, user="bench"))
        time.sleep(2)
        idle = server.memory_info().rss
        ids = held_jobs(client, jobs, "rss")
        proc = emitters(cluster, work, ids, rate=10.0, seconds=20.0)
        peak = 0
        while proc.poll() is None:
            peak = max(peak, server.memory_info().rss)
            time.sleep(0.2)
        client.close()
    print(f"  {'idle server':<44} RSS {idle / 2**20:7.1f} MiB")
    print(f"  {f'{jobs} jobs shipping':<44} peak RSS {peak / 2**20:7.1f} MiB (x{peak / idle:.2f})")


def emit(plan_path: Path, target: str, rate: float, seconds: float) -> None:
    """Inside a worker node's namespace: append events at ``rate`` per job, ship with the real loop."""
    plan = json.loads(plan_path.read_text())
    threads = []
    for job in plan:
        spool = Path(job["spool"])
        spool.parent.mkdir(parents=True, exist_ok=True)
        shipper = shipping.EventShipper(
            spool=spool, target=target, job_id=job["job_id"], secret=job["secret"]
        )
        # The production loop follows a child process; here the child is a timer, the writer a thread.
        timer = subprocess.Popen(["sleep", str(seconds)])
        writer = threading.Thread(target=_write, args=(spool, rate, seconds), daemon=True)
        follower = threading.Thread(target=shipping._follow, args=(shipper, timer))
        writer.start()
        follower.start()
        threads.append(follower)
    for t in threads:
        t.join()


def _write(spool: Path, rate: float, seconds: float) -> None:
    with spool.open("a") as f:
        start = time.perf_counter()
        n = 0
        while (elapsed := time.perf_counter() - start) < seconds:
            due = int(elapsed * rate) + 1
            for _ in range(due - n):
                # Microseconds: an event's numbers must stay exact as doubles (below 2**53).
                f.write(encode_event_line("info", {"message": "bench", "sent_us": time.time_ns() // 1000}))
            f.flush()
            n = due
            time.sleep(max(0.0, n / rate - (time.perf_counter() - start)))


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("what", nargs="?", default="all", choices=["all", "start", "latency", "rss", "emit"])
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--jobs", type=int, default=100)
    parser.add_argument("--plan", type=Path)
    parser.add_argument("--target", default="")
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    if args.what == "emit":
        emit(args.plan, args.target, args.rate, args.seconds)
        return 0
    if os.geteuid() != 0:
        print("bench_ray needs root (network namespaces for the cluster's worker nodes)", file=sys.stderr)
        return 1
    cluster = start_cluster()
    print(f"Ray test cluster of {len(cluster.nodes) + 1} nodes up in {cluster.start_s:.1f} s")
    try:
        with tempfile.TemporaryDirectory(prefix="k12ai-bench-ray-") as tmp:
            if args.what in ("all", "start"):
                bench_start(cluster, Path(tmp) / "start", args.repeats)
            if args.what in ("all", "latency"):
                bench_latency(cluster, Path(tmp) / "latency")
            if args.what in ("all", "rss"):
                bench_rss(cluster, Path(tmp) / "rss", args.jobs)
    finally:
        cluster.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
