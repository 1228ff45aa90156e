"""The embedded default: each job is a local process in its own session.

The child gets its own process group (``start_new_session``) so a stop
reaches every process the framework spawned (e.g. DataLoader workers), and a
server crash does not take running jobs down with it. A restarted server finds
its jobs' workers by their command line (the spec path under its state
directory), so a worker is found even if the server died before saving its pid.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import psutil

from k12ai_contract.rundir import RunDir
from k12ai_contract.worker import GPU_ENV, given_gpus, gpu_environment, spec_of_command, worker_command
from k12ai_server.jobs.model import Job
from k12ai_server.runners.base import (
    EventChannel,
    ExitStatus,
    FoundWorker,
    PlacementListener,
    RunHandle,
    RunningJob,
)
from k12ai_server.runners.exit import exit_from_files, exit_status

EXIT_POLL_S = 0.2


class LocalProcessRunner:
    def __init__(
        self, *, python: str = sys.executable, event_channel: EventChannel = EventChannel.FILE
    ) -> None:
        self._python = python
        self.event_channel = event_channel
        self._jobs: dict[str, tuple[Job, psutil.Process]] = {}
        # Every process of the running jobs, kept for their CPU counters.
        self._members: dict[int, psutil.Process] = {}

    def listen(self, listener: PlacementListener) -> None:
        # A local process starts at once: there is no placement to report.
        return None

    async def launch(self, job: Job) -> RunHandle:
        with job.stderr_path.open("ab") as stderr:
            proc = await asyncio.create_subprocess_exec(
                *worker_command(
                    job.spec_path, python=self._python, shipped=self.event_channel is EventChannel.NETWORK
                ),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=stderr,
                stderr=stderr,
                cwd=job.run_dir,
                start_new_session=True,
                env={**os.environ, "PYTHONUNBUFFERED": "1", **gpu_environment(job.devices)},
            )
        self._track(job, proc.pid)
        return _ChildHandle(job, proc, self._untrack(job))

    async def find_workers(self, runs_root: Path) -> dict[str, FoundWorker]:
        return await asyncio.to_thread(_scan, runs_root)

    async def adopt(self, job: Job, found: FoundWorker) -> RunHandle | None:
        try:
            proc = psutil.Process(int(found.ref))
            alive = str(job.spec_path) in proc.cmdline()
        except (ValueError, psutil.Error):
            alive = False
        if not alive:
            return None
        self._track(job, proc.pid)
        return _AdoptedHandle(job, proc, self._untrack(job))

    def running(self) -> list[RunningJob]:
        total = psutil.virtual_memory().total
        found = []
        seen: dict[int, psutil.Process] = {}
        for job, proc in list(self._jobs.values()):
            try:
                cpu, rss = self._tree_usage(proc, seen)
            except psutil.Error:
                continue
            found.append(
                RunningJob(
                    id=job.job_id[:12],
                    cpu_percent=round(cpu, 2),
                    cpu_memory_total=total,
                    cpu_memory_usage=rss,
                    cpu_memory_percent=round(100.0 * rss / total, 2),
                    op=job.op,
                    user=job.identity.user,
                    service_uuid=job.identity.service_uuid,
                    job_id=job.job_id,
                )
            )
        self._members = seen
        return found

    def _tree_usage(self, proc: psutil.Process, seen: dict[int, psutil.Process]) -> tuple[float, int]:
        """CPU and memory of the worker and what it runs (the job is its child: k12ai_worker.supervisor)."""
        cpu, rss = 0.0, 0
        for member in (proc, *proc.children(recursive=True)):
            # cpu_percent measures since the last call on the same object: keep each one between calls.
            tracked = seen[member.pid] = self._members.get(member.pid, member)
            with contextlib.suppress(psutil.Error), tracked.oneshot():
                cpu += tracked.cpu_percent(None)
                rss += tracked.memory_info().rss
        return cpu, rss

    async def close(self) -> None:
        # Jobs outlive the server on purpose; the next start re-adopts them.
        self._jobs.clear()

    def _track(self, job: Job, pid: int) -> None:
        proc = psutil.Process(pid)
        with contextlib.suppress(psutil.Error):
            proc.cpu_percent(None)  # primes the counter so the first Stats has a value
        self._jobs[job.job_id] = (job, proc)

    def _untrack(self, job: Job) -> Callable[[], None]:
        def untrack() -> None:
            self._jobs.pop(job.job_id, None)

        return untrack


class _ChildHandle:
    def __init__(self, job: Job, proc: asyncio.subprocess.Process, untrack: Callable[[], None]) -> None:
        self._job = job
        self._proc = proc
        self._untrack = untrack

    @property
    def ref(self) -> str:
        return str(self._proc.pid)

    async def wait(self) -> ExitStatus:
        code = await self._proc.wait()
        self._untrack()
        return exit_status(code, self._job.stderr_path)

    async def stop(self, grace_s: float) -> None:
        await _stop_group(self._proc.pid, grace_s, self._proc.wait)


class _AdoptedHandle:
    """A process from before a server restart: not our child, so no waitpid."""

    def __init__(self, job: Job, proc: psutil.Process, untrack: Callable[[], None]) -> None:
        self._job = job
        self._proc = proc
        self._untrack = untrack

    @property
    def ref(self) -> str:
        return str(self._proc.pid)

    async def wait(self) -> ExitStatus:
        await self._gone()
        self._untrack()
        return exit_from_files(self._job)

    async def stop(self, grace_s: float) -> None:
        await _stop_group(self._proc.pid, grace_s, self._gone)

    async def _gone(self) -> None:
        # Nothing notifies us of a non-child's exit: polling is the only way.
        while self._proc.is_running() and self._proc.status() != psutil.STATUS_ZOMBIE:  # noqa: ASYNC110
            await asyncio.sleep(EXIT_POLL_S)


async def _stop_group(pid: int, grace_s: float, exited: Callable[[], Awaitable[object]]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGTERM)
    try:
        await asyncio.wait_for(exited(), grace_s)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)


def _scan(runs_root: Path) -> dict[str, FoundWorker]:
    """Workers whose spec lies in ``runs_root``: the leader of each job's session, by job id."""
    found: dict[str, FoundWorker] = {}
    root = Path(os.path.realpath(runs_root))
    for proc in psutil.process_iter(["pid", "cmdline"]):
        spec = spec_of_command(proc.info["cmdline"] or ())
        if spec is None:
            continue
        spec = Path(os.path.realpath(spec))
        if spec.parent.parent != root or spec != RunDir(spec.parent).spec:
            continue
        try:
            # DataLoader workers are forks with the same command line; the worker leads the session.
            if os.getsid(proc.pid) != proc.pid or proc.status() == psutil.STATUS_ZOMBIE:
                continue
            devices = tuple(given_gpus({GPU_ENV: proc.environ().get(GPU_ENV, "")}))
        except (OSError, psutil.Error):
            continue
        found[spec.parent.name] = FoundWorker(ref=str(proc.pid), devices=devices)
    return found
