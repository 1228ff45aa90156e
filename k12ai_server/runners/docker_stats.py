"""CPU and memory of the labelled containers, sampled in the background.

Docker's stats call computes CPU use between two readings it takes itself, so
it answers after one to two seconds per container. A one-shot reading answers
in milliseconds; the sampler keeps each container's previous reading and
computes CPU use against it, and Platform.Stats answers from the latest sample.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Callable, Mapping
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any, TypeVar

from docker.errors import DockerException, InvalidVersion

from k12ai_server.runners.base import RunningJob
from k12ai_server.runners.docker_options import (
    LABEL_JOB_ID,
    LABEL_OP,
    LABEL_SERVICE,
    LABEL_SERVICE_UUID,
    LABEL_USER,
    labels_of,
)

log = logging.getLogger(__name__)

STATS_INTERVAL_S = 1.0
T = TypeVar("T")


@dataclass(frozen=True)
class _CpuReading:
    container_ns: int
    system_ns: int


class ContainerStatsSampler:
    def __init__(self, *, api: Any, executor: Executor, interval_s: float = STATS_INTERVAL_S) -> None:
        # ``api`` is docker's low-level APIClient.
        self._api = api
        self._executor = executor
        self._interval_s = interval_s
        self._latest: list[RunningJob] = []
        self._previous: dict[str, _CpuReading] = {}
        self._one_shot = True

    def latest(self) -> list[RunningJob]:
        return self._latest

    def forget(self, container_id: str) -> None:
        """Drop a container that just ended, so Stats stops showing it before the next sample."""
        self._latest = [c for c in self._latest if not container_id.startswith(c.id)]

    async def run(self) -> None:
        while True:
            try:
                await self.sample()
            except DockerException as exc:
                log.warning("container stats: %s", exc)
            await asyncio.sleep(self._interval_s)

    async def sample(self) -> None:
        listed = await self._call(self._api.containers, filters={"label": LABEL_SERVICE, "status": "running"})
        readings = await asyncio.gather(
            *(self._call(self._stats, c["Id"]) for c in listed), return_exceptions=True
        )
        latest = []
        for summary, raw in zip(listed, readings, strict=True):
            if isinstance(raw, BaseException):
                continue  # it stopped between the list and the stats call
            latest.append(self._running_job(summary, raw))
        alive = {c["Id"] for c in listed}
        self._previous = {cid: r for cid, r in self._previous.items() if cid in alive}
        self._latest = latest

    def _stats(self, container_id: str) -> Mapping[str, Any]:
        if self._one_shot:
            try:
                return self._api.stats(container_id, stream=False, one_shot=True)  # type: ignore[no-any-return]
            except InvalidVersion:
                # Engines before API 1.41 only have the slow two-reading call.
                self._one_shot = False
        return self._api.stats(container_id, stream=False)  # type: ignore[no-any-return]

    def _running_job(self, summary: Mapping[str, Any], raw: Mapping[str, Any]) -> RunningJob:
        cid = summary["Id"]
        labels = labels_of(summary)
        memory = raw.get("memory_stats") or {}
        limit = int(memory.get("limit") or 0)
        used = _memory_used(memory)
        return RunningJob(
            id=cid[:12],
            cpu_percent=round(self._cpu_percent(cid, raw.get("cpu_stats") or {}), 2),
            cpu_memory_total=limit,
            cpu_memory_usage=used,
            cpu_memory_percent=round(100.0 * used / limit, 2) if limit else 0.0,
            op=labels.get(LABEL_OP, ""),
            user=labels.get(LABEL_USER, ""),
            service_uuid=labels.get(LABEL_SERVICE_UUID, ""),
            job_id=labels.get(LABEL_JOB_ID, ""),
        )

    def _cpu_percent(self, container_id: str, cpu: Mapping[str, Any]) -> float:
        """As `docker stats` shows it: 100 per fully used CPU."""
        reading = _CpuReading(
            container_ns=int((cpu.get("cpu_usage") or {}).get("total_usage") or 0),
            system_ns=int(cpu.get("system_cpu_usage") or 0),
        )
        before = self._previous.get(container_id)
        self._previous[container_id] = reading
        if before is None:
            return 0.0
        system_delta = reading.system_ns - before.system_ns
        container_delta = reading.container_ns - before.container_ns
        if system_delta <= 0 or container_delta < 0:
            return 0.0
        return 100.0 * container_delta / system_delta * int(cpu.get("online_cpus") or 1)

    async def _call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(fn, *args, **kwargs))


def _memory_used(memory: Mapping[str, Any]) -> int:
    """Usage less the reclaimable page cache, as `docker stats` computes it (cgroup v1 and v2)."""
    usage = int(memory.get("usage") or 0)
    stats = memory.get("stats") or {}
    for key in ("total_inactive_file", "inactive_file"):
        if key in stats:
            with contextlib.suppress(TypeError, ValueError):
                return max(0, usage - int(stats[key]))
    return usage
