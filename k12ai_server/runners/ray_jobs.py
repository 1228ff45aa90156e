"""The Ray runner: each k12ai job is one job of an existing Ray cluster (its Jobs API).

The k12ai job id is the Ray submission id; user, project and op go in its metadata.
The entrypoint is the worker under its shipper (``k12ai_worker.shipping``), with the
spec in its environment (no file of the server's is readable on a node) and the
job's GPUs and a CPU as the entrypoint's resources, so Ray places it on a node that
has them free and holds it PENDING otherwise, which k12ai shows as ``queued``.
Events come back over the network channel, never through a shared run directory.

The Ray SDK is blocking HTTP: every call runs on this runner's threads. One loop
lists the cluster's jobs every POLL_S and resolves placements and exits from it.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import logging
import shlex
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from k12ai_contract.spec import JobSpec
from k12ai_contract.worker import SPEC_ENV, SPEC_FROM_ENV, worker_command
from k12ai_server.config import RayConfig
from k12ai_server.jobs.model import Job
from k12ai_server.runners.base import (
    EventChannel,
    ExitStatus,
    FoundWorker,
    PlacementListener,
    RunHandle,
    RunnerUnavailableError,
    RunningJob,
)
from k12ai_server.runners.ray_status import (
    FAILED,
    PENDING,
    RUNNING,
    STOPPED_PENDING_REASON,
    TERMINAL,
    exit_of,
    node_of,
    status_of,
    waiting_reason,
)

log = logging.getLogger(__name__)

RAY_CALL_THREADS = 8
POLL_S = 0.25
# A job Ray keeps PENDING longer than this waits for resources (placing a free one takes about a second).
QUEUED_AFTER_S = 2.0
# Marks the cluster's jobs that k12ai submitted (metadata), for Stats and re-adoption.
METADATA_MARK = "k12ai_job_id"
# The job's run directory on the server (metadata): a server re-adopts only its own jobs.
METADATA_RUN_DIR = "k12ai_run_dir"
# Left in the server's run directory once a Ray job's end has been seen: a restarted server
# need not look at that job again (Ray keeps every job it ever ran).
SEEN_ENDED = "ray_job_ended"
# What a job's end resolves to when it was stopped while Ray held it PENDING (see _stop).
STOPPED_PENDING = object()
T = TypeVar("T")


@dataclass
class _Tracked:
    job: Job
    ended: asyncio.Future[Any]
    pending_since: float = field(default_factory=time.monotonic)
    held: bool = False


class RayRunner:
    event_channel = EventChannel.NETWORK

    def __init__(self, *, client: Any, config: RayConfig) -> None:
        """``client``: a ``ray.job_submission.JobSubmissionClient`` of the cluster's head."""
        self._client = client
        self._config = config
        self._pool = ThreadPoolExecutor(RAY_CALL_THREADS, thread_name_prefix="k12ai-ray")
        self._tracked: dict[str, _Tracked] = {}
        self._latest: dict[str, Any] = {}
        self._listener: PlacementListener | None = None
        self._poller: asyncio.Task[None] | None = None

    @classmethod
    async def connect(cls, config: RayConfig) -> RayRunner:
        """A runner on the cluster at ``config.address``; RunnerUnavailableError if it does not answer."""
        from ray.job_submission import JobSubmissionClient

        try:
            client = await asyncio.to_thread(JobSubmissionClient, config.address)
        except Exception as exc:
            raise RunnerUnavailableError(
                f"the Ray cluster at {config.address!r} does not answer ({type(exc).__name__}: {exc}); "
                "start its head (`ray start --head`) or fix --ray-address / K12AI_RAY_ADDRESS"
            ) from exc
        return cls(client=client, config=config)

    def listen(self, listener: PlacementListener) -> None:
        self._listener = listener

    async def launch(self, job: Job) -> RunHandle:
        self._start_polling()
        spec = self._node_spec(job)
        entrypoint = shlex.join(worker_command(SPEC_FROM_ENV, python=self._config.python, shipped=True))
        await self._call(
            self._client.submit_job,
            entrypoint=entrypoint,
            submission_id=job.job_id,
            runtime_env={"env_vars": {SPEC_ENV: spec.to_json()}},
            metadata={
                METADATA_MARK: job.job_id,
                METADATA_RUN_DIR: str(job.run_dir),
                "user": job.identity.user,
                "service_name": job.identity.service_name,
                "service_uuid": job.identity.service_uuid,
                "op": job.op,
            },
            entrypoint_num_cpus=self._config.cpus_per_job,
            entrypoint_num_gpus=job.gpus_wanted or None,
        )
        return self._track(job)

    async def find_workers(self, runs_root: Path) -> dict[str, FoundWorker]:
        """This server's Ray jobs that run, wait, or ended without the server seeing it."""
        self._start_polling()
        listed = await self._call(self._client.list_jobs)
        found = {}
        for info in listed:
            run_dir = Path((info.metadata or {}).get(METADATA_RUN_DIR) or "/")
            if run_dir.parent != runs_root:
                continue
            if status_of(info) in TERMINAL and (run_dir / SEEN_ENDED).exists():
                continue
            found[str(info.submission_id)] = FoundWorker(ref=str(info.submission_id))
        return found

    async def adopt(self, job: Job, found: FoundWorker) -> RunHandle | None:
        # An ended Ray job is adopted too: its handle settles it with Ray's reason.
        self._start_polling()
        return self._track(job)

    def running(self) -> list[RunningJob]:
        return [_running_job(info) for info in list(self._latest.values()) if status_of(info) == RUNNING]

    async def close(self) -> None:
        # Ray jobs outlive the server on purpose; the next start re-adopts them.
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _node_spec(self, job: Job) -> JobSpec:
        """The spec as the node sees it: its own spool (the GPUs are the ones Ray makes visible)."""
        spool = self._config.spool_dir / job.job_id / job.events_path.name
        return dataclasses.replace(JobSpec.load(job.spec_path), events_path=spool)

    def _track(self, job: Job) -> _Handle:
        tracked = _Tracked(job=job, ended=asyncio.get_running_loop().create_future())
        self._tracked[job.job_id] = tracked
        return _Handle(self, tracked)

    def _start_polling(self) -> None:
        if self._poller is None:
            self._poller = asyncio.ensure_future(self._poll())

    async def _call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, functools.partial(fn, *args, **kwargs))

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(POLL_S)
            try:
                listed = await self._call(self._client.list_jobs)
            except Exception as exc:
                # The head is away for a moment: jobs keep running, nothing is settled on a guess.
                log.warning("listing the Ray cluster's jobs: %s", exc)
                continue
            self._latest = {
                info.submission_id: info for info in listed if (info.metadata or {}).get(METADATA_MARK)
            }
            for job_id, tracked in list(self._tracked.items()):
                info = self._latest.get(job_id)
                if info is None:
                    continue
                try:
                    self._follow(tracked, info)
                except Exception:
                    # One job's surprise must not stop following the others.
                    log.exception("following Ray job %s", job_id)

    def _follow(self, tracked: _Tracked, info: Any) -> None:
        status = status_of(info)
        job_id = tracked.job.job_id
        if status == PENDING:
            if not tracked.held and time.monotonic() - tracked.pending_since > QUEUED_AFTER_S:
                tracked.held = True
                if self._listener is not None:
                    reason = waiting_reason(gpus=tracked.job.gpus_wanted, cpus=self._config.cpus_per_job)
                    self._listener.waiting(job_id, reason)
        elif status == RUNNING:
            if tracked.held and self._listener is not None:
                self._listener.placed(job_id, node_of(info))
            tracked.held = False
        elif status in TERMINAL and not tracked.ended.done():
            tracked.ended.set_result(info)

    async def _exit(self, tracked: _Tracked) -> ExitStatus:
        try:
            info = await tracked.ended
        finally:
            self._tracked.pop(tracked.job.job_id, None)
        if info is STOPPED_PENDING:
            return ExitStatus(exit_code=None, reason=STOPPED_PENDING_REASON)
        node_alive = None
        if status_of(info) == FAILED and info.driver_exit_code is None and info.driver_node_id:
            node_alive = await self._call(self._node_alive, info.driver_node_id)
        await self._call((tracked.job.run_dir / SEEN_ENDED).touch)
        return exit_of(info, node_alive)

    def _node_alive(self, node_id: str) -> bool | None:
        from ray.util.state import get_node

        try:
            node = get_node(node_id, address=self._config.address)
        except Exception as exc:
            log.warning("asking Ray about node %s: %s", node_id, exc)
            return None
        return node is not None and node.state == "ALIVE"

    async def _stop(self, tracked: _Tracked) -> None:
        # Ray's stop is SIGTERM to the entrypoint's processes, then SIGKILL after the
        # cluster's RAY_JOB_STOP_WAIT_TIME_S (see deploy/ray).
        job_id = tracked.job.job_id
        info = self._latest.get(job_id)
        if info is not None and status_of(info) in TERMINAL:
            return
        try:
            await self._call(self._client.stop_job, job_id)
            info = await self._call(self._client.get_job_info, job_id)
        except RuntimeError as exc:
            log.warning("stopping Ray job %s: %s", job_id, exc)
            return
        # Ray hands a stop to the job's supervisor actor, which it creates only once the job
        # is placed: a job it holds PENDING stays so, and would be stopped only when it
        # starts. Nothing of it runs now, so the job ends here; once placed, Ray stops it
        # and its shipper finds the server taking no more of its events.
        if status_of(info) == PENDING and not tracked.ended.done():
            tracked.ended.set_result(STOPPED_PENDING)


class _Handle:
    def __init__(self, runner: RayRunner, tracked: _Tracked) -> None:
        self._runner = runner
        self._tracked = tracked

    @property
    def ref(self) -> str:
        return self._tracked.job.job_id

    async def wait(self) -> ExitStatus:
        return await self._runner._exit(self._tracked)

    async def stop(self, grace_s: float) -> None:
        await self._runner._stop(self._tracked)


def _running_job(info: Any) -> RunningJob:
    metadata = info.metadata or {}
    return RunningJob(
        id=str(info.submission_id)[:12],
        cpu_percent=0.0,
        cpu_memory_total=0,
        cpu_memory_usage=0,
        cpu_memory_percent=0.0,
        op=metadata.get("op", ""),
        user=metadata.get("user", ""),
        service_uuid=metadata.get("service_uuid", ""),
        job_id=str(info.submission_id),
        node=node_of(info),
    )
