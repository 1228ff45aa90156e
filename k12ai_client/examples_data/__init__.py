"""``k12ai examples data``: the data the requests under ``examples/`` read, written under a data root.

The examples name their data relative to the server's data root (``datasets/...``), so after
this command they run as written against ``./scripts/serve``:

- ``datasets/cv/digits/{train,validation}/<digit>/<index>.png``: scikit-learn's digits as 8x8
  grayscale PNGs, a seeded, stratified 80/20 split (needs scikit-learn and Pillow, the
  ``worker`` extra);
- ``datasets/nlp/sst/{train,dev,test}.txt`` and ``datasets/nlp/glove/glove.6B.50d.txt.gz``: a
  few of SST's trees and the GloVe lines for their words (a sample shipped here), under the
  names of the full files the seed's config reads, so that its 10 epochs at batch size 2 take
  seconds on a CPU; put the full files there to train on them.

Files that exist are left alone (real data is never overwritten) unless ``--force``.
"""

from __future__ import annotations

import argparse
import os
import shutil
from importlib import resources
from pathlib import Path
from typing import Any

K12NLP_SAMPLE = Path(str(resources.files(__name__) / "k12nlp"))
DIGITS = Path("datasets/cv/digits")
# Where each sample file goes, and how many of its trees (None: all of it).
SST_FILES = {
    "datasets/nlp/sst/train.txt": ("sst_train.txt", 8),
    "datasets/nlp/sst/dev.txt": ("sst_dev.txt", 4),
    "datasets/nlp/sst/test.txt": ("sst_test.txt", 4),
    "datasets/nlp/glove/glove.6B.50d.txt.gz": ("glove.6B.50d.fixture.txt.gz", None),
}
DEFAULT_DATA_ROOT = "~/.k12ai/data"


def write_examples_data(data_root: Path, *, force: bool = False) -> list[Path]:
    """Writes what is missing (everything, with ``force``); returns the files and folders written."""
    written: list[Path] = []
    if force or not (data_root / DIGITS).exists():
        write_digits(data_root / DIGITS)
        written.append(data_root / DIGITS)
    for name, (sample, trees) in SST_FILES.items():
        target = data_root / name
        if force or not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            if trees is None:
                shutil.copyfile(K12NLP_SAMPLE / sample, target)
            else:
                lines = (K12NLP_SAMPLE / sample).read_text(encoding="utf-8").splitlines(keepends=True)
                target.write_text("".join(lines[:trees]), encoding="utf-8")
            written.append(target)
    return written


def write_digits(root: Path, *, test_fraction: float = 0.2) -> list[tuple[Path, str]]:
    """scikit-learn's digits as PNGs in ``root/{train,validation}/<digit>/<index>.png``.

    Returns (file, digit) of every held-out image.
    """
    try:
        import numpy as np
        from PIL import Image
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split
    except ImportError as exc:
        raise SystemExit(
            f"the digits need scikit-learn and Pillow: pip install 'k12ai[worker]' ({exc})"
        ) from None
    digits: Any = load_digits()
    indices = np.arange(len(digits.target))
    train, validation = train_test_split(
        indices, test_size=test_fraction, random_state=0, stratify=digits.target
    )
    held_out: list[tuple[Path, str]] = []
    for split, chosen in (("train", train), ("validation", validation)):
        for i in chosen:
            label = str(digits.target[i])
            folder = root / split / label
            folder.mkdir(parents=True, exist_ok=True)
            file = folder / f"{i}.png"
            # Digits are 0..16; PNG pixels 0..255.
            Image.fromarray(np.rint(digits.images[i] * (255 / 16)).astype(np.uint8)).save(file)
            if split == "validation":
                held_out.append((file, label))
    return held_out


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    examples = sub.add_parser("examples", help="what the requests under examples/ need")
    actions = examples.add_subparsers(required=True, dest="action")
    data = actions.add_parser("data", help="write the examples' data under the server's data root")
    data.add_argument(
        "--data-root",
        type=Path,
        default=Path(os.environ.get("K12AI_DATA_ROOT", DEFAULT_DATA_ROOT)),
        help=f"the server's --data-root (K12AI_DATA_ROOT; default {DEFAULT_DATA_ROOT}, as ./scripts/serve's)",
    )
    data.add_argument("--force", action="store_true", help="overwrite files that are there")
    data.set_defaults(handler=_data)


def _data(_client: object, args: argparse.Namespace, _console: object) -> int:
    root = args.data_root.expanduser().absolute()
    written = write_examples_data(root, force=args.force)
    for path in written:
        print(f"wrote {path}")
    if not written:
        print(f"nothing to write: the examples' data is under {root} (--force rewrites it)")
    return 0
