"""GPU allocation: specific device ids per job, never one GPU to two jobs."""

from __future__ import annotations

from collections.abc import Sequence


class GpuAllocator:
    def __init__(self, inventory: Sequence[int]) -> None:
        self._free = list(inventory)
        self._total = len(inventory)
        self._held: dict[str, tuple[int, ...]] = {}

    @property
    def total(self) -> int:
        return self._total

    @property
    def allocated(self) -> int:
        return sum(len(devices) for devices in self._held.values())

    def assign(self, job_id: str, count: int) -> tuple[int, ...] | None:
        """Device ids for the job, () for a CPU job, None when it must wait.

        A host with no GPU at all runs GPU jobs on the CPU (the framework says
        so in an `info` event) rather than queueing them forever.
        """
        if count <= 0 or self._total == 0:
            return ()
        if count > len(self._free):
            return None
        devices = tuple(self._free[:count])
        del self._free[:count]
        self._held[job_id] = devices
        return devices

    def claim(self, job_id: str, devices: Sequence[int]) -> None:
        """Re-take the devices a re-adopted job already runs on."""
        taken = tuple(d for d in devices if d in self._free)
        for device in taken:
            self._free.remove(device)
        if taken:
            self._held[job_id] = taken

    def release(self, job_id: str) -> None:
        self._free.extend(self._held.pop(job_id, ()))
        self._free.sort()

    def can_start(self, count: int) -> bool:
        """Whether a job asking for ``count`` GPUs would get them now."""
        return count <= 0 or self._total == 0 or count <= len(self._free)

    def can_ever_fit(self, count: int) -> bool:
        return count <= self._total or self._total == 0
