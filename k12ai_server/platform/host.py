"""Host statistics, sampled in the background so a Stats call never waits on them.

``psutil.cpu_percent`` measures between two calls, and NVML and container stats
take time; the sampler refreshes every ``interval_s`` and Stats answers from
the latest sample.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from k12ai_server.platform.gpus import GpuSample, NvmlGpus
from k12ai_server.runners.base import RunningJob

SAMPLE_INTERVAL_S = 1.0


@dataclass(frozen=True, kw_only=True)
class HostSample:
    cpu_percent: float = 0.0
    cpu_percent_list: list[float] = field(default_factory=list)
    cpu_memory_total: int = 0
    cpu_memory_usage: int = 0
    cpu_memory_percent: float = 0.0
    gpus: list[GpuSample] = field(default_factory=list)
    disks: list[dict[str, Any]] = field(default_factory=list)
    containers: list[RunningJob] = field(default_factory=list)


class HostSampler:
    def __init__(
        self,
        *,
        gpus: NvmlGpus,
        running: Callable[[], list[RunningJob]],
        disk_paths: list[Path],
        interval_s: float = SAMPLE_INTERVAL_S,
    ) -> None:
        self._gpus = gpus
        self._running = running
        self._disk_paths = disk_paths
        self._interval_s = interval_s
        self._latest = HostSample()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        psutil.cpu_percent(percpu=True)  # primes the counters
        self._latest = self._sample()
        self._task = asyncio.ensure_future(self._loop())

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def latest(self) -> HostSample:
        return self._latest

    def refresh_containers(self) -> None:
        """Re-read running jobs now: a job that just started or stopped shows at once."""
        self._latest = HostSample(**{**self._latest.__dict__, "containers": self._running()})

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self._interval_s)
            self._latest = await asyncio.to_thread(self._sample)

    def _sample(self) -> HostSample:
        per_cpu = psutil.cpu_percent(percpu=True)
        mem = psutil.virtual_memory()
        return HostSample(
            cpu_percent=round(sum(per_cpu) / len(per_cpu), 1) if per_cpu else 0.0,
            cpu_percent_list=per_cpu,
            cpu_memory_total=mem.total,
            cpu_memory_usage=mem.total - mem.available,
            cpu_memory_percent=mem.percent,
            gpus=self._gpus.sample(),
            disks=[_disk(p) for p in self._disk_paths if p.exists()],
            containers=self._running(),
        )


def _disk(path: Path) -> dict[str, Any]:
    usage = psutil.disk_usage(str(path))
    return {
        "path": str(path),
        "disk_total": usage.total,
        "disk_usage": usage.used,
        "disk_percent": usage.percent,
    }


def seed_stats(sample: HostSample, query: dict[str, Any], user: str | None) -> dict[str, Any]:
    """The seed's `message` object for the parts the query asks for (all by default).

    ``user`` limits `containers` to that user's jobs; None shows every job.
    """
    out: dict[str, Any] = {}
    if query.get("cpus", True):
        out.update(
            cpu_percent=sample.cpu_percent,
            cpu_percent_list=sample.cpu_percent_list,
            cpu_memory_total=sample.cpu_memory_total,
            cpu_memory_usage=sample.cpu_memory_usage,
            cpu_memory_percent=sample.cpu_memory_percent,
        )
    if query.get("gpus", True):
        out["gpus"] = [g.seed_dict() for g in sample.gpus]
    if query.get("disks", True):
        out["disks"] = sample.disks
    if query.get("containers", True):
        out["containers"] = [
            {
                "id": c.id,
                "cpu_percent": c.cpu_percent,
                "cpu_memory_total": c.cpu_memory_total,
                "cpu_memory_usage": c.cpu_memory_usage,
                "cpu_memory_percent": c.cpu_memory_percent,
                "op": c.op,
                "user": c.user,
                "service_uuid": c.service_uuid,
                # The cluster node (Ray runner) only: a single host's Stats keep the seed's shape.
                **({"node": c.node} if c.node else {}),
            }
            for c in sample.containers
            if user is None or c.user == user
        ]
    return out
