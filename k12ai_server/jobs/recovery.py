"""What a starting server finds: the jobs it must see to their end, and no worker left unseen.

Workers are found by what they carry (``Runner.find_workers``: the spec path on a
process's command line, a container's job-id label), not by the ref the last server
saved, so a server killed at any point of a job's start path finds the worker anyway:

- a live job whose worker is found is adopted; one whose worker is gone is settled from
  its events and exit files (``GoneHandle``); a ``starting`` job that left no trace at
  all (the server died before the worker began) is queued again, so it runs once;
- a worker of a job the database holds as ended is stopped: it must not run;
- a worker, or the files of a job that ran, in a run directory the database does not
  know (the database was deleted or replaced) is taken back from its spec: the job is
  rebuilt, adopted and its events ingested from the start. Nothing that ran is lost.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from k12ai_contract.events import EventType, WorkerEvent
from k12ai_contract.jobs import JobState
from k12ai_contract.rundir import RunDir
from k12ai_contract.spec import JobSpec
from k12ai_server.events.log import EventLog
from k12ai_server.jobs.job_events import worker_events
from k12ai_server.jobs.model import Job, JobIdentity
from k12ai_server.jobs.store import JobStore
from k12ai_server.runners.base import FoundWorker, RunHandle, Runner
from k12ai_server.runners.exit import GoneHandle

log = logging.getLogger(__name__)


@dataclass
class RecoveryPlan:
    # Oldest first: they wait for a slot again.
    queued: list[Job] = field(default_factory=list)
    # `starting` jobs whose worker never began: queued again.
    requeued: list[Job] = field(default_factory=list)
    # Jobs to see to their end, each with its worker (or a GoneHandle).
    adopted: list[tuple[Job, RunHandle]] = field(default_factory=list)
    # Workers that must not run: job id and handle.
    leftovers: list[tuple[str, RunHandle]] = field(default_factory=list)


class JobRecovery:
    def __init__(self, *, store: JobStore, events: EventLog, runner: Runner, runs_root: Path) -> None:
        self._store = store
        self._events = events
        self._runner = runner
        self._runs_root = runs_root

    async def plan(self) -> RecoveryPlan:
        found = await self._runner.find_workers(self._runs_root)
        plan = RecoveryPlan()
        for job in self._store.live():
            worker = found.pop(job.job_id, None)
            handle = await self._runner.adopt(job, worker) if worker else None
            if handle is not None:
                plan.adopted.append((job, handle))
            elif job.state is JobState.QUEUED:
                plan.queued.append(job)
            elif job.state is JobState.STARTING and not _ran(job.run_dir):
                plan.requeued.append(job)
            else:
                plan.adopted.append((job, GoneHandle(job)))
        known = self._store.known_ids()
        for job_id, worker in found.items():
            await self._unknown_worker(job_id, worker, known, plan)
        for job_id in self._run_dirs() - known - set(found):
            await self._unknown_run_dir(job_id, plan)
        return plan

    async def _unknown_worker(
        self, job_id: str, worker: FoundWorker, known: set[str], plan: RecoveryPlan
    ) -> None:
        if job_id in known:
            if not worker.running:
                return  # an ended job's container, kept for inspection
            job, live = self._store.get(job_id), False
        else:
            job, live = await self._rebuild(job_id, worker)
        handle = await self._runner.adopt(job, worker) if job is not None else None
        if job is None or handle is None:
            return
        if live:
            plan.adopted.append((job, handle))
        else:
            log.warning(
                "a worker of job %s runs, but the job may not (%s): stopping it", job_id, job.state.value
            )
            plan.leftovers.append((job_id, handle))

    async def _unknown_run_dir(self, job_id: str, plan: RecoveryPlan) -> None:
        run_dir = self._runs_root / job_id
        if not _ran(run_dir):
            log.warning("run directory %s holds a job that never started and is not in the database", run_dir)
            return
        job, live = await self._rebuild(job_id, FoundWorker(ref=""))
        if job is not None and live:
            plan.adopted.append((job, GoneHandle(job)))

    async def _rebuild(self, job_id: str, worker: FoundWorker) -> tuple[Job | None, bool]:
        """The job of a run directory the database lost, and whether it is now a live row.

        Not live when another live job holds its identity: its worker must not run.
        """
        run_dir = self._runs_root / job_id
        try:
            spec = JobSpec.load(RunDir(run_dir).spec)
            created_at = int(RunDir(run_dir).spec.stat().st_mtime * 1000)
        except (OSError, ValueError, KeyError) as exc:
            log.error(
                "run directory %s has no readable spec (%s): its job cannot be taken back", run_dir, exc
            )
            return None, False
        job = Job(
            job_id=job_id,
            identity=JobIdentity(
                user=spec.user, service_name=spec.service_name, service_uuid=spec.service_uuid, kind=spec.kind
            ),
            state=JobState.STARTING,
            params=spec.params,
            cache_dir=spec.cache_dir,
            run_dir=run_dir,
            created_at=created_at,
            gpus_wanted=len(worker.devices),
            devices=worker.devices,
            runner_ref=worker.ref,
        )
        note = WorkerEvent(
            EventType.INFO,
            created_at,
            {"message": "taken back from its run directory: the state database had no record of this job"},
        )
        try:
            await self._events.append(worker_events(job, [note]), alongside=JobStore.inserting(job))
        except sqlite3.IntegrityError:
            log.error("job %s: another live job holds %s", job_id, job.identity.name)
            return job, False
        log.warning(
            "job %s (%s) was not in the state database: taken back from %s",
            job_id,
            job.identity.name,
            run_dir,
        )
        return job, True

    def _run_dirs(self) -> set[str]:
        try:
            return {entry.name for entry in os.scandir(self._runs_root) if entry.is_dir()}
        except FileNotFoundError:
            return set()


def _ran(run_dir: Path) -> bool:
    """Whether a worker ever began in ``run_dir`` (it left events or an exit code)."""
    files = RunDir(run_dir)
    return files.events.exists() or files.exit_code.exists()
