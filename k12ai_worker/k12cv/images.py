"""Reading labelled images: from folders of files, CSV pixel rows, or scikit-learn's digits.

An ``ImageSet`` holds either the decoded pixels already (CSV, digits) or the
files still to decode (image folders); ``decode`` turns one image file (or its
bytes) into a ``(channels, height, width)`` uint8 array with Pillow.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from PIL import Image, UnidentifiedImageError

from k12ai_contract.errors import ConfigError
from k12ai_worker import inputs
from k12ai_worker.k12cv.specs.readers import CsvPixelsSpec, ImageFolderSpec, SklearnDigitsSpec

Pixels = npt.NDArray[np.uint8]


class ImageDecodeError(ValueError):
    """A file is not an image Pillow can read."""


@dataclass(frozen=True)
class ImageSet:
    # One label per image, as the data names it.
    labels: list[str]
    channels: int
    # (N, channels, height, width), when the images are in memory already.
    pixels: Pixels | None = None
    # Else the image files, decoded on demand.
    files: list[Path] | None = None

    def __len__(self) -> int:
        return len(self.labels)


def sorted_labels(labels: Sequence[str]) -> list[str]:
    """The distinct labels in a stable order: numeric when all are integers, so "10" follows "9"."""
    distinct = set(labels)
    if all(label.lstrip("-").isdigit() for label in distinct):
        return sorted(distinct, key=int)
    return sorted(distinct)


def decode(source: Path | bytes, channels: int, size: tuple[int, int] | None, *, key: str = "") -> Pixels:
    """One image as ``(channels, height, width)`` uint8, resized to ``size`` when given.

    A file is opened through ``inputs`` (InputRefusedError naming ``key`` if the job may not read it).
    """
    try:
        with (
            inputs.open_binary(key, source) if isinstance(source, Path) else io.BytesIO(source) as file,
            Image.open(file) as image,
        ):
            converted = image.convert("L" if channels == 1 else "RGB")
    except (UnidentifiedImageError, OSError) as exc:
        raise ImageDecodeError(str(exc)) from None
    if size is not None and converted.size != (size[1], size[0]):
        converted = converted.resize((size[1], size[0]), Image.Resampling.BILINEAR)
    array = np.array(converted, dtype=np.uint8)
    return array[None] if array.ndim == 2 else np.ascontiguousarray(array.transpose(2, 0, 1))


def resize_pixels(pixels: Pixels, size: tuple[int, int] | None) -> Pixels:
    """In-memory images ``(N, C, H, W)`` resized to ``size`` (as ``decode`` would)."""
    if size is None or pixels.shape[2:] == size:
        return pixels
    out = np.empty((len(pixels), pixels.shape[1], *size), dtype=np.uint8)
    for i, image in enumerate(pixels):
        for c, plane in enumerate(image):
            resized = Image.fromarray(plane).resize((size[1], size[0]), Image.Resampling.BILINEAR)
            out[i, c] = np.asarray(resized)
    return out


def _require_absolute(path: Path, key: str) -> None:
    # The server holds data paths to its data roots, which only absolute paths can be.
    if not path.is_absolute():
        raise ConfigError(key, f"must be an absolute path, got {str(path)!r}")


def read_image_folder(root: Path, spec: ImageFolderSpec, key: str) -> ImageSet:
    _require_absolute(root, key)
    if not root.is_dir():
        raise ConfigError(
            key, f"image_folder reads a directory (one sub-folder per class); not found: {root}"
        )
    inputs.check_dir(key, root)
    extensions = {e.lower() for e in spec.extensions}
    files: list[Path] = []
    labels: list[str] = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        for file in sorted(folder.rglob("*")):
            if file.is_file() and file.suffix.lower() in extensions:
                files.append(file)
                labels.append(folder.name)
    if not files:
        raise ConfigError(
            key, f"{root} holds no images ({', '.join(sorted(extensions))}) in class sub-folders"
        )
    return ImageSet(labels=labels, channels=spec.channels, files=files)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def read_csv_pixels(path: Path, spec: CsvPixelsSpec, key: str) -> ImageSet:
    _require_absolute(path, key)
    if not path.is_file():
        raise ConfigError(key, f"file not found: {path}")
    labels: list[str] = []
    rows: list[list[str]] = []
    with inputs.open_text(key, path, newline="") as file:
        for number, row in enumerate(csv.reader(file), start=1):
            if not row:
                continue
            # A header row names its columns: its pixel fields are not numbers.
            if number == 1 and not all(_is_number(f) for i, f in enumerate(row) if i != spec.label_column):
                continue
            if not -len(row) <= spec.label_column < len(row):
                raise ConfigError(key, f"{path}:{number}: no column {spec.label_column} for the label")
            labels.append(row.pop(spec.label_column).strip())
            rows.append(row)
    if not rows:
        raise ConfigError(key, f"{path} holds no rows")
    widths = {len(row) for row in rows}
    if len(widths) != 1:
        raise ConfigError(key, f"{path}: rows have different numbers of pixels ({sorted(widths)})")
    try:
        values = np.asarray(rows, dtype=np.float32)
    except ValueError:
        # numpy's message would quote the cell.
        raise ConfigError(key, f"{path}: a pixel is not a number") from None
    height, width = spec.size or _square(widths.pop() // spec.channels, key)
    if values.shape[1] != spec.channels * height * width:
        raise ConfigError(
            key,
            f"{path}: rows have {values.shape[1]} pixels, but image_size and image_channels make "
            f"{spec.channels * height * width}",
        )
    scaled = np.clip(np.rint(values * (255.0 / spec.max_value)), 0, 255).astype(np.uint8)
    pixels = scaled.reshape(len(rows), spec.channels, height, width)
    return ImageSet(labels=labels, channels=spec.channels, pixels=resize_pixels(pixels, spec.decode_size))


def _square(count: int, key: str) -> tuple[int, int]:
    side = round(count**0.5)
    if side * side != count:
        raise ConfigError(key, f"rows of {count} pixels make no square image; give dataset_reader.image_size")
    return side, side


def read_sklearn_digits(split: str, spec: SklearnDigitsSpec) -> ImageSet:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    # Values are 0..16.
    pixels = np.rint(digits.images * (255.0 / 16.0)).astype(np.uint8)[:, None]
    targets = digits.target
    if split != "all":
        indices = np.arange(len(targets))
        train, test = train_test_split(
            indices, test_size=spec.test_fraction, random_state=spec.seed, stratify=targets
        )
        chosen = np.sort(train if split == "train" else test)
        pixels, targets = pixels[chosen], targets[chosen]
    return ImageSet(
        labels=[str(int(t)) for t in targets], channels=1, pixels=resize_pixels(pixels, spec.decode_size)
    )
