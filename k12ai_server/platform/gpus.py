"""GPUs through NVML; an empty list where no NVIDIA driver is present."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

MIB = 1024 * 1024


@dataclass(frozen=True, kw_only=True)
class GpuSample:
    index: int
    name: str
    gpu_percent: float
    # MiB, as the seed reports them (e.g. 22919.0 for a P40).
    gpu_memory_total: float
    gpu_memory_usage: float
    gpu_memory_percent: float

    def seed_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "gpu_percent": self.gpu_percent,
            "gpu_memory_total": self.gpu_memory_total,
            "gpu_memory_usage": self.gpu_memory_usage,
            "gpu_memory_percent": self.gpu_memory_percent,
        }


class NvmlGpus:
    """Reads GPU state; ``available`` is False without a driver."""

    def __init__(self) -> None:
        self.available = False
        try:
            import pynvml

            pynvml.nvmlInit()
            self._nvml: Any = pynvml
            self.available = True
        except Exception as exc:
            # No driver is the normal case on CPU hosts and in CI.
            log.info("NVML unavailable, reporting no GPUs: %s", exc)

    def inventory(self) -> list[int]:
        if not self.available:
            return []
        return list(range(self._nvml.nvmlDeviceGetCount()))

    def sample(self) -> list[GpuSample]:
        if not self.available:
            return []
        nvml = self._nvml
        found = []
        for index in self.inventory():
            handle = nvml.nvmlDeviceGetHandleByIndex(index)
            name = nvml.nvmlDeviceGetName(handle)
            util = nvml.nvmlDeviceGetUtilizationRates(handle)
            mem = nvml.nvmlDeviceGetMemoryInfo(handle)
            total = mem.total / MIB
            used = mem.used / MIB
            found.append(
                GpuSample(
                    index=index,
                    name=name.decode() if isinstance(name, bytes) else str(name),
                    gpu_percent=float(util.gpu),
                    gpu_memory_total=round(total, 1),
                    gpu_memory_usage=round(used, 1),
                    gpu_memory_percent=round(100.0 * used / total, 2) if total else 0.0,
                )
            )
        return found
