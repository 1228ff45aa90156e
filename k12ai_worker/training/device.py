"""Choosing the torch device for a job from what its config asks and what the runner gave."""

from __future__ import annotations

import os

import torch

from k12ai_contract.worker import given_gpus
from k12ai_worker.training.reporting import EventSink


def select_device(*, wants_gpu: bool, sink: EventSink) -> torch.device:
    """The GPU the runner gave, else the CPU (saying why in an ``info`` event).

    The runner hands the job its GPUs through ``CUDA_VISIBLE_DEVICES``
    (``k12ai_contract.worker.GPU_ENV``), so this process sees only those,
    renumbered from 0: the first is ``cuda:0``.
    """
    devices = given_gpus(os.environ)
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
    device = torch.device("cuda", 0)
    sink.emit("info", {"message": f"running on {device} ({torch.cuda.get_device_name(device)})"})
    return device
