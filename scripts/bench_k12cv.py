"""k12cv: training images/s against a minimal hand-written PyTorch loop, and on a GPU its use.

    python scripts/bench_k12cv.py [--model small_cnn] [--device cpu|cuda] [--image-size 32]
                                  [--copies 4] [--epochs 4] [--batch-size 128] [--rounds 2]

Data: scikit-learn's digits, resized to ``--image-size`` and repeated
``--copies`` times, written as grayscale PNGs in an ``image_folder`` layout
(one sub-folder per digit), so k12cv reads them as a user's job would.

1. Training images/s. k12cv's own ``run_train`` (the job a server starts,
   in this process: reading the folder, cached decoded images, the per-batch
   transforms, the shared ``Trainer`` with its metrics, events and a
   ``model.tar.gz`` written after every epoch) against a minimal loop over
   the same decoded pixels (already float and on the device), the same
   network class, optimizer, batch size and seeds: shuffle, forward, cross
   entropy, backward, step. Both skip their first epoch (warm-up); rounds
   alternate and each side's best round counts. Target: k12cv >= 0.95 x the
   minimal loop.
2. On a GPU (``--device cuda``): the same k12cv job on the CPU for the
   speed-up, GPU utilisation (NVML, sampled every 20 ms over the timed
   epochs) of each run, and k12cv with its cache off (``cache_limit_mb: 0``),
   decoding the PNGs each epoch in DataLoader workers.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from sklearn.datasets import load_digits

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from k12ai_contract.jobs import JobKind  # noqa: E402
from k12ai_contract.spec import JobSpec  # noqa: E402
from k12ai_contract.worker import gpu_environment  # noqa: E402
from k12ai_worker import inputs  # noqa: E402
from k12ai_worker.k12cv.config import read_train_config  # noqa: E402
from k12ai_worker.k12cv.train import run_train  # noqa: E402

SAMPLE_INTERVAL_S = 0.02


@dataclass
class EpochClock:
    """An event sink noting when each training epoch's last metrics event arrives.

    That event reads the metrics back from the device, so the GPU has
    finished the epoch by then.
    """

    ends: list[float] = field(default_factory=list)

    def emit(self, type: str, payload: dict[str, Any]) -> None:
        if (
            type == "metrics"
            and payload.get("phase") == "train"
            and payload["batch"] == payload["num_batches"]
        ):
            self.ends.append(time.perf_counter())


class Utilisation:
    """Mean GPU utilisation (NVML) over the windows marked with ``measure``."""

    def __init__(self) -> None:
        import pynvml

        pynvml.nvmlInit()
        self._nvml = pynvml
        self._handle = pynvml.nvmlDeviceGetHandleByIndex(torch.cuda.current_device())
        self._samples: list[int] = []
        self._on = threading.Event()
        self._stop = threading.Event()
        threading.Thread(target=self._sample, daemon=True).start()

    def _sample(self) -> None:
        while not self._stop.is_set():
            if self._on.is_set():
                self._samples.append(self._nvml.nvmlDeviceGetUtilizationRates(self._handle).gpu)
            time.sleep(SAMPLE_INTERVAL_S)

    def start(self) -> None:
        self._samples = []
        self._on.set()

    def stop(self) -> float:
        self._on.clear()
        return statistics.fmean(self._samples) if self._samples else float("nan")


def write_digits(root: Path, size: int, copies: int) -> int:
    digits = load_digits()
    count = 0
    for i, (image, label) in enumerate(zip(digits.images, digits.target, strict=True)):
        png = Image.fromarray(np.rint(image * (255 / 16)).astype(np.uint8)).resize((size, size))
        folder = root / str(label)
        folder.mkdir(parents=True, exist_ok=True)
        for copy in range(copies):
            png.save(folder / f"{i}_{copy}.png")
            count += 1
    return count


def job_params(
    args: argparse.Namespace, data: Path, *, device: str, epochs: int, cached: bool
) -> dict[str, Any]:
    reader: dict[str, Any] = {"type": "image_folder", "color_mode": "grayscale"}
    if not cached:
        reader["cache_limit_mb"] = 0
    return {
        "dataset_reader": reader,
        "train_data_path": str(data),
        "model": {"type": args.model, **({"stem": "small"} if args.model != "small_cnn" else {})},
        "iterator": {"batch_size": args.batch_size},
        "trainer": {
            "num_epochs": epochs,
            "cuda_device": 0 if device == "cuda" else -1,
            "optimizer": {"type": "adam", "lr": 0.001},
        },
        "pytorch_seed": 1,
    }


@dataclass
class Run:
    images_per_s: float
    utilisation: float = float("nan")


def run_k12cv(params: dict[str, Any], images: int, work: Path, util: Utilisation | None) -> Run:
    clock = EpochClock()
    epochs = params["trainer"]["num_epochs"]
    utilisation = float("nan")

    class Sink:
        def emit(self, type: str, payload: dict[str, Any]) -> None:
            nonlocal utilisation
            before = len(clock.ends)
            clock.emit(type, payload)
            if util is None or len(clock.ends) == before:
                return
            # The timed window: from the end of the warm-up epoch to the end of the last.
            if len(clock.ends) == 1:
                util.start()
            elif len(clock.ends) == epochs:
                utilisation = util.stop()

    spec = JobSpec(
        job_id="bench", service_name="k12cv", kind=JobKind.TRAIN, user="bench",
        service_uuid="bench", params=params, cache_dir=work / "cache", events_path=work / "events",
        cpu_threads=os.cpu_count() or 1, data_roots=(work,),
    )  # fmt: skip
    # As a runner hands a job its GPUs (k12ai_contract.worker), and its entry point its data roots.
    os.environ.update(gpu_environment([0] if params["trainer"]["cuda_device"] >= 0 else []))
    inputs.allow(spec.data_access)
    run_train(spec, Sink())
    return Run(images * (len(clock.ends) - 1) / (clock.ends[-1] - clock.ends[0]), utilisation)


def load_pixels(data: Path) -> tuple[torch.Tensor, torch.Tensor]:
    """The PNGs as the hand-written loop would read them: labels in sorted folder order."""
    files = sorted(data.glob("*/*.png"))
    classes = sorted({f.parent.name for f in files}, key=int)
    pixels = np.stack([np.array(Image.open(f).convert("L")) for f in files])[:, None]
    labels = np.array([classes.index(f.parent.name) for f in files])
    return torch.from_numpy(pixels), torch.from_numpy(labels)


def run_minimal(
    params: dict[str, Any],
    pixels: torch.Tensor,
    labels: torch.Tensor,
    device: torch.device,
    util: Utilisation | None,
) -> Run:
    _, config = read_train_config(params)
    torch.manual_seed(params["pytorch_seed"])
    network = config.model.build_network(num_classes=10, in_channels=1).to(device)
    optimizer = torch.optim.Adam(network.parameters(), lr=0.001)
    images = pixels.to(device).float() / 255
    targets = labels.to(device)
    batch = params["iterator"]["batch_size"]
    epochs = params["trainer"]["num_epochs"]
    network.train()
    started = 0.0
    for epoch in range(epochs):
        if epoch == 1:
            if device.type == "cuda":
                torch.cuda.synchronize()
            started = time.perf_counter()
            if util is not None:
                util.start()
        order = torch.randperm(len(images), device=device)
        for i in range(0, len(images), batch):
            index = order[i : i + batch]
            optimizer.zero_grad(set_to_none=True)
            loss = torch.nn.functional.cross_entropy(network(images[index]), targets[index])
            loss.backward()  # type: ignore[no-untyped-call]
            optimizer.step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    elapsed = time.perf_counter() - started
    utilisation = util.stop() if util is not None else float("nan")
    return Run(len(images) * (epochs - 1) / elapsed, utilisation)


@contextmanager
def work_dir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="bench_k12cv_") as name:
        yield Path(name)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--model", default="small_cnn", choices=["small_cnn", "resnet18", "resnet34", "mobilenet_v2"]
    )
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--copies", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument(
        "--cpu-epochs", type=int, default=2, help="epochs of the CPU run a GPU is compared with"
    )
    parser.add_argument("--no-cpu", action="store_true", help="on a GPU, skip the CPU run (and the speed-up)")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    device = torch.device(args.device)
    util = Utilisation() if device.type == "cuda" else None

    with work_dir() as work:
        data = work / "digits"
        count = write_digits(data, args.image_size, args.copies)
        pixels, labels = load_pixels(data)
        name = f"{args.model}, {count} PNGs of 1x{args.image_size}x{args.image_size}, batch {args.batch_size}"
        print(f"k12cv training on {device} ({torch.cuda.get_device_name() if util else 'CPU'}): {name}")
        threads = torch.get_num_threads()
        print(f"torch {torch.__version__}, {threads} CPU threads; {args.epochs} epochs, the first not timed")
        params = job_params(args, data, device=args.device, epochs=args.epochs, cached=True)
        minimal: list[Run] = []
        k12cv: list[Run] = []
        for _ in range(args.rounds):
            minimal.append(run_minimal(params, pixels, labels, device, util))
            k12cv.append(run_k12cv(params, count, work, util))
        best_minimal = max(minimal, key=lambda r: r.images_per_s)
        best_k12cv = max(k12cv, key=lambda r: r.images_per_s)
        print(f"{'':34} {'images/s':>10} {'GPU util %':>10}")
        row("minimal hand-written loop", best_minimal)
        row("k12cv (cached, on the device)", best_k12cv)
        ratio = best_k12cv.images_per_s / best_minimal.images_per_s
        print(f"k12cv / minimal: {ratio:.3f} (target >= 0.95)")
        print(f"rounds (images/s): minimal {speeds(minimal)}, k12cv {speeds(k12cv)}")
        if device.type == "cuda":
            uncached = job_params(args, data, device="cuda", epochs=args.epochs, cached=False)
            row("k12cv (decoding PNGs each epoch)", run_k12cv(uncached, count, work, util))
        if device.type == "cuda" and not args.no_cpu:
            on_cpu = job_params(args, data, device="cpu", epochs=args.cpu_epochs, cached=True)
            cpu = run_k12cv(on_cpu, count, work, None)
            row(f"k12cv on the CPU ({threads} threads)", cpu)
            print(f"GPU speed-up over the CPU: {best_k12cv.images_per_s / cpu.images_per_s:.1f}x")


def speeds(runs: list[Run]) -> list[int]:
    return [round(r.images_per_s) for r in runs]


def row(label: str, run: Run) -> None:
    print(f"{label:34} {run.images_per_s:10.0f} {run.utilisation:10.1f}")


if __name__ == "__main__":
    main()
