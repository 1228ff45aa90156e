"""k12nlp: the trainer's cost over a bare PyTorch loop, and GloVe loading against a plain read.

    python scripts/bench_k12nlp.py [--data-dir ../shared/data] [--batches 150] [--batch-size 32] [--rounds 3]

1. BCN training samples/s. The seed's BCN (``examples/k12nlp/train.json``) on
   SST train with subtrees, the same planned batches (built once, in memory)
   given to k12nlp's ``Trainer`` (metrics, throttled events, grad_norm) and to a
   minimal hand-written loop (forward, backward, clip, step), each from the same
   initial weights. A warm-up round, then rounds alternating the two; each batch's fastest
   round counts (see ``TimedBatches``).
   Target: trainer >= 0.95 x the bare loop.
2. GloVe load. ``read_vectors`` of the SST vocabulary from the full
   ``glove.6B.50d.txt.gz`` (400,000 lines) against a plain ``for line in
   gzip.open(...)`` over the same file. Target: <= 1.5 x the plain read.

Runs on the CPU (``--device cuda`` to measure a GPU). Needs the shared data
files; the test suite does not.
"""

from __future__ import annotations

import argparse
import copy
import gzip
import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from k12ai_contract.data_access import DataAccess  # noqa: E402
from k12ai_worker import inputs  # noqa: E402
from k12ai_worker.k12nlp.batching import TextBatch  # noqa: E402
from k12ai_worker.k12nlp.config import read_train_config  # noqa: E402
from k12ai_worker.k12nlp.datasets import index_instances  # noqa: E402
from k12ai_worker.k12nlp.glove import read_vectors  # noqa: E402
from k12ai_worker.k12nlp.metrics import classification_metrics  # noqa: E402
from k12ai_worker.k12nlp.models.classifier import TextClassifier  # noqa: E402
from k12ai_worker.k12nlp.train import build_vocabulary, read_datasets  # noqa: E402
from k12ai_worker.training.trainer import Trainer  # noqa: E402
from k12ai_worker.training.trainer_config import TrainerSpec  # noqa: E402


class Quiet:
    """An event sink that keeps the count of what it was given (the trainer still formats every event)."""

    def __init__(self) -> None:
        self.count = 0

    def emit(self, type: str, payload: dict[str, Any]) -> None:
        self.count += 1


class TimedBatches:
    """The same list of batches on every pass, timing the loop body each batch gets.

    The time from handing out batch i to asking for batch i + 1 is what the
    loop spent on it, whichever loop it is. On a shared machine whole-pass
    times swing with other work; the minimum per batch over rounds does not.
    """

    def __init__(self, batches: list[TextBatch], device: torch.device) -> None:
        self._batches = batches
        self._device = device
        self.seconds: list[float] = []

    def __len__(self) -> int:
        return len(self._batches)

    def __iter__(self) -> Iterator[TextBatch]:
        self.seconds = []
        for batch in self._batches:
            started = time.perf_counter()
            yield batch
            if self._device.type == "cuda":
                torch.cuda.synchronize(self._device)
            self.seconds.append(time.perf_counter() - started)


def seed_params(data_dir: Path, batch_size: int) -> dict[str, Any]:
    request = json.loads((ROOT / "examples" / "k12nlp" / "train.json").read_text(encoding="utf-8"))
    params: dict[str, Any] = request["service_params"]
    params["train_data_path"] = str(data_dir / "sst" / "train.txt")
    params["validation_data_path"] = str(data_dir / "sst" / "dev.txt")
    params.pop("test_data_path", None)
    embedder = params["model"]["text_field_embedder"]["token_embedders"]["tokens"]
    embedder["pretrained_file"] = str(data_dir / "glove" / "glove.6B.50d.sst-vocab.txt.gz")
    params["overrides"] = {"iterator.batch_size": batch_size, "trainer.num_epochs": 1}
    return params


def bare_loop(
    model: TextClassifier, optimizer: torch.optim.Optimizer, batches: TimedBatches, device: torch.device
) -> None:
    """What one would write by hand: no metrics, no events."""
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    for batch in batches:
        optimizer.zero_grad(set_to_none=True)
        loss = model(batch.to(device))["loss"]
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 5.0)
        optimizer.step()


def trainer_loop(
    model: TextClassifier,
    optimizer: torch.optim.Optimizer,
    settings: TrainerSpec,
    batches: TimedBatches,
    device: torch.device,
) -> None:
    trainer = Trainer(
        model=model,
        optimizer=optimizer,
        settings=settings,
        device=device,
        metrics=classification_metrics,
        sink=Quiet(),
    )
    trainer.train(batches)


def bench_training(args: argparse.Namespace) -> None:
    device = torch.device(args.device)
    _, config = read_train_config(seed_params(args.data_dir, args.batch_size))
    torch.manual_seed(config.pytorch_seed)
    datasets = read_datasets(config)
    vocab = build_vocabulary(config, datasets)
    dataset = index_instances(datasets["train"], config.dataset_reader.token_indexers, vocab, "train")
    plan = config.iterator.plan(dataset.lengths, np.random.default_rng(config.numpy_seed), shuffle=True)
    batches = [TextBatch.gather(dataset, indices) for indices in plan[: args.batches]]
    samples = sum(len(indices) for indices in plan[: args.batches])
    # Kept on the CPU: moving each copy to the GPU re-packs its RNN weights for cuDNN.
    initial = config.model.build(vocab, path="model", sink=None)
    # The trainer runs without the seed's patience: it has no validation data here.
    settings = TrainerSpec(
        optimizer=config.trainer.optimizer,
        num_epochs=1,
        grad_norm=config.trainer.grad_norm,
        validation_metric="-loss",
    )
    print(
        f"BCN training, {len(batches)} batches of {args.batch_size} ({samples} SST subtree instances), "
        f"device {device}, torch threads {torch.get_num_threads()}"
    )
    timed = TimedBatches(batches, device)
    fastest: dict[str, list[float]] = {}
    # Round 0 warms up (allocator, kernels, caches) and is not counted; the order
    # alternates so neither loop always runs on a machine the other just warmed.
    for round_ in range(args.rounds + 1):
        for name in ("bare loop", "trainer") if round_ % 2 else ("trainer", "bare loop"):
            model = copy.deepcopy(initial).to(device)
            optimizer = config.trainer.optimizer.build(p for p in model.parameters() if p.requires_grad)
            started = time.perf_counter()
            if name == "trainer":
                trainer_loop(model, optimizer, settings, timed, device)
            else:
                bare_loop(model, optimizer, timed, device)
            rate = samples / (time.perf_counter() - started)
            if round_ > 0:
                previous = fastest.get(name, timed.seconds)
                fastest[name] = [min(a, b) for a, b in zip(previous, timed.seconds, strict=True)]
            print(f"  round {round_}{' (warm-up)' if round_ == 0 else ''}  {name:<10} {rate:9.1f} samples/s")
    rates = {name: samples / sum(seconds) for name, seconds in fastest.items()}
    ratio = rates["trainer"] / rates["bare loop"]
    print(
        f"  fastest per batch over rounds: trainer {rates['trainer']:.1f} samples/s, "
        f"bare loop {rates['bare loop']:.1f} samples/s, ratio {ratio:.3f} (target >= 0.95)"
    )


def plain_read(path: Path) -> int:
    lines = 0
    with gzip.open(path, "rt", encoding="utf-8") as file:
        for _ in file:
            lines += 1
    return lines


def bench_glove(args: argparse.Namespace) -> None:
    path = args.data_dir / "glove" / "glove.6B.50d.txt.gz"
    _, config = read_train_config(seed_params(args.data_dir, args.batch_size))
    vocab = build_vocabulary(config, read_datasets(config))
    tokens = vocab.tokens("tokens")
    print(f"GloVe load: {path.name}, {len(tokens)} vocabulary tokens")
    best: dict[str, float] = {}
    for round_ in range(1, args.rounds + 1):
        started = time.perf_counter()
        lines = plain_read(path)
        plain_s = time.perf_counter() - started
        started = time.perf_counter()
        found = read_vectors(path, tokens, 50, key="pretrained_file")
        ours_s = time.perf_counter() - started
        best["plain"] = min(best.get("plain", plain_s), plain_s)
        best["ours"] = min(best.get("ours", ours_s), ours_s)
        print(
            f"  round {round_}  plain read of {lines} lines {plain_s:6.2f} s   "
            f"read_vectors ({len(found.indices)} vectors kept) {ours_s:6.2f} s"
        )
    ratio = best["ours"] / best["plain"]
    print(
        f"  best: read_vectors {best['ours']:.2f} s, plain read {best['plain']:.2f} s, "
        f"ratio {ratio:.2f} (target <= 1.5)"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--batches", type=int, default=150)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--only", choices=("training", "glove"), default=None)
    args = parser.parse_args(argv)
    args.data_dir = args.data_dir.resolve()
    if not (args.data_dir / "sst" / "train.txt").is_file():
        # scripts/bench runs every bench script; a machine without the shared data skips this one.
        print(f"skipped: no SST data under {args.data_dir} (pass --data-dir)")
        return 0
    # What a job's entry point does with its spec: the benchmark reads the shared data only.
    inputs.allow(DataAccess.of([args.data_dir], "bench"))
    if args.only in (None, "training"):
        bench_training(args)
    if args.only in (None, "glove"):
        bench_glove(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
