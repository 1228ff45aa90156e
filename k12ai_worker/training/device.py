"""Choosing the torch device for a job from what its config asks and what the runner gave."""

from __future__ import annotations

import os
from collections.abc import Sequence

import torch

from k12ai_worker.training.reporting import EventSink


def select_device(*, wants_gpu: bool, devices: Sequence[int], sink: EventSink) -> torch.device:
    """The GPU the runner gave, else the CPU (saying why in an ``info`` event).

    ``devices`` are host GPU ids. A container (or a runner that set
    ``CUDA_VISIBLE_DEVICES``) sees only its GPUs, renumbered from 0, so an id
    this process cannot see means the first visible one.
    """
    if not wants_gpu:
        return torch.device("cpu")
    if not devices:
        sink.emit(
            "info", {"message": "cuda_device asks for a GPU, but this job was given none: running on CPU"}
        )
        return torch.device("cpu")
    if not torch.cuda.is_available():
        sink.emit(
            "info",
            {
                "message": f"this job was given GPU {devices[0]}, "
                "but CUDA is not available here: running on CPU"
            },
        )
        return torch.device("cpu")
    index = devices[0]
    if "CUDA_VISIBLE_DEVICES" in os.environ or index >= torch.cuda.device_count():
        index = 0
    device = torch.device("cuda", index)
    sink.emit("info", {"message": f"running on {device} ({torch.cuda.get_device_name(device)})"})
    return device
