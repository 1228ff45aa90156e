"""Job orchestration: admission, the GPU queue, one supervisor task per job, recovery."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from k12ai_contract.events import EventType, InvalidEventLineError, WorkerEvent, now_ms
from k12ai_contract.jobs import JobState
from k12ai_contract.spec import JobSpec, split_model_run
from k12ai_server.events.log import EventLog
from k12ai_server.events.record import EventRecord
from k12ai_server.jobs.events_file import EventsFileReader
from k12ai_server.jobs.gpus import GpuAllocator
from k12ai_server.jobs.model import Job, JobIdentity
from k12ai_server.jobs.store import JobStore
from k12ai_server.runners.base import ExitStatus, RunHandle, Runner
from k12ai_server.runners.exit import exit_status, read_exit_file

log = logging.getLogger(__name__)

# How often a live job's events file is read: an os.open and a read of nothing when idle.
INGEST_POLL_S = 0.02


class JobNotFoundError(Exception):
    pass


@dataclass(frozen=True, kw_only=True)
class JobPaths:
    data_root: Path
    state_dir: Path

    def cache_dir(self, ident: JobIdentity) -> Path:
        return self.data_root / "users" / ident.user / ident.service_uuid

    def run_dir(self, job_id: str) -> Path:
        return self.state_dir / "jobs" / job_id


class JobService:
    def __init__(
        self,
        *,
        jobs: JobStore,
        events: EventLog,
        runner: Runner,
        gpus: GpuAllocator,
        paths: JobPaths,
        stop_grace_s: float,
        max_running: int,
    ) -> None:
        self.jobs = jobs
        self._events = events
        self._runner = runner
        self._gpus = gpus
        self._paths = paths
        self._stop_grace_s = stop_grace_s
        # Jobs past this many wait queued: a host has so many cores and so much memory.
        self._max_running = max_running
        self._running: set[str] = set()
        self._queue: list[str] = []
        self._handles: dict[str, RunHandle] = {}
        self._stopping: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._recovered = asyncio.Event()

    def cache_dir(self, ident: JobIdentity) -> Path:
        return self._paths.cache_dir(ident)

    async def start(self, ident: JobIdentity, params: dict[str, Any], *, gpus_wanted: int) -> Job:
        """Admit a job (JobAlreadyLiveError if its identity has one); it runs when its GPUs are free."""
        await self._recovered.wait()
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
        )
        self.jobs.insert(job)
        job.run_dir.mkdir(parents=True, exist_ok=True)
        job.cache_dir.mkdir(parents=True, exist_ok=True)
        self._queue.append(job_id)
        self._emit_status(job, JobState.QUEUED, position=len(self._queue))
        self._dispatch()
        current = self.jobs.get(job_id)
        assert current is not None
        return current

    def waiting_for(self, job: Job) -> str:
        """Why a queued job is queued, in words for its reply."""
        if len(self._running) >= self._max_running:
            return f"a free job slot ({self._max_running} running)"
        return f"{job.gpus_wanted} free GPU(s)"

    async def stop(self, ident: JobIdentity) -> Job:
        job = self.jobs.find_live(ident)
        if job is None:
            raise JobNotFoundError(f"no live {ident.kind.value} job for {ident.user}/{ident.service_uuid}")
        await self.stop_job(job)
        return job

    async def stop_job(self, job: Job) -> None:
        if job.job_id in self._queue:
            self._queue.remove(job.job_id)
            self._finish(job, JobState.STOPPED, reason="stopped while queued")
            return
        self._stopping.add(job.job_id)
        handle = self._handles.get(job.job_id)
        if handle is not None:
            self._spawn(handle.stop(self._stop_grace_s))
        # else: the supervisor is launching it and stops it as soon as it can.

    async def recover(self) -> None:
        """Re-adopt every job a previous server left live; new starts wait for this."""
        for job in self.jobs.live():
            if job.state is JobState.QUEUED:
                self._queue.append(job.job_id)
                continue
            self._gpus.claim(job.job_id, job.devices)
            self._running.add(job.job_id)
            handle = await self._runner.adopt(job)
            self._spawn(self._supervise(job, handle or _Gone(job)))
            log.info("re-adopted job %s (%s)", job.job_id, "running" if handle else "gone")
        self._recovered.set()
        self._dispatch()

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def _dispatch(self) -> None:
        gpu_queue_blocked = False
        for job_id in list(self._queue):
            if len(self._running) >= self._max_running:
                return
            job = self.jobs.get(job_id)
            assert job is not None
            if job.gpus_wanted and gpu_queue_blocked:
                continue
            devices = self._gpus.assign(job_id, job.gpus_wanted)
            if devices is None:
                # GPU jobs keep their order: a later one never jumps an earlier one.
                gpu_queue_blocked = True
                continue
            self._queue.remove(job_id)
            self._running.add(job_id)
            job = self.jobs.update(job_id, state=JobState.STARTING, devices=devices)
            self._write_spec(job)
            self._emit_status(job, JobState.STARTING, devices=list(devices))
            self._spawn(self._supervise(job, None))

    def _write_spec(self, job: Job) -> None:
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
            devices=list(job.devices),
            model_run=model_run,
        ).dump(job.spec_path)

    async def _supervise(self, job: Job, handle: RunHandle | None) -> None:
        if handle is None:
            try:
                handle = await self._runner.launch(job)
            except Exception as exc:
                log.exception("launch of job %s failed", job.job_id)
                self._finish(job, JobState.FAILED, reason=f"could not start the job: {exc}")
                return
            job = self.jobs.update(job.job_id, runner_ref=handle.ref)
        self._handles[job.job_id] = handle
        if job.job_id in self._stopping:
            self._spawn(handle.stop(self._stop_grace_s))
        try:
            await self._follow(job, handle)
        finally:
            self._handles.pop(job.job_id, None)

    async def _follow(self, job: Job, handle: RunHandle) -> None:
        reader = EventsFileReader(job.events_path, job.events_offset)
        waiter = asyncio.ensure_future(handle.wait())
        last_error = ""
        garbage = ""
        while True:
            try:
                last_error = self._ingest(job, reader) or last_error
            except InvalidEventLineError as exc:
                garbage = f"the worker wrote an invalid event: {exc}"
                await handle.stop(self._stop_grace_s)
            if waiter.done() or garbage:
                break
            await asyncio.wait({waiter}, timeout=INGEST_POLL_S)
        exit_status = await waiter
        if not garbage:
            with contextlib.suppress(InvalidEventLineError):
                last_error = self._ingest(job, reader) or last_error
        self._settle(job, exit_status, error=garbage or last_error)

    def _ingest(self, job: Job, reader: EventsFileReader) -> str:
        """Store new worker events; returns the last error message among them."""
        new = reader.read_new()
        if not new:
            return ""
        last_error = ""
        for event in new:
            payload = event.payload if isinstance(event.payload, dict) else {}
            if event.type == "status" and payload.get("state") == JobState.RUNNING.value:
                self.jobs.update(job.job_id, state=JobState.RUNNING, started_at=event.timestamp)
            if event.type == "error":
                last_error = str(payload.get("message", ""))
        self._events.append([_record(job, e) for e in new], job_offset=(job.job_id, reader.offset))
        return last_error

    def _settle(self, job: Job, exit_status: ExitStatus, *, error: str) -> None:
        if job.job_id in self._stopping:
            state, reason = JobState.STOPPED, "stopped on request"
        elif exit_status.exit_code == 0 and not error:
            state, reason = JobState.FINISHED, ""
        else:
            state = JobState.FAILED
            reason = "; ".join(r for r in (error, exit_status.reason) if r)
            if exit_status.oom_killed:
                reason = f"out of memory (OOM-killed); {reason}"
        self._finish(job, state, reason=reason, exit_code=exit_status.exit_code)

    def _finish(self, job: Job, state: JobState, *, reason: str, exit_code: int | None = None) -> None:
        self._stopping.discard(job.job_id)
        job = self.jobs.update(job.job_id, state=state, reason=reason, exit_code=exit_code, ended_at=now_ms())
        extra: dict[str, Any] = {"reason": reason} if reason else {}
        if exit_code is not None:
            extra["exit_code"] = exit_code
        self._emit_status(job, state, **extra)
        self._gpus.release(job.job_id)
        self._running.discard(job.job_id)
        self._dispatch()

    def _emit_status(self, job: Job, state: JobState, **extra: Any) -> None:
        payload = {"state": state.value, "job_id": job.job_id, **extra}
        self._events.append([_record(job, WorkerEvent(EventType.STATUS, now_ms(), payload))])

    def _spawn(self, coro: Any) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


class _Gone:
    """A job whose process ended while the server was down."""

    def __init__(self, job: Job) -> None:
        self._job = job

    @property
    def ref(self) -> str:
        return self._job.runner_ref

    async def wait(self) -> ExitStatus:
        return exit_status(read_exit_file(self._job.exit_path), self._job.stderr_path)

    async def stop(self, grace_s: float) -> None:
        return None


def _record(job: Job, event: WorkerEvent) -> EventRecord:
    return EventRecord(
        job_id=job.job_id,
        type=event.type,
        tag="framework",
        op=job.op,
        user=job.identity.user,
        service_uuid=job.identity.service_uuid,
        timestamp=event.timestamp,
        payload=event.payload,
    )
