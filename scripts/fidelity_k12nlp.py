"""Train the seed's k12nlp config (SST-5, BCN, GloVe 6B 50d) on the full SST and report dev accuracy.

    python scripts/fidelity_k12nlp.py [--data-dir ../shared/data] [--batch-size 32] [--epochs 10]

The config is ``examples/k12nlp/train.json`` with only its data paths changed
(the test split is held back, so ``test_data_path`` is dropped) and the batch
size and epochs given here applied as overrides. It runs through the same
code as a job (``k12ai_worker.k12nlp.train``), printing each epoch's training
and dev metrics and seconds. The seed's own run reports 0.40 accuracy.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from k12ai_contract.jobs import JobKind  # noqa: E402
from k12ai_contract.spec import JobSpec  # noqa: E402
from k12ai_contract.worker import gpu_environment  # noqa: E402
from k12ai_worker import inputs  # noqa: E402
from k12ai_worker.k12nlp.train import run_train  # noqa: E402

GLOVE_FILES = {"full": "glove.6B.50d.txt.gz", "sst-vocab": "glove.6B.50d.sst-vocab.txt.gz"}


class EpochPrinter:
    """An event sink that prints one line per epoch and keeps the epoch summaries."""

    def __init__(self) -> None:
        self.epochs: list[dict[str, Any]] = []
        self._train: dict[str, Any] = {}
        self._started = time.monotonic()

    def emit(self, type: str, payload: dict[str, Any]) -> None:
        if type in ("info", "result"):
            print(f"[{type}] {json.dumps(payload)}", flush=True)
            return
        if type != "metrics" or payload.get("batch") != payload.get("num_batches"):
            return
        if payload["phase"] == "train":
            self._train = payload
            return
        row = {
            "epoch": payload["epoch"],
            "train_accuracy": self._train["accuracy"],
            "train_loss": self._train["loss"],
            "dev_accuracy": payload["accuracy"],
            "dev_accuracy3": payload["accuracy3"],
            "dev_loss": payload["loss"],
            "train_s": self._train["elapsed_s"],
            "dev_s": payload["elapsed_s"],
        }
        self.epochs.append(row)
        print(
            f"epoch {row['epoch']:2d}  train acc {row['train_accuracy']:.4f} loss {row['train_loss']:.4f}  "
            f"dev acc {row['dev_accuracy']:.4f} acc3 {row['dev_accuracy3']:.4f} loss {row['dev_loss']:.4f}  "
            f"train {row['train_s']:.1f} s  dev {row['dev_s']:.1f} s  "
            f"(wall {time.monotonic() - self._started:.0f} s)",
            flush=True,
        )


def seed_config(data_dir: Path, glove: str) -> dict[str, Any]:
    request = json.loads((ROOT / "examples" / "k12nlp" / "train.json").read_text(encoding="utf-8"))
    config: dict[str, Any] = request["service_params"]
    config["train_data_path"] = str(data_dir / "sst" / "train.txt")
    config["validation_data_path"] = str(data_dir / "sst" / "dev.txt")
    config.pop("test_data_path", None)
    embedder = config["model"]["text_field_embedder"]["token_embedders"]["tokens"]
    embedder["pretrained_file"] = str(data_dir / "glove" / GLOVE_FILES[glove])
    return config


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--patience", type=int, default=None, help="default: the seed's (2)")
    parser.add_argument("--glove", choices=sorted(GLOVE_FILES), default="full")
    parser.add_argument("--gpu", type=int, default=None, help="GPU id to give the job (default: none, CPU)")
    parser.add_argument("--json", type=Path, default=None, help="also write the epoch rows here")
    args = parser.parse_args(argv)

    params = seed_config(args.data_dir.resolve(), args.glove)
    overrides: dict[str, Any] = {"iterator.batch_size": args.batch_size, "trainer.num_epochs": args.epochs}
    if args.patience is not None:
        overrides["trainer.patience"] = args.patience
    params["overrides"] = overrides
    printer = EpochPrinter()
    with tempfile.TemporaryDirectory(prefix="k12nlp-fidelity-") as tmp:
        spec = JobSpec(
            job_id="fidelity",
            service_name="k12nlp",
            kind=JobKind.TRAIN,
            user="fidelity",
            service_uuid="sst5",
            params=params,
            cache_dir=Path(tmp),
            events_path=Path(tmp) / "events.jsonl",
            cpu_threads=os.cpu_count() or 1,
            data_roots=(args.data_dir.resolve(), Path(tmp)),
        )
        # As a runner hands a job its GPUs (k12ai_contract.worker), and its entry point its data roots.
        os.environ.update(gpu_environment([] if args.gpu is None else [args.gpu]))
        inputs.allow(spec.data_access)
        print(f"batch size {args.batch_size}, up to {args.epochs} epochs, GloVe {args.glove}", flush=True)
        run_train(spec, printer)
    if printer.epochs:
        best = max(printer.epochs, key=lambda r: r["dev_accuracy"])
        mean_s = sum(r["train_s"] + r["dev_s"] for r in printer.epochs) / len(printer.epochs)
        print(
            f"best dev accuracy {best['dev_accuracy']:.4f} (epoch {best['epoch']}); {mean_s:.1f} s per epoch"
        )
    if args.json is not None:
        args.json.write_text(json.dumps(printer.epochs, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
