"""One supervisor per job: launch, follow, settle; nothing it can raise leaves the job's state wrong.

Ray's job supervisor is the model: the worker's exit is raced against a stop request and
the job's wall-clock deadline, while the job's events are fed to the ingest. Whatever
fails along the way (a line the store refuses, a full disk, a runner error, a bug)
ends in the same place: the worker is stopped, the job is settled ``failed`` with the
reason, its run slot and GPUs are freed, and the error is logged. The end is written
with the job's last status event in one transaction, retried until the database takes
it. Only a lost database (``state.watch``) leaves the worker running, untouched, for
the next server to adopt.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, replace
from typing import Any

from k12ai_contract.events import now_ms
from k12ai_contract.jobs import JobState
from k12ai_server.events.log import EventLog
from k12ai_server.jobs.events_tail import EventsFileTail
from k12ai_server.jobs.faults import fault_point
from k12ai_server.jobs.ingest import EventIngest, InvalidEventsError
from k12ai_server.jobs.job_events import status_event
from k12ai_server.jobs.model import Job
from k12ai_server.jobs.store import JobEndedError, JobStore
from k12ai_server.runners.base import EventChannel, ExitStatus, RunHandle, Runner
from k12ai_server.state.db import DatabaseLostError

log = logging.getLogger(__name__)

# How often a live job's events file is looked at: one stat() when nothing was written.
INGEST_POLL_S = 0.02
# Writing a job's end is retried (a full disk may free up) this often, doubling up to the max.
SETTLE_RETRY_MIN_S = 0.5
SETTLE_RETRY_MAX_S = 30.0


@dataclass(frozen=True)
class Outcome:
    state: JobState
    reason: str = ""
    exit_code: int | None = None
    # When the worker ended, where its runner knows (ExitStatus.ended_at); else when it is settled.
    ended_at: int | None = None


@dataclass(frozen=True, kw_only=True)
class SupervisorSettings:
    stop_grace_s: float
    # A job still running this long after it started is stopped and fails; 0 is no limit.
    time_limit_s: float = 0.0


class JobSupervisor:
    def __init__(
        self,
        job: Job,
        *,
        runner: Runner,
        events: EventLog,
        ingest: EventIngest,
        settings: SupervisorSettings,
        on_end: Callable[[str], None],
    ) -> None:
        """``on_end(job_id)`` runs once the job no longer holds its slot (or is left to the next server)."""
        self._job = job
        self._runner = runner
        self._events = events
        self._ingest = ingest
        self._settings = settings
        self._on_end = on_end
        self._handle: RunHandle | None = None
        self._stop_request: Outcome | None = None
        self._stop_requested = asyncio.Event()
        self._invalid_events = False
        # When the wall-clock limit starts counting: the launch, or (adopted) the worker's `running`.
        self._started_ms = job.started_at or now_ms()

    @property
    def job_id(self) -> str:
        return self._job.job_id

    def request_stop(self, state: JobState, reason: str) -> None:
        """Stop the worker; the job ends ``state`` (stopped or failed) with ``reason``. The first one wins."""
        if self._stop_request is None:
            self._stop_request = Outcome(state, reason)
            self._stop_requested.set()

    async def launch(self, devices: tuple[int, ...]) -> None:
        """Start the admitted job on ``devices`` and see it to its end."""
        await self._guarded(self._launch(devices))

    async def adopt(self, handle: RunHandle) -> None:
        """See a job started before a server restart to its end."""
        await self._guarded(self._follow(handle))

    async def _guarded(self, work: Coroutine[Any, Any, Outcome]) -> None:
        try:
            outcome = await work
        except DatabaseLostError as exc:
            log.error(
                "job %s: state database lost (%s); its worker is left to the next server", self.job_id, exc
            )
            self._on_end(self.job_id)
            return
        except Exception as exc:
            log.exception("job %s: supervising it failed; stopping its worker", self.job_id)
            await self._stop_worker()
            outcome = Outcome(
                JobState.FAILED,
                f"the server failed supervising the job ({type(exc).__name__}: {exc}); see the server log",
            )
        await self._settle(outcome)

    async def _launch(self, devices: tuple[int, ...]) -> Outcome:
        job = self._job = replace(self._job, state=JobState.STARTING, devices=devices)
        self._started_ms = now_ms()
        await self._events.append(
            [status_event(job, JobState.STARTING, devices=list(devices))],
            alongside=JobStore.updating(job.job_id, state=JobState.STARTING, devices=devices),
        )
        fault_point("after-starting")
        if self._stop_request is not None:
            return self._stop_request
        try:
            handle = await self._runner.launch(job)
        except Exception as exc:
            log.exception("launch of job %s failed", job.job_id)
            return Outcome(JobState.FAILED, f"could not start the job: {exc}")
        self._handle = handle
        fault_point("after-spawn")
        await self._events.append([], alongside=JobStore.updating(job.job_id, runner_ref=handle.ref))
        fault_point("after-ref")
        return await self._follow(handle)

    async def _follow(self, handle: RunHandle) -> Outcome:
        self._handle = handle
        # On the network channel the job's shipper feeds the ingest, and hands over its last
        # events before the worker's exit is reported; the server has no file to tail.
        shipped = self._runner.event_channel is EventChannel.NETWORK
        tail = None if shipped else EventsFileTail(self._job.events_path, self.job_id, self._ingest)
        ended = asyncio.ensure_future(handle.wait())
        stop_wanted = asyncio.ensure_future(self._stop_requested.wait())
        stopping: asyncio.Future[None] | None = None
        try:
            while not ended.done():
                await self._drain(tail)
                if self._stop_request is not None and stopping is None:
                    stopping = asyncio.ensure_future(handle.stop(self._settings.stop_grace_s))
                left_s = self._until_deadline()
                if left_s <= 0 and self._stop_request is None:
                    limit = self._settings.time_limit_s
                    self.request_stop(
                        JobState.FAILED, f"stopped at the wall-clock limit of {limit:g} s per job"
                    )
                    continue
                waiting = {ended} if stop_wanted.done() else {ended, stop_wanted}
                await asyncio.wait(
                    waiting, timeout=min(INGEST_POLL_S, left_s) if left_s > 0 else INGEST_POLL_S
                )
            status = ended.result()
            if stopping is not None:
                await stopping
        finally:
            for task in (ended, stop_wanted):
                task.cancel()
        await self._drain(tail)
        return self._outcome(status)

    async def _drain(self, tail: EventsFileTail | None) -> None:
        if self._invalid_events or tail is None:
            return
        try:
            await tail.drain()
        except InvalidEventsError as exc:
            self._invalid_events = True
            self.request_stop(JobState.FAILED, str(exc))

    def _until_deadline(self) -> float:
        """Seconds left before the wall-clock limit (inf without one)."""
        if not self._settings.time_limit_s:
            return float("inf")
        return self._settings.time_limit_s - (now_ms() - self._started_ms) / 1000

    def _outcome(self, status: ExitStatus) -> Outcome:
        request = self._stop_request
        if request is not None and request.state is JobState.STOPPED:
            return Outcome(JobState.STOPPED, request.reason, status.exit_code, status.ended_at)
        error = request.reason if request is not None else self._ingest.last_error(self.job_id)
        if status.exit_code == 0 and not error:
            return Outcome(JobState.FINISHED, "", 0, status.ended_at)
        reason = "; ".join(r for r in (error, status.reason) if r)
        if status.oom_killed:
            reason = f"out of memory (OOM-killed); {reason}"
        return Outcome(JobState.FAILED, reason, status.exit_code, status.ended_at)

    async def _stop_worker(self) -> None:
        if self._handle is None:
            return
        try:
            await self._handle.stop(self._settings.stop_grace_s)
        except Exception:
            log.exception("job %s: could not stop its worker", self.job_id)

    async def _settle(self, outcome: Outcome) -> None:
        # The slot and the GPUs are free from now on, whatever the database says.
        self._ingest.forget(self.job_id)
        self._on_end(self.job_id)
        delay_s = SETTLE_RETRY_MIN_S
        while True:
            try:
                await self._write_end(outcome)
                return
            except (DatabaseLostError, JobEndedError) as exc:
                log.warning("job %s: its end (%s) is not stored: %s", self.job_id, outcome.state.value, exc)
                return
            except Exception as exc:
                log.error(
                    "job %s: could not store its end (%s: %s): %s; retrying in %g s",
                    self.job_id,
                    outcome.state.value,
                    outcome.reason,
                    exc,
                    delay_s,
                )
            await asyncio.sleep(delay_s)
            delay_s = min(delay_s * 2, SETTLE_RETRY_MAX_S)

    async def _write_end(self, outcome: Outcome) -> None:
        extra: dict[str, Any] = {"reason": outcome.reason} if outcome.reason else {}
        if outcome.exit_code is not None:
            extra["exit_code"] = outcome.exit_code
        ended_at = outcome.ended_at or now_ms()
        fields: dict[str, Any] = {"state": outcome.state, "reason": outcome.reason, "ended_at": ended_at}
        if outcome.exit_code is not None:
            fields["exit_code"] = outcome.exit_code
        await self._events.append(
            [status_event(self._job, outcome.state, timestamp=ended_at, **extra)],
            alongside=JobStore.updating(self.job_id, **fields),
        )
