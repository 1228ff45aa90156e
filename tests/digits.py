"""scikit-learn's digits written as PNG files, the k12cv tests' data (nothing is downloaded)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split


@dataclass(frozen=True)
class Digits:
    """Where the digits were written, and which held-out PNG shows which digit."""

    train: Path
    validation: Path
    # (file, digit) of every validation image.
    held_out: list[tuple[Path, str]]


def write_digits(root: Path, *, test_fraction: float = 0.2) -> Digits:
    """scikit-learn's digits as 8x8 grayscale PNGs in ``root/{train,validation}/<digit>/<index>.png``."""
    digits = load_digits()
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
    return Digits(root / "train", root / "validation", held_out)
