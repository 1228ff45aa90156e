"""scikit-learn's digits as PNG files, the k12cv tests' data (as `k12ai examples data` writes them)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from k12ai_client import examples_data


@dataclass(frozen=True)
class Digits:
    """Where the digits were written, and which held-out PNG shows which digit."""

    train: Path
    validation: Path
    # (file, digit) of every validation image.
    held_out: list[tuple[Path, str]]


def write_digits(root: Path, *, test_fraction: float = 0.2) -> Digits:
    """scikit-learn's digits as 8x8 grayscale PNGs in ``root/{train,validation}/<digit>/<index>.png``."""
    held_out = examples_data.write_digits(root, test_fraction=test_fraction)
    return Digits(root / "train", root / "validation", held_out)
