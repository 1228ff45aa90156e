"""The Docker runner: each job is a labelled container on this host.

Events travel through the job's events file, in the run dir that is
bind-mounted into the container at its host path: the server records how far
it has read in the same transaction as the events, so re-attaching after a
restart neither loses nor repeats one. A container's exit code, OOM flag and
log tail become the ExitStatus. Containers outlive the server; on start it
finds them again by their job-id label (even one whose id was never saved).
The spec and the inputs were settled at admission: the runner mounts what the
job row says and rewrites nothing.

Docker SDK calls block. They run on this runner's own threads, so a stop that
waits out its grace period never starves the event loop's default executor.
Two background loops start with the first use: one notices exits (one list
call for all containers), the other samples stats for ``running()``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import math
import os
import signal
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import docker
from docker.errors import APIError, DockerException, ImageNotFound, NotFound

from k12ai_server.config import DockerConfig
from k12ai_server.jobs.model import Job
from k12ai_server.runners.base import (
    EventChannel,
    ExitStatus,
    FoundWorker,
    PlacementListener,
    RunHandle,
    RunningJob,
)
from k12ai_server.runners.docker_options import (
    LABEL_DEVICES,
    LABEL_JOB_ID,
    ContainerUser,
    container_options,
    job_mounts,
    labels_of,
)
from k12ai_server.runners.docker_stats import ContainerStatsSampler
from k12ai_server.runners.exit import stderr_tail

log = logging.getLogger(__name__)

DOCKER_CALL_THREADS = 16
EXIT_POLL_S = 0.25
# Container states in which the worker may still run or be about to.
ALIVE_STATES = frozenset({"created", "running", "restarting", "paused"})
# Log lines kept in the run dir's stderr.log once a container ends.
KEPT_LOG_LINES = 200
SIGNAL_NUMBERS = frozenset(s.value for s in signal.Signals)
T = TypeVar("T")


def connect_docker() -> docker.DockerClient:
    """The engine of DOCKER_HOST (or the local socket), with a connection per runner thread."""
    return docker.from_env(max_pool_size=DOCKER_CALL_THREADS)


class DockerRunner:
    def __init__(
        self,
        *,
        client: docker.DockerClient,
        config: DockerConfig,
        data_roots: Sequence[Path],
        request_gpus: bool = True,
        event_channel: EventChannel = EventChannel.FILE,
    ) -> None:
        """``client`` is owned from here on: ``close()`` closes it.

        ``request_gpus`` False hands a job's GPU ids to no container (pretend
        GPUs); the worker then sees none and runs on the CPU.
        """
        self.event_channel = event_channel
        self._client = client
        self._config = config
        self._roots = tuple(data_roots)
        self._request_gpus = request_gpus
        self._user = ContainerUser.parse(config.user)
        self._host_cpus = os.cpu_count() or 1
        self._pool = ThreadPoolExecutor(DOCKER_CALL_THREADS, thread_name_prefix="k12ai-docker")
        self._stats = ContainerStatsSampler(api=client.api, executor=self._pool)
        # Container id -> resolved once it no longer runs.
        self._exits: dict[str, asyncio.Future[None]] = {}
        # Container id -> job, for Stats before the sampler has seen it.
        self._tracked: dict[str, Job] = {}
        self._background: list[asyncio.Task[None]] = []

    def listen(self, listener: PlacementListener) -> None:
        # A container starts at once: there is no placement to report.
        return None

    async def launch(self, job: Job) -> RunHandle:
        self._start_background()
        options = container_options(
            job,
            self._config,
            user=self._user,
            mounts=job_mounts(job, self._roots),
            gpu_ids=job.devices if self._request_gpus else (),
            host_cpus=self._host_cpus,
            shipped=self.event_channel is EventChannel.NETWORK,
        )
        await self._call(self._prepare_run_dir, job)
        container_id = await self._call(self._create_and_start, job, options)
        self._tracked[container_id] = job
        return _ContainerHandle(self, job, container_id)

    async def find_workers(self, runs_root: Path) -> dict[str, FoundWorker]:
        listed = await self._call(self._client.api.containers, all=True, filters={"label": LABEL_JOB_ID})
        found = {}
        for summary in listed:
            labels = labels_of(summary)
            job_id = labels.get(LABEL_JOB_ID, "")
            # Another server's (another state directory's) containers are not ours to touch.
            if job_id and (runs_root / job_id).is_dir():
                devices = tuple(int(d) for d in labels.get(LABEL_DEVICES, "").split(",") if d.isdigit())
                running = summary.get("State") in ALIVE_STATES
                found[job_id] = FoundWorker(ref=str(summary["Id"]), devices=devices, running=running)
        return found

    async def adopt(self, job: Job, found: FoundWorker) -> RunHandle | None:
        self._start_background()
        if not await self._call(self._restart_if_created, found.ref):
            return None
        self._tracked[found.ref] = job
        return _ContainerHandle(self, job, found.ref)

    async def wait_for_exit(self, job: Job, container_id: str) -> ExitStatus:
        """The container's exit status once it no longer runs; the container is then removed."""
        ended = self._exits.setdefault(container_id, asyncio.get_running_loop().create_future())
        try:
            await ended
        finally:
            self._exits.pop(container_id, None)
        try:
            return await self._call(self._settle, job, container_id)
        except DockerException as exc:
            return ExitStatus(exit_code=None, reason=f"could not read the container's exit status: {exc}")
        finally:
            self._tracked.pop(container_id, None)
            self._stats.forget(container_id)

    async def stop_container(self, container_id: str, grace_s: float) -> None:
        # Docker's stop is the contract: SIGTERM, the grace period, then SIGKILL.
        with contextlib.suppress(NotFound):
            await self._call(self._client.api.stop, container_id, timeout=math.ceil(grace_s))

    def running(self) -> list[RunningJob]:
        self._start_background()
        sampled = self._stats.latest()
        seen = {c.id for c in sampled}
        return sampled + [
            _not_yet_sampled(cid, job) for cid, job in list(self._tracked.items()) if cid[:12] not in seen
        ]

    async def close(self) -> None:
        # Containers outlive the server on purpose; the next start re-adopts them.
        for task in self._background:
            task.cancel()
        for task in self._background:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._client.close()

    def _start_background(self) -> None:
        """Start the exit and stats loops, once, from the event loop (never from a thread)."""
        if self._background:
            return
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return
        self._background = [
            asyncio.ensure_future(self._watch_exits()),
            asyncio.ensure_future(self._stats.run()),
        ]

    async def _call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, functools.partial(fn, *args, **kwargs))

    # -- launching (on the runner's threads)

    def _prepare_run_dir(self, job: Job) -> None:
        if os.geteuid() == 0:
            # The worker writes events and artefacts as a non-root user.
            for top in (job.run_dir, job.cache_dir):
                _chown_tree(top, self._user)

    def _create_and_start(self, job: Job, options: dict[str, Any]) -> str:
        try:
            container = self._client.containers.create(**options)
        except ImageNotFound:
            raise RuntimeError(
                f"worker image {self._config.image!r} not found; build it with scripts/build_images"
            ) from None
        except APIError as exc:
            if exc.status_code != 409:
                raise
            # A container of this name is left over from a job the server settled
            # but could not remove (it died first); a running one is a real clash.
            self._remove_leftover(job.identity.name)
            container = self._client.containers.create(**options)
        try:
            container.start()
        except DockerException:
            with contextlib.suppress(DockerException):
                container.remove(force=True)
            raise
        return str(container.id)

    def _remove_leftover(self, name: str) -> None:
        existing = self._client.api.inspect_container(name)
        if existing["State"]["Running"]:
            owner = labels_of(existing).get(LABEL_JOB_ID, "?")
            raise RuntimeError(f"container {name} is already running (job {owner})")
        self._client.api.remove_container(existing["Id"], force=True)

    def _restart_if_created(self, container_id: str) -> bool:
        """False if the container is gone; started if a crash left it only created."""
        try:
            state = self._client.api.inspect_container(container_id)["State"]
        except NotFound:
            return False
        if state.get("Status") == "created":
            self._client.api.start(container_id)
        return True

    # -- following

    async def _watch_exits(self) -> None:
        while True:
            await asyncio.sleep(EXIT_POLL_S)
            if not self._exits:
                continue
            try:
                listed = await self._call(
                    self._client.api.containers, all=True, filters={"label": LABEL_JOB_ID}
                )
            except DockerException as exc:
                log.warning("listing job containers: %s", exc)
                continue
            states = {c["Id"]: c["State"] for c in listed}
            for container_id, ended in list(self._exits.items()):
                if states.get(container_id) not in ALIVE_STATES and not ended.done():
                    ended.set_result(None)

    def _settle(self, job: Job, container_id: str) -> ExitStatus:
        """Exit status and log tail of an ended container, which is then removed."""
        try:
            container = self._client.containers.get(container_id)
        except NotFound:
            return ExitStatus(
                exit_code=None,
                reason=f"container {job.identity.name} was removed before its exit status was read",
            )
        logs = container.logs(stdout=True, stderr=True, tail=KEPT_LOG_LINES)
        with job.stderr_path.open("ab") as f:
            f.write(logs)
        status = _container_exit(container.attrs["State"], job.stderr_path, self._config.memory)
        if not self._config.keep_containers:
            with contextlib.suppress(NotFound):
                container.remove()
        return status


class _ContainerHandle:
    def __init__(self, runner: DockerRunner, job: Job, container_id: str) -> None:
        self._runner = runner
        self._job = job
        self._id = container_id

    @property
    def ref(self) -> str:
        return self._id

    async def wait(self) -> ExitStatus:
        return await self._runner.wait_for_exit(self._job, self._id)

    async def stop(self, grace_s: float) -> None:
        await self._runner.stop_container(self._id, grace_s)


def _container_exit(state: dict[str, Any], stderr_path: Path, memory_limit: str) -> ExitStatus:
    return replace(_exit_code_status(state, stderr_path, memory_limit), ended_at=_finished_at(state))


def _finished_at(state: dict[str, Any]) -> int | None:
    """Docker's ``FinishedAt`` in ms ("2026-12-07T00:35:09.123456789Z"; year 1 if it never ran)."""
    try:
        finished = datetime.fromisoformat(str(state.get("FinishedAt", "")))
    except ValueError:
        return None
    return int(finished.timestamp() * 1000) if finished.year > 1 else None


def _exit_code_status(state: dict[str, Any], stderr_path: Path, memory_limit: str) -> ExitStatus:
    code = int(state.get("ExitCode", -1))
    if code == 0:
        return ExitStatus(exit_code=0)
    # With docker-init as PID 1, a worker killed by signal N ends the container with 128 + N.
    signum = code - 128
    if signum in SIGNAL_NUMBERS:
        reason = f"killed by {signal.Signals(signum).name} (container exit code {code})"
    else:
        reason = f"exit code {code}"
    oom = bool(state.get("OOMKilled"))
    if oom:
        reason = f"memory limit {memory_limit} exceeded; {reason}"
    if state.get("Error"):
        reason = f"{reason}; docker: {state['Error']}"
    tail = stderr_tail(stderr_path)
    return ExitStatus(exit_code=code, reason=f"{reason}; stderr: {tail}" if tail else reason, oom_killed=oom)


def _not_yet_sampled(container_id: str, job: Job) -> RunningJob:
    return RunningJob(
        id=container_id[:12],
        cpu_percent=0.0,
        cpu_memory_total=0,
        cpu_memory_usage=0,
        cpu_memory_percent=0.0,
        op=job.op,
        user=job.identity.user,
        service_uuid=job.identity.service_uuid,
        job_id=job.job_id,
    )


def _chown_tree(top: Path, user: ContainerUser) -> None:
    for root, dirs, files in os.walk(top):
        for name in (root, *(os.path.join(root, n) for n in (*dirs, *files))):  # noqa: PTH118
            with contextlib.suppress(FileNotFoundError):
                os.chown(name, user.uid, user.gid, follow_symlinks=False)
