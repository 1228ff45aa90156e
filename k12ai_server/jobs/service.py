"""Job orchestration: admission, one supervisor per job, recovery; the jobs' one door for the servicers.

A job is tracked from the instant it is admitted: its spec is written and its row saved
(``queued``, with its first status event) before the reply, and every step after that
leaves a trace that a restarted server follows (see ``recovery.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import sqlite3
import uuid
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from k12ai_contract.events import now_ms
from k12ai_contract.jobs import JobState
from k12ai_contract.spec import JobSpec, split_model_run
from k12ai_server.events.log import EventLog
from k12ai_server.jobs.admission import Admission
from k12ai_server.jobs.faults import fault_point
from k12ai_server.jobs.gpus import GpuAllocator
from k12ai_server.jobs.ingest import EventIngest
from k12ai_server.jobs.job_events import status_event
from k12ai_server.jobs.limits import JobLimits
from k12ai_server.jobs.model import InputPath, Job, JobIdentity
from k12ai_server.jobs.recovery import JobRecovery
from k12ai_server.jobs.store import JobStore
from k12ai_server.jobs.supervisor import JobSupervisor, SupervisorSettings
from k12ai_server.runners.base import EventChannel, RunHandle, Runner
from k12ai_server.state.db import Database

log = logging.getLogger(__name__)


class JobNotFoundError(Exception):
    pass


class IntakeStoppedError(Exception):
    """The server takes no new jobs (its state database is lost); the message says why."""


class AdmissionFailedError(Exception):
    """The job's files could not be written (a full disk, say); the message says why."""


@dataclass(frozen=True, kw_only=True)
class ShipTarget:
    """Where a job's shipper sends its events (network channel): the address and each job's secret."""

    address: str
    secret_for: Callable[[str], str]
    # PEM the shipper verifies the service's TLS certificate with; "" when it serves plain gRPC.
    ca_pem: str = ""


@dataclass(frozen=True, kw_only=True)
class JobPaths:
    data_root: Path
    state_dir: Path
    # Where a job may read inputs (resolved); the worker holds its opens to them.
    data_roots: tuple[Path, ...] = ()

    @property
    def runs_root(self) -> Path:
        return self.state_dir / "jobs"

    def cache_dir(self, ident: JobIdentity) -> Path:
        return self.data_root / "users" / ident.user / ident.service_uuid

    def run_dir(self, job_id: str) -> Path:
        return self.runs_root / job_id


class JobService:
    def __init__(
        self,
        *,
        db: Database,
        events: EventLog,
        runner: Runner,
        gpus: GpuAllocator,
        paths: JobPaths,
        limits: JobLimits,
        ship_to: ShipTarget | None = None,
    ) -> None:
        if runner.event_channel is EventChannel.NETWORK and ship_to is None:
            raise ValueError("a runner on the network event channel needs the ingest service's address")
        self._ship_to = ship_to
        self._db = db
        self._store = JobStore(db)
        self._events = events
        self._runner = runner
        self._paths = paths
        self._limits = limits
        self._admission = Admission(
            gpus=gpus, max_running=limits.max_running, max_per_user=limits.max_running_per_user
        )
        # The one ingest path: the supervisors' file tails feed it, and so may a network shipper.
        self.ingest = EventIngest(events=events, jobs=self._store, on_invalid=self.fail)
        self._supervisors: dict[str, JobSupervisor] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._recovered = asyncio.Event()
        runner.listen(self)

    # -- queries

    def get(self, job_id: str) -> Job | None:
        return self._store.get(job_id)

    def query(
        self, *, user: str = "", service_uuid: str = "", states: tuple[JobState, ...] = (), limit: int = 100
    ) -> list[Job]:
        return self._store.query(user=user, service_uuid=service_uuid, states=states, limit=limit)

    def find_by_prefix(self, prefix: str) -> list[Job]:
        """Jobs whose id or runner ref (pid, container id) starts with ``prefix``."""
        return self._store.find_by_prefix(prefix)

    def cache_dir(self, ident: JobIdentity) -> Path:
        return self._paths.cache_dir(ident)

    def waiting_for(self, job: Job) -> str:
        """Why a queued job is queued, in words for its reply."""
        return self._admission.waiting_for(job)

    # -- commands

    async def start(
        self,
        ident: JobIdentity,
        params: dict[str, Any],
        *,
        inputs: Sequence[InputPath] = (),
        gpus_wanted: int,
    ) -> Job:
        """Admit a job (JobAlreadyLiveError if its identity has one); it runs once a slot and GPUs free up."""
        await self._recovered.wait()
        self._refuse_if_lost()
        job_id = uuid.uuid4().hex
        job = Job(
            job_id=job_id,
            identity=ident,
            state=JobState.QUEUED,
            params=params,
            cache_dir=self._paths.cache_dir(ident),
            run_dir=self._paths.run_dir(job_id),
            created_at=now_ms(),
            gpus_wanted=gpus_wanted,
            inputs=tuple(inputs),
        )
        try:
            await asyncio.to_thread(self._prepare, job)
        except OSError as exc:
            raise AdmissionFailedError(f"could not write the job's files: {exc}") from None
        await self._admit(job)
        fault_point("after-admit")
        self._admission.enqueue(job)
        if job_id in self._dispatch():
            return replace(job, state=JobState.STARTING)
        return job

    async def stop(self, ident: JobIdentity) -> Job:
        job = self._store.find_live(ident)
        if job is None:
            raise JobNotFoundError(f"no live {ident.kind.value} job for {ident.user}/{ident.service_uuid}")
        await self.stop_job(job)
        return job

    async def stop_job(self, job: Job) -> None:
        """Stop a live job; IntakeStoppedError while the state database is lost (its end is not kept)."""
        await self._recovered.wait()
        self._refuse_if_lost()
        if self._admission.dequeue(job.job_id):
            await self._end_queued(job, "stopped while queued")
            return
        supervisor = self._supervisors.get(job.job_id)
        if supervisor is not None:
            supervisor.request_stop(JobState.STOPPED, "stopped on request")

    def fail(self, job_id: str, reason: str) -> None:
        """Stop a running job and settle it failed with ``reason``."""
        supervisor = self._supervisors.get(job_id)
        if supervisor is not None:
            supervisor.request_stop(JobState.FAILED, reason)

    async def recover(self) -> None:
        """See every job a previous server left to its end; new starts wait for this."""
        recovery = JobRecovery(
            store=self._store, events=self._events, runner=self._runner, runs_root=self._paths.runs_root
        )
        plan = await recovery.plan()
        for job in plan.queued:
            self._admission.enqueue(job)
        for job in plan.requeued:
            await self._requeue(job)
        for job, handle in plan.adopted:
            self._admission.claim(job)
            self._spawn(self._supervisor(job).adopt(handle))
            log.info("re-adopted job %s (worker %s)", job.job_id, handle.ref or "gone")
        for job_id, handle in plan.leftovers:
            self._spawn(_stop_leftover(handle, self._limits.stop_grace_s, job_id))
        self._recovered.set()
        self._dispatch()

    # -- told by a runner whose cluster places jobs (runners.base.PlacementListener)

    def waiting(self, job_id: str, reason: str) -> None:
        """The cluster holds a started job back: it is `queued` again, with the cluster's reason."""
        self._spawn(self._mark(job_id, JobState.STARTING, JobState.QUEUED, reason=reason))

    def placed(self, job_id: str, node: str) -> None:
        self._spawn(self._mark(job_id, JobState.QUEUED, JobState.STARTING, node=node))

    async def _mark(self, job_id: str, was: JobState, state: JobState, **extra: Any) -> None:
        job = self._store.get(job_id)
        if job is None or job.state is not was:
            # The worker said it runs (or the job ended) before the cluster's word came.
            return
        reason = extra.get("reason", "")
        await self._events.append(
            [status_event(job, state, **extra)],
            alongside=JobStore.updating(job_id, state=state, reason=reason),
        )

    async def close(self) -> None:
        # Workers outlive the server on purpose; the next start re-adopts them.
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # -- inside

    def _refuse_if_lost(self) -> None:
        if self._db.lost:
            raise IntakeStoppedError(
                f"the server takes no new jobs and stops none: its state database is lost ({self._db.lost}); "
                "it does again once restarted"
            )

    def _prepare(self, job: Job) -> None:
        job.run_dir.mkdir(parents=True, exist_ok=True)
        job.cache_dir.mkdir(parents=True, exist_ok=True)
        params, model_run = split_model_run(job.identity.kind, job.params)
        JobSpec(
            job_id=job.job_id,
            service_name=job.identity.service_name,
            kind=job.identity.kind,
            user=job.identity.user,
            service_uuid=job.identity.service_uuid,
            params=params,
            cache_dir=job.cache_dir,
            events_path=job.events_path,
            cpu_threads=self._limits.cpu_threads,
            model_run=model_run,
            data_roots=self._paths.data_roots,
            ship_to=self._ship_to.address if self._ship_to else "",
            ship_secret=self._ship_to.secret_for(job.job_id) if self._ship_to else "",
            ship_ca=self._ship_to.ca_pem if self._ship_to else "",
        ).dump(job.spec_path)

    async def _admit(self, job: Job) -> None:
        """The job's row and its `queued` event, in one transaction."""
        try:
            await self._events.append(
                [status_event(job, JobState.QUEUED, position=self._admission.queued + 1)],
                alongside=JobStore.inserting(job),
            )
        except sqlite3.IntegrityError:
            await asyncio.to_thread(shutil.rmtree, job.run_dir, True)
            live = self._store.already_live(job)
            if live is None:
                raise
            raise live from None

    async def _requeue(self, job: Job) -> None:
        job = replace(job, state=JobState.QUEUED, devices=())
        position = self._admission.enqueue(job)
        reason = "the server restarted before the job's worker began"
        await self._events.append(
            [status_event(job, JobState.QUEUED, position=position, reason=reason)],
            alongside=JobStore.updating(job.job_id, state=JobState.QUEUED, devices=()),
        )

    async def _end_queued(self, job: Job, reason: str) -> None:
        await self._events.append(
            [status_event(job, JobState.STOPPED, reason=reason)],
            alongside=JobStore.updating(job.job_id, state=JobState.STOPPED, reason=reason, ended_at=now_ms()),
        )

    def _dispatch(self) -> set[str]:
        """Start what may start now; the ids of the jobs started."""
        if not self._recovered.is_set() or self._db.lost:
            return set()
        started = set()
        for job, devices in self._admission.take():
            self._spawn(self._supervisor(job).launch(devices))
            started.add(job.job_id)
        return started

    def _supervisor(self, job: Job) -> JobSupervisor:
        supervisor = self._supervisors[job.job_id] = JobSupervisor(
            job,
            runner=self._runner,
            events=self._events,
            ingest=self.ingest,
            settings=SupervisorSettings(
                stop_grace_s=self._limits.stop_grace_s, time_limit_s=self._limits.time_limit_s
            ),
            on_end=self._ended,
        )
        return supervisor

    def _ended(self, job_id: str) -> None:
        self._supervisors.pop(job_id, None)
        self._admission.release(job_id)
        self._dispatch()

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


async def _stop_leftover(handle: RunHandle, grace_s: float, job_id: str) -> None:
    try:
        await handle.stop(grace_s)
    except Exception:
        log.exception("could not stop the leftover worker of job %s", job_id)
